"""The dashboard's summaries (lesson_progress, activity_days) kept at insert, through duplicates and
a resolved conflict, equal to a recomputation from every statement; filled by the migration on an
older database; and the dashboard's filters, learner page and CSV read from them."""

from __future__ import annotations

import csv
import io
import re

from satchel.hub.report import recompute_cells
from satchel.hub.store import SCHEMA_VERSION, Store

from tests import test_hub
from tests.progress_files import Learner, progress_file, signed, statement
from tests.test_dashboard import Browser, set_password
from tests.test_hub import Hub

database = test_hub.database
CURRICULUM = "satchel-demo"
FRACTION = "mathematics/fractions/what-is-a-fraction"


def summaries(data) -> tuple[dict, dict]:
    store = Store.in_data_dir(data)
    try:
        cells = {(r[0], r[1]): list(r[2:]) for r in store.query(
            "SELECT learner, lesson, opened, completed, best, attempts, seconds, first, last FROM lesson_progress WHERE curriculum = ?",
            CURRICULUM)}
        days = {(r[0], r[1]): list(r[2:]) for r in store.query(
            "SELECT learner, day, statements, seconds FROM activity_days WHERE curriculum = ?", CURRICULUM)}
        return (cells, days), recompute_cells(store, CURRICULUM)
    finally:
        store.close()


def test_summaries_follow_uploads_duplicates_and_conflicts_and_migrate(demo_site, tmp_path, database):
    running = Hub([demo_site], tmp_path / "data", db=database)
    try:
        set_password(running)
        amina = Learner("Amina")
        tries = [statement(CURRICULUM, amina.id, "failed", FRACTION + "#quiz-0", n, score={"scaled": 0.4}, success=False)
                 for n in (2, 3, 4)]
        steps = [statement(CURRICULUM, amina.id, "launched", FRACTION, 1), *tries,
                 statement(CURRICULUM, amina.id, "experienced", FRACTION, 90_000, duration="PT300S")]
        body = signed(amina, steps)
        assert running.upload(body)[0] == 200
        assert running.upload(body)[1]["known"] == len(steps), "a duplicate upload changes nothing"
        baraka = progress_file(6, name="Baraka")  # unsigned; lessons of mathematics and science
        assert running.upload(baraka)[0] == 200
        kept, fresh = summaries(running.data)
        assert kept == fresh
        assert kept[0][(amina.id, FRACTION)] == [1, 0, 0.4, 3, 300, "2026-11-01T00:00:01.000Z", "2026-11-02T01:00:00.000Z"]
        assert kept[1][(amina.id, "2026-11-02")] == [1, 300]

        teacher = Browser(running)
        assert teacher.sign_in()[0] == 303
        stuck = teacher.get(f"_hub/{CURRICULUM}/?show=stuck")[2]
        assert f'data-learner="{amina.id}"' in stuck and f'data-learner="{baraka["profile"]["id"]}"' not in stuck
        unstarted = teacher.get(f"_hub/{CURRICULUM}/?subject=science&show=not_started")[2]
        assert f'data-learner="{amina.id}"' in unstarted and f'data-learner="{baraka["profile"]["id"]}"' not in unstarted
        found = teacher.get(f"_hub/{CURRICULUM}/?q=BAR")[2]
        assert f'data-learner="{amina.id}"' not in found and f'data-learner="{baraka["profile"]["id"]}"' in found
        assert 'href="?lang=en&amp;show=stuck&amp;sort=done' in stuck, "a sort link keeps the filter"
        status, _, page = teacher.get(f"_hub/{CURRICULUM}/learner/{amina.id}")
        assert status == 200 and 'data-day="2026-11-02"' in page and "5 min" in page and "40%" in page
        assert teacher.get(f"_hub/{CURRICULUM}/learner/nobody")[0] == 404

        # A conflicting copy of the first failed try, a pass, swapped in by the teacher: the best score
        # (which a tally cannot take back) follows the copy chosen.
        forged = dict(amina.file(0), statements=[dict(tries[0], verb={"id": "http://adlnet.gov/expapi/verbs/passed"},
                                                      result={"score": {"scaled": 0.9}, "success": True})])
        assert running.upload(amina.sign(forged))[0] == 409
        trust = teacher.get(f"_hub/{CURRICULUM}/trust")[2]
        digest = re.search(r'name="digest" value="([0-9a-f]+)"', trust).group(1)
        csrf = re.search(r'name="csrf" value="([^"]+)"', trust).group(1)
        assert teacher.post(f"_hub/{CURRICULUM}/trust", {"csrf": csrf, "digest": digest, "action": "use"})[0] == 303
        kept, fresh = summaries(running.data)
        assert kept == fresh and kept[0][(amina.id, FRACTION)][2:4] == [0.9, 3]
        assert f'data-learner="{amina.id}"' not in teacher.get(f"_hub/{CURRICULUM}/?show=stuck")[2]

        rows = list(csv.DictReader(io.StringIO(teacher.get(f"_hub/{CURRICULUM}/progress.csv")[2])))
        row = next(r for r in rows if r["learner_id"] == amina.id and r["lesson_id"] == FRACTION)
        assert (row["first_activity"], row["last_activity"], row["best_score"]) == (
            "2026-11-01T00:00:01.000Z", "2026-11-02T01:00:00.000Z", "0.9")
    finally:
        running.stop()

    store = Store.in_data_dir(tmp_path / "data")  # back to schema 3: no summaries yet
    try:
        with store._transaction():
            store.db.execute("DROP TABLE lesson_progress")
            store.db.execute("DROP TABLE activity_days")
            store.db.execute("UPDATE meta SET value = '3' WHERE key = 'schema'")
    finally:
        store.close()
    store = Store.in_data_dir(tmp_path / "data")
    try:
        assert store.meta("schema") == str(SCHEMA_VERSION)
    finally:
        store.close()
    migrated, _ = summaries(tmp_path / "data")
    assert migrated == kept


def test_the_dashboard_pages_its_learners(demo_site, tmp_path):
    running = Hub([demo_site], tmp_path / "data")
    try:
        set_password(running)
        for n in range(55):
            assert running.upload(progress_file(3, name=f"Learner {n:02}"))[0] == 200
        teacher = Browser(running)
        assert teacher.sign_in()[0] == 303
        first = teacher.get(f"_hub/{CURRICULUM}/")[2]
        assert first.count("<tr data-learner=") == 50 and "Page 1 of 2" in first and 'rel="next"' in first
        second = teacher.get(f"_hub/{CURRICULUM}/?page=2")[2]
        assert second.count("<tr data-learner=") == 5 and ">Learner 54</a>" in second and ">Learner 00</a>" not in second
        newest = teacher.get(f"_hub/{CURRICULUM}/?sort=last")[2]
        assert newest.count("<tr data-learner=") == 50
        assert len(list(csv.DictReader(io.StringIO(teacher.get(f"_hub/{CURRICULUM}/progress.csv")[2])))) == 55 * 12
    finally:
        running.stop()
