"""Taking in progress files, the same way from the API (POST /api/progress) and from the USB page
(/_hub/upload): parse, check and verify each whole (off the event loop when it is large), store it,
and say what became of it as (HTTP status, JSON answer).

A batch (docs/hub.md) carries many learners' files in one body, as a school hub forwards them:
{"format": "satchel-progress-batch", "version": 1, "files": [<progress file>, ...]}. Each file is
checked and stored exactly as if it came alone, on the same credentials, and gets its own answer."""

from __future__ import annotations

import asyncio

import anyio
import orjson

from .progress import BadProgress, Checked, StoreFailed, parse, prepare
from .store import Store

OFF_LOOP_BYTES = 256 * 1024  # larger files are parsed in a thread: a 9 MB file took the loop 0.9 s
BATCH_FORMAT = "satchel-progress-batch"
BATCH_VERSION = 1
MAX_BATCH_FILES = 1000
MAX_ENROLMENT = 20  # the satchel-enrolment header (a class code), at most: longer is a 422


async def take(store: Store, body: bytes, curricula: set[str], school: str | None = None, enrolment: str | None = None,
               teacher: bool = False) -> tuple[int, dict]:
    try:
        if len(body) > OFF_LOOP_BYTES:
            checked = await anyio.to_thread.run_sync(prepare, body, curricula, school is not None)
        else:
            checked = prepare(body, curricula, school is not None)
    except BadProgress as refusal:
        return refusal.status, {"error": str(refusal)}
    return await _store(store, checked, school, enrolment, teacher)


async def _store(store: Store, checked: Checked, school: str | None, enrolment: str | None, teacher: bool) -> tuple[int, dict]:
    try:
        stored = await store.add_file(checked, source=school, enrolment=enrolment, teacher=teacher)
    except BadProgress as refusal:
        return refusal.status, {"error": str(refusal)}
    except StoreFailed as failure:
        if failure.disk_full:
            return 507, {"error": "the hub's disk is full: nothing of this file was stored, and it stays on the device; "
                                  "tell whoever runs the hub"}
        return 503, {"error": f"the hub could not store this file ({str(failure.error)[:200]}); nothing of it was stored: "
                              "try again later"}
    answer = {"new": stored.new, "known": stored.known}
    if stored.conflicts:
        answer.update(error=f"{len(stored.conflicts)} statements have ids this hub holds with other content or for another "
                            "learner: they are kept aside for the teacher; the rest is stored", conflicts=stored.conflicts)
        return 409, answer
    return 200, answer


def is_batch(body: bytes) -> bool:
    """Whether `body` may be a batch (then parsed as one): no progress file names the batch format,
    unless in text a learner typed, and then the parse says it is no batch."""
    return b'"' + BATCH_FORMAT.encode() + b'"' in body


def batch_files(body: bytes) -> list | None:
    """The files of a batch, or None if `body` is no batch; raises BadProgress for a bad batch."""
    data = parse(body)
    if not isinstance(data, dict) or data.get("format") != BATCH_FORMAT:
        return None
    if data.get("version") != BATCH_VERSION or set(data) - {"format", "version", "files"}:
        raise BadProgress(f"a batch is {{\"format\": \"{BATCH_FORMAT}\", \"version\": {BATCH_VERSION}, \"files\": [...]}} "
                          "and nothing more")
    files = data.get("files")
    if not isinstance(files, list) or not files or not all(isinstance(f, dict) for f in files):
        raise BadProgress("a batch's files are a list of progress files (JSON objects), at least one")
    if len(files) > MAX_BATCH_FILES:
        raise BadProgress(f"a batch holds at most {MAX_BATCH_FILES:,} files (this one: {len(files):,})", 413)
    return files


def _check_all(files: list, curricula: set[str], school: bool) -> list:
    checked = []
    for data in files:
        try:
            checked.append(prepare(orjson.dumps(data), curricula, school))
        except BadProgress as refusal:
            checked.append(refusal)
    return checked


async def take_batch(store: Store, body: bytes, files: list, curricula: set[str], school: str | None = None,
                     enrolment: str | None = None) -> tuple[int, dict]:
    """Each file of a batch, checked and stored as if it came alone (they share group commits).
    200 if every file was stored as a lone upload would answer 200, else 207; either way
    {"files": [{"status": s, ...the answer to the file alone}, ...], "new", "known", "refused": [indexes]}."""
    if len(body) > OFF_LOOP_BYTES:
        checked = await anyio.to_thread.run_sync(_check_all, files, curricula, school is not None)
    else:
        checked = _check_all(files, curricula, school is not None)

    async def one(item) -> tuple[int, dict]:
        if isinstance(item, BadProgress):
            return item.status, {"error": str(item)}
        return await _store(store, item, school, enrolment, False)

    results = await asyncio.gather(*(one(item) for item in checked))
    answers = [{"status": status, **answer} for status, answer in results]
    refused = [n for n, (status, _) in enumerate(results) if status != 200]
    summary = {"files": answers, "new": sum(a.get("new", 0) for a in answers), "known": sum(a.get("known", 0) for a in answers),
               "refused": refused}
    return (207 if refused else 200), summary
