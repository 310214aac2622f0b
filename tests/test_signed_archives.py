"""Signed archives (`satchel pack --sign`, `satchel hub keys`): a hub that trusts a key imports only
archives signed by it, and says why it refuses the others (unsigned, an unknown or removed key, a
signature that does not match, a damaged signature entry). Real keys, real files, the real CLI."""

from __future__ import annotations

import hashlib
import json
import stat
import zipfile
from pathlib import Path

import pytest
from satchel.builder.archive import MANIFEST, SIGNATURE, Archive

from tests.test_archive import satchel

NOTHING = "nothing was imported"


def tiny_site(root: Path, version: str, text: str = "") -> Path:
    """The least a built bundle holds for `satchel pack`: its description and one page."""
    (root / "satchel").mkdir(parents=True)
    (root / "satchel" / "curriculum.json").write_text(json.dumps({"id": "maths", "version": version}), encoding="utf-8")
    content = hashlib.sha256((version + text).encode()).hexdigest()[:20]
    (root / "satchel" / "version.json").write_text(json.dumps({"content": content}), encoding="utf-8")
    (root / "index.html").write_text(f"<!doctype html><title>maths {version}</title>{text}", encoding="utf-8")
    return root


def new_key(folder: Path, name: str) -> tuple[Path, Path, str]:
    """(private key, public key, key id) made by `satchel keys new`."""
    result = satchel("keys", "new", "--out", folder / f"{name}.key")
    assert result.returncode == 0, result.stderr
    key_id = next(line.split()[1] for line in result.stdout.splitlines() if line.startswith("Key "))
    return folder / f"{name}.key", folder / f"{name}.pub", key_id


def packed(site: Path, output: Path, key: Path | None = None) -> Path:
    result = satchel("pack", site, "-o", output, *(["--sign", key] if key else []))
    assert result.returncode == 0, result.stderr
    return output


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, tuple[Path, Path, str]]:
    folder = tmp_path_factory.mktemp("keys")
    return {name: new_key(folder, name) for name in ("ministry", "ministry-2025", "stranger")}


def hub(data: Path, *trusted: Path) -> Path:
    result = satchel("hub", "init", "--data", data, *[arg for key in trusted for arg in ("--trust-key", key)])
    assert result.returncode == 0, result.stderr
    assert ("It imports only archives signed by the key" in result.stdout) == bool(trusted), result.stdout
    return data


def imports(archive: Path, data: Path):
    return satchel("hub", "import", archive, "--data", data)


def refused(archive: Path, data: Path, *messages: str) -> None:
    result = imports(archive, data)
    assert result.returncode == 2, (result.stdout, result.stderr)
    for message in messages + (NOTHING,):
        assert message in result.stderr, (message, result.stderr)
    assert "Traceback" not in result.stderr


def served(data: Path) -> str | None:
    pointer = data / "bundles" / "maths" / "current"
    return Archive.open(pointer.parent / pointer.read_text().strip()).version if pointer.exists() else None


def rezipped(source: Path, target: Path, replace: dict[str, bytes]) -> Path:
    """A copy of an archive, entries in the same order, some of them with other bytes."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as new:
        for info in old.infolist():
            new.writestr(info, replace.get(info.filename, old.read(info)))
    return target


def test_keys_new_writes_a_private_key_only_its_owner_reads_and_never_replaces_one(tmp_path):
    private, public, key_id = new_key(tmp_path, "ministry")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert b"BEGIN PRIVATE KEY" in private.read_bytes() and b"BEGIN PUBLIC KEY" in public.read_bytes()
    shown = satchel("keys", "show", public)
    assert shown.returncode == 0 and f"Key {key_id}" in shown.stdout and public.read_text() in shown.stdout
    before = private.read_bytes()
    again = satchel("keys", "new", "--out", private)
    assert again.returncode == 1 and "exists; it is not replaced" in again.stderr and private.read_bytes() == before
    wrong = satchel("pack", tiny_site(tmp_path / "site", "1.0.0"), "-o", tmp_path / "x.satchel", "--sign", public)
    assert wrong.returncode == 1 and "is not a private key" in wrong.stderr and not list(tmp_path.glob("x.satchel*"))


def test_the_same_site_and_key_give_the_same_signed_archive_which_any_reader_opens(demo_site, keys, tmp_path):
    private, _, key_id = keys["ministry"]
    first = packed(demo_site, tmp_path / "first.satchel", private)
    second = packed(demo_site, tmp_path / "second.satchel", private)
    assert first.read_bytes() == second.read_bytes(), "ed25519 is deterministic and every entry is dated 1980"
    with zipfile.ZipFile(first) as archive:
        assert archive.namelist()[:2] == [MANIFEST, SIGNATURE]
        entry = json.loads(archive.read(SIGNATURE))
        assert archive.testzip() is None, "a plain zip reader opens it"
    assert entry["format"] == 1 and entry["key"] == key_id and len(entry["signature"]) == 88
    opened = Archive.open(first)  # a reader that does not check origin
    assert SIGNATURE not in opened.entries and opened.read("fr/index.html") == (demo_site / "fr" / "index.html").read_bytes()
    unsigned = packed(demo_site, tmp_path / "unsigned.satchel")
    assert Archive.open(unsigned).signature is None and sorted(Archive.open(unsigned).entries) == sorted(opened.entries)


def test_a_hub_that_trusts_a_key_imports_what_it_signed_and_refuses_the_unsigned_and_foreign(demo_site, keys, tmp_path):
    ministry, ministry_pub, ministry_id = keys["ministry"]
    stranger, _, stranger_id = keys["stranger"]
    data = hub(tmp_path / "data", ministry_pub)
    listing = satchel("hub", "keys", "list", "--data", data)
    assert listing.returncode == 0 and listing.stdout.startswith(f"{ministry_id}\tministry\tadded ")

    refused(packed(demo_site, tmp_path / "unsigned.satchel"), data, "unsigned.satchel is not signed, and this hub takes only "
            f"signed archives (it trusts the keys {ministry_id})", "--sign KEY", "satchel hub keys add")
    refused(packed(demo_site, tmp_path / "forged.satchel", stranger), data,
            f"forged.satchel is signed by the key {stranger_id}, a key this hub does not trust", "satchel hub keys add NEW.pub")
    assert not (data / "bundles" / "satchel-demo" / "current").exists()

    result = imports(packed(demo_site, tmp_path / "signed.satchel", ministry), data)
    assert result.returncode == 0 and "Imported satchel-demo 1.0.0" in result.stdout, result.stderr
    assert f"Signed by the key {ministry_id} (ministry), which this hub trusts" in result.stdout
    assert "does not check who made" not in result.stderr


def test_a_tampered_archive_or_a_borrowed_signature_is_refused_naming_what(keys, tmp_path):
    ministry, ministry_pub, ministry_id = keys["ministry"]
    data = hub(tmp_path / "data", ministry_pub)
    signed = packed(tiny_site(tmp_path / "site-1", "1.0.0"), tmp_path / "maths-1.satchel", ministry)
    other = packed(tiny_site(tmp_path / "site-2", "1.1.0"), tmp_path / "maths-2.satchel", ministry)
    archive = Archive.open(signed)
    mismatch = f"its signature by the key {ministry_id} does not match its manifest ({MANIFEST})"

    page = archive.entries["index.html"].offset
    entry_byte = bytearray(signed.read_bytes())
    entry_byte[page + 20] ^= 1
    (tmp_path / "entry-byte.satchel").write_bytes(bytes(entry_byte))
    refused(tmp_path / "entry-byte.satchel", data, "index.html does not match its SHA-256 in the manifest")

    manifest_byte = bytearray(signed.read_bytes())
    at = manifest_byte.index(b'"content": "') + len(b'"content": "')  # a change that leaves the manifest well-formed
    manifest_byte[at] = ord("0") if manifest_byte[at] != ord("0") else ord("1")
    (tmp_path / "manifest-byte.satchel").write_bytes(bytes(manifest_byte))
    assert Archive.open(tmp_path / "manifest-byte.satchel"), "the manifest still opens: only the signature can tell"
    refused(tmp_path / "manifest-byte.satchel", data, mismatch, "changed after signing")

    # A page replaced and the manifest rewritten to match it, so every SHA-256 agrees: the signature does not.
    page_bytes = b"<!doctype html><title>maths 1.0.0</title><script>steal()</script>"
    manifest = json.loads(archive.manifest_bytes)
    manifest["files"]["index.html"] = {"bytes": len(page_bytes), "sha256": hashlib.sha256(page_bytes).hexdigest()}
    rewritten = rezipped(signed, tmp_path / "rewritten.satchel",
                         {"index.html": page_bytes, MANIFEST: json.dumps(manifest, indent=1, sort_keys=True).encode()})
    refused(rewritten, data, mismatch)

    with zipfile.ZipFile(other) as z:
        borrowed = rezipped(signed, tmp_path / "borrowed.satchel", {SIGNATURE: z.read(SIGNATURE)})
    refused(borrowed, data, mismatch, "taken from another archive")

    entry = json.loads(archive.signature)
    damaged = "its satchel-signature.json is damaged, or of a format this Satchel does not know"
    for case, replacement in {"not json": b"{ this is not", "format 2": json.dumps({**entry, "format": 2}).encode(),
                              "short signature": json.dumps({**entry, "signature": "AAAA"}).encode(),
                              "not base64": json.dumps({**entry, "signature": "%" * 88}).encode(),
                              "no key": json.dumps({k: v for k, v in entry.items() if k != "key"}).encode()}.items():
        refused(rezipped(signed, tmp_path / f"{case}.satchel", {SIGNATURE: replacement}), data, damaged)
    assert served(data) is None and not list(data.rglob("*.part"))

    assert imports(signed, data).returncode == 0 and served(data) == "1.0.0", "the untouched archive imports"


def test_keys_rotate_a_new_key_trusted_beside_the_old_then_the_old_removed(keys, tmp_path):
    old, old_pub, old_id = keys["ministry-2025"]
    new, new_pub, new_id = keys["ministry"]
    data = hub(tmp_path / "data", old_pub)
    assert imports(packed(tiny_site(tmp_path / "s1", "1.0.0"), tmp_path / "m1.satchel", old), data).returncode == 0

    added = satchel("hub", "keys", "add", new_pub, "--data", data)
    assert added.returncode == 0 and f"Trusted the key {new_id}" in added.stdout and old_id in added.stdout, added.stderr
    assert "was trusted already" in satchel("hub", "keys", "add", new_pub, "--data", data).stdout
    assert imports(packed(tiny_site(tmp_path / "s2", "1.1.0"), tmp_path / "m2.satchel", new), data).returncode == 0
    assert imports(packed(tiny_site(tmp_path / "s3", "1.2.0"), tmp_path / "m3.satchel", old), data).returncode == 0, \
        "while both are trusted, both sign"
    assert served(data) == "1.2.0"

    removed = satchel("hub", "keys", "remove", old_id, "--data", data)
    assert removed.returncode == 0 and f"Removed the key {old_id}" in removed.stdout, removed.stderr
    refused(packed(tiny_site(tmp_path / "s4", "1.3.0"), tmp_path / "m4.satchel", old), data,
            f"m4.satchel is signed by the key {old_id}, a key removed from this hub's trusted keys on", f"trusts {new_id}")
    assert served(data) == "1.2.0", "what was imported stays served"
    assert imports(packed(tiny_site(tmp_path / "s5", "1.4.0"), tmp_path / "m5.satchel", new), data).returncode == 0

    last = satchel("hub", "keys", "remove", new_id, "--data", data)
    assert last.returncode == 2 and "the only key this hub trusts" in last.stderr and "--allow-unsigned" in last.stderr
    listing = satchel("hub", "keys", "list", "--data", data).stdout
    assert f"{new_id}\tministry\tadded" in listing and f"{old_id}\tremoved" in listing
    unknown = satchel("hub", "keys", "remove", "0123456789abcdef", "--data", data)
    assert unknown.returncode == 2 and "does not trust a key 0123456789abcdef" in unknown.stderr


def test_a_hub_without_keys_imports_unsigned_archives_and_says_it_does_not_check_origin(keys, tmp_path):
    data = hub(tmp_path / "data")
    result = imports(packed(tiny_site(tmp_path / "s1", "1.0.0"), tmp_path / "m1.satchel"), data)
    assert result.returncode == 0 and "Imported maths 1.0.0" in result.stdout, result.stderr
    assert "does not check who made an archive" in result.stderr and "satchel hub keys add" in result.stderr
    signed = imports(packed(tiny_site(tmp_path / "s2", "1.1.0"), tmp_path / "m2.satchel", keys["stranger"][0]), data)
    assert signed.returncode == 0 and served(data) == "1.1.0", "a signature it cannot check is no reason to refuse"
    assert "This hub trusts no signing key" in satchel("hub", "keys", "list", "--data", data).stdout


def test_init_refuses_a_key_file_that_is_no_public_key(keys, tmp_path):
    private, _, _ = keys["ministry"]
    result = satchel("hub", "init", "--data", tmp_path / "data", "--trust-key", private)
    assert result.returncode == 2 and "is not a public key in PEM (that is a private key" in result.stderr, result.stderr
    assert not (tmp_path / "data").exists(), "nothing was made"
