"""Where a hub keeps what learners uploaded: SQLite (WAL) in its data directory by default, or
PostgreSQL (`--db postgresql://...`) for a national server. The same SQL serves both; only the
placeholders and the way a write transaction starts differ.

Every statement is stored once, by its id: uploading a file twice, or a client retrying after a
lost reply, changes nothing. A statement id already stored with other content, or for another
learner, is a conflict: the new copy is kept aside in `conflicts` for the teacher, never dropped
and never taken as "known". A reply is only sent after the transaction is committed, so a hub
killed mid-upload loses nothing that a client was told was stored. Each file of a group commit
has its own savepoint: one that fails is refused alone."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import queue
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from . import identity
from .progress import Checked, Refused, Stored, StoreFailed

SCHEMA_VERSION = 7
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
    forwarded TEXT,
    source TEXT,
    verified INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS statements_learner ON statements (curriculum, learner);
-- what is left to forward, in order of arrival (hub/upstream.py): never a scan of everything forwarded
CREATE INDEX IF NOT EXISTS statements_waiting ON statements (received, id) WHERE forwarded IS NULL;
CREATE TABLE IF NOT EXISTS learners (
    curriculum TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    colour TEXT NOT NULL,
    picture TEXT NOT NULL,
    updated TEXT NOT NULL,
    unverified INTEGER NOT NULL DEFAULT 0,
    school TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (curriculum, id)
);
CREATE TABLE IF NOT EXISTS learner_keys (
    curriculum TEXT NOT NULL,
    learner TEXT NOT NULL,
    key TEXT NOT NULL,
    how TEXT NOT NULL,
    added TEXT NOT NULL,
    PRIMARY KEY (curriculum, learner, key)
);
CREATE TABLE IF NOT EXISTS learner_days (
    curriculum TEXT NOT NULL,
    learner TEXT NOT NULL,
    day TEXT NOT NULL,
    statements INTEGER NOT NULL,
    PRIMARY KEY (curriculum, learner, day)
);
CREATE TABLE IF NOT EXISTS conflicts (
    digest TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    curriculum TEXT NOT NULL,
    learner TEXT NOT NULL,
    body TEXT NOT NULL,
    verified INTEGER NOT NULL,
    source TEXT,
    received TEXT NOT NULL,
    resolved TEXT
);
CREATE INDEX IF NOT EXISTS conflicts_open ON conflicts (curriculum, resolved);
CREATE TABLE IF NOT EXISTS enrolments (
    code TEXT PRIMARY KEY,
    curriculum TEXT NOT NULL,
    label TEXT NOT NULL,
    created TEXT NOT NULL,
    expires TEXT NOT NULL,
    class TEXT
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
CREATE TABLE IF NOT EXISTS upstream_quarantine (
    id TEXT PRIMARY KEY,
    upstream TEXT NOT NULL,
    status INTEGER,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS schools (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created TEXT NOT NULL,
    revoked TEXT,
    region TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS teacher_sessions (id TEXT PRIMARY KEY, created TEXT NOT NULL, expires TEXT NOT NULL);
"""
# The dashboard's summary of 'answered' statements (docs/progress.md): per learner and question, how
# many answers and how many of them right, kept up to date as statements are stored or replaced.
QUESTION_RESULTS = """
CREATE TABLE IF NOT EXISTS question_results (
    curriculum TEXT NOT NULL,
    lesson TEXT NOT NULL,
    quiz INTEGER NOT NULL,
    question INTEGER NOT NULL,
    learner TEXT NOT NULL,
    answers INTEGER NOT NULL,
    correct INTEGER NOT NULL,
    PRIMARY KEY (curriculum, lesson, quiz, question, learner)
)"""
TABLES += QUESTION_RESULTS + ";"
# The dashboard's summaries of everything else (docs/hub.md): per learner and lesson, what
# hub/report.py shows (the rules of theme/assets/satchel/progress-model.js), and per learner and day
# (by the statements' own dates) how many steps and seconds; kept up to date in the transaction that
# stores or replaces a statement, so a dashboard view never reads the statements.
LESSON_PROGRESS = """
CREATE TABLE IF NOT EXISTS lesson_progress (
    curriculum TEXT NOT NULL,
    learner TEXT NOT NULL,
    lesson TEXT NOT NULL,
    opened INTEGER NOT NULL,
    completed INTEGER NOT NULL,
    best DOUBLE PRECISION,
    attempts INTEGER NOT NULL,
    seconds INTEGER NOT NULL,
    first TEXT NOT NULL,
    last TEXT NOT NULL,
    PRIMARY KEY (curriculum, learner, lesson)
)"""
ACTIVITY_DAYS = """
CREATE TABLE IF NOT EXISTS activity_days (
    curriculum TEXT NOT NULL,
    learner TEXT NOT NULL,
    day TEXT NOT NULL,
    statements INTEGER NOT NULL,
    seconds INTEGER NOT NULL,
    PRIMARY KEY (curriculum, learner, day)
)"""
# the dashboard's recent activity: the newest statements of a curriculum, never a sort of all of them
RECENT_INDEX = "CREATE INDEX IF NOT EXISTS statements_recent ON statements (curriculum, timestamp)"
TABLES += LESSON_PROGRESS + ";" + ACTIVITY_DAYS + ";" + RECENT_INDEX + ";"
# Classes (docs/hub.md): made by a teacher on a school hub (school ''), or received from a school hub
# at a central (school: its id), so a class id is unique only within its school. A group is a class
# whose parent is another class of the same school. Membership is per learner, within a school.
CLASSES = """
CREATE TABLE IF NOT EXISTS classes (
    curriculum TEXT NOT NULL,
    school TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    parent TEXT,
    created TEXT NOT NULL,
    PRIMARY KEY (curriculum, school, id)
);
CREATE TABLE IF NOT EXISTS class_members (
    curriculum TEXT NOT NULL,
    school TEXT NOT NULL,
    class TEXT NOT NULL,
    learner TEXT NOT NULL,
    PRIMARY KEY (curriculum, school, class, learner)
);
CREATE INDEX IF NOT EXISTS class_members_learner ON class_members (curriculum, learner);
CREATE INDEX IF NOT EXISTS learners_school ON learners (curriculum, school)"""
TABLES += CLASSES + ";"
# Lessons taught to a class on the classroom TV (hub/tv.py): one xAPI statement each, its actor the
# class as a Group; `class` is '' for a class name the teacher typed that is not one of the hub's.
CLASS_SESSIONS = """
CREATE TABLE IF NOT EXISTS class_sessions (
    id TEXT PRIMARY KEY,
    curriculum TEXT NOT NULL,
    school TEXT NOT NULL,
    class TEXT NOT NULL,
    class_name TEXT NOT NULL,
    lesson TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS class_sessions_class ON class_sessions (curriculum, school, class, timestamp)"""
TABLES += CLASS_SESSIONS + ";"
MAX_CLASS_SESSIONS = 100_000  # per curriculum: a school's years of lessons, bounded
# The dashboard's totals over every learner (docs/hub.md), kept in the transaction that changes
# question_results or lesson_progress, so a view reads one row per question or lesson instead of
# every learner's: per question, how many learners answered it and how many got it right at least
# once; per lesson, how many learners completed it, tried its quiz (attempts > 0), their attempts,
# the sum of their best scores (in millionths: a whole number, added and taken away exactly) and
# how many of them passed (best >= PASS_MARK).
QUESTION_TOTALS = """
CREATE TABLE IF NOT EXISTS question_totals (
    curriculum TEXT NOT NULL,
    lesson TEXT NOT NULL,
    quiz INTEGER NOT NULL,
    question INTEGER NOT NULL,
    learners INTEGER NOT NULL,
    right_learners INTEGER NOT NULL,
    PRIMARY KEY (curriculum, lesson, quiz, question)
)"""
LESSON_TOTALS = """
CREATE TABLE IF NOT EXISTS lesson_totals (
    curriculum TEXT NOT NULL,
    lesson TEXT NOT NULL,
    completed INTEGER NOT NULL,
    tried INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    best_millionths BIGINT NOT NULL,
    passed INTEGER NOT NULL,
    PRIMARY KEY (curriculum, lesson)
)"""
# a page's learners' answers, and a learner's own rows when their answers change; the default
# dashboard view's page of learners, by name, without reading the others
QUESTION_RESULTS_LEARNER = "CREATE INDEX IF NOT EXISTS question_results_learner ON question_results (curriculum, learner)"
LEARNERS_NAME = "CREATE INDEX IF NOT EXISTS learners_name ON learners (curriculum, name, id)"
TABLES += QUESTION_TOTALS + ";" + LESSON_TOTALS + ";" + QUESTION_RESULTS_LEARNER + ";" + LEARNERS_NAME + ";"
# The dashboard's totals per learner (docs/hub.md), for the views that filter or sort over every
# learner (who has not started, who is stuck, by lessons done, by last activity): per learner and
# subject (the first part of a lesson's id; '' for every lesson), how many lessons they have a row
# of lesson_progress for, completed, and are stuck on (STUCK_ATTEMPTS attempts or more, best still
# below PASS_MARK), and their last activity; the learner's name again, so one index serves each
# order with LIMIT/OFFSET. Every learner has a row for '' and for each subject of learner_subjects
# (the subjects any learner of the curriculum has a row of lesson_progress in), zeros if need be:
# a view reads rows in an index's order and stops, never groups. Made again from the learner's
# lesson_progress in the transaction that changes it (or their name); writers take turns (_begin),
# so a new learner and a new subject's rows of zeros cannot miss each other.
LEARNER_TOTALS = """
CREATE TABLE IF NOT EXISTS learner_totals (
    curriculum TEXT NOT NULL,
    learner TEXT NOT NULL,
    subject TEXT NOT NULL,
    name TEXT NOT NULL,
    lessons INTEGER NOT NULL,
    done INTEGER NOT NULL,
    stuck INTEGER NOT NULL,
    last TEXT,
    PRIMARY KEY (curriculum, learner, subject)
);
CREATE TABLE IF NOT EXISTS learner_subjects (
    curriculum TEXT NOT NULL,
    subject TEXT NOT NULL,
    PRIMARY KEY (curriculum, subject)
);
CREATE INDEX IF NOT EXISTS learner_totals_done ON learner_totals (curriculum, subject, done DESC, name, learner);
CREATE INDEX IF NOT EXISTS learner_totals_waiting ON learner_totals (curriculum, subject, name, learner) WHERE lessons = 0;
CREATE INDEX IF NOT EXISTS learner_totals_stuck ON learner_totals (curriculum, subject, name, learner) WHERE stuck > 0"""
# by last activity, newest first and those with none last: SQLite puts NULLs last in DESC order, PostgreSQL first
LEARNER_TOTALS_LAST = {"sqlite": "CREATE INDEX IF NOT EXISTS learner_totals_last ON learner_totals (curriculum, subject, last DESC, name, learner)",
                       "postgresql": "CREATE INDEX IF NOT EXISTS learner_totals_last ON learner_totals "
                                     "(curriculum, subject, last DESC NULLS LAST, name, learner)"}
TABLES += LEARNER_TOTALS + ";"
STUCK_ATTEMPTS = 3  # stuck: this many quiz attempts or more on a lesson, and its best still below PASS_MARK
MAX_CLASSES = 500  # classes of a curriculum a school hub's teacher may make
MAX_CLASSES_PER_LEARNER = 20  # as profile.classes in docs/progress.schema.json
MAX_CLASS_NAME = 100
MAX_REGION = 100
# A migration is SQL, or a function of the store; each version's changes run in one transaction.
MIGRATIONS = {2: ["ALTER TABLE statements ADD COLUMN source TEXT",
                  "ALTER TABLE statements ADD COLUMN verified INTEGER NOT NULL DEFAULT 0"],
              3: ["ALTER TABLE learners ADD COLUMN unverified INTEGER NOT NULL DEFAULT 0",
                  "UPDATE learners SET unverified = (SELECT COUNT(*) FROM statements s WHERE s.curriculum = learners.curriculum "
                  "AND s.learner = learners.id AND s.verified = 0)",
                  QUESTION_RESULTS,
                  lambda store: store._count_all_answers()],
              4: [LESSON_PROGRESS, ACTIVITY_DAYS, RECENT_INDEX, lambda store: store._summarise_all()],
              # schools' regions, learners' schools (from the school hub their statements came through),
              # class codes that enrol in a class; the classes tables themselves are new (TABLES)
              5: [lambda store: store._add_column("schools", "region", "TEXT NOT NULL DEFAULT ''"),
                  lambda store: store._add_column("learners", "school", "TEXT NOT NULL DEFAULT ''"),
                  lambda store: store._add_column("enrolments", "class", "TEXT"),
                  "UPDATE learners SET school = COALESCE((SELECT MAX(s.source) FROM statements s WHERE s.curriculum = learners.curriculum "
                  "AND s.learner = learners.id AND s.source IS NOT NULL), '')"],
              6: [QUESTION_TOTALS, LESSON_TOTALS, QUESTION_RESULTS_LEARNER, LEARNERS_NAME, lambda store: store._total_all()],
              7: [*LEARNER_TOTALS.split(";"), lambda store: store.db.execute(LEARNER_TOTALS_LAST[store.dialect]),
                  lambda store: store._total_all_learners()]}
READERS = 4  # reader connections of a store (each worker process has its own), opened as reads overlap
GROUP_COMMIT = 64  # files committed in one transaction, at most
STATEMENTS_PER_LEARNER_DAY = 5_000  # by the statements' own dates: a busy learner makes a few hundred a day
DATABASE = "hub.sqlite3"
DB_FILE = "database.txt"  # in the data directory: the PostgreSQL URL, when the hub uses one


def answer_of(curriculum: str, object_id: str, statement: dict) -> tuple[tuple[str, int, int], bool] | None:
    """((lesson, quiz, question), right) of an 'answered' statement: its object is the lesson's id +
    '#quiz-<n>-<k>' (numbers from 0); None for any other object."""
    lesson, _, numbers = object_id.removeprefix(f"urn:satchel:{curriculum}:lesson:").partition("#quiz-")
    quiz, _, question = numbers.partition("-")
    if not (quiz.isdigit() and question.isdigit()):
        return None
    return (lesson, int(quiz), int(question)), statement.get("result", {}).get("success") is True


def count_answer(tally: dict, curriculum: str, object_id: str, statement: dict, sign: int = 1) -> None:
    """Add (sign 1) or take away (-1) an 'answered' statement in `tally`: {(lesson, quiz, question): [answers, right]}."""
    found = answer_of(curriculum, object_id, statement)
    if found is not None:
        counts = tally.setdefault(found[0], [0, 0])
        counts[0] += sign
        counts[1] += sign * found[1]


PASS_MARK = 0.6  # as PASS_MARK in theme/assets/satchel/progress-model.js
SUMMARISED_BODIES = ("experienced", "passed", "failed")  # the verbs whose result the summaries read


def seconds_of(statement: dict) -> int:
    """An 'experienced' statement's duration ('PT<n>S', hub/progress.py checks it) in seconds."""
    duration = statement.get("result", {}).get("duration", "PT0S")
    try:
        return int(duration[2:-1] or 0)
    except (TypeError, ValueError):
        return 0


def summarise(cells: dict, days: dict, curriculum: str, verb: str, object_id: str, timestamp: str, statement: dict | None) -> None:
    """Add one statement to tallies of lesson_progress and activity_days: `cells` {lesson: [opened,
    completed, best, attempts, seconds, first, last]}, `days` {day: [statements, seconds]}. A lesson
    is done once a 'completed' statement of the lesson itself exists (not of one of its videos, `#video-<n>`); a quiz's score is the best 'passed'/'failed'
    result (a pass counts as at least PASS_MARK). `statement` is needed only for SUMMARISED_BODIES."""
    lesson, _, part = object_id.removeprefix(f"urn:satchel:{curriculum}:lesson:").partition("#")
    cell = cells.setdefault(lesson, [0, 0, None, 0, 0, timestamp, timestamp])
    cell[5], cell[6] = min(cell[5], timestamp), max(cell[6], timestamp)
    day = days.setdefault(timestamp[:10], [0, 0])
    day[0] += 1
    if verb == "launched":
        cell[0] = 1
    elif verb == "completed" and not part.startswith("video-"):  # a video watched to its end is not the lesson done
        cell[1] = 1
    elif verb == "experienced":
        seconds = seconds_of(statement)
        cell[4] += seconds
        day[1] += seconds
    elif verb in ("passed", "failed") and part:
        cell[3] += 1
        scaled = statement.get("result", {}).get("score", {}).get("scaled", 0)
        cell[2] = max(cell[2] or 0, max(scaled, PASS_MARK) if verb == "passed" else scaled)


def lesson_part(completed, attempts: int, best) -> tuple[int, int, int, int, int]:
    """What one learner's cell of a lesson adds to lesson_totals: (completed, tried, attempts,
    best in millionths, passed), counting the quiz's columns only once tried (attempts > 0)."""
    if attempts <= 0:
        return int(bool(completed)), 0, 0, 0, 0
    return int(bool(completed)), 1, attempts, round((best or 0) * 1_000_000), int((best or 0) >= PASS_MARK)


def question_part(answers: int, right: int) -> tuple[int, int]:
    """What one learner's row of question_results adds to question_totals: (answered, right at least once)."""
    return int(answers > 0), int(answers > 0 and right > 0)


def learner_part(rows) -> dict[str, list]:
    """One learner's learner_totals from their rows of lesson_progress [(lesson, completed, attempts,
    best, last)]: {subject ('' for all): [lessons, done, stuck, last]}."""
    out: dict[str, list] = {"": [0, 0, 0, None]}
    for lesson, completed, attempts, best, last in rows:
        for subject in ("", lesson.partition("/")[0]):
            total = out.setdefault(subject, [0, 0, 0, None])
            total[0] += 1
            total[1] += int(bool(completed))
            total[2] += int(attempts >= STUCK_ATTEMPTS and (best or 0) < PASS_MARK)
            total[3] = last if total[3] is None or (last is not None and last > total[3]) else total[3]
    return out


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Store:
    """One connection writes (a thread at a time, the lock); up to READERS read (dashboard, reports,
    sync), each used by one thread at a time and autocommitting, so a long report never holds up
    an upload, nor ten teachers' pages one another. Writes are short transactions."""

    def __init__(self, url: str):
        self.url = url
        self.lock = threading.Lock()  # the write connection's
        self.readers: queue.LifoQueue = queue.LifoQueue()  # idle reader connections
        self.reader_slots = threading.BoundedSemaphore(READERS)  # readers in use, at most
        self.all_readers: list = []  # every reader opened, to close
        self.waiting: list[tuple[dict, asyncio.Future]] = []  # uploads for the next group commit
        self.committing = False
        self.writers = None  # SQLite: a file lock that writers of every process take in turn
        if url.startswith(("postgresql://", "postgres://")):
            self.db, self.connect = self._postgresql(url), lambda: self._postgresql(url)
            self.begin, self.sql, self.dialect = "BEGIN", lambda q: q.replace("?", "%s"), "postgresql"
        else:
            self.db, self.connect = self._sqlite(url), lambda: self._sqlite(url)
            self.begin, self.sql, self.dialect = "BEGIN IMMEDIATE", lambda q: q, "sqlite"
            # Waiting on SQLite's own lock means sleeping in steps of up to 100 ms (and, on the
            # event loop, blocking it); a file lock wakes the next writer as soon as it is free.
            self.writers = open(url.removeprefix("sqlite:///") + ".writers", "a")  # open as long as the store
        self.readers.put(self._open_reader())  # one at once: a database that cannot be read fails here
        with self.lock:
            self._migrate()
            for statement in [*TABLES.split(";"), LEARNER_TOTALS_LAST[self.dialect]]:
                if statement.strip():
                    self.db.execute(statement)
            self.db.execute(self.sql("INSERT INTO meta VALUES ('schema', ?) ON CONFLICT (key) DO NOTHING"), (str(SCHEMA_VERSION),))

    def _migrate(self) -> None:
        """Bring a database made by an older hub up to SCHEMA_VERSION, keeping everything in it."""
        try:
            found = self.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchall()
        except Exception:  # a new database: no tables yet
            if self.begin == "BEGIN":
                self.db.rollback()
            return
        version = int(found[0][0]) if found else SCHEMA_VERSION
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self._held_transaction():  # each version's changes whole, or not at all (the caller holds self.lock)
                for change in MIGRATIONS.get(target, []):
                    if callable(change):
                        change(self)
                    else:
                        self.db.execute(change)
                self.db.execute(self.sql("UPDATE meta SET value = ? WHERE key = 'schema'"), (str(target),))

    def _add_column(self, table: str, column: str, definition: str) -> None:
        """ALTER TABLE ... ADD COLUMN, unless the table has it already (a database whose schema mark
        was set back by hand): a migration that can run twice."""
        cursor = self.db.execute(f"SELECT * FROM {table} LIMIT 0")
        if column not in [d[0] for d in cursor.description]:
            self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")

    def _count_all_answers(self) -> None:
        """Fill question_results from the statements already stored (once, by migration 3)."""
        tallies: dict[tuple[str, str], dict] = {}
        for curriculum, learner, object_id, body in self.db.execute(
                "SELECT curriculum, learner, object, body FROM statements WHERE verb = 'answered'").fetchall():
            count_answer(tallies.setdefault((curriculum, learner), {}), curriculum, object_id, orjson.loads(body))
        for (curriculum, learner), tally in tallies.items():
            self._add_answers(curriculum, learner, tally, totals=False)  # question_totals: migration 6

    def _summarise_all(self) -> None:
        """Fill lesson_progress and activity_days from the statements already stored (once, by migration 4),
        replacing whatever they held: made afresh, never added to."""
        for table in ("lesson_progress", "activity_days"):
            self.db.execute(f"DELETE FROM {table}")
        tallies: dict[tuple[str, str], tuple[dict, dict]] = {}
        rows = self.db.execute("SELECT curriculum, learner, verb, object, timestamp, CASE WHEN verb IN "
                               f"({', '.join(repr(v) for v in SUMMARISED_BODIES)}) THEN body END FROM statements")
        for curriculum, learner, verb, object_id, timestamp, body in rows:
            cells, days = tallies.setdefault((curriculum, learner), ({}, {}))
            summarise(cells, days, curriculum, verb, object_id, timestamp, orjson.loads(body) if body else None)
        for (curriculum, learner), (cells, days) in tallies.items():
            self._add_summaries(curriculum, learner, cells, days, totals=False)  # lesson_totals: migration 6

    def _total_all(self) -> None:
        """Make question_totals and lesson_totals afresh from question_results and lesson_progress
        (migration 6), replacing whatever they held."""
        self.db.execute("DELETE FROM question_totals")
        self.db.execute("INSERT INTO question_totals SELECT curriculum, lesson, quiz, question, "
                        "SUM(CASE WHEN answers > 0 THEN 1 ELSE 0 END), SUM(CASE WHEN answers > 0 AND correct > 0 THEN 1 ELSE 0 END) "
                        "FROM question_results GROUP BY curriculum, lesson, quiz, question")
        self.db.execute("DELETE FROM lesson_totals")
        totals: dict[tuple[str, str], list[int]] = {}
        for curriculum, lesson, completed, attempts, best in self.db.execute(
                "SELECT curriculum, lesson, completed, attempts, best FROM lesson_progress"):  # one row at a time
            total = totals.setdefault((curriculum, lesson), [0] * 5)
            for n, value in enumerate(lesson_part(completed, attempts, best)):
                total[n] += value
        self.db.cursor().executemany(self.sql("INSERT INTO lesson_totals VALUES (?, ?, ?, ?, ?, ?, ?)"),
                                     [(*key, *total) for key, total in sorted(totals.items())])

    def _total_all_learners(self) -> None:
        """Make learner_totals and learner_subjects afresh from learners and lesson_progress (migration 7)."""
        self.db.execute("DELETE FROM learner_totals")
        self.db.execute("DELETE FROM learner_subjects")
        parts: dict[tuple[str, str], list] = {}
        for curriculum, learner, *row in self.db.execute(
                "SELECT curriculum, learner, lesson, completed, attempts, best, last FROM lesson_progress"):  # one row at a time
            parts.setdefault((curriculum, learner), []).append(row)
        subjects: dict[str, set[str]] = {}
        totals = {key: learner_part(rows) for key, rows in parts.items()}
        for (curriculum, _), part in totals.items():
            subjects.setdefault(curriculum, {""}).update(part)
        self.db.cursor().executemany(self.sql("INSERT INTO learner_subjects VALUES (?, ?)"),
                                     [(c, s) for c, found in sorted(subjects.items()) for s in sorted(found) if s])
        rows = []
        for curriculum, learner, name in self.db.execute("SELECT curriculum, id, name FROM learners ORDER BY curriculum, id").fetchall():
            part = totals.get((curriculum, learner), {})
            rows += [(curriculum, learner, subject, name, *part.get(subject, (0, 0, 0, None)))
                     for subject in sorted(subjects.get(curriculum, {""}))]
            if len(rows) >= 5000:
                self.db.cursor().executemany(self.sql("INSERT INTO learner_totals VALUES (?, ?, ?, ?, ?, ?, ?, ?)"), rows)
                rows = []
        self.db.cursor().executemany(self.sql("INSERT INTO learner_totals VALUES (?, ?, ?, ?, ?, ?, ?, ?)"), rows)

    def _total_learner(self, curriculum: str, learner: str) -> None:
        """Make one learner's rows of learner_totals again from their lesson_progress and name (in the
        transaction that changed them), writing only the rows that changed; a subject no learner of
        the curriculum had yet gets a row of zeros for every learner first."""
        found = self._one("SELECT name FROM learners WHERE curriculum = ? AND id = ?", curriculum, learner)
        if found is None:  # summaries before the profile (hub/store.py _insert writes it after): made then
            return
        name = found[0]
        part = learner_part(self.db.execute(self.sql(
            "SELECT lesson, completed, attempts, best, last FROM lesson_progress WHERE curriculum = ? AND learner = ?"),
            (curriculum, learner)).fetchall())
        subjects = {row[0] for row in self.db.execute(self.sql("SELECT subject FROM learner_subjects WHERE curriculum = ?"),
                                                      (curriculum,)).fetchall()}
        for subject in sorted(set(part) - subjects - {""}):
            self.db.execute(self.sql("INSERT INTO learner_subjects VALUES (?, ?) ON CONFLICT (curriculum, subject) DO NOTHING"),
                            (curriculum, subject))
            self.db.execute(self.sql("INSERT INTO learner_totals SELECT curriculum, id, ?, name, 0, 0, 0, NULL FROM learners "
                                     "WHERE curriculum = ? ON CONFLICT (curriculum, learner, subject) DO NOTHING"), (subject, curriculum))
            subjects.add(subject)
        old = {row[0]: tuple(row[1:]) for row in self.db.execute(self.sql(
            "SELECT subject, name, lessons, done, stuck, last FROM learner_totals WHERE curriculum = ? AND learner = ?"),
            (curriculum, learner)).fetchall()}
        rows = [(curriculum, learner, subject, name, *part.get(subject, (0, 0, 0, None))) for subject in sorted(subjects | {""})]
        changed = [row for row in rows if old.get(row[2]) != row[3:]]
        if changed:
            self.db.cursor().executemany(self.sql(
                "INSERT INTO learner_totals VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (curriculum, learner, subject) DO UPDATE SET "
                "name = excluded.name, lessons = excluded.lessons, done = excluded.done, stuck = excluded.stuck, last = excluded.last"),
                changed)

    def _add_lesson_totals(self, changes: list[tuple]) -> None:
        """Add [(curriculum, lesson, completed, tried, attempts, best in millionths, passed)] to lesson_totals."""
        if changes:
            self.db.cursor().executemany(self.sql(
                "INSERT INTO lesson_totals VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (curriculum, lesson) DO UPDATE SET "
                "completed = lesson_totals.completed + excluded.completed, tried = lesson_totals.tried + excluded.tried, "
                "attempts = lesson_totals.attempts + excluded.attempts, "
                "best_millionths = lesson_totals.best_millionths + excluded.best_millionths, "
                "passed = lesson_totals.passed + excluded.passed"), sorted(changes))

    def _resummarise(self, curriculum: str, learners: set[str]) -> None:
        """Make the learners' summaries again from their statements: after a statement of theirs was
        replaced (a best score or a first date cannot be taken away from a tally)."""
        for learner in sorted(learners):
            self._add_lesson_totals([(curriculum, lesson, *(-v for v in lesson_part(completed, attempts, best)))
                                     for lesson, completed, attempts, best in self.db.execute(self.sql(
                                         "SELECT lesson, completed, attempts, best FROM lesson_progress WHERE curriculum = ? AND learner = ?"),
                                         (curriculum, learner)).fetchall()])
            for table in ("lesson_progress", "activity_days"):
                self.db.execute(self.sql(f"DELETE FROM {table} WHERE curriculum = ? AND learner = ?"), (curriculum, learner))
            cells: dict = {}
            days: dict = {}
            for verb, object_id, timestamp, body in self.db.execute(self.sql(
                    "SELECT verb, object, timestamp, body FROM statements WHERE curriculum = ? AND learner = ?"),
                    (curriculum, learner)).fetchall():
                summarise(cells, days, curriculum, verb, object_id, timestamp, orjson.loads(body) if verb in SUMMARISED_BODIES else None)
            self._add_summaries(curriculum, learner, cells, days)
            self._total_learner(curriculum, learner)

    def _add_summaries(self, curriculum: str, learner: str, cells: dict, days: dict, totals: bool = True) -> None:
        """Add tallies (summarise) to the learner's rows of lesson_progress and activity_days, and
        (totals) the change of each merged cell to lesson_totals: the old cells are read first, and
        merged here as the upsert below merges them."""
        if cells and totals:
            lessons, old = sorted(cells), {}
            for chunk in range(0, len(lessons), 500):
                part = lessons[chunk:chunk + 500]
                old.update((row[0], row[1:]) for row in self.db.execute(self.sql(
                    "SELECT lesson, completed, attempts, best FROM lesson_progress WHERE curriculum = ? AND learner = ? "
                    f"AND lesson IN ({', '.join('?' * len(part))})"), (curriculum, learner, *part)).fetchall())
            changes = []
            for lesson in lessons:
                _, completed, best, attempts, *_ = cells[lesson]
                before = old.get(lesson)
                if before is None:
                    was, now_is = (0,) * 5, lesson_part(completed, attempts, best)
                else:
                    merged = before[2] if best is None or (before[2] is not None and not best > before[2]) else best
                    was = lesson_part(*before)
                    now_is = lesson_part(max(before[0], completed), before[1] + attempts, merged)
                change = tuple(a - b for a, b in zip(now_is, was, strict=True))
                if any(change):
                    changes.append((curriculum, lesson, *change))
            self._add_lesson_totals(changes)
        if cells:
            self.db.cursor().executemany(self.sql(
                "INSERT INTO lesson_progress VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (curriculum, learner, lesson) DO UPDATE SET "
                "opened = CASE WHEN excluded.opened > lesson_progress.opened THEN excluded.opened ELSE lesson_progress.opened END, "
                "completed = CASE WHEN excluded.completed > lesson_progress.completed THEN excluded.completed "
                "ELSE lesson_progress.completed END, "
                "best = CASE WHEN lesson_progress.best IS NULL OR excluded.best > lesson_progress.best THEN excluded.best "
                "ELSE lesson_progress.best END, "
                "attempts = lesson_progress.attempts + excluded.attempts, seconds = lesson_progress.seconds + excluded.seconds, "
                "first = CASE WHEN excluded.first < lesson_progress.first THEN excluded.first ELSE lesson_progress.first END, "
                "last = CASE WHEN excluded.last > lesson_progress.last THEN excluded.last ELSE lesson_progress.last END"),
                [(curriculum, learner, lesson, *cell) for lesson, cell in sorted(cells.items())])
        if days:
            self.db.cursor().executemany(self.sql(
                "INSERT INTO activity_days VALUES (?, ?, ?, ?, ?) ON CONFLICT (curriculum, learner, day) DO UPDATE SET "
                "statements = activity_days.statements + excluded.statements, seconds = activity_days.seconds + excluded.seconds"),
                [(curriculum, learner, day, count, seconds) for day, (count, seconds) in sorted(days.items())])

    def _add_answers(self, curriculum: str, learner: str, tally: dict, totals: bool = True) -> None:
        """Add a tally of answers (count_answer) to the learner's rows of question_results, and
        (totals) the change of each row's part (question_part) to question_totals."""
        if tally and totals:
            old = {(lesson, quiz, question): (answers, right) for lesson, quiz, question, answers, right in self.db.execute(self.sql(
                "SELECT lesson, quiz, question, answers, correct FROM question_results WHERE curriculum = ? AND learner = ?"),
                (curriculum, learner)).fetchall()}
            changes = []
            for key, (answers, right) in sorted(tally.items()):
                before = old.get(key, (0, 0))
                was, now_is = question_part(*before), question_part(before[0] + answers, before[1] + right)
                if was != now_is:
                    changes.append((curriculum, *key, now_is[0] - was[0], now_is[1] - was[1]))
            if changes:
                self.db.cursor().executemany(self.sql(
                    "INSERT INTO question_totals VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (curriculum, lesson, quiz, question) DO UPDATE SET "
                    "learners = question_totals.learners + excluded.learners, "
                    "right_learners = question_totals.right_learners + excluded.right_learners"), changes)
        if tally:
            self.db.cursor().executemany(self.sql(
                "INSERT INTO question_results VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (curriculum, lesson, quiz, question, learner) "
                "DO UPDATE SET answers = question_results.answers + excluded.answers, correct = question_results.correct + excluded.correct"),
                [(curriculum, lesson, quiz, question, learner, answers, right)
                 for (lesson, quiz, question), (answers, right) in tally.items()])

    def _add_unverified(self, curriculum: str, learner: str, count: int) -> None:
        if count:
            self.db.execute(self.sql("UPDATE learners SET unverified = unverified + ? WHERE curriculum = ? AND id = ?"),
                            (count, curriculum, learner))

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
        data.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not url:  # learners' names and progress: for the hub's user alone (SQLite makes -wal and -shm alike)
            os.close(os.open(data / DATABASE, os.O_WRONLY | os.O_CREAT, 0o600))
            os.chmod(data / DATABASE, 0o600)
        store = cls(url or str(data / DATABASE))  # connects and makes the tables, or fails here
        if url:
            (data / DB_FILE).write_text(url + "\n", encoding="utf-8")
            (data / DB_FILE).chmod(0o600)  # it may hold a password
        return store

    async def add_file(self, checked: Checked, source: str | None = None, enrolment: str | None = None,
                       teacher: bool = False) -> Stored:
        """Store a checked progress file (hub/progress.py); returns what became of it once committed,
        or raises Refused (a 4xx for this file alone). `source` is the school hub it came through
        (at a central), `enrolment` a class code the device typed, `teacher` a signed-in teacher's
        upload. Files arriving while a commit flushes to disk wait for the next one and are
        committed together: one disk flush for many uploads, one savepoint each."""
        done = asyncio.get_running_loop().create_future()
        self.waiting.append(((checked, source, enrolment, teacher), done))
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
                results: list = []
                try:
                    if not self.lock.acquire(blocking=False):  # a sync or a setting is writing: wait, off the loop
                        await asyncio.to_thread(self.lock.acquire)
                    if not self._lock_writers(blocking=False):  # another process is writing
                        await asyncio.to_thread(self._lock_writers)
                    try:
                        self._begin()
                        try:
                            for upload, _ in batch:  # a large file is inserted in a thread: the loop goes on serving
                                results.append(await asyncio.to_thread(self._insert_alone, *upload) if len(upload[0].rows) > 500
                                               else self._insert_alone(*upload))
                            await asyncio.to_thread(self.db.execute, "COMMIT")
                        except BaseException:
                            self._rollback()
                            raise
                    finally:
                        self._unlock_writers()
                        self.lock.release()
                except Exception as error:  # the commit failed (a full disk): nothing of the batch is stored
                    failure = error if isinstance(error, StoreFailed) else StoreFailed(error)
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(failure)
                    continue
                for (_, done), result in zip(batch, results, strict=True):
                    if done.done():  # its client has gone: what is committed stays
                        continue
                    if isinstance(result, Exception):
                        done.set_exception(result)
                    else:
                        done.set_result(result)
        finally:
            self.committing = False

    def _rollback(self) -> None:
        """Roll back, keeping the error that made us: SQLite has often rolled back by itself (a full
        disk), and its "cannot rollback" must not hide why."""
        try:
            self.db.execute("ROLLBACK")
        except Exception:
            pass

    def _insert_alone(self, checked: Checked, source, enrolment, teacher):
        """One file, in a savepoint of the group's transaction: its result, or the exception that
        refused it (Refused, or an error of the database for this file alone)."""
        self.db.execute("SAVEPOINT upload")
        try:
            result = self._insert(checked, source, enrolment, teacher)
        except Exception as error:
            try:
                self.db.execute("ROLLBACK TO SAVEPOINT upload")
                self.db.execute("RELEASE SAVEPOINT upload")
            except Exception:  # the database ended the whole transaction (SQLite does on a full disk)
                raise StoreFailed(error) from error
            return error if isinstance(error, Refused) else StoreFailed(error)
        self.db.execute("RELEASE SAVEPOINT upload")
        return result

    def _one(self, sql: str, *args):
        rows = self.db.execute(self.sql(sql), args).fetchall()
        return rows[0] if rows else None

    def _insert(self, checked: Checked, source: str | None, enrolment: str | None, teacher: bool) -> Stored:
        curriculum, profile, received = checked.curriculum, checked.profile, now()
        learner = profile["id"]
        keys = {row[0] for row in self.db.execute(self.sql(
            "SELECT key FROM learner_keys WHERE curriculum = ? AND learner = ?"), (curriculum, learner)).fetchall()}
        known_learner = self._one("SELECT name FROM learners WHERE curriculum = ? AND id = ?", curriculum, learner) is not None
        key = checked.key
        update_profile, how = True, None
        if checked.signed:
            how = self._admit_key(checked, keys, enrolment)
        elif source is not None:  # a school hub vouches for the file (its credentials were checked)
            how = "school" if key and key not in keys else None
        else:  # unsigned: a file saved before learners had keys
            if keys and not teacher:
                raise Refused(403, "this learner's progress is signed on their device, and this file is not: send it from "
                                   "the learner's device, or a teacher can load it on the hub's USB page (it is kept as unverified)")
            update_profile = not known_learner  # never renames anyone
        if how:
            self.db.execute(self.sql("INSERT INTO learner_keys VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"),
                            (curriculum, learner, key, how, received))
            keys.add(key)
        verified = []
        for n, row in enumerate(checked.rows, 1):
            if row.bound:
                verified.append(True)
            elif row.keyed:  # made with a key other than the signer's: one of this learner's other devices?
                if not any(identity.is_bound(row.id, k) for k in keys):
                    if source is None:
                        raise Refused(422, f"statement {n} ({row.id}) was recorded on another learner's device: a copied file "
                                           "is not accepted as someone else's progress")
                    verified.append(False)
                else:
                    verified.append(True)
            else:
                verified.append(False)
        stored = {}
        ids = [row.id for row in checked.rows]
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            stored.update((r[0], (r[1], r[2])) for r in self.db.execute(self.sql(
                f"SELECT id, learner, body FROM statements WHERE id IN ({', '.join('?' * len(part))})"), part).fetchall())
        new_rows, conflicts, known, answers, cells, active_days = [], [], 0, {}, {}, {}
        for row, is_verified in zip(checked.rows, verified, strict=True):
            found = stored.get(row.id)
            if found is None:
                stored[row.id] = (learner, row.body)  # the same id twice in one file: the second is compared
                new_rows.append((row.id, curriculum, learner, row.verb, row.object, row.timestamp, row.body, received, source,
                                 int(is_verified)))
                if row.verb == "answered":
                    count_answer(answers, curriculum, row.object, row.statement)
                summarise(cells, active_days, curriculum, row.verb, row.object, row.timestamp, row.statement)
            elif found[0] == learner and (found[1] == row.body or orjson.loads(found[1]) == row.statement):
                known += 1
            else:
                conflicts.append(row.id)
                digest = hashlib.sha256(f"{learner}\n{row.body}".encode()).hexdigest()
                self.db.execute(self.sql("INSERT INTO conflicts VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (digest) DO NOTHING"),
                                (digest, row.id, curriculum, learner, row.body, int(is_verified), source, received))
        if new_rows:
            self.db.cursor().executemany(self.sql(
                "INSERT INTO statements (id, curriculum, learner, verb, object, timestamp, body, received, source, verified) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"), new_rows)
            self._add_answers(curriculum, learner, answers)
            self._add_summaries(curriculum, learner, cells, active_days)
            days: dict[str, int] = {}
            for row in new_rows:
                days[row[5][:10]] = days.get(row[5][:10], 0) + 1
            for day, count in sorted(days.items()):
                self.db.execute(self.sql(
                    "INSERT INTO learner_days VALUES (?, ?, ?, ?) ON CONFLICT (curriculum, learner, day) DO UPDATE SET "
                    "statements = learner_days.statements + excluded.statements"), (curriculum, learner, day, count))
                total = self._one("SELECT statements FROM learner_days WHERE curriculum = ? AND learner = ? AND day = ?",
                                  curriculum, learner, day)[0]
                if total > STATEMENTS_PER_LEARNER_DAY and source is None:
                    raise Refused(429, f"this file would give the learner more than {STATEMENTS_PER_LEARNER_DAY:,} steps on "
                                       f"{day}, more than anyone makes in a day: it was not stored")
        if update_profile:
            self.db.execute(self.sql(
                "INSERT INTO learners (curriculum, id, name, colour, picture, updated, school) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (curriculum, id) DO UPDATE SET "
                "name = excluded.name, colour = excluded.colour, picture = excluded.picture, updated = excluded.updated, "
                "school = CASE WHEN excluded.school <> '' THEN excluded.school ELSE learners.school END"),
                (curriculum, learner, profile["name"], profile["colour"], profile["picture"], received, source or ""))
        if source is not None and "classes" in profile:
            self._set_school_classes(curriculum, source, learner, profile["classes"])
        elif source is None and enrolment:
            self._enrol_by_code(curriculum, learner, enrolment)
        if new_rows or update_profile:
            self._total_learner(curriculum, learner)
        self._add_unverified(curriculum, learner, sum(1 for row in new_rows if not row[9]))
        return Stored(new=len(new_rows), known=known, conflicts=conflicts)

    def _admit_key(self, checked: Checked, keys: set[str], enrolment: str | None) -> str | None:
        """How the signing key comes to be this learner's ('derived', 'first', 'enrolled'), None if it
        is already, or Refused: a learner's id is theirs once a key is bound to it."""
        key, learner = checked.key, checked.profile["id"]
        if key in keys:
            return None
        if identity.learner_id(key) == learner:
            return "derived"  # the id was made from this key: nobody else can hold it
        if enrolment and self._enrolment_valid(checked.curriculum, enrolment):
            return "enrolled"
        if identity.is_keyed(learner):
            raise Refused(403, "this learner was made on another device: ask your teacher for a class code "
                               "(dashboard, Enrol devices) and type it in the learners dialog")
        if not keys:
            return "first"  # a learner from before keys: the first key that signs for it
        raise Refused(403, "this learner is registered with another device's key: ask your teacher for a class code "
                           "(dashboard, Enrol devices) and type it in the learners dialog")

    def _set_school_classes(self, curriculum: str, school: str, learner: str, classes: list[dict]) -> None:
        """At a central: the learner's classes as their school hub sends them (hub/progress.py checked
        them), kept under that school alone: another school's class of the same id is another class."""
        for item in classes[:MAX_CLASSES_PER_LEARNER]:
            self.db.execute(self.sql("INSERT INTO classes VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (curriculum, school, id) DO UPDATE SET "
                                     "name = excluded.name, parent = excluded.parent"),
                            (curriculum, school, item["id"], item["name"], item.get("parent"), now()))
        self.db.execute(self.sql("DELETE FROM class_members WHERE curriculum = ? AND school = ? AND learner = ?"),
                        (curriculum, school, learner))
        self.db.cursor().executemany(self.sql("INSERT INTO class_members VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"),
                                     [(curriculum, school, item["id"], learner) for item in classes[:MAX_CLASSES_PER_LEARNER]])

    def _enrol_by_code(self, curriculum: str, learner: str, code: str) -> None:
        """A device's upload with a valid class code of a class: its learner joins that class."""
        found = self._one("SELECT class, expires FROM enrolments WHERE code = ? AND curriculum = ?", code.strip().upper(), curriculum)
        if found is None or found[0] is None or found[1] <= now():
            return
        held = self._one("SELECT COUNT(*) FROM class_members WHERE curriculum = ? AND school = '' AND learner = ?", curriculum, learner)[0]
        if held < MAX_CLASSES_PER_LEARNER and self._one("SELECT 1 FROM classes WHERE curriculum = ? AND school = '' AND id = ?",
                                                       curriculum, found[0]):
            self.db.execute(self.sql("INSERT INTO class_members VALUES (?, '', ?, ?) ON CONFLICT DO NOTHING"), (curriculum, found[0], learner))

    def _enrolment_valid(self, curriculum: str, code: str) -> bool:
        found = self._one("SELECT expires FROM enrolments WHERE code = ? AND curriculum = ?", code.strip().upper(), curriculum)
        return found is not None and found[0] > now()

    # Class codes for enrolling devices, and conflicts for the teacher to resolve (hub/dashboard.py).

    def add_enrolment(self, curriculum: str, label: str, hours: float = 8, class_id: str | None = None) -> tuple[str, str]:
        """A new class code, valid for `hours`: (code, expires); with `class_id`, a device's upload
        that comes with it also enrols its learner in that class (of this hub's own classes)."""
        import secrets
        alphabet = "ACDEFGHJKMNPQRTUVWXY34679"  # no 0/O, 1/I/L, 2/Z, 5/S, 8/B to misread
        code = "".join(secrets.choice(alphabet) for _ in range(8))
        expires = (datetime.now(UTC) + timedelta(hours=hours)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        with self._transaction():
            self.db.execute(self.sql("INSERT INTO enrolments (code, curriculum, label, created, expires, class) VALUES (?, ?, ?, ?, ?, ?)"),
                            (code, curriculum, label[:100], now(), expires, class_id))
        return code, expires

    def enrolments(self, curriculum: str) -> list[tuple[str, str, str, str | None]]:
        """Class codes still valid: [(code, label, expires, class name or None)]."""
        return self.query("SELECT e.code, e.label, e.expires, c.name FROM enrolments e LEFT JOIN classes c ON c.curriculum = e.curriculum "
                          "AND c.school = '' AND c.id = e.class WHERE e.curriculum = ? AND e.expires > ? ORDER BY e.expires DESC",
                          curriculum, now())

    # Classes and groups (docs/hub.md): a school hub's own (school ''), made by a signed-in teacher.

    def add_class(self, curriculum: str, name: str, parent: str | None = None) -> str | None:
        """A new class (a group, with a parent class), its id; None if the name is empty or too long,
        the parent unknown, or the curriculum has MAX_CLASSES already."""
        import secrets
        name = name.strip()
        if not name or len(name) > MAX_CLASS_NAME:
            return None
        class_id = f"c-{secrets.token_hex(4)}"
        with self._transaction():
            if self._one("SELECT COUNT(*) FROM classes WHERE curriculum = ? AND school = ''", curriculum)[0] >= MAX_CLASSES:
                return None
            if parent and not self._one("SELECT 1 FROM classes WHERE curriculum = ? AND school = '' AND id = ?", curriculum, parent):
                return None
            self.db.execute(self.sql("INSERT INTO classes VALUES (?, '', ?, ?, ?, ?)"), (curriculum, class_id, name, parent or None, now()))
        return class_id

    def add_class_session(self, curriculum: str, school: str, class_id: str, class_name: str, lesson: str, statement: dict) -> bool:
        """Keep a lesson taught to a class (hub/tv.py): False when the curriculum has MAX_CLASS_SESSIONS."""
        with self._transaction():
            if self._one("SELECT COUNT(*) FROM class_sessions WHERE curriculum = ?", curriculum)[0] >= MAX_CLASS_SESSIONS:
                return False
            self.db.execute(self.sql("INSERT INTO class_sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
                            (statement["id"], curriculum, school, class_id, class_name, lesson, statement["timestamp"],
                             orjson.dumps(statement).decode()))
        return True

    def class_sessions(self, curriculum: str, school: str, class_id: str, limit: int = 200) -> list[tuple[str, str, str]]:
        """The lessons taught to a class, newest first: [(lesson, timestamp, statement JSON)]."""
        return self.query("SELECT lesson, timestamp, body FROM class_sessions WHERE curriculum = ? AND school = ? AND class = ? "
                          "ORDER BY timestamp DESC LIMIT ?", curriculum, school, class_id, limit)

    def classes(self, curriculum: str, school: str = "") -> list[tuple[str, str, str | None, int]]:
        """A school's classes (this hub's own: ''): [(id, name, parent or None, members)], by name."""
        return self.query("SELECT c.id, c.name, c.parent, (SELECT COUNT(*) FROM class_members m WHERE m.curriculum = c.curriculum "
                          "AND m.school = c.school AND m.class = c.id) FROM classes c WHERE c.curriculum = ? AND c.school = ? "
                          "ORDER BY c.name, c.id", curriculum, school)

    def class_of(self, curriculum: str, school: str, class_id: str) -> tuple[str, str, str | None] | None:
        found = self.query("SELECT id, name, parent FROM classes WHERE curriculum = ? AND school = ? AND id = ?", curriculum, school, class_id)
        return found[0] if found else None

    def set_class_members(self, curriculum: str, class_id: str, learners: list[str]) -> bool:
        """Make the learners (of this hub) the members of one of this hub's classes, and no one else;
        False for a class this hub has not, or a learner who would be in too many classes."""
        with self._transaction():
            if not self._one("SELECT 1 FROM classes WHERE curriculum = ? AND school = '' AND id = ?", curriculum, class_id):
                return False
            self.db.execute(self.sql("DELETE FROM class_members WHERE curriculum = ? AND school = '' AND class = ?"), (curriculum, class_id))
            for learner in dict.fromkeys(learners):
                if not self._one("SELECT 1 FROM learners WHERE curriculum = ? AND id = ?", curriculum, learner):
                    continue
                if self._one("SELECT COUNT(*) FROM class_members WHERE curriculum = ? AND school = '' AND learner = ?",
                             curriculum, learner)[0] >= MAX_CLASSES_PER_LEARNER:
                    raise Refused(422, f"a learner is in at most {MAX_CLASSES_PER_LEARNER} classes")
                self.db.execute(self.sql("INSERT INTO class_members VALUES (?, '', ?, ?)"), (curriculum, class_id, learner))
        return True

    def class_members(self, curriculum: str, school: str, class_id: str) -> set[str]:
        return {row[0] for row in self.query("SELECT learner FROM class_members WHERE curriculum = ? AND school = ? AND class = ?",
                                             curriculum, school, class_id)}

    def learner_classes(self, curriculum: str, learner: str) -> list[dict]:
        """This hub's classes of a learner, as profile.classes forwards them (docs/progress.schema.json)."""
        rows = self.query("SELECT c.id, c.name, c.parent FROM class_members m JOIN classes c ON c.curriculum = m.curriculum "
                          "AND c.school = m.school AND c.id = m.class WHERE m.curriculum = ? AND m.school = '' AND m.learner = ? "
                          "ORDER BY c.id LIMIT ?", curriculum, learner, MAX_CLASSES_PER_LEARNER)
        return [{"id": i, "name": n, **({"parent": p} if p else {})} for i, n, p in rows]

    def open_conflicts(self, curriculum: str, limit: int = 200) -> list[dict]:
        """The newest conflicts not yet resolved, beside the statement stored under the same id, with
        both learners' names (None for a learner the hub has no profile of)."""
        rows = self.query("SELECT c.digest, c.id, c.learner, c.body, c.verified, c.source, c.received, s.learner, s.body, s.verified, "
                          "n.name, sn.name FROM conflicts c LEFT JOIN statements s ON s.id = c.id "
                          "LEFT JOIN learners n ON n.curriculum = c.curriculum AND n.id = c.learner "
                          "LEFT JOIN learners sn ON sn.curriculum = c.curriculum AND sn.id = s.learner "
                          "WHERE c.curriculum = ? AND c.resolved IS NULL ORDER BY c.received DESC LIMIT ?", curriculum, limit)
        keys = ("digest", "id", "learner", "body", "verified", "source", "received", "stored_learner", "stored_body", "stored_verified",
                "name", "stored_name")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def question_results(self, curriculum: str, learners: list[str] | None = None,
                         lesson: str | None = None) -> list[tuple[str, int, int, str, int, int]]:
        """[(lesson, quiz, question, learner, answers, right answers)] for every question a learner
        (of `learners`, or every learner) answered (of one lesson, or of every lesson): the summary
        kept at insert (question_results), never a read of the statements."""
        one, only = (" AND lesson = ?", [lesson]) if lesson is not None else ("", [])
        if learners is None:
            return self.query("SELECT lesson, quiz, question, learner, answers, correct FROM question_results "
                              f"WHERE curriculum = ?{one} AND answers > 0 ORDER BY lesson, quiz, question", curriculum, *only)
        rows = []
        for chunk in range(0, len(learners), 500):
            part = learners[chunk:chunk + 500]
            rows += self.query("SELECT lesson, quiz, question, learner, answers, correct FROM question_results "
                               f"WHERE curriculum = ?{one} AND answers > 0 AND learner IN ({', '.join('?' * len(part))})",
                               curriculum, *only, *part)
        return sorted(rows, key=lambda row: row[:3])  # as ORDER BY lesson, quiz, question, stable: no learner order promised

    def question_totals(self, curriculum: str, lesson: str | None = None) -> dict[tuple[str, int, int], tuple[int, int]]:
        """{(lesson, quiz, question): (learners who answered it, learners who got it right at least
        once)} over every learner, for questions someone answered (question_totals), of one lesson
        or of every lesson."""
        one, only = (" AND lesson = ?", [lesson]) if lesson is not None else ("", [])
        return {(lesson, quiz, question): (tried, right) for lesson, quiz, question, tried, right in self.query(
            f"SELECT lesson, quiz, question, learners, right_learners FROM question_totals WHERE curriculum = ?{one} AND learners > 0",
            curriculum, *only)}

    def unverified_counts(self, curriculum: str) -> dict[str, int]:
        """{learner: how many of their statements are unverified}, for learners who have any."""
        return dict(self.query("SELECT id, unverified FROM learners WHERE curriculum = ? AND unverified > 0", curriculum))

    def count_open_conflicts(self, curriculum: str) -> int:
        return self.query("SELECT COUNT(*) FROM conflicts WHERE curriculum = ? AND resolved IS NULL", curriculum)[0][0]

    def resolve_conflict(self, curriculum: str, digest: str, use_new: bool) -> bool:
        """The teacher's choice: keep the stored statement, or put the conflicting copy in its place
        (the stored one is then kept aside as a resolved conflict: nothing is deleted)."""
        with self._transaction():
            found = self.db.execute(self.sql("SELECT id, learner, body, verified, source FROM conflicts WHERE digest = ? AND "
                                             "curriculum = ? AND resolved IS NULL"), (digest, curriculum)).fetchall()
            if not found:
                return False
            statement_id, learner, body, verified, source = found[0]
            when = now()
            if use_new:
                old = self.db.execute(self.sql("SELECT learner, body, verified, source FROM statements WHERE id = ?"),
                                      (statement_id,)).fetchall()
                if old:
                    old_digest = hashlib.sha256(f"{old[0][0]}\n{old[0][1]}".encode()).hexdigest()
                    self.db.execute(self.sql("INSERT INTO conflicts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (digest) DO UPDATE "
                                             "SET resolved = excluded.resolved"),
                                    (old_digest, statement_id, curriculum, old[0][0], old[0][1], old[0][2], old[0][3], when,
                                     f"replaced {when}"))
                    replaced = orjson.loads(old[0][1])
                    taken: dict = {}
                    if replaced["verb"]["id"].endswith("/answered"):
                        count_answer(taken, curriculum, replaced["object"]["id"], replaced, -1)
                    self._add_answers(curriculum, old[0][0], taken)
                    self._add_unverified(curriculum, old[0][0], -(not old[0][2]))
                statement = orjson.loads(body)
                added: dict = {}
                if statement["verb"]["id"].endswith("/answered"):
                    count_answer(added, curriculum, statement["object"]["id"], statement)
                self._add_answers(curriculum, learner, added)
                self._add_unverified(curriculum, learner, int(not verified))
                self.db.execute(self.sql("UPDATE statements SET learner = ?, verb = ?, object = ?, timestamp = ?, body = ?, "
                                         "verified = ?, source = ?, forwarded = NULL WHERE id = ?"),
                                (learner, statement["verb"]["id"].rsplit("/", 1)[-1], statement["object"]["id"], statement["timestamp"],
                                 body, verified, source, statement_id))
                self._resummarise(curriculum, {learner} | ({old[0][0]} if old else set()))
            self.db.execute(self.sql("UPDATE conflicts SET resolved = ? WHERE digest = ?"),
                            (f"{'used' if use_new else 'kept the stored one'} {when}", digest))
            return True

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
        with self.lock, self._held_transaction():
            yield

    @contextlib.contextmanager
    def _held_transaction(self):
        """The same, for a caller that already holds the connection (self.lock)."""
        self._lock_writers()
        try:
            self._begin()
            try:
                yield
            except BaseException:
                self._rollback()
                raise
            self.db.execute("COMMIT")
        finally:
            self._unlock_writers()

    def _begin(self) -> None:
        """Start a write transaction. On PostgreSQL, first take a lock that every writing process
        takes in turn (as SQLite's file lock): lesson_totals and question_totals are rows that most
        uploads change, and writers that took their row locks in different orders would deadlock."""
        self.db.execute(self.begin)
        if self.writers is None:
            self.db.execute("SELECT pg_advisory_xact_lock(32476774833612140)")  # b"satchel" as a number; released at COMMIT/ROLLBACK

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

    def _open_reader(self):
        reader = self.connect()
        self.all_readers.append(reader)
        return reader

    def query(self, sql: str, *args) -> list[tuple]:
        """A read, on an idle reader connection (another is opened while fewer than READERS are)."""
        with self.reader_slots:
            try:
                reader = self.readers.get_nowait()
            except queue.Empty:  # every one opened is in use, and fewer than READERS are
                reader = self._open_reader()
            try:
                return list(reader.execute(self.sql(sql), args).fetchall())
            finally:
                self.readers.put(reader)

    def close(self) -> None:
        self.db.close()
        for reader in self.all_readers:
            reader.close()
        if self.writers is not None:
            self.writers.close()

    def hub_id(self) -> str:
        """This hub's id, made at `satchel hub init` (or the first time it is asked for)."""
        import secrets
        self.set_meta("hub_id", f"hub-{secrets.token_hex(6)}", replace=False)
        return self.meta("hub_id")

    # Statements an upstream refused (hub/upstream.py): set aside, with the reason, until retried.

    def quarantine(self, ids: list[str], upstream: str, status: int | None, reason: str) -> None:
        when = now()
        with self._transaction():
            self.db.cursor().executemany(self.sql(
                "INSERT INTO upstream_quarantine VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "upstream = excluded.upstream, status = excluded.status, reason = excluded.reason, at = excluded.at"),
                [(i, upstream, status, reason, when) for i in ids])

    def release_quarantined(self) -> int:
        """Put every quarantined statement back in line for the next sync; how many there were."""
        with self._transaction():
            return max(self.db.execute("DELETE FROM upstream_quarantine").rowcount, 0)

    def quarantine_summary(self) -> list[tuple[str, int]]:
        """[(reason, how many statements)], the most frequent first."""
        return [(reason, count) for reason, count in self.query(
            "SELECT reason, COUNT(*) FROM upstream_quarantine GROUP BY reason ORDER BY COUNT(*) DESC, reason")]

    def quarantined_ids(self, reason: str, limit: int = 3) -> list[str]:
        return [row[0] for row in self.query("SELECT id FROM upstream_quarantine WHERE reason = ? ORDER BY at, id LIMIT ?", reason, limit)]

    def sync_counts(self) -> tuple[int, int, int]:
        """(statements forwarded, waiting to be, quarantined)."""
        forwarded, waiting = self.query(
            "SELECT COUNT(forwarded), COUNT(*) - COUNT(forwarded) FROM statements s "
            "WHERE NOT EXISTS (SELECT 1 FROM upstream_quarantine q WHERE q.id = s.id)")[0]
        quarantined = self.query("SELECT COUNT(*) FROM upstream_quarantine")[0][0]
        return forwarded, waiting, quarantined

    # School hubs' credentials, at a central (hub/schools.py): only a hash of each token is kept.

    def add_school(self, school: str, name: str, token_hash: str, region: str = "") -> None:
        with self._transaction():
            self.db.execute(self.sql("INSERT INTO schools (id, name, token_hash, created, revoked, region) VALUES (?, ?, ?, ?, NULL, ?)"),
                            (school, name, token_hash, now(), region[:MAX_REGION]))

    def set_school_region(self, school: str, region: str) -> bool:
        """A school's region (the central's dashboard groups schools by it); False for no such school."""
        with self._transaction():
            return self.db.execute(self.sql("UPDATE schools SET region = ? WHERE id = ?"), (region[:MAX_REGION], school)).rowcount > 0

    def school_regions(self) -> dict[str, tuple[str, str]]:
        """{school id: (name, region)} of every school a central has issued credentials to."""
        return {school: (name, region) for school, name, region in self.query("SELECT id, name, region FROM schools")}

    def revoke_school(self, school: str) -> bool:
        """Revoke a school's credentials; False if there is no such school or it was revoked already."""
        with self._transaction():
            return self.db.execute(self.sql("UPDATE schools SET revoked = ? WHERE id = ? AND revoked IS NULL"),
                                   (now(), school)).rowcount > 0

    def schools(self) -> list[tuple[str, str, str, str | None]]:
        """[(id, name, created, revoked or None)], oldest first."""
        return self.query("SELECT id, name, created, revoked FROM schools ORDER BY created, id")

    def school_credentials(self) -> dict[str, str | None]:
        """{school id: its token's hash, or None once revoked}: empty on a hub that is no central."""
        return {school: None if revoked else token_hash for school, token_hash, revoked in
                self.query("SELECT id, token_hash, revoked FROM schools")}

    # The teacher dashboard's sessions (hub/dashboard.py): a session is open while its row is here
    # and unexpired, in every worker process; signing out or a new password deletes rows.

    def add_teacher_session(self, session: str, seconds: float, password_key: str, password: str) -> bool:
        """Open a session for `seconds`, unless the password (meta `password_key`) is no longer the one
        checked: a sign-in that races `satchel hub set-password` opens nothing. Purges expired sessions."""
        started = now()
        expires = datetime.fromtimestamp(datetime.now(UTC).timestamp() + seconds, UTC)
        expires_text = expires.isoformat(timespec="milliseconds").replace("+00:00", "Z")  # as now(): compared as text
        with self._transaction():
            self.db.execute(self.sql("DELETE FROM teacher_sessions WHERE expires <= ?"), (started,))
            return self.db.execute(self.sql(
                "INSERT INTO teacher_sessions (id, created, expires) SELECT ?, ?, ? "
                "WHERE EXISTS (SELECT 1 FROM meta WHERE key = ? AND value = ?)"),
                (session, started, expires_text, password_key, password)).rowcount > 0

    def teacher_session_open(self, session: str) -> bool:
        return bool(self.query("SELECT 1 FROM teacher_sessions WHERE id = ? AND expires > ?", session, now()))

    def end_teacher_session(self, session: str) -> None:
        with self._transaction():
            self.db.execute(self.sql("DELETE FROM teacher_sessions WHERE id = ?"), (session,))

    def set_teacher_password(self, password_key: str, password: str) -> int:
        """Set the password (meta `password_key`) and end every session, together; how many ended."""
        with self._transaction():
            self.db.execute(self.sql("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
                            (password_key, password))
            return max(self.db.execute("DELETE FROM teacher_sessions").rowcount, 0)

    def count_push_subscriptions(self, curriculum: str) -> int:
        """How many devices are subscribed to a curriculum's notifications (hub/push.py caps it)."""
        return self.query("SELECT COUNT(*) FROM push_subscriptions WHERE curriculum = ?", curriculum)[0][0]
