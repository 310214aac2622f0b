"""Static files of a bundle with the headers a PWA needs.

- The service worker, manifests, pack lists and pages are revalidated on every use (`no-cache`
  with an ETag: a 304 costs a few bytes), so a device learns of a new version at once.
- The workbox runtime (its folder is named by version), the app's bundled scripts and stylesheet
  and the language scripts (named by their content's hash) never change: cached for a year,
  `immutable`.
- A `.br` or `.gz` file beside a file is sent instead when the browser accepts it.
- Ranges (`Range: bytes=...`) for media, from Starlette's FileResponse; paths that climb out of
  the bundle are refused by Starlette's StaticFiles (tests/test_hub.py tries).
- Small files (pages, scripts, styles, indexes: up to 256 KB) are kept in memory once read, up
  to 64 MB in all, least recently used out first; a file changed on disk is read again. A request
  for one then costs no thread and no read, which is most of what a hub serves.
- ETags are the content's SHA-256 (its first 32 hex digits, as for archives, hub/archives.py): the
  same bundle gives the same ETags from every machine and from a folder or an archive, whatever
  the files' times. A big file is hashed once (in a thread), then known by its size and time."""

from __future__ import annotations

import mimetypes
import os
import threading
from collections import OrderedDict
from email.utils import formatdate
from hashlib import sha256

import anyio
from satchel.builder.headers import ENCODINGS, cache_control, media_type
from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles

SMALL = 256 * 1024
NOT_MODIFIED_HEADERS = {"cache-control", "etag", "last-modified", "vary"}
CACHE_BYTES = 64 * 1024 * 1024


def choose_encoding(accepted: str, available) -> str | None:
    """The encoding to send of those `available` (in the hub's order of preference) for an
    Accept-Encoding header (RFC 9110 12.5.3): the one the browser rates highest, `*` standing for
    any not named, and never one it rates q=0 ("br;q=0" means no brotli). None: send the file as is."""
    rated: dict[str, float] = {}
    for item in accepted.split(","):
        name, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        if name.strip():
            rated[name.strip().lower()] = q
    best, best_q = None, 0.0
    for name in available:
        if not name:
            continue
        q = rated.get(name, rated.get("x-gzip") if name == "gzip" else None)
        if q is None:
            q = rated.get("*", 0.0)
        if q > best_q:
            best, best_q = name, q
    return best


def content_etag(body: bytes) -> str:
    return f'"{sha256(body).hexdigest()[:32]}"'


class FileHashes:
    """The ETags of big files, hashed once each: kept by (path, size, mtime), so a file changed on
    disk is hashed again. Call `etag` in a thread: it reads the whole file the first time."""

    def __init__(self):
        self.known: dict[str, tuple[tuple[int, int], str]] = {}
        self.lock = threading.Lock()

    def cached(self, path: str, stat_result: os.stat_result) -> str | None:
        found = self.known.get(path)
        return found[1] if found and found[0] == (stat_result.st_size, stat_result.st_mtime_ns) else None

    def etag(self, path: str, stat_result: os.stat_result) -> str:
        if known := self.cached(path, stat_result):
            return known
        digest = sha256()
        with open(path, "rb") as file:
            while chunk := file.read(BigFileResponse.chunk_size):
                digest.update(chunk)
        etag = f'"{digest.hexdigest()[:32]}"'
        with self.lock:
            self.known[path] = ((stat_result.st_size, stat_result.st_mtime_ns), etag)
        return etag


class BigFileResponse(FileResponse):
    chunk_size = 4 * 1024 * 1024  # media: 4 MB per read (Starlette's 64 KB costs a thread hop each)


class Entry:
    """A small file in memory, with its precompressed variants, and the headers of each."""

    def __init__(self, full_path: str, relative: str, stat_result: os.stat_result, variants: dict[str, str]):
        self.full_path, self.signature = full_path, (stat_result.st_mtime_ns, stat_result.st_size)
        kind = media_type(full_path)
        self.bodies: dict[str | None, tuple[bytes, dict]] = {}
        for encoding, path in [(None, full_path), *variants.items()]:
            with open(path, "rb") as file:
                body = file.read()
            stat = os.stat(path)
            headers = {"content-type": kind, "content-length": str(len(body)), "cache-control": cache_control(relative),
                       "x-content-type-options": "nosniff", "last-modified": formatdate(stat.st_mtime, usegmt=True),
                       "etag": content_etag(body)}
            if encoding:
                headers["content-encoding"] = encoding
            if variants:
                headers["vary"] = "Accept-Encoding"
            self.bodies[encoding] = (body, headers)
        self.size = sum(len(body) for body, _ in self.bodies.values())
        # The same headers, encoded once, for answering without a Response object (send).
        self.raw = {encoding: [(k.encode(), v.encode()) for k, v in headers.items()] for encoding, (_, headers) in self.bodies.items()}
        self.raw_304 = {encoding: [(k.encode(), v.encode()) for k, v in headers.items() if k in NOT_MODIFIED_HEADERS]
                        for encoding, (_, headers) in self.bodies.items()}

    def fresh(self) -> bool:
        try:
            stat = os.stat(self.full_path)
        except OSError:
            return False
        return (stat.st_mtime_ns, stat.st_size) == self.signature

    async def send(self, send, request_headers: dict[bytes, bytes], method: str) -> None:
        """Answer straight to the server: the body, or 304 when the browser has this version."""
        encoding = choose_encoding(request_headers.get(b"accept-encoding", b"").decode("latin-1"), self.bodies)
        body, headers = self.bodies[encoding]
        if request_headers.get(b"if-none-match", b"").decode("latin-1") == headers["etag"]:
            await send({"type": "http.response.start", "status": 304, "headers": self.raw_304[encoding]})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": self.raw[encoding]})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})

    def response(self, request_headers: Headers, method: str) -> Response:
        encoding = choose_encoding(request_headers.get("accept-encoding", ""), self.bodies)
        body, headers = self.bodies[encoding]
        if request_headers.get("if-none-match") == headers["etag"]:
            return NotModifiedResponse(Headers(headers))
        return Response(b"" if method == "HEAD" else body, headers=headers)


class BundleFiles(StaticFiles):
    def __init__(self, directory: os.PathLike):
        super().__init__(directory=directory, html=True)
        self.root = os.path.realpath(directory)
        self.cache: OrderedDict[tuple, Entry] = OrderedDict()
        self.cached = 0
        self.hashes = FileHashes()

    async def __call__(self, scope, receive, send):
        """A small file already in memory is answered here, with no Request or Response object:
        that is most of what a hub serves. Everything else goes through StaticFiles."""
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            key = (self.get_path(scope), scope["path"].endswith("/"))
            entry = self.cache.get(key)
            if entry is not None and entry.fresh():
                headers = dict(scope["headers"])
                if b"range" not in headers:
                    self.cache.move_to_end(key)
                    await entry.send(send, headers, scope["method"])
                    return
        await super().__call__(scope, receive, send)

    async def get_response(self, path: str, scope) -> Response:
        """A file not answered from memory by __call__: read it, and keep it if it is small. A
        kept copy found here is stale (__call__ answers fresh ones): it is read again."""
        cacheable = scope["method"] in ("GET", "HEAD") and "range" not in Headers(scope=scope)
        key = (path, scope["path"].endswith("/"))
        if cacheable and key in self.cache:
            self._forget(key)
        response = await super().get_response(path, scope)
        unhashed = getattr(response, "satchel_unhashed", None)
        if unhashed is not None:  # a big file not hashed yet: hash it off the event loop, then answer
            response.headers["etag"] = await anyio.to_thread.run_sync(self.hashes.etag, *unhashed)
            if self.is_not_modified(response.headers, Headers(scope=scope)):
                return NotModifiedResponse(response.headers)
        entry = getattr(response, "satchel_entry", None)
        if cacheable and entry is not None and entry.size <= SMALL:
            self.cache[key] = entry
            self.cached += entry.size
            while self.cached > CACHE_BYTES:
                self._forget(next(iter(self.cache)))
        return response

    def _forget(self, key) -> None:
        self.cached -= self.cache.pop(key).size

    def file_response(self, full_path, stat_result: os.stat_result, scope, status_code: int = 200) -> Response:
        request_headers = Headers(scope=scope)
        full_path = str(full_path)
        relative = os.path.relpath(full_path, self.root).replace(os.sep, "/")
        variants = {name: full_path + suffix for name, suffix in ENCODINGS if os.path.isfile(full_path + suffix)}
        if status_code == 200 and stat_result.st_size <= SMALL and "range" not in request_headers:
            entry = Entry(full_path, relative, stat_result, variants)
            response = entry.response(request_headers, scope["method"])
            response.satchel_entry = entry
            return response
        kind = mimetypes.guess_type(full_path)[0] or "application/octet-stream"
        encoding = None
        if variants and "range" not in request_headers:
            encoding = choose_encoding(request_headers.get("accept-encoding", ""), variants)
            if encoding:
                full_path = variants[encoding]
                stat_result = os.stat(full_path)
        response = BigFileResponse(full_path, status_code=status_code, stat_result=stat_result, media_type=kind)
        response.headers["cache-control"] = cache_control(relative)
        response.headers["x-content-type-options"] = "nosniff"
        if encoding:
            response.headers["content-encoding"] = encoding
        if variants:
            response.headers["vary"] = "Accept-Encoding"
        etag = self.hashes.cached(full_path, stat_result)
        if etag is None:
            del response.headers["etag"]  # Starlette's, of the file's time and size: get_response puts the content's
            response.satchel_unhashed = (full_path, stat_result)
            return response
        response.headers["etag"] = etag
        if self.is_not_modified(response.headers, request_headers):
            return NotModifiedResponse(response.headers)
        return response
