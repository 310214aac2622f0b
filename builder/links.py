"""Check the links and images in a lesson's Markdown: every target must exist in the bundle."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from .frontmatter import Document
from .problems import Problem

FENCE_RE = re.compile(r"^( {0,3})(`{3,}|~{3,}).*?^\1\2[ \t]*$", re.S | re.M)
INLINE_CODE_RE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
LINK_RE = re.compile(r"(!?)\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'(][^)]*)?\)")
REFERENCE_RE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?", re.M)
HTML_SRC_RE = re.compile(r"<(?:img|source|video|audio)\b[^>]*?\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.I)


def _blank_code(text: str) -> str:
    """Replace code (fenced and inline) with spaces, keeping offsets and line numbers."""
    def blank(match: re.Match) -> str:
        return re.sub(r"[^\n]", " ", match.group(0))
    return INLINE_CODE_RE.sub(blank, FENCE_RE.sub(blank, text))


def find_targets(body: str) -> list[tuple[int, str, bool]]:
    """(offset, target, is_image) for each link, image and reference in `body`."""
    text = _blank_code(body)
    found = [(m.start(), m.group(2), m.group(1) == "!") for m in LINK_RE.finditer(text)]
    found += [(m.start(), m.group(1), False) for m in REFERENCE_RE.finditer(text)]
    found += [(m.start(), m.group(1), True) for m in HTML_SRC_RE.finditer(text)]
    return sorted(found)


def check_links(doc: Document, language_dir: Path, fallback_dir: Path, problems: list[Problem]) -> None:
    """Append a problem for each broken, absolute or off-site target in `doc`."""
    for offset, target, is_image in find_targets(doc.body):
        line = doc.body_line + doc.body[:offset].count("\n")
        parts = urlsplit(target)
        if parts.scheme or parts.netloc:
            if is_image:
                problems.append(Problem(doc.path, line, f"image '{target}' loads from another site, which learners offline cannot reach: "
                                                       "save the file beside the lesson and link to it by name"))
            continue
        if not parts.path:
            continue  # '#section' within the page
        if parts.path.startswith("/"):
            problems.append(Problem(doc.path, line, f"link '{target}' starts with '/': use a path relative to this file, so the site works under any address"))
            continue
        relative = doc.path.parent.relative_to(language_dir) / PurePosixPath(unquote(parts.path))
        if _exists(language_dir, relative) or _exists(fallback_dir, relative):
            continue
        what = "image" if is_image else "link"
        problems.append(Problem(doc.path, line, f"{what} '{target}' points to a file that does not exist (looked for {_shown(language_dir, relative)})"))


def _exists(base: Path, relative: PurePosixPath) -> bool:
    path = Path(base, relative).resolve()
    if not path.is_relative_to(base.resolve()):
        return False
    if path.is_dir():
        return (path / "index.md").is_file()
    return path.is_file()


def _shown(base: Path, relative: PurePosixPath) -> str:
    import os.path
    return os.path.normpath(Path(base.name, relative)).replace(os.sep, "/")
