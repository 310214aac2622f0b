"""Where a hub keeps what learners uploaded: SQLite (WAL) in its data directory.

Every statement is stored once, by its id: uploading a file twice, or a client retrying after a
lost reply, changes nothing. A reply is only sent after the transaction is committed, so a hub
killed mid-upload loses nothing that a client was told was stored."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

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
"""
DATABASE = "hub.sqlite3"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Store:
    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a hub is often a Raspberry Pi that loses power
        self.db.execute("PRAGMA busy_timeout=10000")
        with self.lock:
            self.db.executescript(TABLES)
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))

    @classmethod
    def in_data_dir(cls, data: Path) -> Store:
        if not (data / DATABASE).is_file():
            raise FileNotFoundError(f"{data} is not a hub data directory (no {DATABASE}): run `satchel hub init --data {data}` first")
        return cls(data / DATABASE)

    def add_file(self, data: dict) -> tuple[int, int]:
        """Store a checked progress file; returns (new statements, statements already stored)."""
        curriculum, profile, received = data["curriculum"]["id"], data["profile"], now()
        rows = [(s["id"], curriculum, profile["id"], s["verb"]["id"].rsplit("/", 1)[-1], s["object"]["id"], s["timestamp"],
                 json.dumps(s, ensure_ascii=False, separators=(",", ":")), received) for s in data["statements"]]
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                cursor = self.db.executemany(
                    "INSERT INTO statements (id, curriculum, learner, verb, object, timestamp, body, received) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING", rows)
                added = cursor.rowcount
                self.db.execute(
                    "INSERT INTO learners VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (curriculum, id) DO UPDATE SET "
                    "name = excluded.name, colour = excluded.colour, picture = excluded.picture, updated = excluded.updated",
                    (curriculum, profile["id"], profile["name"], profile["colour"], profile["picture"], received))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return added, len(rows) - added

    def count(self) -> int:
        with self.lock:
            return self.db.execute("SELECT count(*) FROM statements").fetchone()[0]

    def close(self) -> None:
        self.db.close()
