"""Check the links and images in a lesson's Markdown: every target must exist in the bundle, and
nothing the page loads (images, media, frames, scripts, styles) may come from another origin."""

from __future__ import annotations

import functools
import re
from pathlib import Path, PurePosixPath
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from .frontmatter import Document
from .problems import Problem

FENCE_RE = re.compile(r"^( {0,3})(`{3,}|~{3,}).*?^\1\2[ \t]*$", re.S | re.M)
INLINE_CODE_RE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
LINK_RE = re.compile(r"(!?)\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'(][^)]*)?\)")
REFERENCE_RE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?", re.M)
HTML_SRC_RE = re.compile(r"<(?:img|source|video|audio)\b[^>]*?\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.I)

# What a page loads by itself (as opposed to links, which a learner follows).
IMAGE_RE = re.compile(r"!\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'(][^)]*)?\)")
REFERENCE_IMAGE_RE = re.compile(r"!\[((?:[^\[\]]|\[[^\]]*\])*)\](?:\[([^\]]*)\]|(?![\[(]))")
DEFINITION_RE = re.compile(r"^ {0,3}\[([^\]]+)\]:[ \t]*<?([^\s>]+)>?", re.M)
TAG_RE = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)\b((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>", re.S)
ATTR_RE = re.compile(r"""([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""")
STYLE_BLOCK_RE = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.S | re.I)
CSS_URL_RE = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)\s]*))\s*\)|@import\s+(?:"([^"]*)"|'([^']*)')""", re.I)
# The attributes each element loads from; `style` is read on every element.
LOADING_ATTRIBUTES = {
    "img": ("src", "srcset"), "source": ("src", "srcset"), "video": ("src", "poster"), "audio": ("src",),
    "track": ("src",), "iframe": ("src",), "object": ("data",), "embed": ("src",), "link": ("href",),
    "script": ("src",), "input": ("src",),
}


class RemoteLoad(NamedTuple):
    """A reference the page loads from another origin: where its URL sits in the body, and what loads it."""
    start: int
    end: int
    url: str
    kind: str  # "image", "<img src>", "<iframe src>", "<p style> url()", ...
    tag_start: int = -1  # raw HTML: where the element's tag starts (a video <iframe> becomes a card)
    where: int = -1  # where to report it, when not at `start` (a reference image, not its definition)

    @property
    def offset(self) -> int:
        return self.where if self.where >= 0 else self.start


def is_remote(url: str) -> bool:
    """True for a URL with a host: https://host/..., http://host/..., //host/..."""
    return bool(urlsplit(url.strip()).netloc)


def find_remote_loads(body: str) -> list[RemoteLoad]:
    """Every reference in `body` that the built page would load from another origin, in order.
    Code (fenced and inline) is ignored; links to other sites are navigation and are not listed."""
    text = _blank_code(body)
    found: list[RemoteLoad] = []
    for m in IMAGE_RE.finditer(text):
        found.append(RemoteLoad(m.start(2), m.end(2), m.group(2), "image"))
    definitions = {m.group(1).strip().lower(): m for m in DEFINITION_RE.finditer(text)}
    for m in REFERENCE_IMAGE_RE.finditer(text):
        label = (m.group(2) or m.group(1)).strip().lower()
        definition = definitions.get(label)
        if definition is not None:
            # Reported where the image is; the URL to replace sits in the definition.
            found.append(RemoteLoad(definition.start(2), definition.end(2), definition.group(2), "image", where=m.start()))
    for tag in TAG_RE.finditer(text):
        name = tag.group(1).lower()
        attributes = LOADING_ATTRIBUTES.get(name, ()) + ("style",)
        for attr in ATTR_RE.finditer(tag.group(2)):
            key = attr.group(1).lower()
            if key not in attributes:
                continue
            group = next(i for i in (2, 3, 4) if attr.group(i) is not None)
            start = tag.start(2) + attr.start(group)
            value = attr.group(group)
            if key == "style":
                found += _css_urls(value, start, f"<{name} style> url()")
            elif key == "srcset":
                found += _srcset(value, start, f"<{name} srcset>", tag.start())
            else:
                found.append(RemoteLoad(start, start + len(value), value, f"<{name} {key}>", tag.start()))
    for block in STYLE_BLOCK_RE.finditer(text):
        found += _css_urls(block.group(1), block.start(1), "<style> url()")
    return sorted((load for load in found if is_remote(load.url)), key=lambda load: (load.offset, load.start))


def _srcset(value: str, start: int, kind: str, tag_start: int) -> list[RemoteLoad]:
    """One load per candidate of `srcset="a.png 1x, b.png 2x"`: each candidate's first word is its URL."""
    loads = []
    for m in re.finditer(r"[^,]+", value):
        word = re.match(r"\s*(\S+)", m.group(0))
        if word:
            url = word.group(1)
            at = start + m.start() + word.start(1)
            loads.append(RemoteLoad(at, at + len(url), url, kind, tag_start))
    return loads


def _css_urls(css: str, start: int, kind: str) -> list[RemoteLoad]:
    loads = []
    for m in CSS_URL_RE.finditer(css):
        group = next(i for i in range(1, 6) if m.group(i) is not None)
        loads.append(RemoteLoad(start + m.start(group), start + m.end(group), m.group(group), kind if group <= 3 else "CSS @import"))
    return loads


@functools.lru_cache(maxsize=4)  # each page's body is checked by several readers in turn (links, loads, headings, media)
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
            continue  # a link to another site is navigation; what the page loads is checked below
        if not parts.path:
            continue  # '#section' within the page
        if parts.path.startswith("/"):
            # From the curriculum's root, such as /shared/map.png: the build makes it relative (rewrite_root_links).
            from_root = PurePosixPath(unquote(parts.path).lstrip("/"))
            unpublished = from_root.parts[:1] in (("curriculum.yml",), ("strings",)) or str(from_root).startswith(".")
            if unpublished or not _exists(language_dir.parent, from_root):
                problems.append(Problem(doc.path, line, f"link '{target}' starts with '/': use a path relative to this file, or one "
                                                        f"from the top of the curriculum to a file there, such as /shared/map.png "
                                                        f"(looked for {language_dir.parent.name}{unquote(parts.path)})"))
            continue
        relative = doc.path.parent.relative_to(language_dir) / PurePosixPath(unquote(parts.path))
        if _exists(language_dir, relative) or _exists(fallback_dir, relative):
            continue
        what = "image" if is_image else "link"
        problems.append(Problem(doc.path, line, f"{what} '{target}' points to a file that does not exist (looked for {_shown(language_dir, relative)})"))
    check_remote_loads(doc, language_dir.parent, problems)


def check_remote_loads(doc: Document, curriculum_root: Path, problems: list[Problem]) -> None:
    """Append a problem for each reference the page would load from another origin, unless
    `satchel build --fetch-remote` already keeps a local copy of it (the build then uses that copy)."""
    from .remote import fix_for, is_resolved  # remote imports this module
    for load in find_remote_loads(doc.body):
        if is_resolved(curriculum_root, load):
            continue
        line = doc.body_line + doc.body[:load.offset].count("\n")
        problems.append(Problem(doc.path, line, f"{load.kind} '{load.url}' loads from another site, which learners offline "
                                                f"cannot reach: {fix_for(load)}"))


def _exists(base: Path, relative: PurePosixPath) -> bool:
    path = Path(base, relative).resolve()
    if not path.is_relative_to(base.resolve()):
        return False
    if path.is_dir():
        return (path / "index.md").is_file() or (path / "README.md").is_file()
    return path.is_file()


def rewrite_root_links(body: str, markdown_up: str, html_url) -> str:
    """Make each target that starts with one '/' (from the curriculum's root) relative, so the site
    works at any address: `markdown_up` leads from the Markdown file to the root (mkdocs then resolves
    the link as any other); raw HTML, which mkdocs leaves alone, gets `html_url(path)`."""
    text = _blank_code(body)
    spans = [(m.start(2), m.end(2), True) for m in LINK_RE.finditer(text)]
    spans += [(m.start(1), m.end(1), True) for m in REFERENCE_RE.finditer(text)]
    spans += [(m.start(1), m.end(1), False) for m in HTML_SRC_RE.finditer(text)]
    for start, end, markdown in sorted(spans, reverse=True):
        target = body[start:end]
        if target.startswith("/") and not target.startswith("//"):
            body = body[:start] + (markdown_up + target[1:] if markdown else html_url(target[1:])) + body[end:]
    return body


def _shown(base: Path, relative: PurePosixPath) -> str:
    import os.path
    return os.path.normpath(Path(base.name, relative)).replace(os.sep, "/")
