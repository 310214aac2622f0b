"""The dashboard's per-learner totals (learner_totals, learner_subjects in hub/store.py) kept in the
transaction that stores or replaces a statement, equal to a recount from the statements after
uploads, a learner's files from two devices, a replaced statement and migration 7 on a database
of schema 6; every filtered and sorted view of learner_rows equal to the same view worked out in
Python; and the views with no filter on learners read learner_totals in an index's order, never a
sort or a grouping of every learner (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL)."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from satchel.hub import progress
from satchel.hub.report import Filters, learner_rows, recompute_cells
from satchel.hub.store import SCHEMA_VERSION, Store, learner_part

from tests import test_hub
from tests.conftest import in_own_thread
from tests.progress_files import progress_file, statement

database = test_hub.database
CURRICULUM = "satchel-demo"
FRACTION = "mathematics/fractions/what-is-a-fraction"
HALVES = "mathematics/fractions/halves-and-quarters"
WATER = "science/water-cycle/evaporation-and-condensation"
LEARNERS = 24


def open_store(tmp_path, database) -> Store:
    return Store(database or str(tmp_path / "hub.sqlite3"))


def upload(store: Store, data: dict) -> progress.Stored:
    checked = progress.prepare(orjson.dumps(data), {CURRICULUM})

    async def run():
        return await store.add_file(checked)
    return in_own_thread(lambda: asyncio.run(run()))


def kept(store: Store) -> tuple[dict, set]:
    rows = {tuple(r[:2]): tuple(r[2:]) for r in store.query(
        "SELECT learner, subject, name, lessons, done, stuck, last FROM learner_totals WHERE curriculum = ?", CURRICULUM)}
    return rows, {r[0] for r in store.query("SELECT subject FROM learner_subjects WHERE curriculum = ?", CURRICULUM)}


def fresh(store: Store) -> tuple[dict, set]:
    """The same totals counted from every statement: a row per learner for '' and each subject begun."""
    cells, _ = recompute_cells(store, CURRICULUM)
    per: dict[str, list] = {}
    for (learner, lesson), (_, completed, best, attempts, _, _, last) in cells.items():
        per.setdefault(learner, []).append((lesson, completed, attempts, best, last))
    parts = {learner: learner_part(rows) for learner, rows in per.items()}
    subjects = {subject for part in parts.values() for subject in part if subject}
    names = dict(store.query("SELECT id, name FROM learners WHERE curriculum = ?", CURRICULUM))
    return ({(learner, subject): (name, *parts.get(learner, {}).get(subject, (0, 0, 0, None)))
             for learner, name in names.items() for subject in subjects | {""}}, subjects)


def learner_file(n: int) -> dict:
    """Learner n's unsigned file: some not started, some stuck on a quiz (three tries below the pass
    mark), some through mathematics and science, on dates that differ from learner to learner."""
    data = progress_file(0, name=f"Learner {n % 9} {'ABC'[n % 3]}")  # names repeat: the id breaks ties
    learner = data["profile"]["id"]
    steps = []
    if n % 4:
        steps.append(statement(CURRICULUM, learner, "launched", FRACTION, 1000 * n + 1))
    if n % 3 == 0 and n % 4:
        steps += [statement(CURRICULUM, learner, "failed", FRACTION + "#quiz-0", 1000 * n + k, score={"scaled": 0.2}, success=False)
                  for k in (2, 3, 4)]
    if n % 5 == 0:
        steps += [statement(CURRICULUM, learner, "launched", WATER, 1000 * n + 5),
                  statement(CURRICULUM, learner, "completed", WATER, 1000 * n + 6, completion=True)]
    if n % 2 and n % 4:
        steps.append(statement(CURRICULUM, learner, "completed", FRACTION, 1000 * n + 7, completion=True))
    data["statements"] = steps
    return data


def expected_rows(store: Store, filters: Filters) -> list[tuple]:
    """learner_rows' answer worked out in Python from a recount: (id, done, last) in the view's order."""
    rows, _ = fresh(store)
    out = []
    for (learner, subject), (name, lessons, done, stuck, last) in rows.items():
        if subject == filters.subject and (filters.show == "all" or (filters.show == "not_started" and lessons == 0)
                                            or (filters.show == "stuck" and stuck > 0)):
            out.append((name, learner, done, last))
    key = {"name": lambda r: (r[0], r[1]), "done": lambda r: (-r[2], r[0], r[1]),
           "last": lambda r: (r[3] is None, "".join(chr(0x10FFFF - ord(c)) for c in r[3] or ""), r[0], r[1])}[filters.sort]
    return [(learner, done, last) for _, learner, done, last in sorted(out, key=key)]


VIEWS = [Filters(subject=subject, show=show, sort=sort) for subject in ("", "mathematics", "science")
         for show in ("all", "not_started", "stuck") for sort in ("name", "done", "last")]


def check_views(store: Store) -> None:
    for filters in VIEWS:
        want = expected_rows(store, filters)
        matching, rows = learner_rows(store, CURRICULUM, [], filters, None)
        assert (matching, [(r[0], r[4], r[5]) for r in rows]) == (len(want), want), filters
        for offset in {max(0, n) for n in (5, len(want) // 2 + 1, len(want) - 3, len(want) - 1)}:  # the second half: read backwards
            matching, rows = learner_rows(store, CURRICULUM, [], filters, 5, offset)
            assert (matching, [(r[0], r[4], r[5]) for r in rows]) == (len(want), want[offset:offset + 5]), (filters, offset)


def test_learner_totals_follow_uploads_two_devices_a_replacement_and_migrate(tmp_path, database):
    store = open_store(tmp_path, database)
    try:
        files = [learner_file(n) for n in range(LEARNERS)]
        for data in files:
            upload(store, data)
        assert kept(store) == fresh(store)
        assert kept(store)[1] == {"mathematics", "science"}
        check_views(store)
        assert learner_rows(store, CURRICULUM, [], Filters(subject="english", show="not_started"), None)[0] == LEARNERS, \
            "a subject nobody began: everyone not started"
        assert learner_rows(store, CURRICULUM, [], Filters(subject="english", show="stuck"), None) == (0, [])

        # The same learner from a second device: other statements, merged into the same rows.
        first = files[3]  # stuck on the fraction quiz
        learner = first["profile"]["id"]
        second = progress_file(0, name=first["profile"]["name"], learner=learner)
        second["statements"] = [statement(CURRICULUM, learner, "passed", FRACTION + "#quiz-0", 90_000, score={"scaled": 0.9}, success=True),
                                statement(CURRICULUM, learner, "completed", HALVES, 90_001, completion=True)]
        upload(store, second)
        assert kept(store) == fresh(store)
        assert kept(store)[0][(learner, "mathematics")][1:] == (2, 2, 0, "2026-11-02T01:00:01.000Z"), "no longer stuck"

        # A statement sent again with other content, the teacher using the new copy: the totals follow.
        tried = next(s for s in files[6]["statements"] if s["verb"]["id"].endswith("/failed"))
        other = files[6]["profile"]["id"]
        assert kept(store)[0][(other, "")][3] == 1, "stuck before"
        resent = dict(files[6], statements=[dict(tried, verb={"id": "http://adlnet.gov/expapi/verbs/passed"},
                                                 result={"score": {"scaled": 1.0}, "success": True})])
        assert upload(store, resent).conflicts == [tried["id"]]
        assert kept(store) == fresh(store), "a conflict kept aside changes nothing"
        digest = store.open_conflicts(CURRICULUM)[0]["digest"]
        assert store.resolve_conflict(CURRICULUM, digest, True)
        assert kept(store) == fresh(store)
        assert kept(store)[0][(other, "")][3] == 0, "no longer stuck once the pass replaced the try"
        # A new name for a learner (as a signed file's profile gives one): the totals' copy of it follows.
        with store._transaction():
            store.db.execute(store.sql("UPDATE learners SET name = ? WHERE curriculum = ? AND id = ?"), ("Zawadi", CURRICULUM, other))
            store._total_learner(CURRICULUM, other)
        assert kept(store) == fresh(store) and kept(store)[0][(other, "science")][0] == "Zawadi"
        check_views(store)
        before = kept(store)
    finally:
        store.close()

    store = open_store(tmp_path, database)  # back to schema 6: no learner totals yet
    try:
        with store._transaction():
            for change in ("DROP TABLE learner_totals", "DROP TABLE learner_subjects", "UPDATE meta SET value = '6' WHERE key = 'schema'"):
                store.db.execute(change)
    finally:
        store.close()
    store = open_store(tmp_path, database)
    try:
        assert store.meta("schema") == str(SCHEMA_VERSION) == "7"
        assert kept(store) == before == fresh(store)
        check_views(store)
    finally:
        store.close()


class Recording:
    """A store for hub/report.py that keeps each query it is asked."""

    def __init__(self, store: Store):
        self.store, self.queries = store, []

    def query(self, sql: str, *args) -> list[tuple]:
        self.queries.append((sql, args))
        return self.store.query(sql, *args)

    def __getattr__(self, name):
        return getattr(self.store, name)


@pytest.mark.parametrize("view", ["show=not_started", "show=stuck", "sort=done", "sort=last", "subject=science&show=not_started",
                                  "subject=mathematics&show=stuck", "subject=mathematics&sort=done"])
def test_views_over_every_learner_read_an_index_in_order(tmp_path, database, view):
    """Each view with no filter on learners: its pages read through one of learner_totals' indexes, in
    the index's order or backwards (no sort step, no grouping), and its count from an index alone."""
    store = open_store(tmp_path, database)
    try:
        for n in range(12):
            upload(store, learner_file(n))
        filters = Filters.of(dict(part.split("=") for part in view.split("&")), {"mathematics", "science"})
        spy = Recording(store)
        for offset in (0, 2, 8, 50):  # the first page, one in the first half, one read backwards, one past the end
            learner_rows(spy, CURRICULUM, [], filters, 3, offset)
        postgresql = store.dialect == "postgresql"
        if postgresql:  # a few rows: without this PostgreSQL rightly reads the table whole
            store.db.execute("SET enable_seqscan = off")
        for sql, args in spy.queries:
            plan = "\n".join(" | ".join(map(str, row)) for row in store.db.execute(
                store.sql(("EXPLAIN " if postgresql else "EXPLAIN QUERY PLAN ") + sql), args).fetchall())
            counted = sql == "SELECT COUNT(*) FROM learners WHERE curriculum = ?"  # every learner: an index's count
            assert ("learner_totals" in plan or "learner_subjects" in plan or counted) and "GROUP" not in plan.upper(), (sql, plan)
            assert "TEMP B-TREE" not in plan and "Sort " not in plan and "HashAggregate" not in plan, (sql, plan)
            if not postgresql:
                assert "SCAN t" not in plan and "SCAN learner_totals" not in plan, (sql, plan)
            else:
                assert "Seq Scan on learner_totals" not in plan, (sql, plan)
    finally:
        store.close()
