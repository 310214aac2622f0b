"""Learner progress in real Chromium: profiles, quizzes recorded as events, what the pages derive
from them, durability (reload, browser restart, a crashed tab, a new curriculum version) and the
progress file (export, import, tampered files)."""

from __future__ import annotations

import json
import shutil

import pytest
from satchel.builder.build import build

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, WELCOMED, device

LESSON = "mathematics/fractions/what-is-a-fraction"
LESSON_2 = "mathematics/fractions/halves-and-quarters"
LESSON_3 = "science/water-cycle/where-is-water"
RETIRED = "science/clean-water/saving-water"  # no lesson depends on it


def ready(page) -> None:
    page.evaluate("window.satchelProgress.ready")


def visit(page, url: str) -> None:
    page.goto(url)
    ready(page)


def answer_quiz(page, right: bool) -> None:
    """Answer every question of the lesson's quiz as a learner would, all right or all wrong."""
    form = page.locator("form[data-satchel-quiz]")
    answers = json.loads(form.get_attribute("data-answers"))
    for n, answer in enumerate(answers):
        inputs = form.locator("fieldset").nth(n).locator("input")
        if "options" in answer:
            for i, option in enumerate(answer["options"]):
                if option["correct"] == right:
                    inputs.nth(i).check()
                    if answer["type"] != "multiple":
                        break
        elif answer["type"] == "number":
            inputs.first.fill(str(answer["answer"] if right else answer["answer"] + answer["tolerance"] + 1))
        else:
            inputs.first.fill(answer["accept"][0] if right else "zzz")
    form.locator("button[type=submit]").click()
    page.wait_for_function("document.querySelector('form[data-satchel-quiz] output').textContent !== ''")


def open_profiles(page) -> None:
    page.click("[data-satchel-profile-open]")
    page.wait_for_selector("[data-satchel-profiles][open]")


def add_profile(page, name: str, picture: int) -> None:
    open_profiles(page)
    if page.locator("[data-satchel-profile-form]").is_hidden():
        page.click("[data-satchel-profile-add]")
    page.fill("[data-satchel-profile-form] input[name=name]", name)
    page.locator("[data-satchel-pictures] label").nth(picture).click()
    with page.expect_navigation():
        page.click("[data-satchel-profile-form] button[type=submit]")
    ready(page)


def switch_to(page, name: str) -> None:
    open_profiles(page)
    with page.expect_navigation():
        page.locator(".satchel-profile-choice", has_text=name).click()
    ready(page)


def snapshot(page) -> dict:
    """Everything derived for the current learner: the state from their statements, the stored
    summary (which must agree with it), and what the home page shows."""
    data = page.evaluate("""async () => {
        const P = window.satchelProgress, M = window.satchelProgressModel;
        const profile = await P.currentProfile();
        const statements = await P.statementsOf(profile.id);
        const outline = document.querySelector('[data-satchel-guide]');
        if (outline) await window.satchelPaint.guided();  // the guide may wait for the lesson list
        return {
            profile: profile, derived: M.derive(statements, 'satchel-demo'), summary: await P.summary(profile.id),
            lessons: [...new Set(statements.map(s => M.lessonOf('satchel-demo', s.object.id)))].sort(),
            ids: statements.map(s => s.id).sort(),
            meters: [...document.querySelectorAll('[data-satchel-lessons] span')].map(e => e.textContent),
            guide: outline ? [...document.querySelectorAll('[data-satchel-guide] a:not([hidden]) strong')].map(e => e.textContent) : null,
        };
    }""")
    assert data["summary"] == data["derived"], "the stored summary must equal the state derived from the statements"
    return data


def test_two_profiles_survive_reload_and_browser_restart(playwright, demo_site, serve, tmp_path):
    site = serve(demo_site)
    profile_dir = tmp_path / "phone"

    def launch():
        context = playwright.chromium.launch_persistent_context(str(profile_dir), executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context.add_init_script(WELCOMED)
        return context

    context = launch()
    page = context.new_page()
    visit(page, site.url)
    add_profile(page, "Amina", 1)
    visit(page, site.url + LESSON + "/")
    answer_quiz(page, right=True)
    page.wait_for_selector("[data-satchel-finish-done]:not([hidden])")
    visit(page, site.url + LESSON_2 + "/")
    answer_quiz(page, right=False)
    assert page.locator("[data-satchel-finish-quiz]").is_visible(), "a failed quiz leaves the lesson to finish"

    visit(page, site.url)
    add_profile(page, "Bilal", 2)
    visit(page, site.url + LESSON_3 + "/")
    answer_quiz(page, right=True)

    def both() -> dict:
        result = {}
        for name in ("Amina", "Bilal"):
            visit(page, site.url)
            switch_to(page, name)
            result[name] = snapshot(page)
        return result

    before = both()
    amina, bilal = before["Amina"], before["Bilal"]
    assert amina["derived"]["lessons"][LESSON]["completed"] and amina["derived"]["lessons"][LESSON]["best"] == 1
    assert not amina["derived"]["lessons"][LESSON_2]["completed"] and amina["derived"]["lessons"][LESSON_2]["best"] == 0
    assert amina["lessons"] == sorted([LESSON, LESSON_2]) and bilal["lessons"] == [LESSON_3], "profiles never see each other's data"
    assert not set(amina["ids"]) & set(bilal["ids"])
    assert amina["meters"][0] == "1 of 6 lessons done" and bilal["meters"][3] == "1 of 6 lessons done"
    # Amina is half-way through halves-and-quarters; her next lesson skips those whose prerequisites she lacks.
    assert amina["guide"] == ["Halves and quarters", "Where is water?"]
    # Bilal studies science: his next lesson is science's next, not the curriculum's first.
    assert bilal["guide"] == ["Evaporation and condensation"]

    page.reload()
    ready(page)
    assert snapshot(page) == before["Bilal"]
    context.close()

    context = launch()
    page = context.new_page()
    after = both()
    context.close()
    assert after == before


def test_a_closed_tab_loses_at_most_the_current_second(context, demo_site, serve):
    site = serve(demo_site)
    page = context.new_page()
    visit(page, site.url + LESSON + "/")
    page.wait_for_timeout(3500)
    page.close()
    home = context.new_page()
    visit(home, site.url)
    state = snapshot(home)
    assert state["derived"]["lessons"][LESSON]["seconds"] >= 3, state["derived"]["lessons"][LESSON]
    assert home.evaluate("window.satchelProgress.db().then(d => d.count('pending'))") == 0


def test_time_left_by_a_dead_tab_is_kept_once(context, demo_site, serve):
    """A tab that died (a dead battery) leaves its last second's record; the next start turns it
    into a statement with the record's id, so settling it twice still counts it once."""
    site = serve(demo_site)
    page = context.new_page()
    visit(page, site.url)
    orphan = page.evaluate("""async lesson => {
        const P = window.satchelProgress, profile = await P.createProfile('Fofana', '🐢', '#1565c0');
        const record = {id: satchelProgressModel.uuid(), profile: profile.id, lesson: lesson, language: 'en',
                        title: 'What is a fraction?', seconds: 42, updated: Date.now()};
        await (await P.db()).put('pending', record);
        return record;
    }""", LESSON)
    for _ in range(2):
        page.reload()
        ready(page)
        state = snapshot(page)
        assert state["ids"] == [orphan["id"]] and state["derived"]["lessons"][LESSON]["seconds"] == 42
        page.evaluate("r => window.satchelProgress.db().then(d => d.put('pending', r))", orphan)


def test_steps_journaled_by_a_page_closed_mid_write_are_kept_once(context, demo_site, serve):
    """What a learner just did goes to a localStorage journal before the IndexedDB transaction:
    a page closed before that commits leaves the journal, and the next start stores it."""
    site = serve(demo_site)
    page = context.new_page()
    visit(page, site.url)
    journaled = page.evaluate("""async lesson => {
        const P = window.satchelProgress, M = window.satchelProgressModel;
        const profile = await P.createProfile('Gift', '🦋', '#6a1b9a');
        const statements = ['launched', 'completed'].map(verb => M.statement(
            {verb, curriculum: 'satchel-demo', profile: profile.id, lesson, language: 'en'}));
        localStorage.setItem('satchel-journal-satchel-demo-' + statements[0].id, JSON.stringify({profile: profile.id, statements}));
        return statements.map(s => s.id).sort();
    }""", LESSON)
    for _ in range(2):
        page.reload()
        ready(page)
        state = snapshot(page)
        assert state["ids"] == journaled and state["derived"]["lessons"][LESSON]["completed"]
        assert not page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('satchel-journal-'))")


def test_progress_is_saved_to_a_file_and_loaded_on_another_device(browser, demo_site, serve, tmp_path):
    site = serve(demo_site)
    first = device(browser)
    page = first.new_page()
    visit(page, site.url)
    add_profile(page, "Chidi", 3)
    for lesson, right in ((LESSON, True), (LESSON_2, False), (LESSON_3, True)):
        visit(page, site.url + lesson + "/")
        answer_quiz(page, right)
    visit(page, site.url)
    original = snapshot(page)
    open_profiles(page)
    with page.expect_download() as download:
        page.click("[data-satchel-export]")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.startswith("progress-Chidi-")
    first.close()

    data = json.loads(saved.read_text(encoding="utf-8"))
    import jsonschema
    jsonschema.validate(data, json.loads((demo_site / "satchel" / "progress.schema.json").read_text(encoding="utf-8")))
    assert {s["verb"]["id"].rsplit("/", 1)[1] for s in data["statements"]} >= {"launched", "answered", "passed", "failed", "completed"}
    assert {s["actor"]["account"]["name"] for s in data["statements"]} == {original["profile"]["id"]}

    second = device(browser)
    page = second.new_page()
    visit(page, site.url)

    def load(path, expect: str) -> None:
        open_profiles(page)
        page.set_input_files("[data-satchel-import]", str(path))
        page.wait_for_function("t => document.querySelector('[data-satchel-profile-status]').textContent.includes(t)", arg=expect)
        page.click("[data-satchel-profiles-close]")

    load(saved, f"Progress of Chidi loaded: {len(data['statements'])} new steps, 0 already")
    page.reload()
    ready(page)
    imported = snapshot(page)
    same_learner = ("id", "name", "picture", "colour")
    assert {k: imported["profile"][k] for k in same_learner} == {k: original["profile"][k] for k in same_learner}
    assert imported["derived"] == original["derived"] and imported["ids"] == original["ids"]
    assert imported["meters"] == original["meters"] and imported["guide"] == original["guide"]

    load(saved, f"0 new steps, {len(data['statements'])} already on this device")
    assert snapshot(page) == imported

    def tampered(name: str, content) -> object:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
        return path

    missing_id = json.loads(json.dumps(data))
    del missing_id["statements"][1]["id"]
    newer = dict(data, version=3)
    signed_text = saved.read_text(encoding="utf-8")
    assert signed_text.rstrip().endswith('"}') and '"signature":"' in signed_text[-110:], "the app signs what it saves"
    changed = signed_text.replace('"completed"', '"passed"', 1)  # a "completed" turned into a "passed"
    assert changed != signed_text
    copier = json.loads(signed_text)  # someone else's steps under another name: the ids are not theirs
    copier.pop("signature")
    copier["profile"]["id"] = "0b0b0b0b-0b0b-4b0b-8b0b-0b0b0b0b0b0b"
    copier["profile"].pop("key")
    for s in copier["statements"]:
        s["actor"]["account"]["name"] = copier["profile"]["id"]
    other = dict(data, curriculum={"id": "another-course", "version": "1"})
    half = saved.read_text(encoding="utf-8")[: len(saved.read_text(encoding="utf-8")) // 2]
    cases = [
        (tampered("broken.json", half), "This is not a Satchel progress file"),
        (tampered("foreign.json", {"hello": "world"}), "This is not a Satchel progress file"),
        (tampered("schema.json", dict(data, statements="none")), "This is not a Satchel progress file"),
        (tampered("missing-id.json", missing_id), "This progress file is damaged (step 2: id)"),
        (tampered("newer.json", newer), "newer version of the app (format 3)"),
        (tampered("changed.json", changed), "the file was changed after it was saved"),
        (tampered("copied.json", copier), "recorded on another learner's device"),
        (tampered("other.json", other), "another set of lessons (another-course)"),
    ]
    big = tmp_path / "big.json"
    with big.open("wb") as out:
        out.truncate(50 * 1000 * 1000)
    cases.append((big, "This file is too big (50 MB)"))
    for path, message in cases:
        load(path, message)
        assert snapshot(page) == imported, f"{path.name} changed the progress"
    second.close()


def test_import_refusals_are_translated(browser, demo_site, serve, tmp_path):
    site = serve(demo_site)
    context = device(browser)
    page = context.new_page()
    visit(page, site.url + "ar/")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    open_profiles(page)
    page.set_input_files("[data-satchel-import]", str(bad))
    page.wait_for_function("document.querySelector('[data-satchel-profile-status]').textContent !== ''")
    assert page.text_content("[data-satchel-profile-status]") == "هذا ليس ملف تقدّم من ساتشل. لم يتغيّر شيء."
    assert page.evaluate("getComputedStyle(document.querySelector('[data-satchel-profiles]')).direction") == "rtl"
    context.close()


def test_removing_a_learner_asks_first_and_removes_only_them(context, demo_site, serve):
    site = serve(demo_site)
    page = context.new_page()
    visit(page, site.url)
    add_profile(page, "Dede", 4)
    visit(page, site.url + LESSON + "/")
    answer_quiz(page, right=True)
    visit(page, site.url)
    add_profile(page, "Esi", 5)
    visit(page, site.url + LESSON_3 + "/")
    visit(page, site.url)
    esi = snapshot(page)
    switch_to(page, "Dede")
    open_profiles(page)
    page.click("[data-satchel-profile-remove]")
    page.wait_for_selector("[data-satchel-remove-confirm]:not([hidden])")
    assert page.text_content("[data-satchel-remove-confirm] p").startswith("Remove Dede and all of Dede's progress")
    page.click("[data-satchel-remove-no]")
    assert page.locator("[data-satchel-remove-confirm]").is_hidden()
    assert page.evaluate("window.satchelProgress.currentProfile().then(p => p.name)") == "Dede"
    page.click("[data-satchel-profile-remove]")
    with page.expect_navigation():
        page.click("[data-satchel-remove-yes]")
    ready(page)
    remaining = page.evaluate("window.satchelProgress.db().then(d => d.getAll('profiles')).then(l => l.map(p => p.name))")
    assert remaining == ["Esi"]
    assert snapshot(page)["ids"] == esi["ids"]

    open_profiles(page)
    page.click("[data-satchel-profile-edit]")
    page.wait_for_function("document.querySelector('[data-satchel-profile-form] input[name=name]').value === 'Esi'")
    page.fill("[data-satchel-profile-form] input[name=name]", "Esi Mensah")
    page.click("[data-satchel-profile-form] button[type=submit]")
    page.wait_for_function("document.querySelector('[data-satchel-profile-name]').textContent === 'Esi Mensah'")
    assert page.locator(".satchel-profile-choice").all_text_contents() == ["🦋Esi Mensah"]
    renamed = snapshot(page)
    assert renamed["profile"]["id"] == esi["profile"]["id"] and renamed["ids"] == esi["ids"]
    assert page.evaluate("window.satchelProgress.db().then(d => d.count('statements'))") == len(esi["ids"])
    waiting = page.evaluate("window.satchelProgress.db().then(d => d.getAll('outbox')).then(l => l.map(w => w.profile))")
    assert waiting and set(waiting) <= {esi["profile"]["id"]}, "nothing of Dede's waits to be sent"


def test_progress_survives_an_update_and_keeps_retired_lessons(context, demo_copy, serve, tmp_path):
    served = tmp_path / "served"
    build(demo_copy, served, show_progress=False)
    site = serve(served)
    page = context.new_page()
    visit(page, site.url + RETIRED + "/")
    page.evaluate("navigator.serviceWorker.ready")
    answer_quiz(page, right=True)
    visit(page, site.url)
    before = snapshot(page)
    assert before["derived"]["lessons"][RETIRED]["completed"]

    # Version 2 drops the lesson in every language; the learner takes the update.
    for code in ("en", "fr", "ar"):
        (demo_copy / code / f"{RETIRED}.md").unlink()
    settings = demo_copy / "curriculum.yml"
    settings.write_text(settings.read_text(encoding="utf-8").replace("version: 1.0.0", "version: 2.0.0"), encoding="utf-8")
    shutil.rmtree(served)
    build(demo_copy, served, show_progress=False)
    page.reload()
    page.wait_for_selector("[data-satchel-update]:not([hidden])")
    with page.expect_navigation():
        page.click("[data-satchel-update] button")
    ready(page)
    after = snapshot(page)
    assert after["derived"] == before["derived"] and after["ids"] == before["ids"]
    assert after["meters"][3] == "0 of 5 lessons done"
    retired = page.locator("[data-satchel-retired]")
    assert retired.is_visible()
    assert retired.locator("li").all_text_contents() == ["Saving water ✓"]


def test_first_progress_asks_for_persistent_storage(context, demo_site, serve):
    site = serve(demo_site)
    page = context.new_page()
    visit(page, site.url)
    assert page.evaluate("document.documentElement.dataset.satchelPersisted") is None
    visit(page, site.url + LESSON + "/")
    page.wait_for_function("document.documentElement.dataset.satchelPersisted !== undefined")


@pytest.mark.parametrize("code", ["en", "fr", "ar"])
def test_every_progress_string_is_translated(code):
    from satchel.builder.strings import STRINGS_DIR, _load
    english = {k for k in _load(STRINGS_DIR / "en.yml")}
    assert english <= set(_load(STRINGS_DIR / f"{code}.yml")), english - set(_load(STRINGS_DIR / f"{code}.yml"))


def test_lesson_ids_named_like_object_properties_do_not_corrupt_the_state(browser, demo_site, serve, tmp_path):
    """'constructor', 'toString', 'hasOwnProperty' are valid lesson ids: the app's maps must not
    read them from Object.prototype (on main the state was corrupted and the app said the import
    failed after committing it)."""
    from tests.progress_files import progress_file, statement
    site = serve(demo_site)
    context = device(browser)
    page = context.new_page()
    visit(page, site.url + LESSON + "/")
    answer_quiz(page, right=True)
    visit(page, site.url)
    before = snapshot(page)
    data = progress_file(0, name="Old phone")  # a learner from before keys
    learner = data["profile"]["id"]
    data["statements"] = [statement("satchel-demo", learner, verb, lesson, n, **result) for n, (verb, lesson, result) in enumerate([
        ("launched", "constructor", {}), ("completed", "constructor", {"completion": True}),
        ("experienced", "tostring", {"duration": "PT5S"}), ("launched", "hasownproperty", {}),
        ("launched", "constructor/prototype", {})])]
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    open_profiles(page)
    page.set_input_files("[data-satchel-import]", str(path))
    page.wait_for_function("document.querySelector('[data-satchel-profile-status]').textContent.includes('5 new steps')")
    assert page.evaluate("({}).opened === undefined && ({}).completed === undefined && Object.seconds === undefined")
    page.reload()
    ready(page)
    odd = snapshot(page)  # the loaded learner is now the current one; their summary equals what is derived
    assert odd["profile"]["id"] == learner and odd["derived"]["lessons"]["constructor"]["completed"] is True
    assert odd["ids"] == sorted(s["id"] for s in data["statements"])
    page.evaluate(f"localStorage.setItem('satchel-profile-satchel-demo', '{before['profile']['id']}')")
    page.reload()
    ready(page)
    assert snapshot(page) == before  # the first learner is untouched
    context.close()
