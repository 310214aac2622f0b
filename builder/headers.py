"""The HTTP headers a bundle's files are served with, by path: one rule for `satchel hub`
(hub/static.py) and for `satchel publish` (builder/publish.py), so a CDN sends what the hub sends."""

from __future__ import annotations

import mimetypes
import re

mimetypes.add_type("application/manifest+json", ".webmanifest")
mimetypes.add_type("image/svg+xml", ".svg")
mimetypes.add_type("text/javascript", ".js")

# Named by version (workbox) or by content's hash (the app's scripts, stylesheet, language scripts).
IMMUTABLE = re.compile(r"(^|/)workbox-v[\d.]+/|(^|/)assets/satchel/(lang/)?[\w-]+\.[0-9a-f]{10}\.(js|css)$")
IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"
REVALIDATE_CACHE_CONTROL = "no-cache"
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))  # the precompressed copies beside a file, in order of preference
CHARSET_TYPES = ("application/javascript", "application/json", "application/manifest+json", "image/svg+xml")


def media_type(path: str) -> str:
    """The Content-Type of a file, by its name; text in UTF-8."""
    kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind in CHARSET_TYPES:
        kind += "; charset=utf-8"
    return kind


def cache_control(path: str) -> str:
    """`immutable` for a file named by its version or content, else revalidated at each use."""
    return IMMUTABLE_CACHE_CONTROL if IMMUTABLE.search(path) else REVALIDATE_CACHE_CONTROL


def compressed_copy(path: str) -> tuple[str, str] | None:
    """(the file it is a copy of, its Content-Encoding) for `page.html.br`; None for a plain file."""
    for encoding, suffix in ENCODINGS:
        if path.endswith(suffix):
            return path[: -len(suffix)], encoding
    return None


def object_headers(path: str, is_copy: bool = True) -> dict[str, str]:
    """The headers of a bundle's file as the hub sends them, keyed by lower-case name. A `.br` or
    `.gz` copy (when `is_copy`: its plain file is in the bundle) gets the Content-Type and
    Cache-Control of the file it stands for, and its Content-Encoding."""
    copy = compressed_copy(path) if is_copy else None
    original = copy[0] if copy else path
    headers = {"content-type": media_type(original), "cache-control": cache_control(original)}
    if copy:
        headers["content-encoding"] = copy[1]
    return headers
