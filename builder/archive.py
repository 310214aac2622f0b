"""Bundle archives: one `.satchel` file holding a built bundle, for hubs that get new content on a
USB stick (docs/bundle.md, "Archives").

An archive is a zip file whose entries are all stored uncompressed: a hub serves each file as a
slice of the archive (ranges included), and no entry can expand into more than it occupies, so
a decompression bomb has no way in. Its first entry, `satchel-archive.json`, names the
curriculum and version and gives every other entry's size and SHA-256. Opening an archive checks
all of it: a truncated copy, a changed byte, an entry the manifest does not list, a path that
climbs out (`../`), a compressed entry, or a curriculum id or version that is not one (they name
the folder and the file a hub keeps the archive in) is refused, with a message that says which
and what to do. The checks are code, not `assert`s, so `python -O` keeps them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .curriculum import ID_RE

ARCHIVE_FORMAT = 1
MANIFEST = "satchel-archive.json"
SUFFIX = ".satchel"
EPOCH = (1980, 1, 1, 0, 0, 0)  # every entry's date: the same bundle gives the same archive bytes
LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")  # a zip entry's local header (30 bytes)
ID_MAX, VERSION_MAX = 100, 64
# A semantic version (semver.org): MAJOR.MINOR.PATCH, then an optional -prerelease and +build.
VERSION_PATTERN = r"[0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?"
VERSION_RE = re.compile(VERSION_PATTERN)
CONTENT_RE = re.compile(r"[0-9a-f]{12,64}")  # satchel/version.json's content hash
SHA256_RE = re.compile(r"[0-9a-f]{64}")


class ArchiveError(ValueError):
    """An archive that cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class Entry:
    name: str
    offset: int  # where the file's bytes start in the archive
    size: int
    sha256: str


def pack(site: Path, output: Path) -> dict:
    """Write the bundle at `site` into the archive `output` (through a temporary file, renamed at
    the end, so a full disk never leaves a half archive under the final name). Returns the manifest."""
    site = Path(site)
    described = site / "satchel" / "curriculum.json"
    if not described.is_file():
        raise ArchiveError(f"{site} is not a built bundle (no satchel/curriculum.json): build one with `satchel build -o {site}`")
    curriculum = json.loads(described.read_text(encoding="utf-8"))
    problem = names_problem(curriculum.get("id"), curriculum.get("version"))
    if problem:
        raise ArchiveError(f"{site}: {problem}. Correct 'id:' or 'version:' in curriculum.yml, then `satchel build` "
                           "and `satchel pack` again")
    version = json.loads((site / "satchel" / "version.json").read_text(encoding="utf-8"))
    paths = sorted(p for p in site.rglob("*") if p.is_file() and not p.is_symlink())
    files = {}
    for path in paths:
        data = path.read_bytes()
        files[path.relative_to(site).as_posix()] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    manifest = {"format": ARCHIVE_FORMAT, "curriculum": curriculum["id"], "version": curriculum["version"],
                "content": version["content"], "files": files}
    output = Path(output)
    temporary = output.with_name(output.name + ".part")
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(_info(MANIFEST), json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        for path in paths:
            with archive.open(_info(path.relative_to(site).as_posix()), "w") as out, open(path, "rb") as source:
                while chunk := source.read(1 << 20):
                    out.write(chunk)
    with open(temporary, "rb") as written:
        os.fsync(written.fileno())
    os.replace(temporary, output)
    return manifest


def names_problem(curriculum_id: object, version: object) -> str | None:
    """What is wrong with a curriculum id or version an archive carries, or None. A hub names a
    folder after the id and a file after both, so they are held to the rules of curriculum.yml."""
    if not isinstance(curriculum_id, str) or len(curriculum_id) > ID_MAX or not ID_RE.fullmatch(curriculum_id):
        return (f"its curriculum id {_shown(curriculum_id)} is not a curriculum id (lower-case letters, digits and '-', "
                f"such as 'math-grade-3', at most {ID_MAX} characters)")
    if not isinstance(version, str) or len(version) > VERSION_MAX or not VERSION_RE.fullmatch(version):
        return (f"its version {_shown(version)} is not a version such as 1.0.0 (MAJOR.MINOR.PATCH, then perhaps "
                f"-beta.1 or +build.7, at most {VERSION_MAX} characters)")
    return None


def _shown(value: object) -> str:
    """A value from an archive, quoted and cut short: a message never prints a hostile name whole."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, EPOCH)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    return info


class Archive:
    """An opened, checked archive: its manifest and where each file's bytes are."""

    def __init__(self, path: Path, manifest: dict, entries: dict[str, Entry]):
        self.path, self.manifest, self.entries = Path(path), manifest, entries
        self.curriculum_id, self.version = manifest["curriculum"], manifest["version"]

    @classmethod
    def open(cls, path: Path, verify: bool = True) -> Archive:
        """Open and check an archive; with verify=False the contents' hashes are not read again
        (an archive this hub already checked when it imported it)."""
        path = Path(path)
        what = f"{path.name} is not a usable Satchel archive"
        try:
            with zipfile.ZipFile(path) as archive:
                infos = archive.infolist()
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            raise ArchiveError(f"{what}: it is not a complete zip file ({error}). It may have been cut short while "
                               "copying: copy it again from its source.") from None
        size = path.stat().st_size
        names = set()
        for info in infos:
            _check_entry(info, what, size)
            if info.filename in names:
                raise ArchiveError(f"{what}: '{info.filename}' is in it twice")
            names.add(info.filename)
        if not infos or infos[0].filename != MANIFEST:
            raise ArchiveError(f"{what}: it does not start with {MANIFEST}. Make archives with `satchel pack SITE -o NAME{SUFFIX}`.")
        with open(path, "rb") as file:
            offsets = {info.filename: _data_offset(file, info, what) for info in infos}
            manifest = _read_manifest(file, offsets[MANIFEST], infos[0].file_size, what)
            listed = manifest["files"]
            extra = sorted(names - set(listed) - {MANIFEST})
            missing = sorted(set(listed) - names)
            if extra or missing:
                raise ArchiveError(f"{what}: its contents differ from its manifest "
                                   f"({'not listed: ' + ', '.join(extra[:3]) if extra else 'missing: ' + ', '.join(missing[:3])}). "
                                   "It was changed after `satchel pack`: make it again.")
            entries = {}
            for info in infos[1:]:
                expected = listed[info.filename]
                if info.file_size != expected["bytes"]:
                    raise ArchiveError(f"{what}: {info.filename} has {info.file_size} bytes, its manifest says {expected['bytes']}")
                if verify and _sha256(file, offsets[info.filename], info.file_size) != expected["sha256"]:
                    raise ArchiveError(f"{what}: {info.filename} does not match its SHA-256 in the manifest. The archive "
                                       "was changed or damaged: copy it again, or make it again with `satchel pack`.")
                entries[info.filename] = Entry(info.filename, offsets[info.filename], info.file_size, expected["sha256"])
        archive = cls(path, manifest, entries)
        if "satchel/curriculum.json" not in entries:
            raise ArchiveError(f"{what}: it holds no satchel/curriculum.json, so no built bundle")
        try:
            described = json.loads(archive.read("satchel/curriculum.json"))
        except ValueError:
            described = None
        if not isinstance(described, dict):
            raise ArchiveError(f"{what}: its satchel/curriculum.json is not a curriculum's description. Make it again "
                               "with `satchel build` and `satchel pack`")
        if (described.get("id"), described.get("version")) != (manifest["curriculum"], manifest["version"]):
            raise ArchiveError(f"{what}: its manifest names {manifest['curriculum']} {manifest['version']}, its bundle is "
                               f"{_shown(described.get('id'))} {_shown(described.get('version'))}. It was changed after "
                               "`satchel pack`: make it again with `satchel build` and `satchel pack`")
        return archive

    def read(self, name: str) -> bytes:
        entry = self.entries[name]
        with open(self.path, "rb") as file:
            return os.pread(file.fileno(), entry.size, entry.offset)


def _check_entry(info: zipfile.ZipInfo, what: str, archive_size: int) -> None:
    name = info.filename
    if not name or name.startswith("/") or "\\" in name or ":" in name or any(part in ("", ".", "..") for part in name.split("/")):
        raise ArchiveError(f"{what}: the entry '{name[:200]}' has a path that is not allowed (absolute, '..', or a folder). "
                           "Nothing was extracted or served.")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode) or stat.S_ISDIR(mode):
        raise ArchiveError(f"{what}: the entry '{name}' is a link or a folder, not a file")
    if info.compress_type != zipfile.ZIP_STORED:
        raise ArchiveError(f"{what}: the entry '{name}' is compressed; Satchel archives store files as they are "
                           "(a compressed entry could expand without limit). Make it with `satchel pack`.")
    if info.file_size != info.compress_size or info.file_size > archive_size or info.flag_bits & 0x1:
        raise ArchiveError(f"{what}: the entry '{name}' claims {info.file_size} bytes in {info.compress_size} "
                           "(or is encrypted): refused")


def _data_offset(file, info: zipfile.ZipInfo, what: str) -> int:
    """Where an entry's bytes start: after its local header, whose name and extra field lengths
    may differ from the central directory's."""
    header = os.pread(file.fileno(), LOCAL_HEADER.size, info.header_offset)
    if len(header) < LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        raise ArchiveError(f"{what}: the entry '{info.filename}' is damaged (no local header)")
    fields = LOCAL_HEADER.unpack(header)
    return info.header_offset + LOCAL_HEADER.size + fields[9] + fields[10]


def _read_manifest(file, offset: int, size: int, what: str) -> dict:
    """The manifest, checked field by field (these are checks, not asserts: `python -O` keeps them)."""
    if size > 64 * 1024 * 1024:
        raise ArchiveError(f"{what}: its manifest is too big ({size} bytes)")
    damaged = ArchiveError(f"{what}: its {MANIFEST} is damaged, or of a format this Satchel does not know "
                           f"(it knows format {ARCHIVE_FORMAT}): update Satchel or make the archive again with `satchel pack`")
    try:
        manifest = json.loads(os.pread(file.fileno(), size, offset))
    except ValueError:
        raise damaged from None
    if not isinstance(manifest, dict):
        raise damaged
    found = manifest.get("format")
    if isinstance(found, int) and not isinstance(found, bool) and found != ARCHIVE_FORMAT:
        raise ArchiveError(f"{what}: it is format {found}, this Satchel knows format {ARCHIVE_FORMAT}: update Satchel, "
                           "or make the archive with this Satchel's `satchel pack`")
    files = manifest.get("files")
    if found != ARCHIVE_FORMAT or not isinstance(files, dict) or not all(_listed(v) for v in files.values()):
        raise damaged
    problem = names_problem(manifest.get("curriculum"), manifest.get("version"))
    if problem:
        raise ArchiveError(f"{what}: {problem}. Correct 'id:' or 'version:' in its curriculum.yml, then make it again "
                           "with `satchel build` and `satchel pack`")
    if not isinstance(manifest.get("content"), str) or not CONTENT_RE.fullmatch(manifest["content"]):
        raise ArchiveError(f"{what}: its content hash {_shown(manifest.get('content'))} is not one "
                           "(hexadecimal, from satchel/version.json): make it again with `satchel pack`")
    return manifest


def _listed(file: object) -> bool:
    """One file of the manifest: {"bytes": a whole number, "sha256": 64 hexadecimal digits}."""
    if not isinstance(file, dict):
        return False
    size, digest = file.get("bytes"), file.get("sha256")
    return (isinstance(size, int) and not isinstance(size, bool) and size >= 0
            and isinstance(digest, str) and SHA256_RE.fullmatch(digest) is not None)


def _sha256(file, offset: int, size: int) -> str:
    digest = hashlib.sha256()
    while size > 0:
        chunk = os.pread(file.fileno(), min(size, 1 << 20), offset)
        if not chunk:
            break
        digest.update(chunk)
        offset += len(chunk)
        size -= len(chunk)
    return digest.hexdigest()
