"""The teacher dashboard on a 360 px phone (issue 13), in English, French and Arabic: no page wider
than the screen (the learners x lessons grid scrolls in a box of its own, reachable by keyboard),
a legend for the grid's marks, answers question by question, plural counts and locale numbers, and
WCAG 2.2 AA as axe-core sees it on every page, with targets measured and focus rings checked. A real
`satchel hub` with uploaded progress, driven by Debian's Chromium."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from satchel.builder.strings import PLURAL_CATEGORIES, plural_category
from satchel.hub.dashboard import HERE as HUB_DIR
from satchel.hub.store import SCHEMA_VERSION, Store

from tests import test_hub
from tests.audit import axe, describe
from tests.progress_files import Learner, progress_file, signed, statement
from tests.test_dashboard import PASSWORD, Browser, set_password
from tests.test_hub import Hub

pytestmark = pytest.mark.browser
database = test_hub.database
LANGUAGES = ["en", "fr", "ar"]
PHONE = {"width": 360, "height": 740}
CURRICULUM = "satchel-demo"
FRACTION = "mathematics/fractions/what-is-a-fraction"
HALVES = "mathematics/fractions/halves-and-quarters"


def strings(language: str) -> dict:
    return {**yaml.safe_load((HUB_DIR / "strings" / "en.yml").read_text(encoding="utf-8")),
            **yaml.safe_load((HUB_DIR / "strings" / f"{language}.yml").read_text(encoding="utf-8"))}


def answer(learner: str, lesson: str, quiz: int, question: int, right: bool, n: int) -> dict:
    return statement(CURRICULUM, learner, "answered", f"{lesson}#quiz-{quiz}-{question}", n,
                     score={"scaled": int(right), "raw": int(right), "min": 0, "max": 1}, success=right)


def classroom() -> list[bytes]:
    """Three learners' progress, with answers whose counts the tests know:
    what-is-a-fraction, quiz 0: question 0 right for Amina and Baraka, not for Chidi (2 of 3);
    question 1 right for Amina on her second try, not for Baraka (1 of 2); question 2 wrong for
    Amina (0 of 1). halves-and-quarters: quiz 0 question 0 and quiz 1 question 0, Amina, right.
    Baraka's file is unsigned (from before keys): his steps are unverified."""
    amina, chidi = Learner("Amina"), Learner("Chidi Okonkwo-Adebayo")
    a = amina.id
    files = [signed(amina, [
        statement(CURRICULUM, a, "launched", FRACTION, 1),
        answer(a, FRACTION, 0, 0, True, 2), answer(a, FRACTION, 0, 1, False, 3), answer(a, FRACTION, 0, 1, True, 4),
        answer(a, FRACTION, 0, 2, False, 5),
        statement(CURRICULUM, a, "passed", FRACTION + "#quiz-0", 6, score={"scaled": 0.75}, success=True, completion=True),
        statement(CURRICULUM, a, "completed", FRACTION, 7, completion=True),
        statement(CURRICULUM, a, "launched", HALVES, 8),
        answer(a, HALVES, 0, 0, True, 9), answer(a, HALVES, 1, 0, True, 10)])]
    baraka = progress_file(0, name="Baraka")
    b = baraka["profile"]["id"]
    baraka["statements"] = [statement(CURRICULUM, b, "launched", FRACTION, 11),
                            answer(b, FRACTION, 0, 0, True, 12), answer(b, FRACTION, 0, 1, False, 13)]
    files.append(json.dumps(baraka).encode())
    files.append(signed(chidi, [statement(CURRICULUM, chidi.id, "launched", FRACTION, 14), answer(chidi.id, FRACTION, 0, 0, False, 15)]))
    return files


def second_bundle(demo_site, tmp_path_factory):
    """A second curriculum beside the demo (only its description: the dashboard reads no more), so
    that the hub lists its curricula."""
    site = tmp_path_factory.mktemp("second") / "site"
    (site / "satchel").mkdir(parents=True)
    described = json.loads((demo_site / "satchel" / "curriculum.json").read_text(encoding="utf-8"))
    described.update(id="second-demo", title={"en": "Second demo", "fr": "Deuxième démo", "ar": "العرض الثاني"})
    (site / "satchel" / "curriculum.json").write_text(json.dumps(described), encoding="utf-8")
    return site


@pytest.fixture(scope="module")
def classroom_hub(demo_site, tmp_path_factory):
    """One hub for the module: two curricula, three learners with answers, a conflict to resolve,
    a class code and statements upstream refused."""
    running = Hub([demo_site, second_bundle(demo_site, tmp_path_factory)], tmp_path_factory.mktemp("hub") / "data")
    try:
        set_password(running)
        for body in classroom():
            assert running.upload(body)[0] == 200
        forger = Learner("Dalia")
        real = [statement(CURRICULUM, forger.id, "launched", FRACTION, 20)]
        assert running.upload(signed(forger, real))[0] == 200
        forged = dict(forger.file(0), statements=[dict(real[0], timestamp="2026-11-02T00:00:00.000Z")])  # the same id
        assert running.upload(forger.sign(forged))[0] == 409
        store = Store.in_data_dir(running.data)
        try:
            store.add_enrolment(CURRICULUM, "Class 4B")
            store.quarantine([real[0]["id"]], "https://central.example.org", 400, "upstream answered 400: a statement of this batch is refused")
        finally:
            store.close()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def phone(browser, classroom_hub):
    """A 360 x 740 touch phone, signed in on the sign-in page as a teacher does."""
    # The pages forbid inline scripts (CSP): the context lets the test inject axe-core all the same.
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2, bypass_csp=True)
    page = context.new_page()
    page.goto(classroom_hub.url + "_hub/login")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/_hub/")
    yield page
    context.close()


ESI = progress_file(3, name="Esi")


def upload_results(page, hub: Hub, language: str) -> None:
    """The USB page after sending two files: one taken, one refused."""
    page.goto(f"{hub.url}_hub/upload?lang={language}")
    page.set_input_files("#satchel-files", files=[
        {"name": "esi.json", "mimeType": "application/json", "buffer": json.dumps(ESI).encode()},
        {"name": "broken.json", "mimeType": "application/json", "buffer": b"{not json"}])
    with page.expect_navigation():
        page.click("form button[type=submit]")


def wrong_password(page, hub: Hub, language: str) -> None:
    """The sign-in page saying the password was wrong (or, after five, how long to wait)."""
    page.goto(f"{hub.url}_hub/login?lang={language}")
    page.fill("input[name=password]", "not the password")
    with page.expect_navigation():
        page.click("form button[type=submit]")


def every_page(hub: Hub) -> dict:
    """Each dashboard page: its name, and how to reach it in a language."""
    def at(path):
        return lambda page, language: page.goto(f"{hub.url}{path}{'&' if '?' in path else '?'}lang={language}")

    def dashboard(page, language):
        page.goto(f"{hub.url}_hub/{CURRICULUM}/?lang={language}")
        page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")

    def questions(page, language):
        dashboard(page, language)
        page.locator(f'[data-satchel-ask="{FRACTION}"]').click()
        page.wait_for_selector("[data-satchel-questions]")

    return {"sign-in": at("_hub/login"), "wrong password": lambda page, language: wrong_password(page, hub, language),
            "curricula": at("_hub/"), "dashboard": dashboard, "questions": questions,
            "empty dashboard": at("_hub/second-demo/"), "trust": at(f"_hub/{CURRICULUM}/trust"),
            "upload": at("_hub/upload"), "upload results": lambda page, language: upload_results(page, hub, language)}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_dashboard_page_passes_axe(phone, classroom_hub, language):
    found = {}
    for name, reach in every_page(classroom_hub).items():
        reach(phone, language)
        assert phone.evaluate("() => [document.documentElement.lang, document.documentElement.dir]") == \
            [language, "rtl" if language == "ar" else "ltr"], name
        violations = axe(phone)
        if violations:
            found[name] = describe(violations)
    assert not found, "\n".join(f"{name}:\n{text}" for name, text in found.items())


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_page_scrolls_sideways_and_the_grid_scrolls_in_its_own_box(phone, classroom_hub, language):
    wide = {}
    for name, reach in every_page(classroom_hub).items():
        reach(phone, language)
        width = phone.evaluate("() => document.scrollingElement.scrollWidth")
        if width > PHONE["width"]:
            wide[name] = width
    assert not wide, f"wider than the phone's 360 px: {wide}"

    phone.goto(f"{classroom_hub.url}_hub/{CURRICULUM}/?lang={language}")
    grid = phone.locator("[data-satchel-grid]")
    assert grid.get_attribute("tabindex") == "0" and grid.get_attribute("role") == "region"
    assert grid.get_attribute("aria-label") == strings(language)["grid_label"]
    assert grid.evaluate("g => g.scrollWidth > g.clientWidth + 100"), "the grid is wider than its box, which scrolls"
    # Reached by keyboard, the box scrolls with the arrow keys (towards the end: left in Arabic).
    for _ in range(40):
        phone.keyboard.press("Tab")
        if phone.evaluate("() => document.activeElement.hasAttribute('data-satchel-grid')"):
            break
    else:
        pytest.fail("Tab never reaches the grid's box")
    before = grid.evaluate("g => g.scrollLeft")
    for _ in range(3):
        phone.keyboard.press("ArrowLeft" if language == "ar" else "ArrowRight")
    phone.wait_for_function("([g, before]) => Math.abs(g.scrollLeft - before) > 20", arg=[grid.element_handle(), before])
    assert phone.evaluate("() => document.scrollingElement.scrollLeft") == 0 and phone.evaluate("() => window.scrollX") == 0


CONTROLS = """() => Array.from(document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]'))
  .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
  .map(e => {
    const r = e.getBoundingClientRect(), parent = e.parentElement.closest('p, li, td, th, div, label, form');
    // WCAG 2.5.8's inline exception: a link inside a sentence (its block has other text).
    const inline = e.tagName === 'A' && parent && parent.textContent.trim() !== e.textContent.trim();
    return {what: e.outerHTML.slice(0, 90), width: r.width, height: r.height, inline: inline,
            main: e.matches('main form button[type=submit]')};
  })"""


@pytest.mark.parametrize("language", ["en", "ar"])
def test_every_control_is_at_least_24_px_and_main_buttons_44(phone, classroom_hub, language):
    small, seen = [], 0
    for name, reach in every_page(classroom_hub).items():
        reach(phone, language)
        for control in phone.evaluate(CONTROLS):
            seen += 1
            least = 44 if control["main"] else 24
            if not control["inline"] and (control["width"] < least or control["height"] < least):
                small.append(f"{name}: {control['width']:.0f}x{control['height']:.0f} < {least}: {control['what']}")
    assert seen > 30 and not small, "\n".join(small)


FOCUS_RING = """() => {
  const e = document.activeElement, style = getComputedStyle(e);
  const rgb = text => (text.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => [r, g, b].map(c => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); })
    .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
  let behind = e.parentElement;  // the ring is drawn outside the element, over its parent's background
  while (behind && (rgb(getComputedStyle(behind).backgroundColor)[3] === 0)) behind = behind.parentElement;
  const back = behind ? rgb(getComputedStyle(behind).backgroundColor) : [255, 255, 255];
  const [a, b] = [luminance(rgb(style.outlineColor)), luminance(back)];
  return {what: e.outerHTML.slice(0, 80), style: style.outlineStyle, width: parseFloat(style.outlineWidth),
          contrast: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)};
}"""


@pytest.mark.parametrize("language", ["en", "ar"])
def test_focus_is_visible_on_every_control(phone, classroom_hub, language):
    """Tab through each page: every stop shows a solid ring of 2 px or more, 3:1 against what is behind it."""
    faint, stops = [], 0
    for name, reach in every_page(classroom_hub).items():
        reach(phone, language)
        phone.evaluate("() => document.activeElement && document.activeElement.blur()")
        for _ in range(30):
            phone.keyboard.press("Tab")
            if phone.evaluate("() => document.activeElement === document.body"):
                break
            ring = phone.evaluate(FOCUS_RING)
            stops += 1
            if ring["style"] in ("none", "auto") or ring["width"] < 2 or ring["contrast"] < 3:
                faint.append(f"{name}: {ring}")
    assert stops > 20 and not faint, "\n".join(faint)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_grid_has_a_legend_for_its_marks(phone, classroom_hub, language):
    words = strings(language)
    phone.goto(f"{classroom_hub.url}_hub/{CURRICULUM}/?lang={language}")
    legend = phone.locator("[data-satchel-legend]")
    assert legend.is_visible()
    text = legend.inner_text()
    for key in ("legend_done", "legend_started", "legend_none", "legend_score", "legend_unverified"):
        assert words[key] in text, key
    for mark in ("✓", "·", "–", "?"):
        assert mark in text
    rows = {row.locator("th").inner_text().strip(): row for row in phone.locator("[data-satchel-grid] tbody tr").all()}
    amina = next(row for name, row in rows.items() if "Amina" in name)
    baraka = next(row for name, row in rows.items() if "Baraka" in name)
    assert amina.locator(".flag").count() == 0 and baraka.locator(".flag").count() == 1, "Baraka's file was unsigned"
    assert words["unverified_steps"] in baraka.locator("th").text_content()
    cell = amina.locator("td").first.text_content()
    assert "✓" in cell and words["done"] in cell and "75" in cell


EXPECTED = {  # question (quiz-question, from 1) -> (right, tried), as classroom() made them
    FRACTION: {"1-1": (2, 3), "1-2": (1, 2), "1-3": (0, 1)},
    HALVES: {"1-1": (1, 1), "2-1": (1, 1)},
}
SAID = {
    "en": {(2, 3): "2 of 3 learners", (1, 2): "1 of 2 learners", (0, 1): "0 of 1 learner"},
    "fr": {(2, 3): "2 sur 3 élèves", (1, 2): "1 sur 2 élèves", (0, 1): "0 sur 1 élève"},
    "ar": {(2, 3): "2 من 3 متعلمين", (1, 2): "1 من متعلمَين", (0, 1): "0 من متعلم واحد"},
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_answers_are_shown_question_by_question(phone, classroom_hub, language):
    """Each lesson's questions are one click away from the grid's column of that lesson, on a page of
    their own; the dashboard keeps the questions most missed."""
    dashboard = f"{classroom_hub.url}_hub/{CURRICULUM}/?lang={language}"
    phone.goto(dashboard)
    missed = phone.locator("[data-satchel-missed] tbody tr").evaluate_all("rows => rows.map(r => r.dataset.question)")
    assert missed[0] == f"{FRACTION}#1-3", "missed by every learner who answered it: first"
    assert set(missed) == {f"{FRACTION}#1-1", f"{FRACTION}#1-2", f"{FRACTION}#1-3"}, "only questions someone missed"
    shown = {}
    for lesson in EXPECTED:
        phone.goto(dashboard)
        phone.locator(f'[data-satchel-ask="{lesson}"]').click()
        section = phone.locator(f'[data-satchel-questions="{lesson}"]')
        section.wait_for()
        assert phone.evaluate("() => document.documentElement.lang") == language, "the page keeps the language"
        shown[lesson] = {row.get_attribute("data-question"): tuple(int(row.locator("[data-right]").get_attribute(a))
                                                                   for a in ("data-right", "data-tried"))
                         for row in section.locator("tr[data-question]").all()}
        if lesson == FRACTION:
            # Each learner's answers: right (at least once), answered but never right, not answered.
            marks = {row.locator("th").inner_text(): [cell.locator("[aria-hidden]").inner_text() for cell in row.locator("td").all()]
                     for row in section.locator("table.answers tbody tr").all()}
            assert marks == {"Amina": ["✓", "✓", "✗"], "Baraka": ["✓", "✗", "–"], "Chidi Okonkwo-Adebayo": ["✗", "–", "–"]}
            for key, counts in EXPECTED[FRACTION].items():
                assert section.locator(f'tr[data-question="{key}"] [data-right]').inner_text() == SAID[language][counts]
            percent = {"en": "67%", "fr": "67\u00a0%", "ar": "67٪"}[language]
            assert section.locator('tr[data-question="1-1"] td.n').inner_text() == percent
        else:
            halves = section.locator("tr[data-question] th").all_inner_texts()
            assert halves == [strings(language)["quiz_question"].format(quiz=q, question=1) for q in (1, 2)], \
                "two quizzes: named with their quiz"
    assert shown == EXPECTED


def test_every_plural_string_has_the_forms_of_its_language():
    """Every language has every key English has; a plural mapping names `other` and only CLDR
    categories, and has each form its language uses (Arabic six, English and French one and other)."""
    english = strings("en")
    assert {plural_category("ar", n) for n in (0, 1, 2, 3, 11, 100)} == set(PLURAL_CATEGORIES)
    for language in LANGUAGES:
        own = yaml.safe_load((HUB_DIR / "strings" / f"{language}.yml").read_text(encoding="utf-8"))
        own = {key: text for key, text in own.items() if not key.startswith("_")}  # meta keys (_review: docs/translating.md)
        assert set(own) == set(english), f"{language}: missing {set(english) - set(own)}, extra {set(own) - set(english)}"
        forms = set(PLURAL_CATEGORIES) if language == "ar" else {"one", "other"}
        for key, text in own.items():
            if isinstance(text, dict):
                assert set(text) - {"plural"} <= set(PLURAL_CATEGORIES) and forms <= set(text), (language, key)
    plural = [key for key, text in english.items() if isinstance(text, dict)]
    assert {"learners_count", "right_of", "upload_stored", "too_many_seconds", "answers_count"} <= set(plural)


LEARNERS_SAID = {
    "en": {1: "(1 learner)", 2: "(2 learners)", 3: "(3 learners)", 11: "(11 learners)", 100: "(100 learners)"},
    "fr": {1: "(1 élève)", 2: "(2 élèves)", 3: "(3 élèves)", 11: "(11 élèves)", 100: "(100 élèves)"},
    "ar": {1: "(متعلم واحد)", 2: "(متعلمان)", 3: "(3 متعلمين)", 11: "(11 متعلمًا)", 100: "(100 متعلم)"},
}


def test_counts_have_the_plural_form_of_each_language(demo_site, tmp_path):
    """The learners counted on the dashboard, 0 to 100 of them: in Arabic each of the six forms."""
    running = Hub([demo_site], tmp_path / "data")
    try:
        set_password(running)
        teacher = Browser(running)
        assert teacher.sign_in()[0] == 303
        page = teacher.get(f"_hub/{CURRICULUM}/?lang=ar")[2]
        assert "(لا متعلمين)" in page and "(لا شيء يحتاج إلى قرار)" in page
        assert "(0 learners)" in teacher.get(f"_hub/{CURRICULUM}/?lang=en")[2]
        assert "(0 élève)" in teacher.get(f"_hub/{CURRICULUM}/?lang=fr")[2]
        uploaded = 0
        for count in (1, 2, 3, 11, 100):
            while uploaded < count:
                assert running.upload(progress_file(1, name=f"Learner {uploaded:03}"))[0] == 200
                uploaded += 1
            for language in LANGUAGES:
                heading = re.search(r"<h2>.*?</h2>", teacher.get(f"_hub/{CURRICULUM}/?lang={language}")[2], re.S).group(0)
                assert LEARNERS_SAID[language][count] in heading, (language, count, heading)
    finally:
        running.stop()


def question_counts(hub: Hub) -> list[tuple]:
    store = Store.in_data_dir(hub.data)
    try:
        return sorted(store.question_results(CURRICULUM))
    finally:
        store.close()


def test_answers_are_summed_at_insert_follow_a_resolved_conflict_and_migrate(demo_site, tmp_path, database):
    """The per-question summary is kept as statements arrive and as a teacher swaps a conflicting
    copy in; a database from before it (schema 2) gets it filled from its statements."""
    running = Hub([demo_site], tmp_path / "data", db=database)
    try:
        set_password(running)
        amina = Learner("Amina")
        wrong = answer(amina.id, FRACTION, 0, 0, False, 1)
        assert running.upload(signed(amina, [wrong]))[0] == 200
        assert running.upload(signed(amina, [answer(amina.id, FRACTION, 0, 1, True, 2)]))[0] == 200
        assert question_counts(running) == [(FRACTION, 0, 0, amina.id, 1, 0), (FRACTION, 0, 1, amina.id, 1, 1)]
        forged = dict(amina.file(0), statements=[dict(wrong, result={"score": {"scaled": 1}, "success": True})])  # the same id
        assert running.upload(amina.sign(forged))[0] == 409
        assert question_counts(running)[0][4:] == (1, 0), "a conflict is kept aside: it counts for nothing"
        teacher = Browser(running)
        assert teacher.sign_in()[0] == 303
        trust = teacher.get(f"_hub/{CURRICULUM}/trust")[2]
        digest = re.search(r'name="digest" value="([0-9a-f]+)"', trust).group(1)
        csrf = re.search(r'name="csrf" value="([^"]+)"', trust).group(1)
        assert teacher.post(f"_hub/{CURRICULUM}/trust", {"csrf": csrf, "digest": digest, "action": "use"})[0] == 303
        after = question_counts(running)
        assert after == [(FRACTION, 0, 0, amina.id, 1, 1), (FRACTION, 0, 1, amina.id, 1, 1)], "the copy the teacher chose counts"
        page = teacher.get(f"_hub/{CURRICULUM}/questions?lesson={FRACTION}")[2]
        assert page.count("1 of 1 learner<") == 2, "both questions right, on the lesson's questions page"
        assert "1 of 1 learner<" not in teacher.get(f"_hub/{CURRICULUM}/")[2], "none missed: none in the dashboard's most missed"
        unsigned = progress_file(0, name="Baraka")
        unsigned["statements"] = [answer(unsigned["profile"]["id"], FRACTION, 0, 0, False, 3)]
        assert running.upload(unsigned)[0] == 200
        after = question_counts(running)
    finally:
        running.stop()

    store = Store.in_data_dir(tmp_path / "data")  # back to schema 2: no summary, no count of unverified steps
    try:
        unverified = store.unverified_counts(CURRICULUM)
        assert unverified == {unsigned["profile"]["id"]: 1}
        with store._transaction():
            store.db.execute("DROP TABLE question_results")
            store.db.execute("ALTER TABLE learners DROP COLUMN unverified")
            store.db.execute("UPDATE meta SET value = '2' WHERE key = 'schema'")
    finally:
        store.close()
    store = Store.in_data_dir(tmp_path / "data")
    try:
        assert store.meta("schema") == str(SCHEMA_VERSION)
        assert sorted(store.question_results(CURRICULUM)) == after and store.unverified_counts(CURRICULUM) == unverified
    finally:
        store.close()


NEWER_THAN_CHROME_80 = {r"(?<![\w-])gap\s*:": "flex gap (Chrome 84)", r":has\(": ":has() (Chrome 105)",
                        r"(?<![\w-])inset(-inline|-block)?(-start|-end)?\s*:": "inset (Chrome 87)",
                        r"(?<![\w-])(margin|padding|border)-(inline|block)\s*:": "the two-sided logical shorthands (Chrome 87)",
                        r"aspect-ratio": "aspect-ratio (Chrome 88)", r":is\(|:where\(": ":is() and :where() (Chrome 88)"}


def test_the_pages_keep_to_chrome_80():
    """The dashboard's CSS uses nothing newer than Chrome 80, and its pages run no script at all."""
    for template in sorted((HUB_DIR / "templates").glob("*.html")):
        text = template.read_text(encoding="utf-8")
        assert "<script" not in text, template.name
        css = re.sub(r"/\*.*?\*/", "", "".join(re.findall(r"<style>(.*?)</style>", text, re.S)) + " ".join(re.findall(r'style="([^"]*)"', text)), flags=re.S)
        for pattern, what in NEWER_THAN_CHROME_80.items():
            assert not re.search(pattern, css), f"{template.name}: {what}"
