"""A Markdown body's first `# Heading` as its title: a file without `title:` takes it, and a title
is shown once (the theme prints it), so the heading used as the title leaves the body."""

from __future__ import annotations

import re

from .frontmatter import Document
from .links import _blank_code

# An ATX heading of level 1 ('# Halves', '# Halves #'), or a setext one ('Halves' over '====').
ATX_H1_RE = re.compile(r"^ {0,3}#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.M)
SETEXT_H1_RE = re.compile(r"^ {0,3}(\S[^\n]*?)[ \t]*\n {0,3}=+[ \t]*$", re.M)


def first_heading(body: str) -> re.Match | None:
    """The first level-1 heading outside code, as a match on `body` (group 1 is its text)."""
    text = _blank_code(body)
    found = [m for m in (ATX_H1_RE.search(text), SETEXT_H1_RE.search(text)) if m is not None]
    return min(found, key=lambda m: m.start()) if found else None


def take_title(doc: Document) -> None:
    """Without a `title:`, the first heading is the title; the heading that is the title (or the
    leading heading equal to `title:`) is blanked out of the body, keeping its lines for messages."""
    if not doc.readable:
        return
    heading = first_heading(doc.body)
    if heading is None:
        return
    text = doc.body[heading.start(1):heading.end(1)].strip()
    if "title" not in doc.meta:
        doc.meta["title"] = text
        doc.key_lines["title"] = doc.body_line + doc.body[:heading.start()].count("\n")
    elif doc.body[:heading.start()].strip() or str(doc.meta["title"]).strip() != text:
        return  # another heading, or one further down: the author's, kept
    doc.body = doc.body[:heading.start()] + re.sub(r"[^\n]", " ", doc.body[heading.start():heading.end()]) + doc.body[heading.end():]
