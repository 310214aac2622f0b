"""Where a hub keeps what learners uploaded: SQLite (WAL) in its data directory by default, or
PostgreSQL (`--db postgresql://...`) for a national server. The same SQL serves both; only the
placeholders and the way a write transaction starts differ.

Every statement is stored once, by its id: uploading a file twice, or a client retrying after a
lost reply, changes nothing. A reply is only sent after the transaction is committed, so a hub
killed mid-upload loses nothing that a client was told was stored."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import orjson

SCHEMA_VERSION = 1
TABLES = """
CREATE TABLE IF NOT EXISTS statements (
    id TEXT PRIMARY KEY,
    curriculum TEXT NOT NULL,
    learner TEXT NOT NULL,
    verb TEXT NOT NULL,
    object TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    body TEXT NOT NULL,
    received TEXT NOT NULL,
    forwarded TEXT
);
CREATE INDEX IF NOT EXISTS statements_learner ON statements (curriculum, learner);
CREATE TABLE IF NOT EXISTS learners (
    curriculum TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    colour TEXT NOT NULL,
    picture TEXT NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (curriculum, id)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS push_subscriptions (
    endpoint TEXT PRIMARY KEY,
    curriculum TEXT NOT NULL,
    language TEXT NOT NULL,
    p256dh TEXT NOT NULL,
    auth TEXT NOT NULL,
    created TEXT NOT NULL
);
"""
GROUP_COMMIT = 64  # files committed in one transaction, at most
DATABASE = "hub.sqlite3"
DB_FILE = "database.txt"  # in the data directory: the PostgreSQL URL, when the hub uses one


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Store:
    """Two connections: one writes (a thread at a time, the lock), one reads (dashboard, reports,
    sync), so a long report never holds up an upload. Writes are short transactions."""

    def __init__(self, url: str):
        self.url = url
        self.lock = threading.Lock()  # the write connection's
        self.read_lock = threading.Lock()
        self.waiting: list[tuple[dict, asyncio.Future]] = []  # uploads for the next group commit
        self.committing = False
        self.writers = None  # SQLite: a file lock that writers of every process take in turn
        if url.startswith(("postgresql://", "postgres://")):
            self.db, self.reader = self._postgresql(url), self._postgresql(url)
            self.begin, self.sql = "BEGIN", lambda q: q.replace("?", "%s")
        else:
            self.db, self.reader = self._sqlite(url), self._sqlite(url)
            self.begin, self.sql = "BEGIN IMMEDIATE", lambda q: q
            # Waiting on SQLite's own lock means sleeping in steps of up to 100 ms (and, on the
            # event loop, blocking it); a file lock wakes the next writer as soon as it is free.
            self.writers = open(url.removeprefix("sqlite:///") + ".writers", "a")  # open as long as the store
        with self.lock:
            for statement in TABLES.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            self.db.execute(self.sql("INSERT INTO meta VALUES ('schema', ?) ON CONFLICT (key) DO NOTHING"), (str(SCHEMA_VERSION),))

    @staticmethod
    def _postgresql(url: str):
        import psycopg
        return psycopg.connect(url, autocommit=True)

    @staticmethod
    def _sqlite(url: str) -> sqlite3.Connection:
        db = sqlite3.connect(url.removeprefix("sqlite:///"), check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")  # a hub is often a Raspberry Pi that loses power
        db.execute("PRAGMA busy_timeout=10000")
        # Copy the log into the database every 4,000 pages (16 MB) rather than SQLite's 1,000:
        # index pages that change with every upload are then copied once instead of four times
        # (benchmarks/hub.py: uploads/s about 430 -> 560; p99 35 ms).
        db.execute("PRAGMA wal_autocheckpoint=4000")
        return db

    @classmethod
    def in_data_dir(cls, data: Path) -> Store:
        """The store of a hub's data directory: its SQLite file, or the PostgreSQL database it names."""
        if (data / DB_FILE).is_file():
            return cls((data / DB_FILE).read_text(encoding="utf-8").strip())
        if not (data / DATABASE).is_file():
            raise FileNotFoundError(f"{data} is not a hub data directory (no {DATABASE}): run `satchel hub init --data {data}` first")
        return cls(str(data / DATABASE))

    @classmethod
    def init(cls, data: Path, url: str | None = None) -> Store:
        data.mkdir(parents=True, exist_ok=True)
        store = cls(url or str(data / DATABASE))  # connects and makes the tables, or fails here
        if url:
            (data / DB_FILE).write_text(url + "\n", encoding="utf-8")
            (data / DB_FILE).chmod(0o600)  # it may hold a password
        return store

    async def add_file(self, data: dict) -> tuple[int, int]:
        """Store a checked progress file; returns (new statements, statements already stored) once
        they are committed. Files arriving while a commit flushes to disk wait for the next one,
        and are committed together: one disk flush for many uploads."""
        done = asyncio.get_running_loop().create_future()
        self.waiting.append((data, done))
        if not self.committing:
            self.committing = True
            asyncio.create_task(self._commit_waiting())
        return await done

    async def _commit_waiting(self) -> None:
        """Insert the waiting files here, on the event loop (no handing over to a thread per row),
        and wait for COMMIT, which flushes to disk, in a thread, while the loop takes more uploads."""
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[:GROUP_COMMIT], self.waiting[GROUP_COMMIT:]
                try:
                    if not self.lock.acquire(blocking=False):  # a sync or a setting is writing: wait, off the loop
                        await asyncio.to_thread(self.lock.acquire)
                    if not self._lock_writers(blocking=False):  # another process is writing
                        await asyncio.to_thread(self._lock_writers)
                    try:
                        self.db.execute(self.begin)
                        try:
                            results = [self._insert(data) for data, _ in batch]
                            await asyncio.to_thread(self.db.execute, "COMMIT")
                        except BaseException:
                            self.db.execute("ROLLBACK")
                            raise
                    finally:
                        self._unlock_writers()
                        self.lock.release()
                except Exception as error:  # every file of the batch gets the error; none is half stored
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(error)
                    continue
                for (_, done), result in zip(batch, results, strict=True):
                    if not done.done():  # its client may have gone: what is committed stays
                        done.set_result(result)
        finally:
            self.committing = False

    def _insert(self, data: dict) -> tuple[int, int]:
        curriculum, profile, received = data["curriculum"]["id"], data["profile"], now()
        rows = [(s["id"], curriculum, profile["id"], s["verb"]["id"].rsplit("/", 1)[-1], s["object"]["id"], s["timestamp"],
                 orjson.dumps(s).decode(), received) for s in data["statements"]]
        cursor = self.db.cursor()
        cursor.executemany(self.sql(
            "INSERT INTO statements (id, curriculum, learner, verb, object, timestamp, body, received) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"), rows)
        added = max(cursor.rowcount, 0)
        cursor.execute(self.sql(
            "INSERT INTO learners VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (curriculum, id) DO UPDATE SET "
            "name = excluded.name, colour = excluded.colour, picture = excluded.picture, updated = excluded.updated"),
            (curriculum, profile["id"], profile["name"], profile["colour"], profile["picture"], received))
        return added, len(rows) - added

    def add_push_subscription(self, endpoint: str, curriculum: str, language: str, p256dh: str, auth: str) -> None:
        """Keep a device's push subscription (hub/push.py); the same endpoint again replaces it."""
        with self._transaction():
            self.db.execute(self.sql(
                "INSERT INTO push_subscriptions VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (endpoint) DO UPDATE SET "
                "curriculum = excluded.curriculum, language = excluded.language, p256dh = excluded.p256dh, auth = excluded.auth"),
                (endpoint, curriculum, language, p256dh, auth, now()))

    def remove_push_subscription(self, endpoint: str) -> bool:
        with self._transaction():
            return self.db.execute(self.sql("DELETE FROM push_subscriptions WHERE endpoint = ?"), (endpoint,)).rowcount > 0

    def mark_forwarded(self, ids: list[str], when: str) -> None:
        with self._transaction():
            self.db.cursor().executemany(self.sql("UPDATE statements SET forwarded = ? WHERE id = ?"), [(when, i) for i in ids])

    @contextlib.contextmanager
    def _transaction(self):
        """A write transaction, holding the connection: committed, or rolled back on any error."""
        with self.lock:
            self._lock_writers()
            try:
                self.db.execute(self.begin)
                try:
                    yield
                except BaseException:
                    self.db.execute("ROLLBACK")
                    raise
                self.db.execute("COMMIT")
            finally:
                self._unlock_writers()

    def _lock_writers(self, blocking: bool = True) -> bool:
        if self.writers is None:
            return True
        try:
            fcntl.flock(self.writers, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            return False
        return True

    def _unlock_writers(self) -> None:
        if self.writers is not None:
            fcntl.flock(self.writers, fcntl.LOCK_UN)

    def meta(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key = ?", key)
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str, replace: bool = True) -> None:
        """Set a setting; with replace=False, only if it has none yet."""
        action = "DO UPDATE SET value = excluded.value" if replace else "DO NOTHING"
        with self.lock:
            self.db.execute(self.sql(f"INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) {action}"), (key, value))

    def query(self, sql: str, *args) -> list[tuple]:
        with self.read_lock:
            return list(self.reader.execute(self.sql(sql), args).fetchall())

    def close(self) -> None:
        self.db.close()
        self.reader.close()
        if self.writers is not None:
            self.writers.close()
