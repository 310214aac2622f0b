"""Schools, regions and classes (issue "National scale"): a central knows each learner's school and
groups schools by region; a school hub's teacher makes classes and groups and enrols learners (by
form or class code); classes travel to the central, kept per school; the schema migrates."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys

from satchel.hub.store import SCHEMA_VERSION, Store

from tests import test_hub
from tests.progress_files import Learner, progress_file
from tests.test_central import query, satchel_hub, sync, write
from tests.test_dashboard import Browser, set_password
from tests.test_hub import Hub

database = test_hub.database
CURRICULUM = "satchel-demo"
HUB = [sys.executable, "-m", "satchel.builder.cli", "hub"]


def basic(user: str, password: str) -> dict:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode(), "content-type": "application/json"}


def add_school(data, name: str, *extra: str) -> tuple[str, str]:
    return re.search(r"School hub: (\S+)\nToken: (\S+)\n", satchel_hub("schools", "add", name, "--data", data, *extra).stdout).groups()


def test_a_central_goes_region_school_learner_and_keeps_classes_per_school(demo_site, tmp_path, database):
    central_data = tmp_path / "central"
    subprocess.run([*HUB, "init", "--data", str(central_data), *(["--db", database] if database else [])], check=True, capture_output=True)
    north, north_token = add_school(central_data, "Lycée du Nord", "--region", "Nord")
    south, south_token = add_school(central_data, "École Sud")
    assert satchel_hub("schools", "add", "Too long", "--region", "x" * 101, "--data", central_data).returncode == 2
    assert satchel_hub("schools", "set", "nobody-000000", "--region", "Sud", "--data", central_data).returncode == 2
    assert satchel_hub("schools", "set", south, "--region", "Sud", "--data", central_data).returncode == 0
    assert "region Sud" in satchel_hub("schools", "list", "--data", central_data).stdout
    central = Hub([demo_site], central_data, db=database)
    try:
        set_password(central)
        aisha_north, aisha_south = progress_file(6, name="Aisha A."), progress_file(3, name="Aisha A.")
        aisha_north["profile"]["classes"] = [{"id": "c-5a", "name": "5A"}, {"id": "g-1", "name": "Readers", "parent": "c-5a"}]
        aisha_south["profile"]["classes"] = [{"id": "c-5a", "name": "5A Sud"}]  # the same id, another school's class
        assert central.request("api/progress", json.dumps(aisha_north).encode(), basic(north, north_token))[0] == 200
        assert central.request("api/progress", json.dumps(aisha_south).encode(), basic(south, south_token))[0] == 200
        for refused in ([{"id": f"c-{n}", "name": "x"} for n in range(21)], [{"id": "c-1", "name": "x" * 101}],
                        [{"id": "c-1", "name": "a"}, {"id": "c-1", "name": "b"}], [{"id": "../x", "name": "a"}]):
            bad = progress_file(1)
            bad["profile"]["classes"] = refused
            assert central.request("api/progress", json.dumps(bad).encode(), basic(north, north_token))[0] in (400, 422), refused
        north_id, south_id = aisha_north["profile"]["id"], aisha_south["profile"]["id"]
        assert sorted(query(central_data, "SELECT id, school FROM learners")) == sorted([(north_id, north), (south_id, south)])
        assert sorted(query(central_data, "SELECT school, id, name FROM classes")) == sorted([
            (north, "c-5a", "5A"), (north, "g-1", "Readers"), (south, "c-5a", "5A Sud")])

        teacher = Browser(central)
        assert teacher.sign_in()[0] == 303
        grid = teacher.get(f"_hub/{CURRICULUM}/")[2]
        assert f'data-school="{north}">(Lycée du Nord)' in grid and f'data-school="{south}">(École Sud)' in grid, "same names told apart"
        regions = teacher.get(f"_hub/{CURRICULUM}/regions")[2]
        assert 'data-region="Nord"' in regions and 'data-region="Sud"' in regions
        schools = teacher.get(f"_hub/{CURRICULUM}/regions?region=Nord")[2]
        assert f'data-school="{north}"' in schools and f'data-school="{south}"' not in schools
        filtered = teacher.get(f"_hub/{CURRICULUM}/?region=Nord&school={north}")[2]
        assert f'data-learner="{north_id}"' in filtered and f'data-learner="{south_id}"' not in filtered
        by_region = teacher.get(f"_hub/{CURRICULUM}/?region=Sud")[2]
        assert f'data-learner="{south_id}"' in by_region and f'data-learner="{north_id}"' not in by_region
        in_class = teacher.get(f"_hub/{CURRICULUM}/?school={south}&class=c-5a")[2]
        assert f'data-learner="{south_id}"' in in_class and f'data-learner="{north_id}"' not in in_class, "a class of another school"
        status, _, page = teacher.get(f"_hub/{CURRICULUM}/class/c-5a?school={south}")
        assert status == 200 and "5A Sud" in page
        assert teacher.get(f"_hub/{CURRICULUM}/class/g-1?school={south}")[0] == 404, "a group of another school"
    finally:
        central.stop()


def test_a_teacher_makes_classes_and_groups_and_enrols_learners(demo_site, tmp_path):
    school_data, central_data = tmp_path / "school", tmp_path / "central"
    hub = Hub([demo_site], school_data)
    try:
        set_password(hub)
        amina, baraka = progress_file(9, name="Amina"), progress_file(3, name="Baraka")
        for data in (amina, baraka):
            assert hub.upload(data)[0] == 200
        teacher = Browser(hub)
        assert teacher.sign_in()[0] == 303
        assert Browser(hub).get(f"_hub/{CURRICULUM}/classes")[0] == 303, "only a signed-in teacher"
        assert teacher.post(f"_hub/{CURRICULUM}/classes", {"action": "make", "name": "5A"})[0] == 403, "no CSRF token"
        csrf = teacher.csrf(f"_hub/{CURRICULUM}/classes")
        status, _, page = teacher.post(f"_hub/{CURRICULUM}/classes", {"csrf": csrf, "action": "make", "name": "x" * 101})
        assert status == 422 and "data-satchel-error" in page
        assert teacher.post(f"_hub/{CURRICULUM}/classes", {"csrf": csrf, "action": "make", "name": "5A"})[0] == 303
        class_id = re.search(r'<section data-class="([^"]+)">', teacher.get(f"_hub/{CURRICULUM}/classes")[2]).group(1)
        assert teacher.post(f"_hub/{CURRICULUM}/classes", {"csrf": csrf, "action": "make", "name": "Readers", "parent": "c-nothing"})[0] == 422
        assert teacher.post(f"_hub/{CURRICULUM}/classes", {"csrf": csrf, "action": "make", "name": "Readers", "parent": class_id})[0] == 303
        assert teacher.post(f"_hub/{CURRICULUM}/classes", [("csrf", csrf), ("action", "members"), ("class", "c-nothing"),
                                                          ("learner", amina["profile"]["id"])])[0] == 404
        assert teacher.post(f"_hub/{CURRICULUM}/classes", [("action", "members"), ("class", class_id),
                                                          ("learner", amina["profile"]["id"])])[0] == 403
        assert teacher.post(f"_hub/{CURRICULUM}/classes", [("csrf", csrf), ("action", "members"), ("class", class_id),
                                                          ("learner", amina["profile"]["id"]), ("learner", "not-a-learner")])[0] == 303
        store = Store.in_data_dir(school_data)
        try:
            assert store.class_members(CURRICULUM, "", class_id) == {amina["profile"]["id"]}
            assert [row[2] for row in store.classes(CURRICULUM) if row[1] == "Readers"] == [class_id], "a group: a class in a class"
            expected = store.query("SELECT lesson, opened, completed FROM lesson_progress WHERE curriculum = ? AND learner = ?",
                                   CURRICULUM, amina["profile"]["id"])
        finally:
            store.close()
        grid = teacher.get(f"_hub/{CURRICULUM}/?class={class_id}")[2]
        assert f'data-learner="{amina["profile"]["id"]}"' in grid and f'data-learner="{baraka["profile"]["id"]}"' not in grid
        page = teacher.get(f"_hub/{CURRICULUM}/class/{class_id}")[2]
        for lesson, opened, completed in expected:
            assert f'data-lesson="{lesson}" data-opened="{opened}" data-completed="{completed}"' in page
        assert 'data-day="2026-11-01" data-active="1"' in page
        assert teacher.get(f"_hub/{CURRICULUM}/class/c-nothing")[0] == 404

        # A class code of the class: the device's upload that comes with it enrols its learner.
        trust_csrf = teacher.csrf(f"_hub/{CURRICULUM}/trust")
        assert teacher.post(f"_hub/{CURRICULUM}/trust", {"csrf": trust_csrf, "action": "enrol", "label": "x", "class": "c-no"})[0] == 404
        assert teacher.post(f"_hub/{CURRICULUM}/trust", {"csrf": trust_csrf, "action": "enrol", "label": "5A", "class": class_id})[0] == 303
        code = re.search(r'<strong lang="en" dir="ltr">(\w{4}) (\w{4})</strong> 5A · 5A', teacher.get(f"_hub/{CURRICULUM}/trust")[2])
        chipo = Learner("Chipo")
        status, _, _ = hub.request("api/progress", chipo.sign(chipo.file(3)), {"content-type": "application/json",
                                                                               "satchel-enrolment": code.group(1) + code.group(2)})
        assert status == 200
        assert f'data-learner="{chipo.id}"' in teacher.get(f"_hub/{CURRICULUM}/?class={class_id}")[2]
    finally:
        hub.stop()

    # The classes travel with the forwarded files; the central keeps them under the school.
    subprocess.run([*HUB, "init", "--data", str(central_data)], check=True, capture_output=True)
    school, token = add_school(central_data, "Escola", "--region", "Centro")
    central = Hub([demo_site], central_data)
    try:
        result = sync(school_data, "--upstream", central.url + "api/progress", "--user", school, "--password-file", write(tmp_path, token))
        assert result.returncode == 0, result.stderr
    finally:
        central.stop()
    assert sorted(query(central_data, "SELECT school, class, learner FROM class_members")) == sorted(
        [(school, class_id, amina["profile"]["id"]), (school, class_id, chipo.id)])
    assert query(central_data, "SELECT school, name FROM classes") == [(school, "5A")]
    assert {row[0] for row in query(central_data, "SELECT school FROM learners")} == {school}


def test_migration_5_gives_learners_their_school_and_keeps_every_row(tmp_path):
    """A database as the hub of schema 4 left it (this store's tables without what migration 5
    adds), opened by this one."""
    path = str(tmp_path / "hub.sqlite3")
    store = Store(path)
    with store._transaction():
        for change in ("DROP INDEX learners_school", "DROP INDEX class_members_learner", "DROP TABLE class_members",
                       "DROP TABLE classes", "ALTER TABLE learners DROP COLUMN school", "ALTER TABLE schools DROP COLUMN region",
                       "ALTER TABLE enrolments DROP COLUMN class", "UPDATE meta SET value = '4' WHERE key = 'schema'"):
            store.db.execute(change)
        store.db.execute("INSERT INTO schools VALUES ('nord-1', 'Nord', 'hash', '2026-01-01', NULL)")
        store.db.execute("INSERT INTO learners VALUES ('c', 'l1', 'Aisha', '#000000', 'x', '2026', 0)")
        store.db.execute("INSERT INTO learners VALUES ('c', 'l2', 'Baraka', '#000000', 'x', '2026', 0)")
        store.db.execute("INSERT INTO statements VALUES ('s1', 'c', 'l1', 'launched', 'o', '2026-11-01', '{}', '2026', NULL, 'nord-1', 1)")
        store.db.execute("INSERT INTO enrolments VALUES ('CODE', 'c', 'label', '2026', '2099')")
    store.close()
    store = Store(path)
    try:
        assert store.meta("schema") == str(SCHEMA_VERSION)
        assert store.query("SELECT id, school FROM learners ORDER BY id") == [("l1", "nord-1"), ("l2", "")]
        assert store.query("SELECT id, name, region FROM schools") == [("nord-1", "Nord", "")]
        assert store.enrolments("c") == [("CODE", "label", "2099", None)]
        assert store.query("SELECT COUNT(*) FROM statements") == [(1,)]
    finally:
        store.close()
