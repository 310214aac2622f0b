"""The teachers' exports (progress.csv, progress.xlsx), made in a process of their own.

A row per learner and lesson is CPU-bound Python (a school's CSV is 24,000 rows, a central's
120,000, and a workbook more): made in the serving worker, it held the worker's GIL and slowed
every other teacher's page. So exports are made by `python -m satchel.hub.exports`, a child of the
hub process started at the first export and kept for the next (IDLE_SECONDS), which opens the
database itself for each, read-only and in one snapshot, and writes the file to its standard
output in frames that the worker streams to the browser as they come. One export at a time per
hub process; up to EXPORTS_WAITING more wait their turn, and beyond that a teacher is asked to come
back (503, Retry-After). A teacher who goes away mid-download stops the export: the child is killed
and reaped (the next export starts another), and the export's temporary folder removed."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import os
import shutil
import sqlite3
import sys
import tempfile
import urllib.parse
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import orjson

from .report import Filters, learner_rows, progress_of
from .store import Store

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet may run a cell starting so (OWASP, CSV injection)
FORMULA_FIRST = frozenset(FORMULA_STARTS)  # each is one character
# The exports' columns (school: at a central alone), with their widths in the workbook.
EXPORT_COLUMNS = {"learner_id": 38, "learner": 24, "school": 24, "lesson_id": 40, "lesson": 32, "opened": 8, "completed": 10,
                  "best_score": 11, "attempts": 9, "seconds": 9, "first_activity": 20, "last_activity": 20}
DATE_COLUMNS = ("first_activity", "last_activity")
TEXT_COLUMNS = ("learner_id", "learner", "school", "lesson_id", "lesson", *DATE_COLUMNS)  # the others are numbers
FORMATS = ("csv", "xlsx")
CHUNK = 256 * 1024  # bytes in a frame from the child, about
IDLE_SECONDS = 60  # the export process ends after so long without an export (and starts again for the next)
EXPORTS_WAITING = 20  # exports waiting their turn, at most; beyond: 503
WAITING_ENV = "SATCHEL_HUB_EXPORTS_WAITING"  # environment: EXPORTS_WAITING otherwise (tests make it small)
RETRY_SECONDS = 30


class Snapshot:
    """The database as an export reads it: its own connection, read-only, every query in one
    transaction (the whole file from one state of the summaries, whatever arrives meanwhile).
    Answers what hub/report.py asks of a Store (query, dialect, school_regions)."""

    def __init__(self, url: str):
        if url.startswith(("postgresql://", "postgres://")):
            import psycopg
            self.db = psycopg.connect(url)
            self.db.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            self.db.read_only = True
            self.dialect, self.sql = "postgresql", lambda q: q.replace("?", "%s")
        else:
            path = url.removeprefix("sqlite:///")
            self.db = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True, isolation_level=None)
            self.db.execute("PRAGMA busy_timeout=10000")
            self.db.execute("BEGIN")  # deferred: the snapshot is taken at the first read
            self.dialect, self.sql = "sqlite", lambda q: q

    def query(self, sql: str, *args) -> list[tuple]:
        return list(self.db.execute(self.sql(sql), args).fetchall())

    school_regions = Store.school_regions

    def close(self) -> None:
        self.db.close()


def export_rows(store, curriculum: str, lessons: list[tuple[str, str]], filters: Filters) -> Iterator[list]:
    """The rows both exports hold: a header, then each learner x lesson of the dashboard's view
    (its filters and order, every page; `lessons` (id, title) are those in view, in curriculum
    order; a school column at a central), read 500 learners at a time from the summaries; dates
    as ISO 8601 text."""
    schools = store.school_regions()
    yield [column for column in EXPORT_COLUMNS if schools or column != "school"]
    _, learners = learner_rows(store, curriculum, [lesson for lesson, _ in lessons], filters, None, totals=False)
    for chunk in range(0, len(learners), 500):
        part = learners[chunk:chunk + 500]
        cells = progress_of(store, curriculum, [learner[0] for learner in part])  # plain tuples: no Cell per row
        rows = []
        for learner_id, name, _colour, _picture, _done, _last, school in part:
            start = [learner_id, name, schools.get(school, (school or "", ""))[0]] if schools else [learner_id, name]
            for lesson_id, title in lessons:
                cell = cells.get((learner_id, lesson_id))
                if cell is None:
                    rows.append([*start, lesson_id, title, 0, 0, None, 0, 0, None, None])
                else:
                    opened, completed, best, attempts, seconds, first, last = cell
                    rows.append([*start, lesson_id, title, int(bool(opened)), int(bool(completed)),
                                 None if best is None else round(best, 3), attempts, seconds, first, last])
        yield from rows


def write_csv(rows: Iterable[list], out: IO[str]) -> None:
    """`rows` (a header, then values) as CSV; a text cell that a spreadsheet would run as a formula
    gets a leading ' (numbers need no guarding; None is an empty cell)."""
    writer = csv.writer(out)
    rows = iter(rows)
    header = next(rows)
    writer.writerow(header)
    texts = [n for n, column in enumerate(header) if column in TEXT_COLUMNS]
    for row in rows:
        for k in texts:
            value = row[k]
            if value and value[0] in FORMULA_FIRST:
                row[k] = "'" + value
        writer.writerow(row)


def spreadsheet_date(value: str | None):
    """An ISO 8601 date of a statement as a datetime a sheet keeps as a date (UTC, no zone: a
    workbook has none); text it cannot read stays text."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def write_xlsx(rows: Iterable[list]) -> IO[bytes]:
    """A workbook of `rows` (a header, then values) in an anonymous temporary file, at its start.
    Write-only (openpyxl streams each row to disk); the header frozen, columns sized; a text cell is
    always a string cell, never a formula (a name starting with '=' stays that text), with the quote
    prefix so a spreadsheet keeps it text when it is edited; dates are date cells."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    book = Workbook(write_only=True)
    sheet = book.create_sheet("progress")
    rows = iter(rows)
    header = next(rows)
    dates = [n for n, column in enumerate(header) if column in DATE_COLUMNS]
    for n, column in enumerate(header):
        sheet.column_dimensions[get_column_letter(n + 1)].width = EXPORT_COLUMNS[column]
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)

    def text(value: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("", value))
        cell.data_type = "s"
        if value.startswith(FORMULA_STARTS):
            cell.quotePrefix = True
        return cell

    heading = []
    for column in header:
        cell = text(column)
        cell.font = bold
        heading.append(cell)
    sheet.append(heading)
    for row in rows:
        for n in dates:
            row[n] = spreadsheet_date(row[n])
        sheet.append([text(value) if isinstance(value, str) else value for value in row])
    spooled = tempfile.TemporaryFile()
    try:
        book.save(spooled)
        spooled.seek(0)
    except BaseException:
        spooled.close()
        raise
    return spooled


def make(job: dict, out: IO[bytes]) -> None:
    """Write the export a job describes ({url, curriculum, lessons: [[id, title]], filters, format})
    to `out`."""
    store = Snapshot(job["url"])
    try:
        rows = export_rows(store, job["curriculum"], [tuple(lesson) for lesson in job["lessons"]], Filters(**job["filters"]))
        if job["format"] == "csv":
            text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
            write_csv(rows, text)
            text.flush()
            text.detach()
        else:
            with write_xlsx(rows) as spooled:
                shutil.copyfileobj(spooled, out, CHUNK)
    finally:
        store.close()
    out.flush()


class Frames(io.RawIOBase):
    """What an export writes, sent to the hub in frames (a 4-byte length, then that many bytes) of
    about CHUNK bytes; END (a length of 0) says the file is whole. Once discarded (the export
    failed), whatever else is written is dropped, so nothing follows the failure's own frame."""

    def __init__(self, out: IO[bytes]):
        super().__init__()
        self.out, self.kept, self.discarded = out, bytearray(), False

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if not self.discarded:
            self.kept += data
            if len(self.kept) >= CHUNK:
                self.flush()
        return len(data)

    def flush(self) -> None:
        if self.kept and not self.discarded:
            self.out.write(len(self.kept).to_bytes(4, "big") + self.kept)
            self.kept.clear()

    def discard(self) -> None:
        self.kept.clear()
        self.discarded = True


END = b"\0\0\0\0"
FAILED = 0xFFFFFFFF  # a frame length: the export failed, and a frame with why follows


def serve(source: IO[bytes], out: IO[bytes]) -> None:
    """Jobs (each a 4-byte length, then its JSON) one after another, until the hub closes `source`:
    each export's frames on `out`, then END, or FAILED and why. Each job's temporary files go to
    the folder it names (the hub removes it)."""
    while header := source.read(4):
        job = orjson.loads(source.read(int.from_bytes(header, "big")))
        frames = Frames(out)
        tempfile.tempdir = job["folder"]
        try:
            make(job, frames)
            frames.flush()
            out.write(END)
        except Exception as error:  # the hub says so and cuts the download off; the next job is served
            frames.discard()
            said = f"{type(error).__name__}: {error}".encode()[:4000]
            out.write(FAILED.to_bytes(4, "big") + len(said).to_bytes(4, "big") + said)
        finally:
            tempfile.tempdir = None
        out.flush()


def main() -> int:
    """`python -m satchel.hub.exports`: the hub's export process (serve, on standard input and output)."""
    try:
        serve(sys.stdin.buffer, sys.stdout.buffer)
    except BrokenPipeError:  # the hub went away: nothing to say, and nowhere to flush at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


class ExportFailed(Exception):
    """The export's process could not make the file: the download is cut off, never sent as if whole."""


class Exports:
    """The exports of one hub process, made one at a time by one child process (started at the
    first, kept for the next, stopped after IDLE_SECONDS without one); `waiting` more queued."""

    def __init__(self, url: str, waiting: int | None = None, idle_seconds: float = IDLE_SECONDS):
        postgresql = url.startswith(("postgresql://", "postgres://"))
        self.url = url if postgresql else str(Path(url.removeprefix("sqlite:///")).resolve())  # the child runs in its own folder
        self.turn = asyncio.Lock()
        self.admitted = 0  # running or waiting their turn
        waiting = int(os.environ.get(WAITING_ENV, EXPORTS_WAITING)) if waiting is None else waiting
        self.limit = 1 + max(0, waiting)
        self.child: asyncio.subprocess.Process | None = None
        self.idle_seconds, self.idle = idle_seconds, None
        self.retiring: asyncio.Task | None = None

    def full(self) -> bool:
        """True when another export would wait beyond the queue's bound: answer 503 instead."""
        return self.admitted >= self.limit

    async def stream(self, curriculum: str, lessons: list[tuple[str, str]], filters: Filters, fmt: str) -> AsyncIterator[bytes]:
        """The export's bytes as the child writes them, once it is this one's turn. Closed early (the
        teacher went away: cancelled, or aclose()), the child is killed and reaped, then the job's
        folder removed; a failed export raises ExportFailed, which cuts the download off."""
        if fmt not in FORMATS:
            raise ValueError(fmt)
        self.admitted += 1
        try:
            async with self.turn:
                if self.idle is not None:
                    self.idle.cancel()
                folder = tempfile.mkdtemp(prefix="satchel-export-")
                job = orjson.dumps({"url": self.url, "curriculum": curriculum, "lessons": lessons, "filters": asdict(filters),
                                    "format": fmt, "folder": folder})
                whole = False  # the child answered the job to its end (the file, or why not): it can take the next
                try:
                    child = await self._started()
                    child.stdin.write(len(job).to_bytes(4, "big") + job)
                    await child.stdin.drain()
                    while (size := int.from_bytes(await child.stdout.readexactly(4), "big")) != 0:
                        if size == FAILED:
                            said = await child.stdout.readexactly(int.from_bytes(await child.stdout.readexactly(4), "big"))
                            whole = True
                            raise ExportFailed(f"the export could not be made: {said.decode(errors='replace')}")
                        yield await child.stdout.readexactly(size)
                    whole = True
                except (asyncio.IncompleteReadError, ConnectionError) as error:
                    raise ExportFailed(f"the export's process ended mid-export ({error!r}): see the hub's log") from None
                finally:
                    if whole:
                        self.idle = asyncio.get_running_loop().call_later(self.idle_seconds, self._retire)
                    else:
                        await self._stop()
                    shutil.rmtree(folder, ignore_errors=True)
        finally:
            self.admitted -= 1

    async def _started(self) -> asyncio.subprocess.Process:
        """The export process, started if there is none (its errors go to the hub's own log)."""
        import anyio
        if self.child is None or self.child.returncode is not None:
            with anyio.CancelScope(shield=True):  # started whole, or not at all
                # -P: nothing importable from the folder it starts in; jobs (and the database URL with
                # them) on its standard input, never on its command line, which other users can read
                self.child = await asyncio.create_subprocess_exec(
                    sys.executable, "-P", "-m", "satchel.hub.exports", stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE, cwd="/")
        return self.child

    async def _stop(self) -> None:
        """Kill the export process and reap it (shielded: a cancelled download still waits for it)."""
        import anyio
        child, self.child = self.child, None
        if child is None:
            return
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        with anyio.CancelScope(shield=True):
            await child.wait()

    def _retire(self) -> None:
        """No export for IDLE_SECONDS: the process is told to end (its standard input closed), and reaped."""
        self.idle = None
        if self.child is not None and not self.turn.locked():
            child, self.child = self.child, None
            child.stdin.close()
            self.retiring = asyncio.get_running_loop().create_task(child.wait())


if __name__ == "__main__":
    sys.exit(main())
