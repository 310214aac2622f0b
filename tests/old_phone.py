"""An old phone for the browser tests: a 360x740 touch screen without the web APIs newer than the
browser floor (Chrome 80), so that a page calling one fails here as it would on the phone; the demo
built with one lesson without a quiz; and the steps a learner takes (tests/test_old_phone.py and
tests/test_learner_a11y.py share them).

The service worker runs in a global of its own, which an init script does not reach: es-check
(tests/audit.py) holds its syntax to the floor instead. Search's worker (search-worker.js) gets the
same removals at the top of its script, as the network gives it to the page. CSS needs nothing at
run time.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from satchel.builder import DEMO_CURRICULUM
from satchel.builder.build import build

VIEWPORT = {"width": 360, "height": 740}
PHONE = dict(viewport=VIEWPORT, is_mobile=True, has_touch=True, device_scale_factor=2, service_workers="allow")

# Deleted before any page script runs: (owner, property, the Chrome version that brought it).
NEWER_THAN_CHROME_80 = [
    ("Element.prototype", "replaceChildren", 86),
    ("Document.prototype", "replaceChildren", 86),
    ("DocumentFragment.prototype", "replaceChildren", 86),
    ("Array.prototype", "at", 92),
    ("String.prototype", "at", 92),
    ("Object.getPrototypeOf(Int8Array.prototype)", "at", 92),
    ("Array.prototype", "findLast", 97),
    ("Array.prototype", "findLastIndex", 97),
    ("Object.getPrototypeOf(Int8Array.prototype)", "findLast", 97),
    ("Object.getPrototypeOf(Int8Array.prototype)", "findLastIndex", 97),
    ("Array.prototype", "toSorted", 110),
    ("Array.prototype", "toReversed", 110),
    ("Array.prototype", "toSpliced", 110),
    ("Array.prototype", "with", 110),
    ("self", "structuredClone", 98),
    ("Object", "hasOwn", 93),
    ("Object", "groupBy", 117),
    ("Map", "groupBy", 117),
    ("Crypto.prototype", "randomUUID", 92),
    ("String.prototype", "replaceAll", 85),
    ("String.prototype", "isWellFormed", 111),
    ("Promise", "any", 85),
    ("Promise", "withResolvers", 119),
    ("self", "AggregateError", 85),
    ("self", "WeakRef", 84),
    ("self", "FinalizationRegistry", 84),
    ("AbortSignal", "timeout", 103),
    ("AbortSignal", "abort", 93),
    ("AbortSignal", "any", 116),
    ("Intl", "Segmenter", 87),
    ("Element.prototype", "checkVisibility", 105),
    ("HTMLInputElement.prototype", "showPicker", 99),
    ("HTMLDialogElement.prototype", "requestClose", 134),
    ("URL", "canParse", 120),
]

# What it removed is left in window.__oldPhoneRemoved, so a test can check the phone is old.
OLD_PHONE_SCRIPT = "(() => {\n  const gone = [];\n" + "".join(
    f"  try {{ const o = {owner}; if (o && delete o[{name!r}] && !({name!r} in o)) gone.push('{owner}.{name}'); }} catch (e) {{}}\n"
    for owner, name, _ in NEWER_THAN_CHROME_80) + "  Object.defineProperty(self, '__oldPhoneRemoved', {value: gone});\n})();\n"


def old_phone_context(browser, **kwargs):
    """A new context like a 360x740 Android phone of 2020 (touch, 2x pixels, Chrome 80's APIs);
    keyword arguments go to browser.new_context and win over these."""
    context = browser.new_context(**{**PHONE, **kwargs})
    context.add_init_script(OLD_PHONE_SCRIPT)
    prepend_to_search_worker(context, OLD_PHONE_SCRIPT)
    return context


def prepend_to_search_worker(context, script: str, seen: list | None = None) -> None:
    """Run `script` first in search's worker (search-worker.js, as the page loads it from the network
    to start the worker), which init scripts don't reach; each URL so served goes to `seen`. A
    download of the file into a pack (whose hash is checked) gets it as it is."""
    def serve(route):
        if route.request.resource_type == "fetch" or route.request.service_worker is not None:
            route.fallback()  # a pack's download of the file (its hash is checked): left as it is
            return
        try:
            response = route.fetch()
            body = response.text()
        except PlaywrightError:  # the network is cut (context.set_offline), or the page is gone
            try:
                route.abort()
            except PlaywrightError:
                pass
            return
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-encoding", "content-length")}
        route.fulfill(status=response.status, headers=headers, body=script + body)
        if seen is not None:
            seen.append(route.request.url)
    context.route("**/assets/satchel/search-worker.js", serve)


# The demo's lessons all have a quiz; this one loses it, so that a lesson is finished by its button.
LESSON_WITHOUT_QUIZ = "science/clean-water/saving-water"
QUIZ_LESSON = "mathematics/fractions/what-is-a-fraction"
QUIZ_SECTION = re.compile(r"^## [^\n]*\n+```quiz\n.*?^```\n", re.DOTALL | re.MULTILINE)


def build_demo_with_a_lesson_without_quiz(folder: Path) -> Path:
    """The demo curriculum built into `folder`/site, with LESSON_WITHOUT_QUIZ's quiz (and its
    heading) taken out in every language."""
    curriculum = folder / "curriculum"
    shutil.copytree(DEMO_CURRICULUM, curriculum)
    for lesson in curriculum.glob(f"*/{LESSON_WITHOUT_QUIZ}.md"):
        text, found = QUIZ_SECTION.subn("", lesson.read_text(encoding="utf-8"))
        assert found == 1, lesson
        lesson.write_text(text, encoding="utf-8")
    site = folder / "site"
    build(curriculum, site, show_progress=False)
    return site


# A learner's steps


def ready(page) -> None:
    """The page's progress script has started (on a lesson page, that includes the first run's
    answer: a test gives it a learner first, with_learner)."""
    page.evaluate("""Promise.race([window.satchelProgress.ready, new Promise((_, fail) =>
        setTimeout(() => fail(new Error('satchelProgress.ready did not resolve in 15 s')), 15000))])""")


def settled(page) -> None:
    """The page's progress painted, and two frames drawn since."""
    page.wait_for_function("document.documentElement.dataset.satchelProgress !== undefined")
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def with_learner(page, site_url: str, path: str = "", name: str = "Amina") -> None:
    """Give the device a learner (through the app's own function, from the home page) and open
    `path`, so that no first-run dialog stands in front of what the test is about."""
    page.goto(site_url)
    ready(page)
    page.evaluate("name => window.satchelProgress.createProfile(name, '🦒', '#1565c0')", name)
    page.goto(site_url + path)
    ready(page)


def press(locator) -> None:
    """Tap on a touch screen, click elsewhere."""
    if locator.page.evaluate("navigator.maxTouchPoints > 0"):
        locator.tap()
    else:
        locator.click()


def answer_quiz(page, right: bool) -> None:
    """Set every answer of the lesson's quiz (read from its data-answers), all right or all
    wrong whatever was set before, and check it."""
    form = page.locator("form[data-satchel-quiz]")
    for n, answer in enumerate(json.loads(form.get_attribute("data-answers"))):
        inputs = form.locator("fieldset").nth(n).locator("input")
        if "options" in answer:
            chosen = [o["correct"] == right for o in answer["options"]]
            if answer["type"] != "multiple":  # radio buttons: checking one unchecks the others
                inputs.nth(chosen.index(True)).check()
                continue
            for i, on in enumerate(chosen):
                inputs.nth(i).set_checked(on)
        elif answer["type"] == "number":
            inputs.first.fill(str(answer["answer"] if right else answer["answer"] + answer["tolerance"] + 1))
        else:
            inputs.first.fill(answer["accept"][0] if right else "zzz")
    press(form.locator("button[type=submit]"))
