"""The dashboard's exports and printable report, through a real hub over HTTP: the XLSX export holds
the CSV's rows (dates as date cells, a formula-like name as a text cell), only for a signed-in
teacher, streamed with flat memory for 10,000 rows; exports are made by a child process, one at a
time, while pages keep answering, and a teacher who goes away stops theirs and leaves no file behind;
the report page keeps the dashboard's filters and carries its print stylesheet; its strings are in
every language file."""

from __future__ import annotations

import asyncio
import csv
import http.client
import io
import json
import os
import re
import socket
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
import yaml
from satchel.hub.exports import ExportFailed, Exports, spreadsheet_date
from satchel.hub.report import Filters

from tests import test_hub
from tests.conftest import in_own_thread
from tests.progress_files import Learner, progress_file, signed, statement
from tests.test_dashboard import Browser, set_password, until
from tests.test_hub import Hub

database = test_hub.database
CURRICULUM = "satchel-demo"
FRACTION = "mathematics/fractions/what-is-a-fraction"
EVIL = '=HYPERLINK("http://example.com/x","click")'
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NEW_KEYS = ("xlsx", "report_link", "report_title", "report_made", "report_filters", "report_no_filters", "report_print_help",
            "report_back", "report_share", "report_limited", "report_missed", "report_missed_share", "exports_follow",
            "answers_view_help")


def fetch_bytes(browser: Browser, path: str):
    """(status, headers, body bytes) as the teacher's browser gets them, redirects not followed."""
    try:
        with browser.opener.open(urllib.request.Request(browser.hub.url + path), timeout=120) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def workbook(body: bytes, read_only: bool = False):
    return openpyxl.load_workbook(io.BytesIO(body), read_only=read_only)


def as_csv(value) -> str:
    """An XLSX cell's value written as the CSV writes the same field (before its formula quote)."""
    if value is None:
        return ""
    return str(value)


def csv_field(value: str):
    """A CSV field as the XLSX holds it: the formula quote taken off, dates read."""
    return value[1:] if value.startswith(("'=", "'+", "'-", "'@")) else value


def test_the_xlsx_export_has_the_csv_rows_with_dates_and_no_formulas(demo_site, tmp_path, database):
    running = Hub([demo_site], tmp_path / "data", db=database)
    try:
        set_password(running)
        amina = Learner("Amina")
        steps = [statement(CURRICULUM, amina.id, "launched", FRACTION, 1),
                 statement(CURRICULUM, amina.id, "failed", FRACTION + "#quiz-0", 2, score={"scaled": 0.4}, success=False),
                 statement(CURRICULUM, amina.id, "passed", FRACTION + "#quiz-0", 3, score={"scaled": 0.9}, success=True),
                 statement(CURRICULUM, amina.id, "experienced", FRACTION, 90_000, duration="PT300S")]
        assert running.upload(signed(amina, steps))[0] == 200
        for name in (EVIL, "+1", "Baraka"):
            assert running.upload(progress_file(6, name=name))[0] == 200

        signed_out = Browser(running)
        status, headers, _ = fetch_bytes(signed_out, f"_hub/{CURRICULUM}/progress.xlsx")
        assert (status, headers["location"]) == (303, "/_hub/login"), "refused as the CSV is"
        assert fetch_bytes(signed_out, f"_hub/{CURRICULUM}/progress.csv")[0] == 303

        teacher = Browser(running)
        assert teacher.sign_in()[0] == 303
        status, headers, body = fetch_bytes(teacher, f"_hub/{CURRICULUM}/progress.xlsx")
        assert status == 200 and headers["content-type"] == XLSX_TYPE and headers["cache-control"] == "no-store"
        assert headers["content-disposition"] == f'attachment; filename="{CURRICULUM}-progress.xlsx"'
        assert fetch_bytes(teacher, "_hub/no-such-curriculum/progress.xlsx")[0] == 404

        book = workbook(body)
        sheet = book.active
        assert sheet.freeze_panes == "A2", "the header row stays in view"
        assert sheet.column_dimensions["A"].width == 38 and sheet.column_dimensions["B"].width == 24
        grid = [[cell.value for cell in row] for row in sheet.iter_rows()]
        csv_rows = list(csv.reader(io.StringIO(teacher.get(f"_hub/{CURRICULUM}/progress.csv")[2], newline="")))
        assert grid[0] == csv_rows[0] and len(grid) == len(csv_rows) == 1 + 4 * 12
        header = grid[0]
        dates = [header.index("first_activity"), header.index("last_activity")]
        for got, sent in zip(grid[1:], csv_rows[1:], strict=True):
            for n, (value, field) in enumerate(zip(got, sent, strict=True)):
                if n in dates:
                    assert value == spreadsheet_date(field or None)
                elif isinstance(value, int | float) and not isinstance(value, bool):
                    assert float(field) == value
                else:
                    assert as_csv(value) == csv_field(field)

        row = next(row for row in sheet.iter_rows(min_row=2) if row[0].value == amina.id and row[2].value == FRACTION)
        first, last = row[dates[0]], row[dates[1]]
        assert first.is_date and isinstance(first.value, datetime) and first.value == datetime(2026, 11, 1, 0, 0, 1)
        assert last.is_date and last.value == datetime(2026, 11, 2, 1, 0)
        assert (row[4].value, row[5].value, row[6].value, row[7].value, row[8].value) == (1, 0, 0.9, 2, 300)
        assert row[6].data_type == "n" and row[7].data_type == "n"

        evil = [row[1] for row in sheet.iter_rows(min_row=2) if row[1].value == EVIL]
        assert len(evil) == 12 and all(cell.data_type == "s" and cell.quotePrefix for cell in evil), "text, never a formula"
        assert not any(cell.data_type == "f" for row in sheet.iter_rows() for cell in row)
        assert {r[1] for r in csv_rows[1:]} == {"'" + EVIL, "'+1", "Baraka", "Amina"}
        raw = re.sub(rb"\s+", b"", body)
        assert b"<f>" not in raw, "no formula element anywhere in the workbook"
    finally:
        running.stop()


def rss(pid: int) -> tuple[int, int]:
    """(resident, peak resident) of a process, in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    return tuple(int(re.search(rf"^{key}:\s+(\d+) kB", status, re.M).group(1)) * 1024 for key in ("VmRSS", "VmHWM"))


def test_a_10000_row_export_is_streamed_in_flat_memory(demo_site, tmp_path):
    running = Hub([demo_site], tmp_path / "data")
    try:
        set_password(running)
        learners = 834  # x 12 lessons: 10,008 rows
        for n in range(learners):
            assert running.upload(progress_file(6, name=f"Learner {n:04}"))[0] == 200
        teacher = Browser(running)
        assert teacher.sign_in()[0] == 303
        pid = running.process.pid
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak resident size starts again from now
        cold, _ = rss(pid)
        warm = fetch_bytes(teacher, f"_hub/{CURRICULUM}/progress.xlsx")[2]  # the first: imports, caches and pools settle
        first = rss(pid)[1] - cold
        maker = export_processes(running)
        assert len(maker) == 1, "made by the hub's export process, kept for the next"
        for process in (pid, maker[0]):
            Path(f"/proc/{process}/clear_refs").write_text("5")
        before, _ = rss(pid)
        child_before, _ = rss(maker[0])
        started = time.monotonic()
        request = urllib.request.Request(running.url + f"_hub/{CURRICULUM}/progress.xlsx")
        with teacher.opener.open(request, timeout=120) as response:
            assert response.headers.get("transfer-encoding") == "chunked" and "content-length" not in response.headers, "streamed"
            body, reads = b"", 0
            while block := response.read1(65_536):
                body, reads = body + block, reads + 1
        elapsed = time.monotonic() - started
        _, peak = rss(pid)
        grown = peak - before
        assert export_processes(running) == maker, "the same export process made the second"
        made = rss(maker[0])[1] - child_before
        print(f"\n10,008-row XLSX: {len(body):,} bytes in {elapsed:.1f} s, {reads} reads; hub RSS {before / 2**20:.1f} MiB, "
              f"peak +{grown / 2**20:.1f} MiB (the first export: +{first / 2**20:.1f} MiB); "
              f"the export process {child_before / 2**20:.1f} MiB, peak +{made / 2**20:.1f} MiB")
        assert made < 40 * 2**20, f"the export process grew by {made / 2**20:.1f} MiB for one export"
        assert first < 60 * 2**20, f"the hub grew by {first / 2**20:.1f} MiB for its first export"
        assert len(body) == len(warm) or abs(len(body) - len(warm)) < 1_000
        assert grown < 40 * 2**20, f"the hub grew by {grown / 2**20:.1f} MiB for one export"
        rows = sum(1 for _ in workbook(body, read_only=True).active.iter_rows(values_only=True))
        assert rows == 1 + learners * 12
    finally:
        running.stop()


class Download(http.client.HTTPConnection):
    """A teacher's download that reads only when told to: its socket's receive buffer is small, so
    once the pipe and the socket buffers are full the hub's export process waits, still running,
    for as long as the test holds the download."""

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(self.timeout)
        self.sock.connect((self.host, self.port))

    @classmethod
    def start(cls, hub: Hub, path: str, cookie: str) -> tuple[Download, http.client.HTTPResponse]:
        connection = cls("127.0.0.1", hub.port, timeout=60)
        connection.request("GET", "/" + path, headers={"cookie": cookie})
        return connection, connection.getresponse()

    @classmethod
    def taken(cls, hub: Hub, path: str, cookie: str) -> tuple[Download, http.client.HTTPResponse] | None:
        """A download the hub took (200: running, or waiting its turn), or None (refused, closed)."""
        connection, response = cls.start(hub, path, cookie)
        if response.status == 200:
            return connection, response
        connection.close()
        return None


def export_processes(hub: Hub) -> list[int]:
    """The hub's child processes making an export (python -m satchel.hub.exports)."""
    found = []
    for task in Path(f"/proc/{hub.process.pid}/task").glob("*/children"):
        for child in task.read_text().split():
            try:
                if b"satchel.hub.exports" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(int(child))
            except OSError:  # ended meanwhile
                pass
    return found


def test_exports_run_in_a_child_process_one_at_a_time_and_leave_nothing_behind(demo_site, tmp_path):
    """An export is made by a process of the hub's own, not by the worker that serves pages: the
    dashboard answers while one runs. One runs at a time; another waits its turn (here one at most,
    by SATCHEL_HUB_EXPORTS_WAITING), and one more is refused with a 503 and Retry-After. A teacher who
    goes away, mid-download or while waiting, stops what was theirs (the process making it is
    killed, the next export starts another); no temporary file is left."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    running = Hub([demo_site], tmp_path / "data", env={**os.environ, "TMPDIR": str(temporary), "SATCHEL_HUB_EXPORTS_WAITING": "1"})
    try:
        set_password(running)
        learners = 6_000  # x 12 lessons: about 9 MB of CSV, more than the pipe and socket buffers hold
        for first in range(0, learners, 1_000):
            files = [progress_file(0, name=f"Learner {n:04}") for n in range(first, first + 1_000)]
            batch = json.dumps({"format": "satchel-progress-batch", "version": 1, "files": files}).encode()
            assert running.request("api/progress", batch, {"content-type": "application/json"})[0] == 200
        teacher = Browser(running)
        assert teacher.sign_in()[0] == 303
        path = f"_hub/{CURRICULUM}/progress.csv"

        held, response = Download.start(running, path, teacher.cookie())
        assert response.status == 200 and response.headers["cache-control"] == "no-store"
        maker = until(lambda: export_processes(running))
        assert maker != [running.process.pid] and len(maker) == 1, "made by a child of the hub, not by the worker"
        assert teacher.get(f"_hub/{CURRICULUM}/")[0] == 200
        assert export_processes(running) == maker, "the dashboard answered while the export was being made"

        waiting, second = Download.start(running, path, teacher.cookie())
        assert second.status == 200
        status, headers, said = teacher.get(path)
        assert (status, headers["retry-after"]) == (503, "30") and "try again" in said, "beyond the queue: come back later"
        assert export_processes(running) == maker, "one export at a time: the second waits its turn"

        waiting.close()  # the teacher waiting goes away: their place in the queue is free again
        late = until(lambda: Download.taken(running, path, teacher.cookie()))
        assert export_processes(running) == maker

        held.close()  # mid-download: the child is stopped, and the next export starts in another
        after = until(lambda: (found := export_processes(running)) and found != maker and found)
        assert not any(Path(f"/proc/{pid}").exists() for pid in maker), "the first child was killed and reaped"
        rows = list(csv.reader(io.StringIO(late[1].read().decode(), newline="")))
        late[0].close()
        assert rows[0][:2] == ["learner_id", "learner"] and len(rows) == 1 + learners * 12, "the waiting export, whole"

        status, headers, body = fetch_bytes(teacher, f"_hub/{CURRICULUM}/progress.xlsx?q=Learner+0042")
        assert status == 200 and headers["content-type"] == XLSX_TYPE
        assert [row[1] for row in workbook(body).active.iter_rows(min_row=2, values_only=True)] == ["Learner 0042"] * 12
        assert export_processes(running) == after, "the process is kept for the next export"
        until(lambda: not list(temporary.iterdir()))  # every export's folder removed, the workbook's files with it
    finally:
        running.stop()


def test_an_export_that_fails_says_why_and_the_idle_process_ends(tmp_path, monkeypatch):
    """An export the child cannot make (here: no database where it was told) sends nothing that
    could pass for a whole file: the stream raises what the child said, and leaves no folder. The
    child takes the next export, or ends once idle (IDLE_SECONDS; none here)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    exports = Exports(str(tmp_path / "gone" / "hub.sqlite3"), idle_seconds=0)

    async def download() -> None:
        got = []
        with pytest.raises(ExportFailed, match="unable to open database file"):
            async for chunk in exports.stream(CURRICULUM, [(FRACTION, "What is a fraction?")], Filters(), "csv"):
                got.append(chunk)
        child = exports.child
        assert got == [] and child is not None and child.returncode is None, "the process, alive, for the next export"
        while exports.retiring is None:  # idle: told to end
            await asyncio.sleep(0.01)
        assert await exports.retiring == 0 and exports.child is None

    in_own_thread(lambda: asyncio.run(download()))  # not on the browser tests' event loop
    assert exports.admitted == 0 and not list(tmp_path.iterdir())


def test_the_report_page_keeps_the_filters_and_prints(demo_site, tmp_path):
    running = Hub([demo_site], tmp_path / "data")
    try:
        set_password(running)
        amina, baraka, chiku = (progress_file(9, name=name) for name in ("Amina", "Baraka", "Chiku"))
        for data in (amina, baraka, chiku):
            assert running.upload(data)[0] == 200
        teacher = Browser(running)
        assert teacher.sign_in()[0] == 303
        assert Browser(running).get(f"_hub/{CURRICULUM}/report")[0] == 303, "only a signed-in teacher"
        csrf = teacher.csrf(f"_hub/{CURRICULUM}/classes")
        assert teacher.post(f"_hub/{CURRICULUM}/classes", {"csrf": csrf, "action": "make", "name": "5A"})[0] == 303
        class_id = re.search(r'<section data-class="([^"]+)">', teacher.get(f"_hub/{CURRICULUM}/classes")[2]).group(1)
        assert teacher.post(f"_hub/{CURRICULUM}/classes", [("csrf", csrf), ("action", "members"), ("class", class_id),
                                                          ("learner", amina["profile"]["id"]), ("learner", chiku["profile"]["id"])])[0] == 303

        dashboard = teacher.get(f"_hub/{CURRICULUM}/?class={class_id}&show=all")[2]
        assert f'href="/_hub/{CURRICULUM}/report?lang=en&amp;class={class_id}" data-satchel-report' in dashboard, "the link keeps the view"
        assert f'href="/_hub/{CURRICULUM}/progress.xlsx?lang=en&amp;class={class_id}" data-satchel-xlsx' in dashboard, "the view's"
        assert f'href="/_hub/{CURRICULUM}/progress.csv?lang=en&amp;class={class_id}" data-satchel-csv' in dashboard

        status, headers, page = teacher.get(f"_hub/{CURRICULUM}/report?lang=en&class={class_id}")
        assert status == 200 and headers["cache-control"] == "no-store"
        assert f'data-learner="{amina["profile"]["id"]}"' in page and f'data-learner="{chiku["profile"]["id"]}"' in page
        assert f'data-learner="{baraka["profile"]["id"]}"' not in page, "not in the class"
        assert "Class: <b data-filter>5A</b>" in page and "<dt>Made</dt>" in page
        assert 'data-subject="mathematics"' in page and "Questions most often missed" in page
        printed = re.search(r"@media print \{(.*?)\n\}", page, re.S).group(1)
        for rule in ("header, nav, form", "display: table-header-group", "break-before: page", "color: #000", "background: #fff"):
            assert rule in printed, rule
        assert "<script" not in page, "the pages' policy runs no script: the browser's own Print"

        everyone = teacher.get(f"_hub/{CURRICULUM}/report")[2]
        assert all(f'data-learner="{d["profile"]["id"]}"' in everyone for d in (amina, baraka, chiku)) and "None (every learner)" in everyone
        french = teacher.get(f"_hub/{CURRICULUM}/report?lang=fr&subject=science")[2]
        assert 'data-subject="mathematics"' in french and "(/" in french and 'lang="fr"' in french
    finally:
        running.stop()


def test_the_exports_follow_the_views_filters(demo_site, tmp_path):
    """The CSV and the XLSX hold the learners and lessons of the dashboard's view (the grid's query
    string: class, subject, show, name, sort), every page of it, and the page says so."""
    running = Hub([demo_site], tmp_path / "data")
    try:
        set_password(running)
        amina, baraka = Learner("Amina"), Learner("Baraka")
        done = [statement(CURRICULUM, amina.id, "launched", FRACTION, 1), statement(CURRICULUM, amina.id, "completed", FRACTION, 2)]
        assert running.upload(signed(amina, done))[0] == 200
        assert running.upload(signed(baraka, [statement(CURRICULUM, baraka.id, "launched", FRACTION, 5)]))[0] == 200
        chiku = progress_file(0, name="Chiku")  # nothing done yet
        assert running.upload(chiku)[0] == 200
        chiku_id = chiku["profile"]["id"]
        teacher = Browser(running)
        assert teacher.sign_in()[0] == 303
        csrf = teacher.csrf(f"_hub/{CURRICULUM}/classes")
        assert teacher.post(f"_hub/{CURRICULUM}/classes", {"csrf": csrf, "action": "make", "name": "5A"})[0] == 303
        class_id = re.search(r'<section data-class="([^"]+)">', teacher.get(f"_hub/{CURRICULUM}/classes")[2]).group(1)
        assert teacher.post(f"_hub/{CURRICULUM}/classes", [("csrf", csrf), ("action", "members"), ("class", class_id),
                                                          ("learner", amina.id), ("learner", chiku_id)])[0] == 303

        def exported(query: str) -> list[tuple[str, str]]:
            rows = list(csv.DictReader(io.StringIO(teacher.get(f"_hub/{CURRICULUM}/progress.csv{query}")[2], newline="")))
            sheet = workbook(fetch_bytes(teacher, f"_hub/{CURRICULUM}/progress.xlsx{query}")[2]).active
            cells = [[cell.value for cell in row] for row in sheet.iter_rows()]
            lesson = cells[0].index("lesson_id")
            assert [(r[0], r[lesson]) for r in cells[1:]] == [(r["learner_id"], r["lesson_id"]) for r in rows], f"the XLSX's rows: {query}"
            return [(r["learner"], r["lesson_id"]) for r in rows]

        def learners(rows) -> list[str]:
            return list(dict.fromkeys(name for name, _ in rows))

        everyone = exported("")
        assert learners(everyone) == ["Amina", "Baraka", "Chiku"] and len(everyone) == 3 * 12
        assert learners(exported(f"?class={class_id}")) == ["Amina", "Chiku"], "the class's learners alone"
        science = exported("?subject=science")
        assert len(science) == 3 * len({lesson for _, lesson in science}) and all(lesson.startswith("science/") for _, lesson in science)
        assert learners(exported("?subject=mathematics&show=not_started")) == ["Chiku"]
        assert learners(exported("?q=bar")) == ["Baraka"]
        assert learners(exported("?sort=done")) == ["Amina", "Baraka", "Chiku"] and learners(exported("?sort=last"))[:2] == ["Baraka", "Amina"]
        assert learners(exported("?page=2")) == ["Amina", "Baraka", "Chiku"], "every page of the view, not the page in view"

        page = teacher.get(f"_hub/{CURRICULUM}/?subject=science&q=bar")[2]
        assert f'href="/_hub/{CURRICULUM}/progress.csv?lang=en&amp;subject=science&amp;q=bar" data-satchel-csv' in page
        assert "Both downloads hold this view" in re.search(r"<p class=\"help\" data-satchel-exports-follow>([^<]+)</p>", page).group(1)
    finally:
        running.stop()


def test_the_new_strings_are_in_every_language_file():
    folder = Path(__file__).parent.parent / "hub" / "strings"
    for path in sorted(folder.glob("*.yml")):
        words = yaml.safe_load(path.read_text(encoding="utf-8"))
        missing = [key for key in NEW_KEYS if not isinstance(words.get(key), str) or not words[key]]
        assert not missing, f"{path.name}: {missing}"
