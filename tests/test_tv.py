"""The classroom TV (builder/tv.py, theme/assets/satchel/tv.js, hub/tv.py, hub/kiosk.py), in Debian's
Chromium at 1920x1080: a whole lesson driven by keys alone in English, French and Arabic, the type of
every screen measured (at least 32 px, no screen scrolls); teacher's notes on no learner page, not in
the TV's page, and in the presenter's; the presenter and the TV on the same screen, through a
BroadcastChannel and through the hub; axe-core clean; the TV working offline from a subject kept on
the device; a lesson marked taught stored as a Group's xAPI statement and shown on the class page;
and `satchel hub kiosk`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from satchel.builder.tv import extract_notes
from satchel.hub import kiosk, xapi
from satchel.hub.store import Store

from tests.audit import axe, describe
from tests.conftest import device
from tests.old_phone import QUIZ_LESSON
from tests.test_hub import Hub
from tests.test_packs import download, open_page, part_list

NOTE = {"en": "tear it unevenly", "fr": "déchirez-la inégalement", "ar": "ومزّقها"}
PREFIX = {"en": "", "fr": "fr/", "ar": "ar/"}
TV = {"width": 1920, "height": 1080}
PASSWORD = "chalk-and-slate"

# Every piece of text the TV shows: its element's font size times the frame's scale (1 at 1920x1080),
# whether the screen's body scrolls, and whether any text or picture lies outside the frame.
MEASURE = """() => {
  const frame = document.querySelector('[data-tv-frame]');
  const body = frame.querySelector('.tv-body');
  const box = frame.getBoundingClientRect();
  const scale = box.width / 1920;
  const walker = document.createTreeWalker(frame, NodeFilter.SHOW_TEXT);
  const sizes = [];
  const outside = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const rects = [...range.getClientRects()].filter(r => r.width && r.height);
    if (!rects.length) continue;  // not shown (an answer before it is revealed)
    sizes.push([parseFloat(getComputedStyle(node.parentElement).fontSize) * scale, node.textContent.trim().slice(0, 30)]);
    for (const r of rects) if (r.top < box.top - 1 || r.bottom > box.bottom + 1 || r.left < box.left - 1 || r.right > box.right + 1)
      outside.push(node.textContent.trim().slice(0, 30));
  }
  for (const img of frame.querySelectorAll('img')) {
    const r = img.getBoundingClientRect();
    if (r.bottom > box.bottom + 1 || r.right > box.right + 1 || r.left < box.left - 1) outside.push(img.src);
  }
  return {scale, sizes, outside, scrolls: body.scrollHeight > body.clientHeight + 1 || body.scrollWidth > body.clientWidth + 1,
          status: frame.querySelector('.tv-status span:last-child').textContent, kind: frame.className,
          html: document.documentElement.outerHTML, revealed: frame.classList.contains('tv-revealed')};
}"""


@pytest.fixture
def tv(browser):
    context = device(browser, viewport=TV)
    yield context
    context.close()


def watch(page) -> list:
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def screen_number(page) -> int:
    return int(page.evaluate("new URLSearchParams(location.hash.slice(1)).get('screen') || '1'"))


def wait_for_screen(page, n: int) -> None:
    page.wait_for_function("n => (new URLSearchParams(location.hash.slice(1)).get('screen') || '1') === String(n)", arg=n)


# Teacher's notes: out of every learner page, in the presenter's file

def test_teacher_boxes_are_taken_out_with_their_section_and_title():
    markdown = ("Intro\n\n!!! teacher\n    First note.\n\n## One\n\nText.\n\n???+ teacher \"Ask\"\n    Ask the class.\n\n"
                "    - a list\n\nAfter.\n\n```text\n!!! teacher\n    not a box: code\n```\n\n### Two\n\n!!! tip\n    A learner's tip.\n")
    rest, notes = extract_notes(markdown)
    assert [(n["section"], n["title"], n["markdown"]) for n in notes] == [(0, "", "First note."), (1, "Ask", "Ask the class.\n\n- a list")]
    assert "First note" not in rest and "Ask the class" not in rest and "a list" not in rest
    assert "not a box: code" in rest and "A learner's tip." in rest and "After." in rest and "## One" in rest
    for written in ("!!! Teacher inline\n    Hidden.\n", "- item\n\n    !!! teacher \"T\"\n        Hidden.\n"):  # any case; in a list
        rest, notes = extract_notes(written)
        assert "Hidden" not in rest and "teacher" not in rest.lower() and notes[0]["markdown"] == "Hidden.", written


@pytest.mark.parametrize("code", ["en", "fr", "ar"])
def test_notes_are_in_no_learner_page_search_store_or_pack(demo_site, code):
    notes_file = demo_site / f"{PREFIX[code]}tv/notes/{QUIZ_LESSON}.json"
    notes = json.loads(notes_file.read_text(encoding="utf-8"))["notes"]
    assert len(notes) == 1 and notes[0]["section"] == 1 and NOTE[code] in notes[0]["html"]
    holding = [p.relative_to(demo_site).as_posix() for p in demo_site.rglob("*")
               if p.is_file() and p.suffix in (".html", ".json", ".js") and NOTE[code] in p.read_text(encoding="utf-8", errors="replace")]
    assert holding == [notes_file.relative_to(demo_site).as_posix()], "only the presenter's notes file holds the note"
    lesson = (demo_site / f"{PREFIX[code]}{QUIZ_LESSON}/index.html").read_text(encoding="utf-8")
    assert "admonition teacher" not in lesson
    packed = [f["url"] for part in ("_shared", "mathematics", "science") for f in part_list(demo_site, code, part)["files"]]
    assert not [u for u in packed if "/notes/" in u], "no notes file in a pack"
    assert {f"{PREFIX[code]}tv/", "assets/satchel/tv.js", "assets/satchel/tv.css"} <= set(packed), "the TV is in the language's shared part"
    assert "tv/notes" not in (demo_site / "sw.js").read_text(encoding="utf-8"), "nor in the precache"
    assert f'href="{"../" * (QUIZ_LESSON.count("/") + 1)}tv/#lesson={QUIZ_LESSON}"' in lesson, \
        "the lesson's Present button opens it on the TV"


# A whole lesson by keys alone

@pytest.mark.browser
@pytest.mark.parametrize("code", ["en", "fr", "ar"])
def test_a_whole_lesson_by_keys_alone_readable_from_the_back_of_the_class(demo_site, serve, tv, code):
    server = serve(demo_site)
    page = tv.new_page()
    errors = watch(page)
    page.goto(server.url + PREFIX[code] + "tv/")
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [code, "rtl" if code == "ar" else "ltr"]
    page.wait_for_function("document.activeElement.matches('.tv-item')")
    # the picker: subjects -> units -> lessons, with Enter and the arrows
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")  # mathematics
    page.wait_for_function("document.querySelectorAll('.tv-item').length === 2 && document.activeElement.matches('.tv-item')")
    page.keyboard.press("Escape")  # back to the subjects, focus on the one left
    page.wait_for_function("document.activeElement.matches('.tv-item')")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelectorAll('.tv-item').length === 2")
    page.keyboard.press("Enter")  # the first unit: its lessons
    page.wait_for_function("document.querySelectorAll('.tv-item').length === 3")
    page.keyboard.press("Enter")  # its first lesson
    page.wait_for_function(f"location.hash.startsWith('#lesson={QUIZ_LESSON}')")
    page.wait_for_selector("[data-tv-frame] .tv-body")

    forward, backward = ("ArrowLeft", "ArrowRight") if code == "ar" else ("ArrowRight", "ArrowLeft")
    seen, quizzes, total = [], 0, None
    for _ in range(60):
        shown = page.evaluate(MEASURE)
        n, total = status_numbers(shown["status"])
        assert n == screen_number(page)
        assert shown["scale"] == 1
        small = [s for s in shown["sizes"] if s[0] < 32]
        assert not small, f"screen {n}: text under 32 px: {small}"
        assert not shown["scrolls"], f"screen {n} scrolls"
        assert not shown["outside"], f"screen {n}: outside the screen: {shown['outside']}"
        assert NOTE[code] not in shown["html"], "the teacher's note is not in the TV's page"
        seen.append(n)
        if "tv-quiz" in shown["kind"] and not shown["revealed"]:
            quizzes += 1
            assert page.locator("[data-tv-frame] .tv-feedback").is_hidden(), "the answer waits for Enter"
            page.keyboard.press("Enter")
            page.wait_for_selector("[data-tv-frame].tv-revealed")
            assert page.locator("[data-tv-frame] .tv-feedback").is_visible()
            revealed = page.evaluate(MEASURE)
            assert not [s for s in revealed["sizes"] if s[0] < 32] and not revealed["scrolls"] and not revealed["outside"]
        if n == total:
            break
        page.keyboard.press(forward if n % 2 else "PageDown")
        wait_for_screen(page, n + 1)
    assert seen == list(range(1, total + 1)), "every screen, in order"
    assert quizzes == 4 and total >= 10
    page.keyboard.press("Home")
    wait_for_screen(page, 1)
    page.keyboard.press("3")
    wait_for_screen(page, 3)
    page.keyboard.press(backward)
    wait_for_screen(page, 2)
    page.keyboard.press("PageUp")
    wait_for_screen(page, 1)
    page.keyboard.press("End")
    wait_for_screen(page, total)
    page.keyboard.press("Backspace")  # back to the picker, on the lesson left
    page.wait_for_function("document.activeElement.matches('.tv-item')")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid", "a visible focus ring"
    assert errors == []


def status_numbers(text: str) -> tuple[int, int]:
    """'3 / 15' (in the language's digits) -> (3, 15)."""
    n, total = text.translate(str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789")).split("/")
    return int(n), int(total)


LONG_SECTION = ("<h2>A long section</h2>" + "".join(f"<p>Paragraph {n}: " + "many words to read " * 12 + "</p>" for n in range(1, 9))
                + "<ol>" + "".join(f"<li>Item {n} of the long list</li>" for n in range(1, 31)) + "</ol>"
                + "<p>Long: " + " ".join(f"w{n}" for n in range(1, 901)) + "</p>")


@pytest.mark.browser
def test_a_section_too_long_for_a_screen_is_split_and_never_under_32_px(demo_site, serve, tv):
    """Paragraphs go on to the next screen, a long list is split between its items (numbering going
    on), and a paragraph too long even at 32 px is split between its words: nothing scrolls, nothing
    is lost, and no type is under 32 px."""
    server = serve(demo_site)
    lesson = (demo_site / QUIZ_LESSON / "index.html").read_text(encoding="utf-8")
    longer = lesson.replace('</div>\n<div class="satchel-finish"', LONG_SECTION + '</div>\n<div class="satchel-finish"', 1)
    assert longer != lesson
    tv.route(server.url + QUIZ_LESSON + "/", lambda route: route.fulfill(body=longer, content_type="text/html; charset=utf-8"))
    page = tv.new_page()
    errors = watch(page)
    page.goto(server.url + f"tv/#lesson={QUIZ_LESSON}")
    page.wait_for_selector("[data-tv-frame] .tv-body")
    texts, sizes, numbering = [], set(), []
    while True:
        shown = page.evaluate(MEASURE)
        n, total = status_numbers(shown["status"])
        assert not [s for s in shown["sizes"] if s[0] < 32] and not shown["scrolls"] and not shown["outside"], n
        sizes.add(page.evaluate("parseFloat(document.querySelector('[data-tv-frame] .tv-body').style.fontSize)"))
        texts.append(page.evaluate("document.querySelector('[data-tv-frame] .tv-body').innerText"))
        numbering += page.evaluate("""[...document.querySelectorAll('[data-tv-frame] .tv-body ol')].filter(ol => ol.textContent.startsWith('Item'))
            .map(ol => [Number(ol.getAttribute('start') || 1), ol.children.length])""")
        if n == total:
            break
        page.keyboard.press("PageDown")
        wait_for_screen(page, n + 1)
    words = " ".join(texts)
    assert all(f"Paragraph {n}:" in words for n in range(1, 9)) and all(f"Item {n} of" in words for n in range(1, 31))
    found = [int(w[1:]) for w in words.split() if w[:1] == "w" and w[1:].isdigit()]
    assert found == list(range(1, 901)), "every word of the long paragraph, once, in order"
    assert len(numbering) >= 2 and all(start == before + count for (before, count), (start, _) in
                                       zip([(1, 0), *numbering[:-1]], numbering, strict=True)), numbering
    assert min(sizes) == 32 and 44 in sizes, sizes  # the long paragraph's screens shrunk to 32 px, the others not
    assert errors == []


@pytest.mark.browser
def test_a_lessons_present_button_opens_it_on_the_tv_and_a_countdown_reveals_the_answer(demo_site, serve, tv):
    server = serve(demo_site)
    page = tv.new_page()
    errors = watch(page)
    page.goto(server.url + QUIZ_LESSON + "/")
    page.click("[data-satchel-present]")
    page.wait_for_selector("[data-tv-frame] .tv-body")
    assert page.evaluate("location.pathname") == "/tv/"
    page.wait_for_function("document.activeElement.matches('[data-tv-frame]')")
    while "tv-quiz" not in page.get_attribute("[data-tv-frame]", "class"):
        n = screen_number(page)
        page.keyboard.press("ArrowRight")
        wait_for_screen(page, n + 1)
    page.keyboard.press("c")
    page.wait_for_function("document.querySelector('[data-tv-timer]').textContent === '30'")
    page.wait_for_function("document.querySelector('[data-tv-timer]').textContent === '29'")
    page.evaluate("() => document.querySelector('[data-tv-reveal]').focus()")
    page.keyboard.press("Enter")  # the focused button: shows the answer
    page.wait_for_selector("[data-tv-frame].tv-revealed")
    assert page.locator("[data-tv-frame] li[data-correct]").count() == 1
    assert errors == []


# The presenter view

@pytest.mark.browser
def test_the_presenter_follows_the_tv_and_shows_the_notes_the_tv_never_has(demo_site, serve, tv):
    server = serve(demo_site)
    screen = tv.new_page()
    errors = watch(screen)
    screen.goto(server.url + f"ar/tv/#lesson={QUIZ_LESSON}")
    screen.wait_for_selector("[data-tv-frame] .tv-body")
    presenter = tv.new_page()
    errors += watch(presenter)
    presenter.goto(server.url + "ar/tv/?presenter")
    presenter.wait_for_selector("[data-tv-presenter]:not([hidden]) [data-tv-presenter-screen] .tv-body")
    for _ in range(2):
        screen.keyboard.press("ArrowLeft")  # next, in Arabic
    wait_for_screen(screen, 3)
    wait_for_screen(presenter, 3)
    presenter.wait_for_function("t => document.querySelector('[data-tv-notes]').textContent.includes(t)", arg=NOTE["ar"])
    assert NOTE["ar"] not in screen.content(), "the TV's page never has the notes"
    presenter.keyboard.press("ArrowLeft")  # the presenter drives: the TV follows
    wait_for_screen(screen, 4)
    assert "tv-solo" in screen.get_attribute("[data-tv-frame]", "class"), "the picture's own screen"
    presenter.wait_for_function("t => document.querySelector('[data-tv-notes]').textContent.includes(t)", arg=NOTE["ar"])  # same section
    presenter.keyboard.press("ArrowLeft")
    wait_for_screen(screen, 5)
    presenter.wait_for_function("t => !document.querySelector('[data-tv-notes]').textContent.includes(t)", arg=NOTE["ar"])
    presenter.keyboard.press("Escape")
    screen.wait_for_function("!document.querySelector('[data-tv-picker]').hidden")
    assert errors == []


@pytest.mark.browser
@pytest.mark.parametrize("code", ["en", "ar"])
def test_axe_finds_nothing_on_the_picker_a_screen_and_the_presenter(demo_site, serve, tv, code):
    server = serve(demo_site)
    page = tv.new_page()
    page.goto(server.url + PREFIX[code] + "tv/")
    page.wait_for_function("document.activeElement.matches('.tv-item')")
    assert (found := axe(page)) == [], describe(found)
    page.goto(server.url + PREFIX[code] + f"tv/#lesson={QUIZ_LESSON}&screen=11")
    page.wait_for_selector("[data-tv-frame].tv-quiz")
    assert (found := axe(page)) == [], describe(found)
    page.goto(server.url + PREFIX[code] + f"tv/?presenter#lesson={QUIZ_LESSON}&screen=3")
    page.wait_for_selector("[data-tv-notes] .tv-note")
    assert (found := axe(page)) == [], describe(found)


@pytest.mark.browser
def test_the_tv_works_offline_from_a_subject_kept_on_the_device(demo_site, serve, browser, tmp_path):
    site = tmp_path / "site"
    shutil.copytree(demo_site, site)
    server = serve(site)
    context = device(browser, viewport=TV, service_workers="allow")
    try:
        page = open_page(context, server.url + "fr/")
        download(page, "mathematics")
        server.stop()
        context.set_offline(True)
        errors = watch(page)
        assert page.goto(server.url + f"fr/tv/#lesson={QUIZ_LESSON}").ok
        page.wait_for_selector("[data-tv-frame] .tv-body")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        wait_for_screen(page, 4)
        assert page.evaluate("document.querySelector('[data-tv-frame] img').naturalWidth") > 0, "the lesson's picture, from the device"
        assert errors == []
    finally:
        context.close()


# On the hub: following through it, and a lesson marked taught

def signed_in(browser, hub_url: str, **options):
    context = device(browser, **options)
    page = context.new_page()
    page.goto(hub_url + "_hub/login")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/_hub/login" not in url)
    return context


@pytest.fixture
def hub(demo_site, tmp_path):
    data = tmp_path / "data"
    command = [sys.executable, "-m", "satchel.builder.cli", "hub"]
    subprocess.run([*command, "init", "--data", str(data)], check=True, capture_output=True)
    subprocess.run([*command, "set-password", "--data", str(data)], input=PASSWORD + "\n", text=True, check=True, capture_output=True)
    store = Store.in_data_dir(data)
    class_id = store.add_class("satchel-demo", "Class 4B")
    store.close()
    running = Hub([demo_site], data)
    running.class_id = class_id
    yield running
    running.stop()


def call(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_the_hubs_tv_api_wants_the_teacher_and_bounds_what_it_takes(hub):
    state = hub.url + "_hub/tv/state?curriculum=satchel-demo&room=tv"
    assert call(state)[0] == 401
    assert call(state, b'{"lesson": null}')[0] == 401
    assert call(hub.url + "_hub/tv/taught", b"{}")[0] == 401
    assert call(hub.url + "_hub/tv/session?curriculum=satchel-demo") == (200, {"teacher": False})


@pytest.mark.browser
def test_a_lesson_taught_is_a_group_statement_shown_on_the_class_page_and_the_phone_follows_the_tv(hub, browser):
    teacher = signed_in(browser, hub.url, viewport=TV)
    phone = signed_in(browser, hub.url, viewport={"width": 412, "height": 915})
    try:
        screen = teacher.new_page()
        errors = watch(screen)
        screen.goto(hub.url + f"tv/#lesson={QUIZ_LESSON}")
        screen.wait_for_selector("[data-tv-frame] .tv-body")
        follower = phone.new_page()
        errors += watch(follower)
        follower.goto(hub.url + "tv/?presenter")
        follower.wait_for_function("!!document.querySelector('[data-tv-classes] option')")  # signed in: the hub's classes offered
        screen.keyboard.press("ArrowRight")
        wait_for_screen(screen, 2)
        wait_for_screen(follower, 2)  # through the hub: another browser, no BroadcastChannel between them
        follower.keyboard.press("End")
        wait_for_screen(screen, screen_number(follower))

        # the API's checks, with the teacher's own cookie and token
        api = screen.evaluate("""async () => {
          const session = await (await fetch('/_hub/tv/session?curriculum=satchel-demo')).json();
          const post = (body, token) => fetch('/_hub/tv/taught', {method: 'POST', headers: {'content-type': 'application/json',
            'x-satchel-csrf': token}, body: JSON.stringify(body)}).then(r => r.status);
          const good = {curriculum: 'satchel-demo', lesson: 'mathematics/fractions/what-is-a-fraction', language: 'en', class: 'x'};
          return [await post(good, 'guessed'), await post({...good, lesson: '../etc'}, session.csrf),
                  await post({...good, results: [{question: 'quiz-0-0', right: 31, total: 30}]}, session.csrf),
                  await post({...good, class: 'x'.repeat(101)}, session.csrf),
                  await post({...good, padding: 'x'.repeat(20000)}, session.csrf),
                  ...await Promise.all([['tv', {screen: -1}], ['tv', {screen: 10001}], ['tv', {lesson: 'nope'}], ['a/b', {}],
                                        ['tv', {from: 'x'.repeat(41)}], ['tv', {padding: 'x'.repeat(1001)}]].map(([room, body]) =>
                    fetch('/_hub/tv/state?curriculum=satchel-demo&room=' + room, {method: 'POST', headers: {'content-type': 'application/json',
                      'x-satchel-csrf': session.csrf}, body: JSON.stringify(body)}).then(r => r.status)))];
        }""")
        assert api == [403, 422, 422, 422, 413, 422, 422, 422, 422, 422, 413]

        follower.goto(hub.url + f"tv/?presenter#lesson={QUIZ_LESSON}&screen=10")
        follower.wait_for_selector("[data-tv-class-result]:not([hidden])")
        follower.fill("[data-tv-result-form] input[name=right]", "12")
        follower.fill("[data-tv-result-form] input[name=total]", "30")
        follower.click("[data-tv-result-form] button")
        follower.wait_for_function("document.querySelector('[data-tv-result-kept]').textContent.includes('12')")
        follower.fill("[data-tv-taught-form] input[name=class]", "class 4b")
        follower.click("[data-tv-taught-form] button")
        follower.wait_for_function("document.querySelector('[data-tv-taught-status]').textContent.includes('Class 4B')")

        store = Store.in_data_dir(hub.data)
        rows = store.query("SELECT class, class_name, lesson, body FROM class_sessions")
        store.close()
        assert [(r[0], r[1], r[2]) for r in rows] == [(hub.class_id, "Class 4B", QUIZ_LESSON)]
        statement = json.loads(rows[0][3])
        assert xapi.problem(statement) is None
        assert statement["actor"]["objectType"] == "Group" and statement["actor"]["name"] == "Class 4B"
        assert statement["verb"]["id"] == "http://adlnet.gov/expapi/verbs/attended"
        assert statement["object"]["id"] == f"urn:satchel:satchel-demo:lesson:{QUIZ_LESSON}"
        assert statement["result"]["extensions"]["urn:satchel:class-results"] == [{"question": "quiz-0-0", "right": 12, "total": 30}]

        dashboard = teacher.new_page()
        dashboard.goto(hub.url + f"_hub/satchel-demo/class/{hub.class_id}")
        taught = dashboard.locator(f"[data-satchel-class-taught] li[data-lesson='{QUIZ_LESSON}']")
        assert "What is a fraction?" in taught.text_content() and "12/30" in taught.text_content()
        assert errors == []
    finally:
        teacher.close()
        phone.close()


# The kiosk

def test_kiosk_prints_and_writes_a_chromium_kiosk_and_refuses_what_would_write_configuration(tmp_path):
    run = [sys.executable, "-m", "satchel.builder.cli", "hub", "kiosk"]
    printed = subprocess.run([*run, "--url", "http://10.42.0.1:8000/fr/tv/?room=4b"], capture_output=True, text=True, check=True).stdout
    assert 'ExecStart=chromium --kiosk --noerrdialogs --disable-translate' in printed and '"http://10.42.0.1:8000/fr/tv/?room=4b"' in printed
    written = subprocess.run([*run, "--url", "http://hub.local/tv/%C3%A9", "--write", str(tmp_path / "k"), "--browser", "chromium-browser"],
                             capture_output=True, text=True, check=True)
    assert "systemctl --user enable" in written.stdout
    service = (tmp_path / "k" / kiosk.SERVICE_FILE).read_text()
    assert 'ExecStart=chromium-browser --kiosk' in service and '"http://hub.local/tv/%%C3%%A9"' in service, "% doubled: not a specifier"
    assert 'Exec=chromium-browser --kiosk' in (tmp_path / "k" / kiosk.AUTOSTART_FILE).read_text()
    for bad in ["http://x/$(reboot)", "http://x/a b", "http://x/\nExecStartPre=/bin/rm", 'http://x/"', "file:///etc/passwd", "x" * 2001]:
        refused = subprocess.run([*run, "--url", bad, "--write", str(tmp_path / "bad")], capture_output=True, text=True)
        assert refused.returncode == 2 and "--url" in refused.stderr, bad
    refused = subprocess.run([*run, "--url", "http://x/", "--browser", "rm -rf /"], capture_output=True, text=True)
    assert refused.returncode == 2 and "--browser" in refused.stderr
    assert not Path(tmp_path / "bad").exists()


def test_a_teacher_box_in_a_quote_stops_the_build_with_its_file_and_line(tmp_path, capsys):
    from satchel.builder.cli import main

    from tests.test_check import lesson, valid_files, write
    files = valid_files()
    files["en/maths/fractions/halves.md"] = lesson(body="Cut the bread.\n\n> !!! teacher\n>     The answer is two halves.\n")
    root = write(tmp_path / "quoted", files)
    site = tmp_path / "site"
    assert main(["build", str(root), "-o", str(site)]) == 1
    err = capsys.readouterr().err
    assert "halves.md:7: a teacher's box inside a quote would show on the learners' page" in err
    assert "Nothing was built" in err and not site.exists()
