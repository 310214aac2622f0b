"""Forwarding upstream: what this hub received and has not yet forwarded goes to a central hub
(its POST /api/progress) or to any xAPI Learning Record Store (POST .../statements). At least
once and in order of arrival; a statement is marked forwarded only after the upstream said 2xx,
so a failure or a crash means it is sent again, and both a hub and an LRS keep one copy per id.
One kept-alive connection a run, POSTs of up to about 1 MB: to a central, batches of many learners'
progress files (hub/intake.py); to an LRS, xAPI batches of statements checked against xAPI 2.0
(hub/xapi.py) first.

What the upstream refuses for its content (a 4xx) does not hold up the rest: the refused batch is
split in halves until the refused statements are alone, and those are set aside (quarantined,
with the reason) until `satchel hub sync --retry-quarantined`."""

from __future__ import annotations

import base64
import time
import urllib.parse
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import orjson
import requests

from . import xapi
from .store import Store, now

READ = 5000  # statements read from the store at a time
MAX_POST_BYTES = 1_000_000  # a POST carries statements up to about this many bytes
MAX_POST_STATEMENTS = 5000  # and at most this many (an LRS's batch)
MAX_BATCH_FILES = 1000  # a central's limit on files in a batch (hub/intake.py)
XAPI_VERSION = "2.0.0"
HUB_EXTENSION = "urn:satchel:hub"  # in context.extensions of what goes to an LRS: the school hub it came from
CONFLICT = "conflict at upstream"
BATCH_FORMAT = "satchel-progress-batch"
# 4xx answers about the request, not about a statement in it: the run stops, and nothing is set aside.
STOP = {401: "the upstream refused the credentials: check --user and --password-file (a central issues them: satchel hub schools add)",
        403: "the upstream refused the credentials: check --user and --password-file (a central issues them: satchel hub schools add)",
        404: "there is no such address at the upstream: check --upstream",
        405: "the upstream takes no POST at this address: check --upstream",
        407: "a proxy wants credentials",
        408: "the upstream is busy: try again later",
        429: "the upstream is busy: try again later"}


class UpstreamError(RuntimeError):
    pass


class Refused(Exception):
    """A 4xx about what was sent: a statement in it is refused (or, from a Satchel hub, a 409
    that lists the conflicting statements: the others were stored)."""

    def __init__(self, status: int, detail: str, body: bytes):
        super().__init__(f"{status}: {detail}")
        self.status, self.detail, self.body = status, detail, body

    @property
    def reason(self) -> str:
        return f"upstream answered {self.status}: {self.detail}"


@dataclass
class Forwarded:
    sent: int = 0
    quarantined: int = 0
    posts: int = 0


class Connection:
    """One HTTP(S) connection to the upstream for a whole run, kept alive between POSTs (a
    requests session: it also honours the proxy settings of the environment)."""

    def __init__(self, url: str, user: str | None, password: str | None, timeout: float):
        self.url, self.timeout = url, timeout
        self.session = requests.Session()
        self.session.headers.update({"content-type": "application/json", "x-experience-api-version": XAPI_VERSION,
                                     "user-agent": "satchel-hub"})
        if user is not None:
            self.session.headers["authorization"] = "Basic " + base64.b64encode(f"{user}:{password or ''}".encode()).decode()

    def post(self, body: bytes) -> bytes:
        """The answer to a POST of `body`, if 2xx; raises Refused (a 4xx about what was sent) or UpstreamError."""
        try:
            response = self.session.post(self.url, data=body, timeout=self.timeout, allow_redirects=False)
            answer = response.content
        except requests.RequestException as error:
            raise UpstreamError(f"{self.url} cannot be reached: {error}") from None
        status = response.status_code
        if 200 <= status < 300:
            return answer
        detail = answer[:300].decode("utf-8", "replace").strip()
        if 400 <= status < 500 and status not in STOP:
            raise Refused(status, detail[:200], answer)
        if 300 <= status < 400:
            detail = f"it moved to {response.headers.get('location', '?')}: check --upstream"
        why = f" ({STOP[status]})" if status in STOP else ""
        raise UpstreamError(f"{self.url} answered {status}{why}: {detail}")

    def close(self) -> None:
        self.session.close()


class Marks:
    """Marks statements forwarded, each POST's in its own transaction as soon as the upstream said
    2xx, in a thread while the next POST goes (the disk's flush then costs no time on the wire).
    `settle` waits for them all: before the next read of what is waiting, and at the end of a run."""

    def __init__(self, store: Store):
        self.store = store
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="satchel-marks")
        self.pending: list[Future] = []

    def __call__(self, ids: list[str]) -> None:
        if ids:
            self.pending.append(self.thread.submit(self.store.mark_forwarded, ids, now()))

    def settle(self) -> None:
        pending, self.pending = self.pending, []
        for mark in pending:
            mark.result()

    def close(self) -> None:
        try:
            self.settle()
        finally:
            self.thread.shutdown()


def _conflicts(refusal: Refused) -> set[str] | None:
    """The statements a Satchel hub's 409 names as conflicting (it stored the others), or None."""
    if refusal.status != 409:
        return None
    try:
        answer = orjson.loads(refusal.body)
    except ValueError:
        return None
    return _listed(answer.get("conflicts") if isinstance(answer, dict) else None)


def _listed(conflicts) -> set[str] | None:
    if not isinstance(conflicts, list) or not all(isinstance(c, str) for c in conflicts):
        return None
    return set(conflicts)


def _deliver(store: Store, upstream: str, rows: list[tuple], post, done: Forwarded, mark=None) -> None:
    """Post `rows` (first element: the statement id); on a refusal, each half on its own, down to
    single statements, which are quarantined: k refused among n cost about 2k·log2(n/k) posts.
    `mark` marks ids forwarded (by default at once)."""
    mark = mark or (lambda ids: store.mark_forwarded(ids, now()))
    ids = [row[0] for row in rows]
    try:
        done.posts += 1
        post(rows)
    except Refused as refusal:
        conflicts = _conflicts(refusal)
        if conflicts is not None:
            _conflicted(store, upstream, ids, conflicts, refusal.status, done, mark)
            return
        if len(rows) == 1:
            store.quarantine(ids, upstream, refusal.status, refusal.reason)
            done.quarantined += 1
            return
        half = len(rows) // 2
        _deliver(store, upstream, rows[:half], post, done, mark)
        _deliver(store, upstream, rows[half:], post, done, mark)
        return
    mark(ids)
    done.sent += len(ids)


def _conflicted(store: Store, upstream: str, ids: list[str], conflicts: set[str], status: int, done: Forwarded, mark) -> None:
    """A central stored `ids` but `conflicts`, which it holds with other content: those are set aside."""
    refused = [i for i in ids if i in conflicts]
    mark([i for i in ids if i not in conflicts])
    store.quarantine(refused, upstream, status, CONFLICT)
    done.sent += len(ids) - len(refused)
    done.quarantined += len(refused)


def stamped(body: str, origin: str) -> dict:
    """A statement as an LRS gets it: with the school hub it came from in context.extensions.
    The same statement gets the same stamp every time (an LRS refuses an id with other content)."""
    statement = orjson.loads(body)
    context = statement.get("context") if isinstance(statement.get("context"), dict) else {}
    extensions = context.get("extensions") if isinstance(context.get("extensions"), dict) else {}
    statement["context"] = {**context, "extensions": {**extensions, HUB_EXTENSION: origin}}
    return statement


# Read through the partial index statements_waiting (only what is not forwarded yet).
WAITING = ("SELECT id, curriculum, learner, body, source FROM statements s WHERE forwarded IS NULL "
           "AND NOT EXISTS (SELECT 1 FROM upstream_quarantine q WHERE q.id = s.id) ORDER BY received, id LIMIT ?")


def waiting(store: Store, limit: int = READ) -> list[tuple]:
    """The next statements to forward, in order of arrival: (id, curriculum, learner, body, source)."""
    return store.query(WAITING, limit)


def sized(items: list, size, max_bytes: int = MAX_POST_BYTES, max_count: int = MAX_POST_STATEMENTS) -> list[list]:
    """`items` in consecutive groups of at most `max_bytes` (by `size`) and `max_count` each."""
    groups, group, total = [], [], 0
    for item in items:
        n = size(item)
        if group and (total + n > max_bytes or len(group) >= max_count):
            groups.append(group)
            group, total = [], 0
        group.append(item)
        total += n
    if group:
        groups.append(group)
    return groups


def forward(store: Store, upstream: str, user: str | None = None, password: str | None = None, timeout: float = 60) -> Forwarded:
    """Forward every statement neither forwarded nor quarantined; returns how many were, and how
    many were set aside. Raises UpstreamError, with what was forwarded before it kept as forwarded."""
    connection, marks = Connection(upstream, user, password, timeout), Marks(store)
    try:
        if urllib.parse.urlsplit(upstream).path.rstrip("/").endswith("/api/progress"):
            return Central(store, upstream, connection, marks).forward()
        return _forward_to_lrs(store, upstream, connection, marks)
    finally:
        try:
            marks.close()  # what the upstream took stays marked, even when the run stops on an error
        finally:
            connection.close()


def _forward_to_lrs(store: Store, upstream: str, connection: Connection, marks: Marks) -> Forwarded:
    """xAPI batches (JSON arrays) of up to MAX_POST_BYTES, each statement checked against xAPI 2.0
    first: one that fails is set aside with the reason, and never sent."""
    own_id = store.hub_id()
    done = Forwarded()

    def post(rows):
        connection.post(b"[" + b",".join(row[1] for row in rows) + b"]")

    while True:
        marks.settle()  # what was sent is marked before the next read
        rows = waiting(store)
        if not rows:
            return done
        ready, bad = [], {}
        for row in rows:
            statement = stamped(row[3], row[4] or own_id)
            why = xapi.problem(statement)
            if why is None:
                ready.append((row[0], orjson.dumps(statement)))
            else:
                bad.setdefault(why, []).append(row[0])
        for why, ids in bad.items():
            store.quarantine(ids, upstream, None, why)
            done.quarantined += len(ids)
        for group in sized(ready, lambda row: len(row[1]) + 1):
            _deliver(store, upstream, group, post, done, marks)


@dataclass
class File:
    """A progress file for a central: one learner's statements (rows), and its JSON text."""
    rows: list[tuple]
    text: bytes = field(repr=False)


class Central:
    """Forwarding to a central Satchel hub: progress files, many learners' at once in a batch
    (docs/hub.md: {"format": "satchel-progress-batch", "files": [...]}); to a central that takes no
    batches (an older one), one file a POST."""

    def __init__(self, store: Store, upstream: str, connection: Connection, marks: Marks):
        self.store, self.upstream, self.connection, self.marks = store, upstream, connection, marks
        self.batches = True
        self.done = Forwarded()
        self.profiles: dict[tuple[str, str], bytes] = {}

    def forward(self) -> Forwarded:
        while True:
            self.marks.settle()  # what was sent is marked before the next read
            rows = waiting(self.store)
            if not rows:
                return self.done
            for group in sized(self.files(rows), lambda f: len(f.text) + 1, max_count=MAX_BATCH_FILES):
                self.send(group)

    def header(self, curriculum: str, learner: str) -> bytes:
        """A file's JSON text up to its statements: the learner's profile, and key (the one their id is
        derived from, else the first bound): the central checks statement ids against it, and vouches
        for the file on these credentials. It knows the school from the credentials."""
        found = self.profiles.get((curriculum, learner))
        if found is not None:
            return found
        profile = self.store.query("SELECT name, colour, picture FROM learners WHERE curriculum = ? AND id = ?", curriculum, learner)
        name, colour, picture = profile[0] if profile else ("?", "#1f6f5c", "?")
        who = {"id": learner, "name": name, "colour": colour, "picture": picture}
        keys = self.store.query("SELECT key FROM learner_keys WHERE curriculum = ? AND learner = ? "
                                "ORDER BY CASE how WHEN 'derived' THEN 0 ELSE 1 END, added LIMIT 1", curriculum, learner)
        if keys:
            who["key"] = keys[0][0]
        classes = self.store.learner_classes(curriculum, learner)
        if classes:  # the central keeps them under this school (docs/hub.md, Schools, regions and classes)
            who["classes"] = classes
        text = orjson.dumps({"format": "satchel-progress", "version": 2, "curriculum": {"id": curriculum}, "exported": now(),
                             "profile": who})
        self.profiles[(curriculum, learner)] = text[:-1] + b',"statements":['
        return self.profiles[(curriculum, learner)]

    def file(self, rows: list[tuple]) -> File:
        head = self.header(rows[0][1], rows[0][2])
        return File(rows, head + ",".join(row[3] for row in rows).encode() + b"]}")

    def files(self, rows: list[tuple]) -> list[File]:
        """The rows as files, one a learner (or more, each at most MAX_POST_BYTES), in order of arrival of each learner's first."""
        groups: dict[tuple[str, str], list[tuple]] = {}
        for row in rows:
            groups.setdefault((row[1], row[2]), []).append(row)
        return [self.file(part) for group in groups.values()
                for part in sized(group, lambda row: len(row[3]) + 1, MAX_POST_BYTES - 1000)]

    def post_file(self, rows: list[tuple]) -> None:
        self.connection.post(self.file(rows).text)

    def alone(self, file: File) -> None:
        """One file in its own POST: what a refusal in it costs is the halving of _deliver."""
        _deliver(self.store, self.upstream, file.rows, self.post_file, self.done, self.marks)

    def send(self, files: list[File]) -> None:
        if not self.batches or len(files) == 1:
            for file in files:
                self.alone(file)
            return
        body = b'{"format":"' + BATCH_FORMAT.encode() + b'","version":1,"files":[' + b",".join(f.text for f in files) + b"]}"
        try:
            self.done.posts += 1
            answer = orjson.loads(self.connection.post(body))
            results = answer["files"]
            if not isinstance(results, list) or len(results) != len(files) or not all(isinstance(r, dict) for r in results):
                raise ValueError
        except Refused as refusal:
            if refusal.status == 413:  # larger than the central takes: in halves
                self.send(files[:len(files) // 2])
                self.send(files[len(files) // 2:])
                return
            self.batches = False  # a central that takes no batches (an older Satchel): one file a POST
            self.send(files)
            return
        except (ValueError, KeyError, TypeError):
            raise UpstreamError(f"{self.upstream} answered a batch with no list of what became of its files") from None
        forwarded, failure = [], None
        for file, result in zip(files, results, strict=True):
            status = result.get("status")
            ids = [row[0] for row in file.rows]
            if status == 200:
                forwarded += ids
            elif status == 409 and (conflicts := _listed(result.get("conflicts"))) is not None:
                _conflicted(self.store, self.upstream, ids, conflicts, 409, self.done, self.marks)
            elif isinstance(status, int) and 400 <= status < 500 and status not in STOP:
                self.alone(file)  # refused: on its own, halved down to the refused statements
            else:
                failure = failure or f"{self.upstream} answered {status} for a file: {str(result.get('error'))[:200]}"
        self.marks(forwarded)
        self.done.sent += len(forwarded)
        if failure:
            raise UpstreamError(failure)


def forward_forever(store: Store, upstream: str, every: float, user: str | None, password: str | None, log=print) -> None:
    """Forward, then again every `every` seconds; after a failure, retry sooner (30 s, doubling)."""
    wait = every
    while True:
        try:
            done = forward(store, upstream, user, password)
            if done.sent or done.quarantined:
                log(f"forwarded {done.sent} statements to {upstream}"
                    + (f"; {done.quarantined} refused and set aside (satchel hub sync --status)" if done.quarantined else ""))
            wait = every
        except UpstreamError as error:
            log(f"not forwarded, will try again: {error}")
            wait = min(every, 30 if wait >= every else wait * 2)
        time.sleep(wait)
