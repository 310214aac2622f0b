"""The dashboard's totals over every learner (question_totals, lesson_totals) kept at insert, through
duplicates and a resolved conflict, equal to a count made afresh from the statements; filled by
migration 6 on an older database; and the dashboard's pages show the numbers the statements give,
whichever page of learners is in view."""

from __future__ import annotations

import json
import re
import uuid
from html import unescape

import orjson
from satchel.hub.report import Filters, learner_rows, lesson_outline, recompute_cells
from satchel.hub.store import SCHEMA_VERSION, Store, count_answer, lesson_part, question_part

from tests import test_hub
from tests.progress_files import Learner, progress_file, signed, statement
from tests.test_dashboard import Browser, set_password
from tests.test_hub import Hub

database = test_hub.database
CURRICULUM = "satchel-demo"
FRACTION = "mathematics/fractions/what-is-a-fraction"
HALVES = "mathematics/fractions/halves-and-quarters"
LEARNERS = 53  # more than a page (50): totals count the learners of every page


def kept_totals(store: Store) -> tuple[dict, dict]:
    questions = {tuple(r[:3]): tuple(r[3:]) for r in store.query(
        "SELECT lesson, quiz, question, learners, right_learners FROM question_totals WHERE curriculum = ? AND learners > 0", CURRICULUM)}
    lessons = {r[0]: tuple(r[1:]) for r in store.query(
        "SELECT lesson, completed, tried, attempts, best_millionths, passed FROM lesson_totals WHERE curriculum = ? "
        "AND (completed > 0 OR tried > 0)", CURRICULUM)}
    return questions, lessons


def fresh_totals(store: Store) -> tuple[dict, dict]:
    """The same totals counted from every statement, as if nothing had been kept."""
    tallies: dict[str, dict] = {}
    for learner, object_id, body in store.query("SELECT learner, object, body FROM statements WHERE curriculum = ? AND verb = 'answered'",
                                                CURRICULUM):
        count_answer(tallies.setdefault(learner, {}), CURRICULUM, object_id, orjson.loads(body))
    questions: dict = {}
    for tally in tallies.values():
        for key, (answers, right) in tally.items():
            tried, got = question_part(answers, right)
            was = questions.get(key, (0, 0))
            questions[key] = (was[0] + tried, was[1] + got)
    lessons: dict = {}
    cells, _ = recompute_cells(store, CURRICULUM)
    for (_, lesson), (_, completed, best, attempts, *_) in cells.items():
        was = lessons.get(lesson, (0,) * 5)
        lessons[lesson] = tuple(a + b for a, b in zip(was, lesson_part(completed, attempts, best), strict=True))
    return ({k: v for k, v in questions.items() if v[0] > 0}, {k: v for k, v in lessons.items() if v[0] or v[1]})


def totals(data) -> tuple[tuple, tuple]:
    store = Store.in_data_dir(data)
    try:
        return kept_totals(store), fresh_totals(store)
    finally:
        store.close()


def answered(learner: str, lesson: str, quiz: int, question: int, n: int, right: bool) -> dict:
    return statement(CURRICULUM, learner, "answered", f"{lesson}#quiz-{quiz}-{question}", n, success=right)


def classroom_file(n: int) -> dict:
    """Learner n's unsigned file: answers, quiz results and completions that differ from learner to learner."""
    data = progress_file(3, name=f"Learner {n:02}")
    learner = data["profile"]["id"]
    steps = [answered(learner, FRACTION, 0, 0, 100 + n, n % 3 == 0)]
    if n % 2 == 0:
        steps += [answered(learner, FRACTION, 0, 1, 200 + n, False), answered(learner, FRACTION, 0, 1, 300 + n, n % 4 == 0)]
    if n % 7 == 0:
        steps.append(answered(learner, HALVES, 1, 0, 400 + n, True))
    score = round(n / LEARNERS, 3)
    steps.append(statement(CURRICULUM, learner, "passed" if score >= 0.6 else "failed", FRACTION + "#quiz-0", 500 + n,
                           score={"scaled": score}, success=score >= 0.6))
    if n % 5 == 0:
        steps += [statement(CURRICULUM, learner, "failed", HALVES + "#quiz-0", 600 + n, score={"scaled": 0.25}, success=False),
                  statement(CURRICULUM, learner, "completed", HALVES, 700 + n, completion=True)]
    data["statements"] += steps
    return data


def expected_page(store: Store, curriculum: dict, page_learners: list[str]) -> tuple[dict, dict, dict]:
    """What the dashboard should show, from the statements: the quiz table {title: (learners,
    attempts, average best %, passed)}, the question tables {lesson: {"q-k": (right, tried)}} over
    every learner, and the answers table's learners {lesson: [ids of this page]}."""
    cells, _ = recompute_cells(store, CURRICULUM)
    titles = {lesson["id"]: lesson["title"] for lesson in lesson_outline(curriculum, "en")}
    quiz: dict = {}
    for (_, lesson), (_, _, best, attempts, *_) in cells.items():
        if attempts > 0:
            quiz.setdefault(lesson, []).append((attempts, best or 0))
    quizzes = {titles[lesson]: (len(rows), sum(a for a, _ in rows), round(100 * sum(b for _, b in rows) / len(rows)),
                                sum(1 for _, b in rows if b >= 0.6)) for lesson, rows in quiz.items()}
    tallies: dict[str, dict] = {}
    for learner, object_id, body in store.query("SELECT learner, object, body FROM statements WHERE curriculum = ? AND verb = 'answered'",
                                                CURRICULUM):
        count_answer(tallies.setdefault(learner, {}), CURRICULUM, object_id, orjson.loads(body))
    questions: dict = {}
    answering: dict = {}
    for learner, tally in tallies.items():
        for (lesson, q, k), (answers, right) in tally.items():
            if answers > 0:
                was = questions.setdefault(lesson, {}).get(f"{q + 1}-{k + 1}", (0, 0))
                questions[lesson][f"{q + 1}-{k + 1}"] = (was[0] + (right > 0), was[1] + 1)
                if learner in page_learners:
                    answering.setdefault(lesson, set()).add(learner)
    return quizzes, questions, {lesson: [i for i in page_learners if i in answering.get(lesson, ())] for lesson in questions}


def shown_page(html: str, teacher: Browser) -> tuple[dict, dict, dict]:
    """The dashboard page's quiz table, and from each lesson's questions page it links (with the
    view's query string) the question table and the answers table's learners."""
    quizzes_html = html.split('aria-label="Quiz results"', 1)[1].split("</table>", 1)[0]
    quizzes = {}
    for title, learners, attempts, percent, passed in re.findall(
            r'<tr><th scope="row">([^<]+)</th><td class="n">([\d,]+)</td><td class="n">([\d,]+)</td><td class="n">(\d+)%</td>'
            r'<td class="n">([\d,]+)</td></tr>', quizzes_html):
        quizzes[title] = (int(learners.replace(",", "")), int(attempts.replace(",", "")), int(percent), int(passed.replace(",", "")))
    questions, answering = {}, {}
    links = re.search(r"<ul data-satchel-ask-list>(.*?)</ul>", html, re.S)
    sections = []
    for link in re.findall(r'<a href="/([^"]+)">', links.group(1) if links else ""):
        status, _, page = teacher.get(unescape(link))
        assert status == 200, link
        sections += re.findall(r'<section data-satchel-questions="([^"]+)">(.*?)</section>', page, re.S)
    for lesson, section in sections:
        questions[lesson] = {key: (int(right), int(tried)) for key, right, tried in re.findall(
            r'<tr data-question="([\d-]+)">.*?data-right="(\d+)" data-tried="(\d+)"', section, re.S)}
        answering[lesson] = re.findall(r'<tr data-learner="([^"]+)"><th scope="row">', section.split('class="answers"', 1)[1])
    return quizzes, questions, answering


def page_learners(html: str) -> list[str]:
    grid = html.split("data-satchel-grid", 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr data-learner="([^"]+)"', grid)


def test_totals_follow_uploads_duplicates_and_conflicts_and_migrate(demo_site, tmp_path, database):
    curriculum = json.loads((demo_site / "satchel" / "curriculum.json").read_text(encoding="utf-8"))
    running = Hub([demo_site], tmp_path / "data", db=database)
    try:
        set_password(running)
        files = [classroom_file(n) for n in range(LEARNERS)]
        for data in files:
            assert running.upload(data)[0] == 200
        assert running.upload(files[0])[1]["known"] == len(files[0]["statements"]), "a duplicate upload changes nothing"
        kept, fresh = totals(running.data)
        assert kept == fresh and kept[0][(FRACTION, 0, 0)] == (LEARNERS, len(range(0, LEARNERS, 3)))

        # Amina answers right and passes; a conflicting copy (wrong, and a fail) is swapped in by the teacher.
        amina = Learner("Amina")
        right = answered(amina.id, FRACTION, 0, 0, 900, True)
        passed = statement(CURRICULUM, amina.id, "passed", FRACTION + "#quiz-0", 901, score={"scaled": 0.9}, success=True)
        assert running.upload(signed(amina, [right, passed]))[0] == 200
        assert totals(running.data)[0] == totals(running.data)[1]
        forged = dict(amina.file(0), statements=[dict(right, result={"success": False}),
                                                 dict(passed, verb={"id": "http://adlnet.gov/expapi/verbs/failed"},
                                                      result={"score": {"scaled": 0.1}, "success": False})])
        assert running.upload(amina.sign(forged))[0] == 409
        teacher = Browser(running)
        assert teacher.sign_in()[0] == 303
        for _ in range(2):
            trust = teacher.get(f"_hub/{CURRICULUM}/trust")[2]
            digest = re.search(r'name="digest" value="([0-9a-f]+)"', trust).group(1)
            csrf = re.search(r'name="csrf" value="([^"]+)"', trust).group(1)
            assert teacher.post(f"_hub/{CURRICULUM}/trust", {"csrf": csrf, "digest": digest, "action": "use"})[0] == 303
        kept, fresh = totals(running.data)
        assert kept == fresh
        assert kept[0][(FRACTION, 0, 0)] == (LEARNERS + 1, len(range(0, LEARNERS, 3))), "Amina answered, but never right"

        # Every page of the dashboard shows the totals over every learner, and its own learners' answers.
        store = Store.in_data_dir(running.data)
        try:
            for query in ("", "?page=2", "?sort=done", "?subject=science&show=not_started", "?q=Learner%200"):
                html = teacher.get(f"_hub/{CURRICULUM}/{query}")[2]
                learners = page_learners(html)
                assert learners, query
                assert shown_page(html, teacher) == expected_page(store, curriculum, learners), query
            assert teacher.get(f"_hub/{CURRICULUM}/questions?lesson=no/such/lesson")[0] == 404
            assert teacher.get(f"_hub/{CURRICULUM}/questions")[0] == 404, "a lesson is named"
            assert Browser(running).get(f"_hub/{CURRICULUM}/questions?lesson={FRACTION}")[0] == 303, "only a signed-in teacher"
            lessons = [lesson["id"] for lesson in lesson_outline(curriculum, "en")]
            cells, _ = recompute_cells(store, CURRICULUM)
            names = dict(store.query("SELECT id, name FROM learners WHERE curriculum = ?", CURRICULUM))
            by_name = sorted(names, key=lambda i: (names[i], i))
            expected = [(i, sum(c[1] for (who, _), c in cells.items() if who == i),
                         max((c[6] for (who, _), c in cells.items() if who == i), default=None)) for i in by_name]
            matching, rows = learner_rows(store, CURRICULUM, lessons, Filters(), None)
            assert matching == len(names) == LEARNERS + 1 and [(r[0], r[4], r[5]) for r in rows] == expected
            matching, rows = learner_rows(store, CURRICULUM, lessons, Filters(), 50, 50)
            assert [(r[0], r[4], r[5]) for r in rows] == expected[50:]
            _, grouped = learner_rows(store, CURRICULUM, lessons, Filters(sort="done"), None)
            _, plain = learner_rows(store, CURRICULUM, lessons, Filters(), None)
            assert sorted(grouped) == sorted(plain), "the default view's rows are the grouped query's"
        finally:
            store.close()
    finally:
        running.stop()

    store = Store.in_data_dir(tmp_path / "data")  # back to schema 5: no totals yet
    try:
        with store._transaction():
            for change in ("DROP TABLE question_totals", "DROP TABLE lesson_totals", "DROP INDEX question_results_learner",
                           "DROP INDEX learners_name",
                           "DROP TABLE learner_totals", "DROP TABLE learner_subjects", "UPDATE meta SET value = '5' WHERE key = 'schema'"):
                store.db.execute(change)
        count = store.query("SELECT COUNT(*) FROM statements")[0][0]
    finally:
        store.close()
    store = Store.in_data_dir(tmp_path / "data")
    try:
        assert store.meta("schema") == str(SCHEMA_VERSION) == "7"
        assert store.query("SELECT COUNT(*) FROM statements")[0][0] == count
        assert kept_totals(store) == kept == fresh_totals(store)
    finally:
        store.close()


def test_question_results_of_a_page_and_every_learner(tmp_path):
    store = Store(str(tmp_path / "hub.sqlite3"))
    try:
        ids = [str(uuid.uuid4()) for _ in range(3)]
        with store._transaction():
            store._add_answers(CURRICULUM, ids[0], {(FRACTION, 0, 0): [2, 1], (FRACTION, 0, 1): [1, 0]})
            store._add_answers(CURRICULUM, ids[1], {(FRACTION, 0, 0): [1, 0]})
            store._add_answers(CURRICULUM, ids[1], {(FRACTION, 0, 0): [-1, 0]})  # replaced: no answer left
            store._add_answers(CURRICULUM, ids[2], {(FRACTION, 0, 1): [1, 1]})
        assert store.question_totals(CURRICULUM) == {(FRACTION, 0, 0): (1, 1), (FRACTION, 0, 1): (2, 1)}
        assert {r[3] for r in store.question_results(CURRICULUM, ids[1:])} == {ids[2]}
        assert sorted(store.question_results(CURRICULUM, ids)) == sorted(store.question_results(CURRICULUM))
    finally:
        store.close()
