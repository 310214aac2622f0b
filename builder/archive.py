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

The manifest proves integrity; origin takes a signature. `satchel pack --sign KEY` adds a second
entry, `satchel-signature.json`: an ed25519 signature of the manifest's bytes (which name every
other entry's SHA-256) by the maker's private key. A reader that does not check origin still
opens the archive; a hub that trusts keys checks it with check_origin() (docs/security.md).

A signed archive may also carry the hub's TLS certificate and its private key (`satchel pack
--sign KEY --certificate DATA/tls`, from a central that renews the shared school name's
certificate): entries satchel-tls/cert.pem and satchel-tls/key.pem, listed with their SHA-256
under the manifest's "tls", never among the bundle's "files", so a hub never serves them. A hub
installs them only from an archive signed by a key it trusts (hub/archives.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .curriculum import ID_RE

ARCHIVE_FORMAT = 1
MANIFEST = "satchel-archive.json"
SIGNATURE = "satchel-signature.json"
SIGNATURE_FORMAT = 1
SIGNATURE_MAX = 4096  # bytes: a signature entry is some 200
SIGNED_PREFIX = b"satchel-archive-signature-1\n"  # what is signed: this, then the manifest's bytes
KEY_ID_RE = re.compile(r"[0-9a-f]{16}")
SUFFIX = ".satchel"
EPOCH = (1980, 1, 1, 0, 0, 0)  # every entry's date: the same bundle gives the same archive bytes
LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")  # a zip entry's local header (30 bytes)
ID_MAX, VERSION_MAX = 100, 64
# A semantic version (semver.org): MAJOR.MINOR.PATCH, then an optional -prerelease and +build.
VERSION_PATTERN = r"[0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?"
VERSION_RE = re.compile(VERSION_PATTERN)
CONTENT_RE = re.compile(r"[0-9a-f]{12,64}")  # satchel/version.json's content hash
SHA256_RE = re.compile(r"[0-9a-f]{64}")
TLS_PREFIX = "satchel-tls/"
TLS_FILES = ("cert.pem", "key.pem")
TLS_MAX = 256 * 1024  # bytes: a certificate chain or a key is a few KB


class ArchiveError(ValueError):
    """An archive that cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class Entry:
    name: str
    offset: int  # where the file's bytes start in the archive
    size: int
    sha256: str


def pack(site: Path, output: Path, signing_key: Ed25519PrivateKey | None = None, certificate: Path | None = None) -> dict:
    """Write the bundle at `site` into the archive `output` (through a temporary file, renamed at
    the end, so a full disk never leaves a half archive under the final name), signed with
    `signing_key` if given, carrying the cert.pem and key.pem of the folder `certificate` if
    given (signed archives only). Returns the manifest."""
    site = Path(site)
    tls = {}
    if certificate is not None:
        if signing_key is None:
            raise ArchiveError("a certificate and its private key travel only in a signed archive: add --sign KEY "
                               "(hubs install them only from archives signed by a key they trust)")
        for name in TLS_FILES:
            path = Path(certificate) / name
            try:
                if path.stat().st_size > TLS_MAX:
                    raise ArchiveError(f"{path} is more than {TLS_MAX:,} bytes: not a certificate or key")
                tls[name] = path.read_bytes()
            except OSError as error:
                raise ArchiveError(f"cannot read {path} ({error.strerror}): --certificate takes a hub's DATA/tls folder, "
                                   "with the cert.pem and key.pem of `satchel hub cert`") from None
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
    if tls:
        manifest["tls"] = {name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()} for name, data in tls.items()}
    output = Path(output)
    temporary = output.with_name(output.name + ".part")
    manifest_bytes = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode("utf-8")
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(_info(MANIFEST), manifest_bytes)
        if signing_key is not None:
            archive.writestr(_info(SIGNATURE), signature_entry(manifest_bytes, signing_key))
        for name, data in tls.items():
            archive.writestr(_info(TLS_PREFIX + name), data)
        for path in paths:
            with archive.open(_info(path.relative_to(site).as_posix()), "w") as out, open(path, "rb") as source:
                while chunk := source.read(1 << 20):
                    out.write(chunk)
    with open(temporary, "rb") as written:
        os.fsync(written.fileno())
    os.replace(temporary, output)
    return manifest


def signature_entry(manifest_bytes: bytes, signing_key: Ed25519PrivateKey) -> bytes:
    """The bytes of satchel-signature.json for a manifest (ed25519 is deterministic: the same
    manifest and key give the same bytes)."""
    signature = signing_key.sign(SIGNED_PREFIX + manifest_bytes)
    entry = {"format": SIGNATURE_FORMAT, "algorithm": "ed25519", "key": key_id(signing_key.public_key()),
             "signature": base64.b64encode(signature).decode("ascii")}
    return (json.dumps(entry, indent=1, sort_keys=True) + "\n").encode("utf-8")


def key_id(public_key: Ed25519PublicKey) -> str:
    """A public key's fingerprint: the first 16 hex digits of the SHA-256 of its 32 raw bytes.
    It only names the key; the signature is checked against the whole key the hub trusts."""
    return hashlib.sha256(raw_public_key(public_key)).hexdigest()[:16]


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def new_key_pair() -> tuple[bytes, bytes]:
    """A new signing key: (private key as PEM PKCS8, public key as PEM)."""
    private = Ed25519PrivateKey.generate()
    return (private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
            public_pem(private.public_key()))


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """The ed25519 private key in a PEM file (from `satchel keys new`); ArchiveError says what is wrong."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ArchiveError(f"cannot read the signing key {path} ({error.strerror}): make one with `satchel keys new --out {path}`") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ArchiveError(f"{path} is protected by a password; give an unprotected ed25519 key (`satchel keys new`), "
                           "kept where only its owner reads it") from None
    except ValueError:
        raise ArchiveError(f"{path} is not a private key in PEM (PKCS8): make one with `satchel keys new --out {path.name}`; "
                           "a .pub file is the public half, for hubs, not for signing") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ArchiveError(f"{path} is not an ed25519 key: Satchel signs with ed25519 only (`satchel keys new`)")
    return key


def load_public_key(data: bytes, source: str) -> Ed25519PublicKey:
    """An ed25519 public key from PEM (a .pub file from `satchel keys new`); ArchiveError says what is wrong."""
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        hint = " (that is a private key: give its .pub file, never the private key, to a hub)" if b"PRIVATE KEY" in data else ""
        raise ArchiveError(f"{source} is not a public key in PEM{hint}: give the .pub file `satchel keys new` wrote") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ArchiveError(f"{source} is not an ed25519 public key: Satchel archives are signed with ed25519 only")
    return key


def check_origin(archive: Archive, trusted: dict[str, bytes], removed: dict[str, str] | None = None) -> str:
    """Check that `archive` is signed by one of the `trusted` keys ({key id: 32 raw bytes}). Returns
    the key id; raises ArchiveError saying why not (unsigned, unknown or removed key, a signature
    that does not match, a damaged signature entry)."""
    name = archive.path.name
    known = ", ".join(sorted(trusted)) or "none"
    if archive.signature is None:
        raise ArchiveError(f"{name} is not signed, and this hub takes only signed archives (it trusts the keys {known}). "
                           f"Ask whoever made it for one made with `satchel pack SITE -o {name} --sign KEY`, or, if you "
                           "trust its maker, add their public key with `satchel hub keys add THEIR.pub --data DIR`")
    damaged = ArchiveError(f"{name}: its {SIGNATURE} is damaged, or of a format this Satchel does not know (it knows format "
                           f"{SIGNATURE_FORMAT}, ed25519): make the archive again with `satchel pack SITE -o {name} --sign KEY`")
    try:
        entry = json.loads(archive.signature)
    except ValueError:
        raise damaged from None
    if not isinstance(entry, dict) or entry.get("format") != SIGNATURE_FORMAT or entry.get("algorithm", "ed25519") != "ed25519":
        raise damaged
    signer, encoded = entry.get("key"), entry.get("signature")
    if not isinstance(signer, str) or not KEY_ID_RE.fullmatch(signer) or not isinstance(encoded, str):
        raise damaged
    try:
        signature = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise damaged from None
    if len(signature) != 64:
        raise damaged
    if signer not in trusted:
        when = (removed or {}).get(signer)
        why = (f"a key removed from this hub's trusted keys on {when}: sign it again with a key the hub trusts" if when else
               "a key this hub does not trust: if it is your ministry's new key, add it with "
               "`satchel hub keys add NEW.pub --data DIR`; otherwise do not import it")
        raise ArchiveError(f"{name} is signed by the key {signer}, {why} (this hub trusts {known})")
    try:
        Ed25519PublicKey.from_public_bytes(trusted[signer]).verify(signature, SIGNED_PREFIX + archive.manifest_bytes)
    except InvalidSignature:
        raise ArchiveError(f"{name}: its signature by the key {signer} does not match its manifest ({MANIFEST}): the "
                           "manifest, so the list of files and their SHA-256, was changed after signing, or the signature "
                           "was taken from another archive. Do not import it: get the archive again from its maker") from None
    return signer


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

    def __init__(self, path: Path, manifest: dict, entries: dict[str, Entry], manifest_bytes: bytes = b"",
                 signature: bytes | None = None, tls: dict[str, Entry] | None = None):
        self.tls = tls or {}  # {"cert.pem": Entry, "key.pem": Entry} of an archive carrying a certificate, not served
        self.path, self.manifest, self.entries = Path(path), manifest, entries
        self.curriculum_id, self.version = manifest["curriculum"], manifest["version"]
        self.manifest_bytes = manifest_bytes  # as stored: what a signature covers
        self.signature = signature  # the bytes of satchel-signature.json, None if unsigned (check_origin reads them)

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
            manifest, manifest_bytes = _read_manifest(file, offsets[MANIFEST], infos[0].file_size, what)
            listed = manifest["files"]
            if SIGNATURE in listed or any(name.startswith(TLS_PREFIX) for name in listed):
                raise ArchiveError(f"{what}: its manifest lists {SIGNATURE} or {TLS_PREFIX}, which no bundle holds. "
                                   "Make it with `satchel pack`.")
            tls_listed = manifest.get("tls", {})
            if not isinstance(tls_listed, dict) or (tls_listed and set(tls_listed) != set(TLS_FILES)) or not all(
                    _listed(v) and v["bytes"] <= TLS_MAX for v in tls_listed.values()):
                raise ArchiveError(f"{what}: its manifest's \"tls\" is not a certificate and its key. Make it again with "
                                   "`satchel pack --certificate`.")
            tls_names = {TLS_PREFIX + name: name for name in tls_listed}
            signature = None
            if SIGNATURE in names:
                info = next(i for i in infos if i.filename == SIGNATURE)
                if info.file_size > SIGNATURE_MAX:
                    raise ArchiveError(f"{what}: its {SIGNATURE} is too big ({info.file_size} bytes)")
                signature = os.pread(file.fileno(), info.file_size, offsets[SIGNATURE])
            extra = sorted(names - set(listed) - {MANIFEST, SIGNATURE} - set(tls_names))
            missing = sorted((set(listed) | set(tls_names)) - names)
            if extra or missing:
                raise ArchiveError(f"{what}: its contents differ from its manifest "
                                   f"({'not listed: ' + ', '.join(extra[:3]) if extra else 'missing: ' + ', '.join(missing[:3])}). "
                                   "It was changed after `satchel pack`: make it again.")
            entries, tls = {}, {}
            for info in infos[1:]:
                if info.filename == SIGNATURE:
                    continue
                if info.filename in tls_names:
                    expected = tls_listed[tls_names[info.filename]]
                    if info.file_size != expected["bytes"] or _sha256(file, offsets[info.filename], info.file_size) != expected["sha256"]:
                        raise ArchiveError(f"{what}: {info.filename} does not match its size and SHA-256 in the manifest. "
                                           "The archive was changed or damaged: copy it again, or make it again.")
                    tls[tls_names[info.filename]] = Entry(info.filename, offsets[info.filename], info.file_size, expected["sha256"])
                    continue
                expected = listed[info.filename]
                if info.file_size != expected["bytes"]:
                    raise ArchiveError(f"{what}: {info.filename} has {info.file_size} bytes, its manifest says {expected['bytes']}")
                if verify and _sha256(file, offsets[info.filename], info.file_size) != expected["sha256"]:
                    raise ArchiveError(f"{what}: {info.filename} does not match its SHA-256 in the manifest. The archive "
                                       "was changed or damaged: copy it again, or make it again with `satchel pack`.")
                entries[info.filename] = Entry(info.filename, offsets[info.filename], info.file_size, expected["sha256"])
        archive = cls(path, manifest, entries, manifest_bytes, signature, tls)
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

    def read_tls(self, name: str) -> bytes:
        """cert.pem or key.pem of an archive carrying a certificate, checked against the manifest
        (which a signature covers) as it is read."""
        entry = self.tls[name]
        with open(self.path, "rb") as file:
            data = os.pread(file.fileno(), entry.size, entry.offset)
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise ArchiveError(f"{self.path.name}: {entry.name} changed since the archive was checked: copy it again")
        return data


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


def _read_manifest(file, offset: int, size: int, what: str) -> tuple[dict, bytes]:
    """The manifest and its bytes, checked field by field (these are checks, not asserts: `python -O` keeps them)."""
    if size > 64 * 1024 * 1024:
        raise ArchiveError(f"{what}: its manifest is too big ({size} bytes)")
    damaged = ArchiveError(f"{what}: its {MANIFEST} is damaged, or of a format this Satchel does not know "
                           f"(it knows format {ARCHIVE_FORMAT}): update Satchel or make the archive again with `satchel pack`")
    raw = os.pread(file.fileno(), size, offset)
    try:
        manifest = json.loads(raw)
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
    return manifest, raw


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
