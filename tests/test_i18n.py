"""Words and numbers: plural forms and locale numbers in the interface text, the same from Python
(builder/strings.py) and in the browser (theme/assets/satchel/common.js); sizes, counts, the search
trail in right-to-left text, and quiz feedback that says a thing once."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from satchel.builder import DEMO_CURRICULUM
from satchel.builder.build import build
from satchel.builder.quiz import find_quizzes
from satchel.builder.strings import STRINGS_DIR, _load, format_number, render, ui_strings

COUNTS = (0, 1, 2, 5, 11, 100)
LANGUAGES = ("en", "fr", "ar")
FRACTIONS = "mathematics/fractions/what-is-a-fraction"
RAIN_UNIT = "science/rainwater"  # one lesson; no Arabic index.md, so its Arabic title is the English one
RAIN_LESSON = f"{RAIN_UNIT}/collecting-rain"
RAIN_TITLE = "Rainwater: is it safe?"

LESSONS = {
    "en": ["0 lessons", "1 lesson", "2 lessons", "5 lessons", "11 lessons", "100 lessons"],
    "fr": ["0 leçon", "1 leçon", "2 leçons", "5 leçons", "11 leçons", "100 leçons"],
    "ar": ["لا دروس", "درس واحد", "درسان", "5 دروس", "11 درسًا", "100 درس"],
}
FOUND = {
    "en": ["0 lessons found", "1 lesson found", "2 lessons found", "5 lessons found", "11 lessons found", "100 lessons found"],
    "fr": ["0 leçon trouvée", "1 leçon trouvée", "2 leçons trouvées", "5 leçons trouvées", "11 leçons trouvées", "100 leçons trouvées"],
    "ar": ["لم نجد أي درس", "وجدنا درسًا واحدًا", "وجدنا درسين", "وجدنا 5 دروس", "وجدنا 11 درسًا", "وجدنا 100 درس"],
}
DONE = {  # progress_count with 12 lessons: English agrees with the total, French with the lessons done
    "en": ["0 of 12 lessons done", "1 of 12 lessons done", "2 of 12 lessons done", "5 of 12 lessons done", "11 of 12 lessons done",
           "100 of 12 lessons done"],
    "fr": ["0 leçon finie sur 12", "1 leçon finie sur 12", "2 leçons finies sur 12", "5 leçons finies sur 12", "11 leçons finies sur 12",
           "100 leçons finies sur 12"],
}
NUMBERS = {"en": "1,234.5", "fr": "1\u202f234,5", "ar": "1,234.5", "ar-EG": "١٬٢٣٤٫٥"}


# Python

@pytest.mark.parametrize("code", LANGUAGES)
def test_counts_take_the_plural_form_of_their_language(code):
    strings = ui_strings(code)
    assert [render(strings["lessons"], code, n=n) for n in COUNTS] == LESSONS[code]
    assert [render(strings["search_found"], code, n=n) for n in COUNTS] == FOUND[code]
    if code in DONE:
        assert [render(strings["progress_count"], code, done=n, total=12) for n in COUNTS] == DONE[code]
    assert render(strings["offline_progress"], code, size="1 MB", percent=1234.5).endswith(NUMBERS[code] + {"en": "%", "fr": "\u202f%", "ar": "٪"}[code])


def test_arabic_has_a_form_for_each_of_its_six_plural_categories():
    strings = ui_strings("ar")
    assert [render(strings["minutes"], "ar", n=n) for n in COUNTS] == \
        ["0 دقيقة", "دقيقة واحدة", "دقيقتان", "5 دقائق", "11 دقيقة", "100 دقيقة"]
    exported = [render(strings["progress_exported"], "ar", n=n).split(".")[0] for n in COUNTS]
    assert exported == ["حُفظ التقدّم في ملف، وليس فيه أي خطوة بعد", "حُفظت خطوة واحدة من التقدّم في ملف",
                        "حُفظت خطوتان من التقدّم في ملف", "حُفظت 5 خطوات من التقدّم في ملف",
                        "حُفظت 11 خطوة من التقدّم في ملف", "حُفظت 100 خطوة من التقدّم في ملف"]


def test_french_speaks_to_the_child_as_tu():
    formal = re.compile(r"\b(vous|votre|vos)\b|\b(?!assez\b|chez\b)\w+ez\b", re.I)
    texts = [t for v in _load(STRINGS_DIR / "fr.yml").values() for t in (v.values() if isinstance(v, dict) else [v])]
    assert [t for t in texts if formal.search(t)] == []


def test_arabic_writes_tanween_one_way():
    """Fathatan on the letter before alif, as most of the file does: 'جدًا', never 'جداً'."""
    texts = [t for v in _load(STRINGS_DIR / "ar.yml").values() for t in (v.values() if isinstance(v, dict) else [v])]
    assert [t for t in texts if "اً" in t] == []


def test_a_curriculum_s_own_strings_override_ours_plural_forms_and_all(tmp_path):
    from satchel.builder.curriculum import require_valid
    from satchel.builder.pages import PageContext
    shutil.copytree(DEMO_CURRICULUM, tmp_path / "demo")
    (tmp_path / "demo" / "strings").mkdir()
    (tmp_path / "demo" / "strings" / "fr.yml").write_text('minutes: {one: "{n} minute", other: "{n} minutes"}\n', encoding="utf-8")
    page = PageContext(require_valid(tmp_path / "demo"), "fr", "science/water-cycle", "fr")
    assert [page.t("minutes", n=n) for n in (1, 5)] == ["1 minute", "5 minutes"]
    assert page.lesson_count(page.unit) == "3 leçons"
    assert page.search["strings"]["found"] == ui_strings("fr")["search_found"], "the scripts get the mapping itself"


def test_every_language_names_the_breadcrumbs_in_its_own_words():
    names = {code: ui_strings(code)["breadcrumbs"] for code in LANGUAGES}
    assert len(set(names.values())) == 3 and names["en"] != "breadcrumbs"


# A built site: the demo, with one more unit that has a single lesson

@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("i18n")
    curriculum = root / "demo"
    shutil.copytree(DEMO_CURRICULUM, curriculum)
    lesson = "---\ntitle: {title}\nminutes: 5\norder: 1\n---\n\n{text}\n"
    units = {"en": RAIN_TITLE, "fr": "L’eau de pluie"}
    lessons = {"en": ("Collecting rain", "We keep rain water in a clean tank."),
               "fr": ("Recueillir la pluie", "On garde l’eau de pluie dans un réservoir propre."),
               "ar": ("جمع ماء المطر", "نحفظ ماء المطر في خزّان نظيف.")}
    for code, (title, text) in lessons.items():
        folder = curriculum / code / RAIN_UNIT
        folder.mkdir(parents=True)
        if code in units:
            (folder / "index.md").write_text(f"---\ntitle: \"{units[code]}\"\norder: 3\n---\n", encoding="utf-8")
        (folder / "collecting-rain.md").write_text(lesson.format(title=title, text=text), encoding="utf-8")
    build(curriculum, root / "site", show_progress=False)
    return root / "site"


@pytest.fixture(scope="module")
def browser_page(site, browser):
    """One page for the module (the tests only read), served from the built site, on a device past
    its first run."""
    from tests.conftest import Server, device
    server = Server(site).start()
    context = device(browser)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def visit(path: str):
        page.goto(server.url + path)
        page.wait_for_function("!!window.satchelCommon")
        return page

    visit.errors = errors
    yield visit
    context.close()
    server.stop()


def url(code: str, node: str = "") -> str:
    return ("" if code == "en" else f"{code}/") + (f"{node}/" if node else "")


def placeholders(text: str | dict) -> set[str]:
    texts = [v for k, v in text.items() if k != "plural"] if isinstance(text, dict) else [text]
    return {name for t in texts for name in re.findall(r"\{(\w+)\}", t)}


# The browser

@pytest.mark.browser
@pytest.mark.parametrize("code", LANGUAGES)
def test_the_browser_writes_every_string_as_python_does(browser_page, code):
    """Every interface string the page embeds, at each count: satchelCommon.format == render."""
    page = browser_page(url(code, FRACTIONS))
    assert page.evaluate("satchelCommon.language") == code
    config = page.evaluate("satchelCommon.config")
    embedded = {f"progress_{k}": v for k, v in config["progress"]["strings"].items()}
    embedded.update({f"search_{k}": v for k, v in config["search"]["strings"].items()})
    embedded.update({f"quiz_{k}": v for k, v in config["quiz"].items()})
    strings = ui_strings(code)
    assert embedded == {key: strings[key] for key in embedded}, "embedded as written, plural mappings kept"
    assert isinstance(embedded["search_found"], dict) and isinstance(embedded["progress_exported"], dict)
    cases = []
    for spec in embedded.values():
        counted = spec.get("plural", "n") if isinstance(spec, dict) else "n"
        for n in COUNTS:
            values = {name: n if name == counted else 1234.5 for name in placeholders(spec)}
            cases.append((spec, values, render(spec, code, **values)))
    got = page.evaluate("cases => cases.map(([spec, values]) => satchelCommon.format(spec, values))", [c[:2] for c in cases])
    assert got == [c[2] for c in cases]
    lessons = page.evaluate("([spec, counts]) => counts.map(n => satchelCommon.format(spec, {n: n}))", [strings["lessons"], list(COUNTS)])
    assert lessons == LESSONS[code]
    assert page.evaluate("satchelCommon.number(1234.5)") == NUMBERS[code]


@pytest.mark.browser
def test_egyptian_arabic_gets_arabic_indic_digits_on_both_sides(browser_page):
    page = browser_page(url("ar"))
    page.set_content('<html lang="ar-EG"><body></body></html>')
    page.add_script_tag(path=str(Path(__file__).parent.parent / "theme" / "assets" / "satchel" / "common.js"))
    spec = ui_strings("ar-EG")["lessons"]
    assert page.evaluate("([spec, counts]) => counts.map(n => satchelCommon.format(spec, {n: n}))", [spec, list(COUNTS)]) == \
        [render(spec, "ar-EG", n=n) for n in COUNTS] == ["لا دروس", "درس واحد", "درسان", "٥ دروس", "١١ درسًا", "١٠٠ درس"]
    assert page.evaluate("satchelCommon.number(1234.5)") == format_number("ar-EG", 1234.5) == NUMBERS["ar-EG"]


@pytest.mark.browser
def test_sizes_are_written_with_the_units_and_decimal_sign_of_the_language(browser_page):
    sizes = "[198300, 5, 999960, 1.5e9].map(satchelCommon.size)"
    assert browser_page(url("fr")).evaluate(sizes) == ["198,3\u202fko", "5\u202fo", "1\u202fMo", "1,5\u202fGo"]
    assert browser_page(url("en")).evaluate(sizes) == ["198.3 kB", "5 byte", "1 MB", "1.5 GB"]
    # The offline dialog: every subject's size, in French.
    page = browser_page(url("fr"))
    page.click("[data-satchel-offline]")
    page.wait_for_selector("[data-satchel-parts] li")
    shown = page.eval_on_selector_all("[data-satchel-parts] li span", "spans => spans.map(s => s.textContent)")
    # (a subject with videos says "Leçons seules, 341,7 ko", and its button "Avec les vidéos, ...")
    assert shown and all(re.fullmatch(r"(Leçons seules, )?\d+(,\d)?\u202f(o|ko|Mo|Go)", s) for s in shown), shown
    assert any("," in s for s in shown), shown


@pytest.mark.browser
def test_a_french_unit_of_one_lesson_says_1_lecon(browser_page):
    page = browser_page(url("fr", "science"))
    counts = page.eval_on_selector_all(".satchel-card__meta", "ps => ps.map(p => p.textContent.trim())")
    assert "1 leçon" in counts and "3 leçons" in counts, counts
    assert browser_page(url("fr", RAIN_UNIT)).text_content(".satchel-lessons .satchel-card__meta") == "5 min"
    arabic = browser_page(url("ar", "science")).eval_on_selector_all(".satchel-card__meta", "ps => ps.map(p => p.textContent.trim())")
    assert "درس واحد" in arabic and "3 دروس" in arabic, arabic
    assert browser_page(url("ar", RAIN_UNIT)).text_content(".satchel-lessons .satchel-card__meta") == "5 دقائق"


def pointing(png: bytes) -> str:
    """Which way a chevron drawn dark on light points: where its middle row is, against its top row."""
    from PIL import Image
    image = Image.open(io.BytesIO(png)).convert("L")
    dark = [(x, y) for x in range(image.width) for y in range(image.height) if image.getpixel((x, y)) < 160]
    top, bottom = min(y for _, y in dark), max(y for _, y in dark)
    middle = [x for x, y in dark if abs(y - (top + bottom) / 2) < 2]
    upper = [x for x, y in dark if y - top < 3]
    return "right" if sum(middle) / len(middle) > sum(upper) / len(upper) else "left"


SEPARATOR_BOX = """([selector, n]) => {
    // The box of the n-th separator of a trail: a "›" in its text, or a crumb's ::before.
    const box = document.querySelector(selector);
    if (box.matches('.satchel-breadcrumbs')) {
        const li = box.querySelectorAll('li')[n + 1], a = li.querySelector('a').getBoundingClientRect(), r = li.getBoundingClientRect();
        return a.left > r.left + 1 ? {x: r.left, y: r.top, width: a.left - r.left, height: r.height}
                                   : {x: a.right, y: r.top, width: r.right - a.right, height: r.height};
    }
    const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
    let seen = 0;
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        for (let i = node.data.indexOf('›'); i >= 0; i = node.data.indexOf('›', i + 1)) {
            if (seen++ < n) continue;
            const range = document.createRange();
            range.setStart(node, i);
            range.setEnd(node, i + 1);
            const r = range.getBoundingClientRect();
            return {x: r.left, y: r.top, width: r.width, height: r.height};
        }
    }
    return null;
}"""

CHARACTER_BOX = """([selector, text, offset]) => {
    // The box of the character at `offset` in the first occurrence of `text` in the element's text.
    const walker = document.createTreeWalker(document.querySelector(selector), NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const i = node.data.indexOf(text);
        if (i < 0) continue;
        const range = document.createRange();
        range.setStart(node, i + offset);
        range.setEnd(node, i + offset + 1);
        const r = range.getBoundingClientRect();
        return {left: r.left, right: r.right};
    }
    return null;
}"""


def separator_points(page, selector: str, n: int = 0) -> str:
    box = page.evaluate(SEPARATOR_BOX, [selector, n])
    return pointing(page.screenshot(clip=box))


@pytest.mark.browser
def test_the_arabic_search_trail_and_breadcrumbs_read_right_to_left(browser_page):
    big = ".satchel-search__trail, .md-typeset .satchel-breadcrumbs ol { font-size: 40px !important; white-space: nowrap !important; }"
    page = browser_page(url("en", FRACTIONS))
    page.add_style_tag(content=big)
    assert separator_points(page, ".satchel-breadcrumbs") == "right", "the measure itself: English points right"

    page = browser_page(url("ar", RAIN_LESSON))
    page.add_style_tag(content=big)
    assert separator_points(page, ".satchel-breadcrumbs") == "left"
    page.click("[data-satchel-search-open]")
    page.fill("[data-satchel-search] input", "خزان")
    page.wait_for_selector(f"[data-satchel-search-results] a[href$='{RAIN_LESSON}/']")
    trail = f"[data-satchel-search-results] li:has(a[href$='{RAIN_LESSON}/']) .satchel-search__trail"
    assert page.text_content(trail) == f"العلوم › {RAIN_TITLE}"
    assert separator_points(page, trail) == "left"
    # The untranslated English title keeps its question mark at its end, not at the far left.
    mark, e = (page.evaluate(CHARACTER_BOX, [trail, "safe?", i]) for i in (4, 3))
    first = page.evaluate(CHARACTER_BOX, [trail, "Rainwater", 0])
    assert mark["left"] >= e["right"] - 1 and mark["left"] > first["left"], (mark, e, first)
    subject = page.evaluate(CHARACTER_BOX, [trail, "العلوم", 0])
    assert subject["left"] > mark["right"], "the subject comes first, on the right"
    # So does the page's own trail, where the unit is the last crumb.
    mark, e = (page.evaluate(CHARACTER_BOX, [".satchel-breadcrumbs", "safe?", i]) for i in (4, 3))
    first = page.evaluate(CHARACTER_BOX, [".satchel-breadcrumbs", "Rainwater", 0])
    assert mark["left"] >= e["right"] - 1 and mark["left"] > first["left"], (mark, e, first)
    assert browser_page.errors == []


def author_feedback(code: str) -> list[str]:
    """The feedback the demo's author wrote for each option of the fractions lesson's first question."""
    path = DEMO_CURRICULUM / code / f"{FRACTIONS}.md"
    first = find_quizzes(path.read_text(encoding="utf-8"), 1, path, [])[0].questions[0]
    return [option["feedback"] for option in first["options"]]


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?؟])\s+", text.strip()) if s]


@pytest.mark.browser
@pytest.mark.parametrize("code", LANGUAGES)
def test_quiz_feedback_says_each_thing_once(browser_page, code):
    expected = author_feedback(code)
    page = browser_page(url(code, FRACTIONS))
    total = page.locator("form[data-satchel-quiz] fieldset").count()
    first = page.locator("form[data-satchel-quiz] fieldset").first
    for option in (0, 1):  # the wrong answer "3", then the right one "4"
        first.locator(f"input[value='{option}']").check()
        page.click(".satchel-quiz button[type=submit]")
        said = first.locator(".satchel-quiz__feedback").text_content()
        assert said == expected[option]
        assert len(sentences(said)) == len(set(sentences(said))), said
    score = page.text_content(".satchel-quiz__score")
    assert score == {"en": f"1 of {total} right", "fr": f"1 bonne réponse sur {total}", "ar": f"1 من {total} صحيحة"}[code]
    assert browser_page.errors == []


@pytest.mark.browser
def test_a_partly_right_french_score_has_a_decimal_comma(browser_page):
    page = browser_page(url("fr", "mathematics/fractions/halves-and-quarters"))
    fieldsets = page.locator("form[data-satchel-quiz] fieldset")
    multiple = next(i for i in range(fieldsets.count()) if fieldsets.nth(i).get_attribute("data-type") == "multiple")
    answers = page.evaluate("JSON.parse(document.querySelector('form[data-satchel-quiz]').dataset.answers)")
    right = [i for i, o in enumerate(answers[multiple]["options"]) if o["correct"]]
    assert len(right) == 2, "the test needs a multiple-choice question with two right options"
    fieldsets.nth(multiple).locator(f"input[value='{right[0]}']").check()
    page.click(".satchel-quiz button[type=submit]")
    assert page.text_content(".satchel-quiz__score") == f"0,5 bonne réponse sur {fieldsets.count()}"

