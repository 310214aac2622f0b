"""The allowed keys of front matter and curriculum.yml: one typed schema, one place.

Each field says its type, whether it is required and how to fix a wrong value, so every
error names the file, the line and the key.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .frontmatter import Document
from .problems import Problem

HEX_COLOUR_RE = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return None
    return "must be text, such as 'Halves and quarters'"


def _whole_number(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return None
    return "must be a whole number, such as 3"


def _list_of_text(value: Any) -> str | None:
    if isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value):
        return None
    return "must be a list of text, one item per line starting with '- '"


@dataclass(frozen=True)
class Field:
    name: str
    check: Callable[[Any], str | None]
    required: bool = False


LESSON_FIELDS = (
    Field("title", _text, required=True),
    Field("objectives", _list_of_text),
    Field("minutes", _whole_number),
    Field("prerequisites", _list_of_text),
    Field("order", _whole_number),
)
SUBJECT_FIELDS = (
    Field("title", _text, required=True),
    Field("description", _text),
    Field("order", _whole_number),
)
UNIT_FIELDS = SUBJECT_FIELDS + (Field("illustration", _text),)
HOME_FIELDS = (Field("title", _text),)
PAGE_FIELDS = (Field("title", _text),)


def validate(doc: Document, fields: tuple[Field, ...], kind: str, problems: list[Problem]) -> None:
    """Append a problem for every unknown key, missing required key and wrong value."""
    if not doc.readable:
        return
    known = {f.name for f in fields}
    for key in doc.meta:
        if key not in known:
            allowed = ", ".join(sorted(known))
            problems.append(Problem(doc.path, doc.line_of(key), f"unknown key '{key}' in {kind} front matter (allowed: {allowed})"))
    for field in fields:
        if field.name not in doc.meta:
            if field.required and not doc.front_matter:
                problems.append(Problem(doc.path, 1, f"has no front matter: start the file with a '---' line, then '{field.name}: ...', "
                                                     f"then '---'; or start it with its {field.name} as a heading, '# ...'"))
            elif field.required:
                problems.append(Problem(doc.path, 1, f"{kind} has no '{field.name}': add '{field.name}: ...' to its front matter, "
                                                     f"or start its text with a heading, '# ...'"))
            continue
        error = field.check(doc.meta[field.name])
        if error:
            problems.append(Problem(doc.path, doc.line_of(field.name), f"'{field.name}' {error}"))
