"""Static files of a bundle with the headers a PWA needs.

- The service worker, manifests, pack lists and pages are revalidated on every use (`no-cache`
  with an ETag: a 304 costs a few bytes), so a device learns of a new version at once.
- The workbox runtime (its folder is named by version) and material's stylesheet (named by hash)
  never change: cached for a year, `immutable`.
- A `.br` or `.gz` file beside a file is sent instead when the browser accepts it.
- Ranges (`Range: bytes=...`) for media, from Starlette's FileResponse; paths that climb out of
  the bundle are refused by Starlette's StaticFiles (tests/test_hub.py tries)."""

from __future__ import annotations

import mimetypes
import os
import re

from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles

mimetypes.add_type("application/manifest+json", ".webmanifest")
mimetypes.add_type("image/svg+xml", ".svg")
mimetypes.add_type("text/javascript", ".js")

IMMUTABLE = re.compile(r"(^|/)workbox-v[\d.]+/|(^|/)assets/stylesheets/[\w-]+\.[0-9a-f]{8}\.min\.css$")
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))


def cache_control(path: str) -> str:
    return "public, max-age=31536000, immutable" if IMMUTABLE.search(path) else "no-cache"


class BundleFiles(StaticFiles):
    def __init__(self, directory: os.PathLike):
        super().__init__(directory=directory, html=True)

    def file_response(self, full_path, stat_result: os.stat_result, scope, status_code: int = 200) -> Response:
        request_headers = Headers(scope=scope)
        full_path = str(full_path)
        relative = os.path.relpath(full_path, os.path.realpath(self.directory)).replace(os.sep, "/")
        media_type = mimetypes.guess_type(full_path)[0] or "application/octet-stream"
        variants = {name: full_path + suffix for name, suffix in ENCODINGS if os.path.isfile(full_path + suffix)}
        encoding = None
        if variants and "range" not in request_headers:
            accepted = request_headers.get("accept-encoding", "")
            encoding = next((name for name in variants if name in accepted), None)
            if encoding:
                full_path = variants[encoding]
                stat_result = os.stat(full_path)
        response = FileResponse(full_path, status_code=status_code, stat_result=stat_result, media_type=media_type)
        response.headers["cache-control"] = cache_control(relative)
        response.headers["x-content-type-options"] = "nosniff"
        if encoding:
            response.headers["content-encoding"] = encoding
        if variants:
            response.headers["vary"] = "Accept-Encoding"
        if self.is_not_modified(response.headers, request_headers):
            return NotModifiedResponse(response.headers)
        return response
