"""Getting around a phone's pages by keyboard and by the app's own guidance: the unit's drawer
leaves the tab order while closed and Escape closes it; the language menu closes on Escape;
*Load progress* is a control a keyboard reaches; the unit's *Start* opens the next lesson to do;
a saved file keeps a name's combining marks."""

from __future__ import annotations

import pytest

from tests.old_phone import QUIZ_LESSON, answer_quiz, old_phone_context, ready, with_learner

pytestmark = pytest.mark.browser

UNIT = QUIZ_LESSON.rsplit("/", 1)[0] + "/"


@pytest.fixture
def phone(browser, demo_site, serve):
    context = old_phone_context(browser)
    page = context.new_page()
    page.on("pageerror", lambda error: pytest.fail(f"page error: {error}"))
    yield page, serve(demo_site).url
    context.close()


def focused(page) -> dict:
    return page.evaluate("""() => { const e = document.activeElement;
        return {inNav: !!e.closest('#satchel-nav'), menu: e.matches('[data-satchel-menu]'), summary: e.matches('.satchel-languages summary'),
                text: (e.textContent || '').trim().slice(0, 40)}; }""")


def test_the_closed_drawer_is_out_of_the_tab_order_and_escape_closes_it(phone):
    page, url = phone
    with_learner(page, url, QUIZ_LESSON)
    stops = []
    for _ in range(12):  # the header and the start of the lesson
        page.keyboard.press("Tab")
        stops.append(focused(page))
    assert not any(s["inNav"] for s in stops), f"a link of the closed drawer took focus: {stops}"
    assert any(s["menu"] for s in stops), "the menu button is reached by Tab"

    page.focus("[data-satchel-menu]")
    page.keyboard.press("Enter")
    assert page.get_attribute("[data-satchel-menu]", "aria-expanded") == "true"
    page.wait_for_function("document.activeElement.closest('#satchel-nav') !== null")
    assert page.is_visible("#satchel-nav a")
    page.keyboard.press("Escape")
    assert page.get_attribute("[data-satchel-menu]", "aria-expanded") == "false"
    assert focused(page)["menu"], "focus goes back to the menu button"
    page.wait_for_function("getComputedStyle(document.querySelector('#satchel-nav')).visibility === 'hidden'")


def test_the_language_menu_opens_by_keyboard_and_closes_on_escape(phone):
    page, url = phone
    with_learner(page, url)
    page.focus(".satchel-languages summary")
    page.keyboard.press("Enter")
    assert page.evaluate("document.querySelector('.satchel-languages').open")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('.satchel-languages ul') !== null"), "the languages are next in the tab order"
    page.keyboard.press("Escape")
    assert not page.evaluate("document.querySelector('.satchel-languages').open")
    assert focused(page)["summary"]


def test_load_progress_is_reached_and_opened_by_keyboard(phone):
    page, url = phone
    with_learner(page, url)
    page.click("[data-satchel-profile-open]")
    page.wait_for_selector("[data-satchel-profiles][open] [data-satchel-import-open]")
    opener = page.locator("[data-satchel-import-open]")
    opener.focus()
    assert page.evaluate("document.activeElement.matches('[data-satchel-import-open]')"), "a keyboard can reach Load progress"
    # Enter opens the file picker: the button clicks the file input (whose default, the browser's
    # picker, is held back here: a picker left open by another test in the same browser would eat it).
    page.evaluate("""() => document.querySelector('[data-satchel-import]').addEventListener('click', event => {
        window.picked = true; event.preventDefault(); })""")
    page.keyboard.press("Enter")
    page.wait_for_function("window.picked === true")


def test_the_units_start_opens_its_first_lesson_not_done(phone):
    page, url = phone
    with_learner(page, url, UNIT)
    lessons = page.eval_on_selector_all(".satchel-lessons a", "links => links.map(a => a.href)")
    assert page.get_attribute("[data-satchel-start]", "href").endswith(QUIZ_LESSON + "/")
    page.goto(url + QUIZ_LESSON + "/")
    ready(page)
    answer_quiz(page, right=True)
    page.wait_for_selector("[data-satchel-finish-done]:not([hidden])")
    page.goto(url + UNIT)
    page.wait_for_function("document.documentElement.dataset.satchelProgress !== undefined")
    assert page.evaluate("document.querySelector('[data-satchel-start]').href") == lessons[1], "Start skips the lesson done"


def test_a_saved_file_keeps_the_combining_marks_of_a_name(phone):
    page, url = phone
    with_learner(page, url, name="مُتعلّم")
    page.click("[data-satchel-profile-open]")
    with page.expect_download() as saved:
        page.click("[data-satchel-export]")
    assert saved.value.suggested_filename.startswith("progress-مُتعلّم-"), saved.value.suggested_filename
