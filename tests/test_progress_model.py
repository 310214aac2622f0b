"""The rules of progress (theme/assets/satchel/progress-model.js), run in Chromium: merging is a
union by id (commutative, associative, idempotent), derived state does not depend on order, the
learner is guided in curriculum order through prerequisites, and the app's file check agrees with
the published JSON Schema."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Server

CURRICULUM = "satchel-demo"
PROFILE = "6f1c2d3e-4a5b-4c6d-8e7f-901234567890"
LESSONS = ["maths/halves", "maths/quarters", "science/water"]
VERBS = ["launched", "experienced", "answered", "passed", "failed", "completed"]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def model(browser, demo_site):
    """A page of the demo with progress-model.js loaded."""
    server = Server(demo_site).start()
    page = browser.new_page()
    page.goto(server.url)
    page.wait_for_function("window.satchelProgressModel")
    yield page
    page.close()
    server.stop()


def uuid(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-{n:012x}"


ANY_ID = st.integers(0, 40)


@st.composite
def statements(draw, ids=ANY_ID):
    """A statement as the app makes them, from a small pool of ids, lessons and times (so that
    lists overlap and timestamps tie)."""
    verb = draw(st.sampled_from(VERBS))
    lesson = draw(st.sampled_from(LESSONS))
    what = {"id": uuid(draw(ids)), "verb": verb, "curriculum": CURRICULUM, "profile": PROFILE, "lesson": lesson,
            "language": "en", "title": draw(st.sampled_from(["Halves", "Moitiés", None])),
            "timestamp": f"2026-01-0{draw(st.integers(1, 3))}T10:00:0{draw(st.integers(0, 2))}.000Z"}
    if verb in ("answered", "passed", "failed"):
        what["quiz"] = draw(st.integers(0, 1))
        if verb == "answered":
            what["question"] = draw(st.integers(0, 3))
        scaled = draw(st.sampled_from([0, 0.25, 0.5, 0.75, 1]))
        what["result"] = {"score": {"scaled": scaled, "raw": scaled * 4, "min": 0, "max": 4}, "success": scaled >= 0.6}
    if verb == "experienced":
        what["result"] = {"duration": f"PT{draw(st.integers(1, 120))}S"}
    return what


def make(model, whats: list[dict]) -> list[dict]:
    return model.evaluate("ws => ws.map(w => { const w2 = Object.assign({}, w); if (w2.title === null) delete w2.title; "
                          "return satchelProgressModel.statement(w2); })", whats)


MERGE_FACTS = """([a, b, c, shuffled, curriculum]) => {
    const M = satchelProgressModel, key = list => JSON.stringify(list.map(M.canonical));
    const ab = M.merge(a, b);
    return {
        ab: key(ab), ba: key(M.merge(b, a)),
        ab_c: key(M.merge(ab, c)), a_bc: key(M.merge(a, M.merge(b, c))),
        aa: key(M.merge(a, a)), a: key(M.merge(a, [])),
        derived_ab: M.canonical(M.derive(ab, curriculum)), derived_union: M.canonical(M.derive(shuffled, curriculum)),
        ids_ab: ab.map(s => s.id),
    };
}"""


@SETTINGS
@given(data=st.data())
def test_merge_is_a_union_by_id(model, data):
    universe = {}
    for what in data.draw(st.lists(statements(), min_size=1, max_size=25)):
        universe.setdefault(what["id"], what)
    made = {s["id"]: s for s in make(model, list(universe.values()))}
    pick = st.lists(st.sampled_from(sorted(made)), max_size=30)
    a, b, c = ([made[i] for i in data.draw(pick)] for _ in range(3))
    union_ids = {s["id"] for s in a} | {s["id"] for s in b}
    shuffled = data.draw(st.permutations([made[i] for i in sorted(union_ids)]))
    facts = model.evaluate(MERGE_FACTS, [a, b, c, shuffled, CURRICULUM])
    assert facts["ab"] == facts["ba"], "merge is commutative"
    assert facts["ab_c"] == facts["a_bc"], "merge is associative"
    assert facts["aa"] == facts["a"], "merge is idempotent"
    assert sorted(facts["ids_ab"]) == sorted(union_ids) and len(facts["ids_ab"]) == len(union_ids), "a union by id"
    assert facts["derived_ab"] == facts["derived_union"], "derived state of the merge = derived state of the union, in any order"


@SETTINGS
@given(data=st.data())
def test_merge_settles_two_different_statements_with_one_id_the_same_way(model, data):
    """A hand-edited file could hold another statement under a known id: whichever copy is merged
    into which, the same one is kept."""
    whats = data.draw(st.lists(statements(ids=st.integers(0, 4)), min_size=2, max_size=12))
    made = make(model, whats)
    split = data.draw(st.integers(0, len(made)))
    a, b, c = made[:split], made[split:], data.draw(st.permutations(made))
    facts = model.evaluate(MERGE_FACTS, [a, b, c, c, CURRICULUM])
    assert facts["ab"] == facts["ba"] and facts["ab_c"] == facts["a_bc"] and facts["aa"] == facts["a"]


def test_derived_state(model):
    base = {"curriculum": CURRICULUM, "profile": PROFILE, "language": "en"}
    whats = [
        dict(base, verb="launched", lesson="maths/halves", title="Halves", timestamp="2026-01-01T10:00:00.000Z"),
        dict(base, verb="experienced", lesson="maths/halves", result={"duration": "PT30S"}, timestamp="2026-01-01T10:00:30.000Z"),
        dict(base, verb="experienced", lesson="maths/halves", result={"duration": "PT12S"}, timestamp="2026-01-01T10:01:00.000Z"),
        dict(base, verb="failed", lesson="maths/halves", quiz=0, result={"score": {"scaled": 0.25}, "success": False}, timestamp="2026-01-01T10:02:00.000Z"),
        dict(base, verb="passed", lesson="maths/halves", quiz=0, result={"score": {"scaled": 0.75}, "success": True}, timestamp="2026-01-01T10:03:00.000Z"),
        dict(base, verb="completed", lesson="maths/halves", timestamp="2026-01-01T10:03:00.000Z"),
        dict(base, verb="launched", lesson="maths/quarters", title="Quarters", timestamp="2026-01-02T09:00:00.000Z"),
    ]
    state = model.evaluate("([ss, c]) => satchelProgressModel.derive(ss, c)", [make(model, whats), CURRICULUM])
    halves = state["lessons"]["maths/halves"]
    assert (halves["opened"], halves["seconds"], halves["completed"], halves["attempts"], halves["best"]) == (True, 42, True, 2, 0.75)
    assert halves["quizzes"] == {"0": 0.75} and halves["title"] == "Halves"
    assert state["lessons"]["maths/quarters"]["completed"] is False
    assert state["last"]["lesson"] == "maths/quarters" and state["count"] == 7


GUIDE = """([done, last, outline]) => {
    const M = satchelProgressModel, state = M.emptyState();
    done.forEach(id => { state.lessons[id] = {completed: true, title: id}; });
    if (last) state.last = {lesson: last, mark: 'x'};
    const g = M.guide(state, outline);
    return {resume: g.resume && g.resume.id, next: g.next && g.next.id, finished: g.finished, retired: g.retired.map(r => r.id)};
}"""
OUTLINE = [
    {"id": "a", "title": "A", "url": "a/", "prerequisites": []},
    {"id": "b", "title": "B", "url": "b/", "prerequisites": ["a"]},
    {"id": "c", "title": "C", "url": "c/", "prerequisites": ["b"]},
    {"id": "d", "title": "D", "url": "d/", "prerequisites": []},
]


@pytest.mark.parametrize("done, last, expected", [
    ([], None, {"resume": None, "next": "a", "finished": False, "retired": []}),
    (["a"], "a", {"resume": None, "next": "b", "finished": False, "retired": []}),
    ([], "a", {"resume": "a", "next": "d", "finished": False, "retired": []}),  # b needs a: d is the next one open
    (["a", "b", "gone"], "c", {"resume": "c", "next": "d", "finished": False, "retired": ["gone"]}),
    (["a", "b", "c", "d"], "d", {"resume": None, "next": None, "finished": True, "retired": []}),
])
def test_guide_follows_curriculum_order_and_prerequisites(model, done, last, expected):
    assert model.evaluate(GUIDE, [done, last, OUTLINE]) == expected


SUBJECTS = [
    {"id": "art/colours", "title": "Colours", "url": "art/colours/", "prerequisites": []},
    {"id": "art/shapes", "title": "Shapes", "url": "art/shapes/", "prerequisites": []},
    {"id": "maths/halves", "title": "Halves", "url": "maths/halves/", "prerequisites": []},
    {"id": "maths/quarters", "title": "Quarters", "url": "maths/quarters/", "prerequisites": ["maths/halves"]},
    {"id": "maths/shapes", "title": "Fraction shapes", "url": "maths/shapes/", "prerequisites": ["art/shapes"]},
]


@pytest.mark.parametrize("done, last, expected", [
    # studying maths: the next lesson is maths', not the curriculum's first (art)
    (["maths/halves"], "maths/halves", "maths/quarters"),
    # quarters needs halves, which is being resumed; fraction shapes needs art's shapes: that one
    ([], "maths/halves", "art/shapes"),
    # fraction shapes needs art's shapes: the learner is led to that prerequisite
    (["maths/halves", "maths/quarters"], "maths/quarters", "art/shapes"),
    # maths all done: the first lesson open anywhere
    (["maths/halves", "maths/quarters", "art/shapes", "maths/shapes"], "maths/shapes", "art/colours"),
])
def test_next_lesson_stays_in_the_subject_being_studied(model, done, last, expected):
    assert model.evaluate(GUIDE, [done, last, SUBJECTS])["next"] == expected


# The progress file: the app's check and the JSON Schema

@pytest.fixture(scope="module")
def schema(demo_site):
    return json.loads((demo_site / "satchel" / "progress.schema.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def good_file(model):
    base = {"curriculum": CURRICULUM, "profile": PROFILE, "language": "ar", "lesson": "maths/halves"}
    passed = {"score": {"scaled": 1, "raw": 4, "min": 0, "max": 4}, "success": True, "completion": True}
    whats = [dict(base, verb="launched", title="الأنصاف"), dict(base, verb="passed", quiz=0, result=passed),
             dict(base, verb="answered", quiz=0, question=2, result={"score": {"scaled": 1}, "success": True}),
             dict(base, verb="experienced", result={"duration": "PT65S"})]
    for n, what in enumerate(whats):  # the file lists statements oldest first
        what["timestamp"] = f"2026-03-0{n + 1}T08:00:00.000Z"
    return model.evaluate("([ss, p]) => satchelProgressModel.file('satchel-demo', '1.0.0', p, ss)",
                          [make(model, whats), {"id": PROFILE, "name": "ليلى", "colour": "#1565c0", "picture": "🦒"}])


def app_check(model, data) -> dict | None:
    return model.evaluate("f => satchelProgressModel.checkFile(f, 'satchel-demo')", data)


def schema_valid(schema, data) -> bool:
    return jsonschema.Draft202012Validator(schema).is_valid(data)


def test_a_good_file_passes_both(model, schema, good_file):
    assert app_check(model, good_file) is None
    jsonschema.Draft202012Validator(schema).validate(good_file)


def change(data, path, value):
    data = copy.deepcopy(data)
    *parents, last = path
    target = data
    for key in parents:
        target = target[key]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return data


DELETE = object()
TAMPERED = [
    (("format",), "satchel-other", "foreign"),
    (("version",), 3, "newer"),
    (("version",), "1", "foreign"),
    (("profile", "id"), "learner-1", "foreign"),
    (("profile", "colour"), "red", "foreign"),
    (("profile", "name"), "", "foreign"),
    (("profile", "extra"), 1, "foreign"),
    (("statements",), {}, "foreign"),
    (("exported",), "yesterday", "foreign"),
    (("statements", 0, "id"), DELETE, "statement"),
    (("statements", 0, "id"), "not-a-uuid", "statement"),
    (("statements", 1, "verb", "id"), "http://adlnet.gov/expapi/verbs/liked", "statement"),
    (("statements", 1, "object", "id"), "https://example.org/x", "statement"),
    (("statements", 1, "object", "id"), "urn:satchel:satchel-demo:lesson:../etc", "statement"),
    (("statements", 1, "result", "score", "scaled"), 1.5, "statement"),
    (("statements", 1, "result", "success"), "yes", "statement"),
    (("statements", 2, "timestamp"), "2026-01-01", "statement"),
    (("statements", 2, "version"), "1.0.3", "statement"),
    (("statements", 3, "result", "duration"), "P1D", "statement"),
    (("statements", 3, "actor", "account", "homePage"), "https://example.org", "statement"),
    (("statements", 3, "stored"), "2026-01-01T00:00:00Z", "statement"),
    (("statements", 0, "object", "definition", "name", "ar"), "", "statement"),
    (("statements", 3, "result", "duration"), "PT9999999S", "statement"),
    (("statements", 3, "context", "mood"), "happy", "statement"),
    (("profile", "key"), "not a key", "foreign"),
]


@pytest.mark.parametrize("path, value, reason", TAMPERED, ids=lambda v: "/".join(map(str, v)) if isinstance(v, tuple) else None)
def test_tampered_files_are_refused_by_both(model, schema, good_file, path, value, reason):
    bad = change(good_file, path, value)
    problem = app_check(model, bad)
    assert problem is not None and problem["reason"] == reason, problem
    assert not schema_valid(schema, bad)


def test_the_app_checks_what_the_schema_cannot(model, schema, good_file):
    """Another learner's statement in the file, or another curriculum's: the schema cannot compare
    fields, the app does."""
    other_learner = change(good_file, ("statements", 0, "actor", "account", "name"), "00000000-0000-4000-8000-000000000001")
    other_course = change(good_file, ("statements", 0, "object", "id"), "urn:satchel:other:lesson:maths/halves")
    impossible_date = change(good_file, ("statements", 2, "timestamp"), "0000-99-99T99:99:99Z")
    far_future = change(good_file, ("statements", 2, "timestamp"), "9999-12-31T23:59:59Z")
    no_such_day = change(good_file, ("statements", 2, "timestamp"), "2026-02-30T10:00:00Z")
    too_long = change(good_file, ("statements", 3, "result", "duration"), "PT99999S")
    deep = change(good_file, ("statements", 3, "context", "extensions"), {"urn:x": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {}}}}}}}}}})
    for bad in (other_learner, other_course, impossible_date, far_future, no_such_day, too_long, deep):
        assert schema_valid(schema, bad) and app_check(model, bad)["reason"] == "statement"
        from satchel.hub.progress import BadProgress, check
        with pytest.raises(BadProgress):
            check(bad, {CURRICULUM})


json_values = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-2, 2, allow_nan=False) | st.text(max_size=5),
                           lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
                           max_leaves=6)


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, prefix + (key,))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from paths(child, prefix + (i,))


@SETTINGS
@given(data=st.data())
def test_whatever_the_app_accepts_the_schema_accepts(model, schema, good_file, data):
    """Random damage anywhere in a good file: if the app would load it, the published schema
    (which a hub checks uploads against) accepts it too."""
    path = data.draw(st.sampled_from([p for p in paths(good_file) if p]))
    bad = change(good_file, path, data.draw(json_values | st.just(DELETE)))
    if app_check(model, bad) is None:
        assert schema_valid(schema, bad), (path, bad)


def test_the_python_test_files_are_what_the_app_makes(model):
    """tests/progress_files.py makes files for the hub's tests: the app must accept them."""
    from tests.progress_files import progress_file
    assert app_check(model, progress_file(30)) is None


@pytest.mark.parametrize("path, value, reason", TAMPERED, ids=lambda v: "/".join(map(str, v)) if isinstance(v, tuple) else None)
def test_the_hub_refuses_what_the_app_refuses(good_file, path, value, reason):
    from satchel.hub.progress import BadProgress, check
    check(good_file, {CURRICULUM})
    with pytest.raises(BadProgress):
        check(change(good_file, path, value), {CURRICULUM})
