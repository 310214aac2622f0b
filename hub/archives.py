"""A hub serving bundles straight from `.satchel` archives (builder/archive.py), and importing a
newer archive from a USB stick with an atomic switch.

    DATA/bundles/<curriculum id>/current            the name of the archive served (one line)
    DATA/bundles/<curriculum id>/<id>-<version>-<content>.satchel   the archive, and the one before
    DATA/bundles/<curriculum id>/import.lock        held by the import running, if any

Importing checks the archive on the stick, copies it, checks the copy, then replaces `current`
in one rename: a running hub answers every request from the old archive or from the new one,
never from a mix, and a power cut at any moment leaves one of the two, whole. An import writes
and deletes only inside its curriculum's folder, and deletes only archives it named itself.

A hub that trusts signing keys (`satchel hub keys add`, kept in the database's meta table)
imports only archives signed by one of them; the check runs on the stick's archive and again on
the copy. A hub that trusts none imports unsigned archives, as before keys existed."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import posixpath
import re
import shutil
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate
from pathlib import Path

import anyio
from satchel.builder.archive import SUFFIX, VERSION_PATTERN, Archive, ArchiveError, check_origin, key_id, load_public_key, raw_public_key
from starlette._utils import get_route_path
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse

from .static import ENCODINGS, SMALL, cache_control, choose_encoding, media_type

CHUNK = 4 * 1024 * 1024
CACHE_BYTES = 64 * 1024 * 1024
POINTER = "current"
LOCK = "import.lock"
KEYS_META = "archive_signing_keys"  # {"trusted": {key id: {"public": base64, "name": ..., "added": date}}, "removed": {key id: date}}


class TrustedKeys:
    """The public keys whose archives a hub imports, kept in its store's meta table (so every hub
    on one database trusts the same keys), and the keys removed from them, for the message."""

    def __init__(self, store):
        self.store = store
        saved = json.loads(store.meta(KEYS_META) or "{}")
        self.trusted: dict[str, dict] = saved.get("trusted", {})
        self.removed: dict[str, str] = saved.get("removed", {})

    def raw(self) -> dict[str, bytes]:
        """{key id: the 32 bytes of the public key}, what check_origin takes."""
        return {key: base64.b64decode(entry["public"]) for key, entry in self.trusted.items()}

    def add(self, pem: bytes, source: str, name: str = "") -> tuple[str, bool]:
        """Trust the public key in `pem`; returns its id and whether it is new. Raises ArchiveError."""
        public = load_public_key(pem, source)
        key = key_id(public)
        if key in self.trusted:
            return key, False
        self.trusted[key] = {"public": base64.b64encode(raw_public_key(public)).decode("ascii"),
                             "name": name or Path(source).stem, "added": time.strftime("%Y-%m-%d")}
        self.removed.pop(key, None)
        self._save()
        return key, True

    def remove(self, key: str) -> bool:
        if self.trusted.pop(key, None) is None:
            return False
        self.removed[key] = time.strftime("%Y-%m-%d")
        self._save()
        return True

    def _save(self) -> None:
        self.store.set_meta(KEYS_META, json.dumps({"trusted": self.trusted, "removed": self.removed}, sort_keys=True))


class ArchiveFiles:
    """An archive's files, with the headers BundleFiles gives a folder's (hub/static.py): no-cache
    or immutable, ETag (the file's SHA-256) and 304, precompressed variants, single ranges.
    Small files stay in memory once read."""

    def __init__(self, archive: Archive):
        self.archive = archive
        self.fd = os.open(archive.path, os.O_RDONLY)
        self.modified = formatdate(os.fstat(self.fd).st_mtime, usegmt=True)
        self.folders = {posixpath.dirname(name) for name in archive.entries} | {""}
        for name in list(self.folders):
            while name:
                name = posixpath.dirname(name)
                self.folders.add(name)
        self.cache: OrderedDict[str, bytes] = OrderedDict()
        self.cached = 0
        # Answers already made for a small file: (path, accept-encoding) -> (etag, headers, 304 headers, body)
        self.answers: dict[tuple[str, bytes], tuple] = {}
        self.answered = 0  # bytes of the bodies in answers, at most CACHE_BYTES

    def __del__(self):
        os.close(self.fd)

    async def __call__(self, scope, receive, send):
        """A small file answered before is answered again straight to the server, with no
        Response object (most of what a hub serves); everything else goes through respond()."""
        if scope["type"] != "http":
            return
        headers = dict(scope["headers"])
        if scope["method"] in ("GET", "HEAD") and b"range" not in headers:
            known = self.answers.get((scope["path"], headers.get(b"accept-encoding", b"")))
            if known is not None:
                etag, raw, raw_304, body = known
                if headers.get(b"if-none-match") == etag:
                    await send({"type": "http.response.start", "status": 304, "headers": raw_304})
                    body = b""
                else:
                    await send({"type": "http.response.start", "status": 200, "headers": raw})
                await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
                return
        response = await self.respond(scope)
        known = getattr(response, "satchel_answer", None)
        if known is not None and self.answered + len(known[3]) <= CACHE_BYTES:
            self.answers[(scope["path"], headers.get(b"accept-encoding", b""))] = known
            self.answered += len(known[3])
        await response(scope, receive, send)

    async def respond(self, scope) -> Response:
        if scope["method"] not in ("GET", "HEAD"):
            return PlainTextResponse("Method Not Allowed", 405, headers={"allow": "GET, HEAD"})
        route = get_route_path(scope).lstrip("/")
        if any(part in (".", "..") for part in route.split("/")):
            return PlainTextResponse("Not Found", 404)
        name = route + "index.html" if route == "" or route.endswith("/") else route
        if name not in self.archive.entries:
            if route in self.folders:
                return RedirectResponse(scope["path"] + "/", 307)
            return PlainTextResponse("Not Found", 404)
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        ranged = headers.get("range", "")
        served, encoding = name, None
        variants = [(coding, name + suffix) for coding, suffix in ENCODINGS if name + suffix in self.archive.entries]
        if variants and not ranged:
            encoding = choose_encoding(headers.get("accept-encoding", ""), dict(variants))
            served = dict(variants)[encoding] if encoding else name
        entry = self.archive.entries[served]
        answer = {"content-type": media_type(name), "cache-control": cache_control(name), "etag": f'"{entry.sha256[:32]}"',
                  "last-modified": self.modified, "x-content-type-options": "nosniff", "accept-ranges": "bytes"}
        if encoding:
            answer["content-encoding"] = encoding
        if variants:
            answer["vary"] = "Accept-Encoding"
        if headers.get("if-none-match") == answer["etag"]:
            return Response(status_code=304, headers={k: v for k, v in answer.items() if k != "content-type"})
        start, end, status = 0, entry.size, 200
        if ranged:
            chosen = parse_range(ranged, entry.size)
            if chosen is None:
                return Response(status_code=416, headers={"content-range": f"bytes */{entry.size}"})
            if chosen != (0, entry.size):
                start, end, status = chosen[0], chosen[1], 206
                answer["content-range"] = f"bytes {start}-{end - 1}/{entry.size}"
        answer["content-length"] = str(end - start)
        if scope["method"] == "HEAD":
            return Response(status_code=status, headers=answer)
        if entry.size <= SMALL:
            body = self._small(served, entry)
            response = Response(body[start:end], status_code=status, headers=answer)
            if status == 200:
                raw = [(k.encode(), v.encode()) for k, v in answer.items()]
                response.satchel_answer = (answer["etag"].encode(), raw, [h for h in raw if h[0] != b"content-length"
                                           and h[0] != b"content-type"], body)
            return response
        return StreamingResponse(self._chunks(entry.offset + start, end - start), status_code=status, headers=answer)

    def _small(self, name: str, entry) -> bytes:
        body = self.cache.get(name)
        if body is None:
            body = os.pread(self.fd, entry.size, entry.offset)
            self.cache[name] = body
            self.cached += len(body)
            while self.cached > CACHE_BYTES:
                self.cached -= len(self.cache.pop(next(iter(self.cache))))
        else:
            self.cache.move_to_end(name)
        return body

    async def _chunks(self, offset: int, length: int):
        while length > 0:
            chunk = await anyio.to_thread.run_sync(os.pread, self.fd, min(CHUNK, length), offset)
            if not chunk:
                return
            yield chunk
            offset += len(chunk)
            length -= len(chunk)


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end) of a single `bytes=` range; the whole file for several ranges (allowed by
    RFC 9110: a server may ignore Range); None when it cannot be satisfied."""
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return (0, size)
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            count = int(last)
            return (max(0, size - count), size) if count > 0 and size else None
        start = int(first)
        end = min(int(last) + 1, size) if last else size
    except ValueError:
        return (0, size)
    return (start, end) if 0 <= start < end else None


class Imported:
    """The archive a data directory says is current for one curriculum; it follows `current`
    when an import replaces it (checked at most once a second)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.name = None
        self.files: ArchiveFiles | None = None
        self.checked = 0.0
        self._follow()
        self.curriculum_id = self.files.archive.curriculum_id

    def _follow(self) -> None:
        name = (self.folder / POINTER).read_text(encoding="utf-8").strip()
        if name != self.name:
            self.files = ArchiveFiles(Archive.open(self.folder / name, verify=False))  # checked when imported
            self.name = name

    async def __call__(self, scope, receive, send):
        now = time.monotonic()
        if now - self.checked > 1:
            self.checked = now
            self._follow()
        await self.files(scope, receive, send)


def imported(data: Path) -> list[Path]:
    """The folders of the curricula imported into a hub's data directory."""
    root = data / "bundles"
    return sorted(p for p in root.iterdir() if (p / POINTER).is_file()) if root.is_dir() else []


def version_key(version: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in version.replace("-", ".").split("."))


def archive_name(curriculum_id: str) -> re.Pattern:
    """The names import_archive gives the archives of one curriculum: <id>-<version>-<12 hex>.satchel."""
    return re.compile(re.escape(curriculum_id) + "-" + VERSION_PATTERN + "-[0-9a-f]{12}" + re.escape(SUFFIX))


def import_archive(data: Path, source: Path, allow_older: bool = False,
                   keys: TrustedKeys | None = None) -> tuple[Archive, str | None]:
    """Check `source` (and, if `keys` trusts any, its signature), copy it into the data directory,
    check the copy, switch to it. Returns the archive and the version it replaced (None for a
    first import). Raises ArchiveError."""
    try:
        archive = Archive.open(source)  # the id and version are checked there: no '/', no '..'
        if keys is not None and keys.trusted:
            check_origin(archive, keys.raw(), keys.removed)
        elif archive.tls:  # a certificate's private key: only from whoever the hub trusts (docs/security.md)
            raise ArchiveError(f"{source.name} carries a TLS certificate and its private key, and this hub trusts no "
                               "signing key: it installs a certificate only from an archive signed by a key it trusts "
                               "(`satchel hub keys add KEY.pub`)")
    except ArchiveError as error:
        raise ArchiveError(f"{error}; nothing was imported") from None
    bundles = data / "bundles"
    bundles.mkdir(parents=True, exist_ok=True)
    folder = bundles / archive.curriculum_id
    if folder.resolve().parent != bundles.resolve():
        raise ArchiveError(f"{folder} leads outside {bundles} (a link?): remove it, then import {source.name} again; "
                           "nothing was imported")
    folder.mkdir(exist_ok=True)
    with _import_lock(folder, source, archive.curriculum_id):
        for part in folder.glob("*.part"):  # what an import killed mid-way left: none is running now
            part.unlink(missing_ok=True)
        installed = _install_certificate(data, archive) if archive.tls else None
        try:
            switched = _switch(archive, folder, source, allow_older, keys)
        except ArchiveError as error:
            if installed is None:
                raise
            raise ArchiveError(f"{error} (its certificate for {installed['name']} was installed all the same)") from None
        switched[0].certificate = installed  # cmd_import says so
        return switched


def _install_certificate(data: Path, archive: Archive) -> dict:
    """Install the certificate and key a signed, trusted archive carries into DATA/tls/ (0600):
    a hub serving DATA/tls/ loads it within a second (hub/cert.py). Returns its status."""
    from cryptography import x509

    from .cert import CertError, certificate_status, describe, install
    try:
        carried = describe(x509.load_pem_x509_certificates(archive.read_tls("cert.pem"))[0])
        current = certificate_status(data)
        if current and not current.get("problem") and not current["expired"] and current["not_after"] >= carried["not_after"] \
                and set(carried["names"]) <= set(current["names"]):
            return dict(current, kept=True)  # an older archive signed again, or replayed: the newer certificate stays
        if carried["expired"]:
            raise CertError(f"the certificate it carries for {carried['name']} expired on {carried['not_after'][:10]}")
        return install(data, archive.read_tls("cert.pem"), archive.read_tls("key.pem"), archive.path.name)
    except (CertError, ValueError) as error:
        raise ArchiveError(f"{error}; nothing was imported") from None


@contextmanager
def _import_lock(folder: Path, source: Path, curriculum_id: str) -> Iterator[None]:
    """Held while one import of a curriculum runs; the system lets go of it when that import ends,
    killed or not, so a .part file found while holding it is a dead import's."""
    descriptor = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ArchiveError(f"{source.name}: another `satchel hub import` of {curriculum_id} is running; wait for it "
                               "to finish, then import again if it is still needed; nothing was imported") from None
        yield
    finally:
        os.close(descriptor)


def _switch(archive: Archive, folder: Path, source: Path, allow_older: bool, keys: TrustedKeys | None) -> tuple[Archive, str | None]:
    """Copy the checked archive into `folder` and make it current (the caller holds the lock)."""
    previous = None
    if (folder / POINTER).is_file():
        name = (folder / POINTER).read_text(encoding="utf-8").strip()
        if not _inside(folder / name, folder):
            raise ArchiveError(f"{folder / POINTER} names {name!r}, not an archive in {folder}: write the name of the "
                               f"archive to serve into it, then import {source.name} again; nothing was imported")
        previous = Archive.open(folder / name, verify=False)
        if previous.manifest["content"] == archive.manifest["content"]:
            raise ArchiveError(f"{source.name}: this hub already serves {archive.curriculum_id} {archive.version} with the "
                               "same content; nothing changed")
        try:
            older = version_key(archive.version) < version_key(previous.version)
        except TypeError:  # versions that do not compare (1.2 and 1.b): take the newer import
            older = False
        if older and not allow_older:
            raise ArchiveError(f"{source.name} holds {archive.curriculum_id} {archive.version}, older than the "
                               f"{previous.version} this hub serves; add --allow-older to go back to it")
    target = folder / f"{archive.curriculum_id}-{archive.version}-{archive.manifest['content'][:12]}{SUFFIX}"
    if not _inside(target, folder):  # Archive.open checked the names; this is the last word before writing
        raise ArchiveError(f"{source.name}: its name would put it outside {folder}; nothing was imported")
    partial = target.with_name(target.name + ".part")
    try:
        shutil.copyfile(source, partial)
        if archive.tls:  # it holds a private key: for the hub's user only, as DATA/tls/key.pem
            os.chmod(partial, 0o600)
        with open(partial, "rb") as copy:
            os.fsync(copy.fileno())
        copy = Archive.open(partial)  # the copy on the hub's disk, read back: a flaky stick or a full disk stops here
        if keys is not None and keys.trusted:  # and a stick that changed between the two reads
            check_origin(copy, keys.raw(), keys.removed)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    pointer = folder / (POINTER + ".part")
    with open(pointer, "w", encoding="utf-8") as file:
        file.write(target.name + "\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(pointer, folder / POINTER)
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    keep = {target.name, previous.path.name if previous else None}
    ours = archive_name(archive.curriculum_id)
    for old in folder.iterdir():
        if ours.fullmatch(old.name) and old.name not in keep:
            old.unlink()
    return archive, previous.version if previous else None


def _inside(path: Path, folder: Path) -> bool:
    """Whether `path` is a name directly in `folder`, links followed."""
    return path.resolve().parent == folder.resolve()
