"""Bundle archives (`satchel pack`): a hub serves one, imports a newer one with an atomic switch,
and refuses a tampered, truncated, climbing-out or bomb archive with a clear message."""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import stat
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
from satchel.builder.archive import MANIFEST, SIGNATURE, Archive, ArchiveError, pack
from satchel.builder.build import build
from satchel.hub.archives import LOCK

from tests.test_hub import Hub
from tests.test_packs import download, open_page


def satchel(*args: str, python: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Run the real CLI; a hub that starts when it should have refused is stopped by the timeout."""
    return subprocess.run([sys.executable, *python, "-m", "satchel.builder.cli", *map(str, args)], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def demo_archive(demo_site, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("archive") / "demo.satchel"
    result = satchel("pack", demo_site, "-o", path)
    assert result.returncode == 0 and "Wrote" in result.stdout, result.stderr
    return path


def test_an_archive_holds_the_bundle_with_a_manifest_of_hashes(demo_site, demo_archive, tmp_path):
    archive = Archive.open(demo_archive)
    files = sorted(p.relative_to(demo_site).as_posix() for p in demo_site.rglob("*") if p.is_file())
    assert sorted(archive.entries) == files
    assert archive.curriculum_id == "satchel-demo" and archive.version == "1.0.0"
    assert archive.read("fr/index.html") == (demo_site / "fr" / "index.html").read_bytes()
    with zipfile.ZipFile(demo_archive) as z:
        assert z.namelist()[0] == MANIFEST and {i.compress_type for i in z.infolist()} == {zipfile.ZIP_STORED}
    again = tmp_path / "again.satchel"
    pack(demo_site, again)
    assert again.read_bytes() == demo_archive.read_bytes(), "the same bundle gives the same archive"


def damaged(source: Path, target: Path, change) -> Path:
    data = bytearray(source.read_bytes())
    change(data)
    target.write_bytes(bytes(data))
    return target


def rewritten(source: Path, target: Path, extra: list[tuple[zipfile.ZipInfo | str, bytes, int]]) -> Path:
    """A copy of an archive with more entries (name, bytes, compression)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            new.writestr(info, old.read(info))
        for name, data, compression in extra:
            new.writestr(name, data, compress_type=compression)
    return target


def test_bad_archives_are_refused_with_a_clear_message(demo_archive, tmp_path):
    offset = Archive.open(demo_archive).entries["fr/index.html"].offset
    link = zipfile.ZipInfo("passwd")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    cases = {
        "tampered": (damaged(demo_archive, tmp_path / "t.satchel", lambda d: d.__setitem__(offset + 100, d[offset + 100] ^ 1)),
                     "fr/index.html does not match its SHA-256"),
        "truncated": (damaged(demo_archive, tmp_path / "c.satchel", lambda d: d.__delitem__(slice(len(d) // 2, None))),
                      "not a complete zip file"),
        "climbing out": (rewritten(demo_archive, tmp_path / "p.satchel", [("../../etc/cron.d/evil", b"* * * * * root sh", 0)]),
                         "'../../etc/cron.d/evil' has a path that is not allowed"),
        "absolute": (rewritten(demo_archive, tmp_path / "a.satchel", [("/etc/passwd", b"x", 0)]), "path that is not allowed"),
        "zip bomb": (rewritten(demo_archive, tmp_path / "b.satchel", [("film.bin", bytes(200_000_000), zipfile.ZIP_DEFLATED)]),
                     "'film.bin' is compressed"),
        "a link": (rewritten(demo_archive, tmp_path / "l.satchel", [(link, b"/etc/passwd", 0)]), "'passwd' is a link"),
        "not listed": (rewritten(demo_archive, tmp_path / "n.satchel", [("extra.html", b"<script>", 0)]),
                       "not listed: extra.html"),
        "not a zip": (damaged(demo_archive, tmp_path / "z.satchel", lambda d: d.__setitem__(slice(None), b"hello")),
                      "not a complete zip file"),
        "a signature entry too big to be one": (rewritten(demo_archive, tmp_path / "s.satchel", [(SIGNATURE, bytes(5000), 0)]),
                                                f"its {SIGNATURE} is too big (5000 bytes)"),
    }
    for case, (path, message) in cases.items():
        with pytest.raises(ArchiveError, match=message.replace("(", r"\(").replace(")", r"\)")):
            Archive.open(path)
        data = tmp_path / f"data-{case.replace(' ', '-')}"
        assert satchel("hub", "init", "--data", data).returncode == 0
        result = satchel("hub", "import", path, "--data", data)
        assert result.returncode == 2 and message.split("'")[0] in result.stderr, (case, result.stderr)
        assert not (data / "bundles" / "satchel-demo" / "current").exists(), case
        assert not list(data.rglob("*.satchel*")), f"{case}: nothing is left behind"
    assert not (tmp_path / "etc").exists()


@pytest.mark.browser
def test_a_hub_serves_an_archive_to_a_browser_that_then_works_offline(demo_archive, tmp_path, context):
    hub = Hub([demo_archive], tmp_path / "data")
    try:
        page = open_page(context, hub.url + "fr/")
        download(page, "science")
    finally:
        hub.stop()
    context.set_offline(True)
    page.goto(hub.url + "fr/science/water-cycle/rain-and-rivers/")
    assert page.evaluate("document.documentElement.lang") == "fr" and "hors ligne" not in page.text_content("h1")


def test_importing_a_newer_archive_switches_a_running_hub_atomically(demo_copy, demo_archive, tmp_path):
    data = tmp_path / "data"
    assert satchel("hub", "init", "--data", data).returncode == 0
    result = satchel("hub", "import", demo_archive, "--data", data)
    assert result.returncode == 0 and "Imported satchel-demo 1.0.0" in result.stdout, result.stderr

    config = demo_copy / "curriculum.yml"
    config.write_text(config.read_text(encoding="utf-8").replace("version: 1.0.0", "version: 1.1.0")
                      .replace('version: "1.0.0"', 'version: "1.1.0"'), encoding="utf-8")
    lesson = demo_copy / "fr" / "science" / "water-cycle" / "rain-and-rivers.md"
    lesson.write_text(lesson.read_text(encoding="utf-8") + "\nUne phrase de la version 1.1.\n", encoding="utf-8")
    build(demo_copy, tmp_path / "site-2", show_progress=False)
    assert json.loads((tmp_path / "site-2" / "satchel" / "curriculum.json").read_text())["version"] == "1.1.0"
    newer = tmp_path / "newer.satchel"
    pack(tmp_path / "site-2", newer)

    hub = Hub([], data)
    seen, failures, stop = set(), [], threading.Event()

    def learner():
        while not stop.is_set():
            status, _, body = hub.request("fr/science/water-cycle/rain-and-rivers/")
            if status != 200 or b"</html>" not in body:
                failures.append(status)
            seen.add(b"version 1.1" in body)

    threads = [threading.Thread(target=learner) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        result = satchel("hub", "import", newer, "--data", data)
        assert result.returncode == 0 and "replacing 1.0.0" in result.stdout, result.stderr
        for _ in range(50):
            if True in seen:
                break
            threading.Event().wait(0.1)
        stop.set()
        for thread in threads:
            thread.join()
        assert failures == [], "every request during the switch was answered, whole"
        assert seen == {False, True}
        assert json.loads(hub.request("satchel/curriculum.json")[2])["version"] == "1.1.0"

        older = satchel("hub", "import", demo_archive, "--data", data)
        assert older.returncode == 2 and "older than the 1.1.0" in older.stderr and "--allow-older" in older.stderr
        same = satchel("hub", "import", newer, "--data", data)
        assert same.returncode == 2 and "nothing changed" in same.stderr
        assert json.loads(hub.request("satchel/curriculum.json")[2])["version"] == "1.1.0"
    finally:
        stop.set()
        hub.stop()
    kept = sorted(p.name for p in (data / "bundles" / "satchel-demo").glob("*.satchel"))
    assert len(kept) == 2, "the archive served and the one before it"


def test_the_hub_refuses_to_start_on_a_damaged_archive(demo_archive, tmp_path):
    broken = damaged(demo_archive, tmp_path / "broken.satchel", lambda d: d.__delitem__(slice(len(d) - 100, None)))
    assert satchel("hub", "init", "--data", tmp_path / "data").returncode == 0
    result = satchel("hub", broken, "--data", tmp_path / "data", "--port", "0")
    assert result.returncode == 2 and "broken.satchel is not a usable Satchel archive" in result.stderr
    empty = satchel("hub", "--data", tmp_path / "data", "--port", "0")
    assert empty.returncode == 2 and "nothing to serve" in empty.stderr


def test_pack_explains_a_folder_that_is_not_a_bundle(tmp_path):
    (tmp_path / "notes").mkdir()
    result = satchel("pack", tmp_path / "notes", "-o", tmp_path / "x.satchel")
    assert result.returncode == 1 and "is not a built bundle" in result.stderr and "satchel build" in result.stderr
    assert not list(tmp_path.glob("x.satchel*"))
    shutil.rmtree(tmp_path / "notes")


def handmade(path: Path, curriculum_id, version, described: dict | None = None, archive_format=1, files=None) -> Path:
    """An archive written by hand, right in every size and hash, that names `curriculum_id` and
    `version` (in its manifest and, unless `described` says otherwise, in satchel/curriculum.json):
    what a careless or hostile maker can put on a stick, which only the rules for names can refuse."""
    contents = {"satchel/curriculum.json": json.dumps(described or {"id": curriculum_id, "version": version}).encode(),
                "index.html": b"<!doctype html><title>handmade</title>"}
    listed = {name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()} for name, data in contents.items()}
    manifest = {"format": archive_format, "curriculum": curriculum_id, "version": version,
                "content": "0123456789abcdef0123", "files": listed if files is None else files}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(MANIFEST, json.dumps(manifest))
        for name, data in contents.items():
            archive.writestr(name, data)
    return path


def snapshot(root: Path, leave_out: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under `root` (itself included) but outside `leave_out`: path -> (mtime, size)."""
    paths = [root, *(p for p in root.rglob("*") if not p.is_relative_to(leave_out))]
    return {str(p): (p.lstat().st_mtime_ns, p.lstat().st_size) for p in paths}


def test_an_archive_whose_id_or_version_would_climb_out_is_refused_and_touches_nothing(tmp_path):
    data = tmp_path / "data"
    assert satchel("hub", "init", "--data", data).returncode == 0
    not_an_id, not_a_version = "is not a curriculum id", "is not a version such as 1.0.0"
    cases = {  # case: (curriculum id, version, what the message says)
        "climbing id": ("../../victim", "1.0.0", not_an_id),
        "id one level up": ("../x", "1.0.0", not_an_id),
        "absolute id": (str(tmp_path / "abs"), "1.0.0", not_an_id),
        "id with a folder": ("a/b", "1.0.0", not_an_id),
        "parent id": ("..", "1.0.0", not_an_id),
        "300-character id": ("a" * 300, "1.0.0", not_an_id),
        "id with a line break": ("satchel-demo\n", "1.0.0", not_an_id),
        "id that is not text": (5, "1.0.0", not_an_id),
        "climbing version": ("satchel-demo", "1.0/../../x", not_a_version),
        "version climbing out of the data": ("satchel-demo", "1.0/../../../../victim", not_a_version),
        "version one level up": ("satchel-demo", "../x", not_a_version),
        "absolute version": ("satchel-demo", "/abs", not_a_version),
        "version with a folder": ("satchel-demo", "1.0.0/b", not_a_version),
        "parent version": ("satchel-demo", "..", not_a_version),
        "65-character version": ("satchel-demo", "1.0.0-" + "a" * 59, not_a_version),
        "manifest and bundle disagree": ("satchel-demo", "1.0.0", "its bundle is '../../victim' '1.0.0'"),
    }
    archives = {}
    for number, (case, (curriculum_id, version, _)) in enumerate(cases.items()):
        described = {"id": "../../victim", "version": "1.0.0"} if case == "manifest and bundle disagree" else None
        archives[case] = handmade(tmp_path / f"hostile-{number}.satchel", curriculum_id, version, described)
    # Where each escape would land, with an archive there that an escaped import would delete;
    # "satchel-demo-1.0" is the folder an earlier import under the id 'satchel-demo/satchel-demo-1.0' would leave.
    (data / "bundles" / "satchel-demo" / "satchel-demo-1.0").mkdir(parents=True)
    landings = [tmp_path / "victim", tmp_path / "abs", data, data / "x", data / "bundles" / "a" / "b", data / "bundles"]
    decoys = [folder / "precious.satchel" for folder in landings]
    for decoy in decoys:
        decoy.parent.mkdir(parents=True, exist_ok=True)
        decoy.write_bytes(b"an archive someone needs")
    before = snapshot(tmp_path, data)

    for case, (_, _, message) in cases.items():
        result = satchel("hub", "import", archives[case], "--data", data)
        assert result.returncode == 2, (case, result.stdout, result.stderr)
        assert f"{archives[case].name} is not a usable Satchel archive" in result.stderr, (case, result.stderr)
        assert message in result.stderr and "satchel pack" in result.stderr and "nothing was imported" in result.stderr, (case, result.stderr)
        assert "Traceback" not in result.stderr, case

    assert snapshot(tmp_path, data) == before, "nothing outside the data directory was written or deleted"
    assert all(decoy.exists() for decoy in decoys), "no archive was deleted anywhere"
    assert not list(data.rglob("current*")) and not list(data.rglob("*.part")), "nothing was imported"
    assert sorted(data.rglob("*.satchel")) == sorted(decoy for decoy in decoys if decoy.is_relative_to(data))
    served = satchel("hub", archives["climbing id"], "--data", data, "--port", "0")
    assert served.returncode == 2 and "'../../victim' is not a curriculum id" in served.stderr, served.stderr
    fine = satchel("hub", "import", handmade(tmp_path / "fine.satchel", "satchel-demo", "1.0.0-rc.1+b.7"), "--data", data)
    assert fine.returncode == 0 and "Imported satchel-demo 1.0.0-rc.1+b.7" in fine.stdout, "the same archive with good names imports"


def test_the_checks_of_an_archive_hold_under_python_optimise(tmp_path):
    assert subprocess.run([sys.executable, "-O", "-c", "assert False"]).returncode == 0, "-O drops assert statements"
    data = tmp_path / "data"
    assert satchel("hub", "init", "--data", data).returncode == 0
    cases = {
        "format 2": (handmade(tmp_path / "future.satchel", "satchel-demo", "1.0.0", archive_format=2),
                     "it is format 2, this Satchel knows format 1"),
        "files not a mapping": (handmade(tmp_path / "list.satchel", "satchel-demo", "1.0.0", files=["index.html"]),
                                "satchel-archive.json is damaged"),
        "sizes not numbers": (handmade(tmp_path / "size.satchel", "satchel-demo", "1.0.0",
                                       files={"index.html": {"bytes": "38", "sha256": "0" * 64}}), "satchel-archive.json is damaged"),
        "version not text": (handmade(tmp_path / "number.satchel", "satchel-demo", 1.0), "is not a version such as 1.0.0"),
    }
    for case, (path, message) in cases.items():
        result = satchel("hub", "import", path, "--data", data, python=("-O",))
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, (case, result.stderr)
    assert not list(data.rglob("*.satchel*"))


def test_an_import_clears_what_killed_imports_left_and_deletes_only_its_own_archives(demo_archive, tmp_path):
    data = tmp_path / "data"
    assert satchel("hub", "init", "--data", data).returncode == 0
    folder = data / "bundles" / "satchel-demo"
    folder.mkdir(parents=True)
    left = [folder / "satchel-demo-0.9.0-0123456789ab.satchel.part", folder / "current.part"]  # an import killed mid-copy
    older = folder / "satchel-demo-0.8.0-0123456789ab.satchel"
    others = [folder / "notes.satchel", folder / "satchel-demo-0.8.0-nothex.satchel", folder / "other-1.0.0-0123456789ab.satchel"]
    for path in [*left, older, *others]:
        path.write_bytes(b"bytes")

    with open(folder / LOCK, "a") as lock:  # an import of satchel-demo still running
        fcntl.flock(lock, fcntl.LOCK_EX)
        busy = satchel("hub", "import", demo_archive, "--data", data)
        assert busy.returncode == 2 and "another `satchel hub import` of satchel-demo is running" in busy.stderr, busy.stderr
        assert all(path.exists() for path in left), "a running import's files are left alone"
        assert not (folder / "current").exists()

    result = satchel("hub", "import", demo_archive, "--data", data)
    assert result.returncode == 0 and "Imported satchel-demo 1.0.0" in result.stdout, result.stderr
    assert not any(path.exists() for path in left), "what a killed import left is removed"
    assert not older.exists(), "an archive this hub imported before is replaced"
    assert all(path.exists() for path in others), "files of other names are not this hub's to delete"


def test_pack_refuses_a_bundle_whose_names_an_archive_cannot_carry(tmp_path):
    site = tmp_path / "site"
    (site / "satchel").mkdir(parents=True)
    (site / "satchel" / "curriculum.json").write_text(json.dumps({"id": "maths", "version": "1"}), encoding="utf-8")
    (site / "satchel" / "version.json").write_text(json.dumps({"content": "0123456789abcdef0123"}), encoding="utf-8")
    result = satchel("pack", site, "-o", tmp_path / "maths.satchel")
    assert result.returncode == 1 and "its version '1' is not a version such as 1.0.0" in result.stderr, result.stderr
    assert "curriculum.yml" in result.stderr and not list(tmp_path.glob("maths.satchel*"))
