"""Read YAML front matter from a Markdown file, keeping line numbers for error messages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .problems import Problem

# libyaml's loader when PyYAML has it (its wheels do): ten times faster on a thousand lessons.
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# The same rule mkdocs uses (mkdocs.utils.meta.YAML_RE), so what we check is what mkdocs reads.
FRONT_MATTER_RE = re.compile(r"^-{3}[ \t]*\n(.*?\n)(?:\.{3}|-{3})[ \t]*\n", re.S)


@dataclass
class Document:
    path: Path
    meta: dict[str, Any]
    body: str
    body_line: int  # the file line on which the body starts
    key_lines: dict[str, int] = field(default_factory=dict)
    readable: bool = True  # False when the front matter could not be read (already reported)
    front_matter: bool = True  # False for a file with none (its title may be its first '# heading')

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, 1)


def read_document(path: Path, problems: list[Problem]) -> Document:
    """Parse `path`; append a Problem for anything wrong, and return what could be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        problems.append(Problem(path, 0, f"is not UTF-8 text ({err.reason} at byte {err.start}); save it as UTF-8"))
        return Document(path, {}, "", 1, readable=False)
    text = text.replace("\r\n", "\n")
    match = FRONT_MATTER_RE.match(text)
    if not match:
        return Document(path, {}, text, 1, front_matter=False)
    yaml_text = match.group(1)
    body_line = yaml_text.count("\n") + 3
    body = text[match.end():]
    try:
        node, meta = load_yaml(yaml_text)
    except yaml.MarkedYAMLError as err:
        mark = err.context_mark or err.problem_mark  # where the broken construct starts
        line = mark.line + 2 if mark else 1
        problems.append(Problem(path, line, f"front matter is not valid YAML: {err.problem or err}"))
        return Document(path, {}, body, body_line, readable=False)
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        problems.append(Problem(path, 2, "front matter must be 'key: value' lines, such as 'title: Halves'"))
        return Document(path, {}, body, body_line, readable=False)
    key_lines = {}
    if isinstance(node, yaml.MappingNode):
        key_lines = {str(k.value): k.start_mark.line + 2 for k, _ in node.value}
    return Document(path, meta, body, body_line, key_lines)


def load_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """Parse once; return the node tree (for line numbers) and the data."""
    loader = SafeLoader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()
