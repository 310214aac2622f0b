"""Bundle archives (`satchel pack`): a hub serves one, imports a newer one with an atomic switch,
and refuses a tampered, truncated, climbing-out or bomb archive with a clear message."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from builder.archive import MANIFEST, Archive, ArchiveError, pack
from builder.build import build
from tests.test_hub import Hub
from tests.test_packs import download, open_page


def satchel(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "builder.cli", *map(str, args)], capture_output=True, text=True)


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
