"""Offline search: per language, words taken from each lesson find it in the top 3, through the
same pipeline at index and query time; bad input never breaks the page."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
from playwright.sync_api import expect
from satchel.builder import ROOT
from satchel.builder.search import STEMMED, page_text

LESSON_RE = re.compile(r"^[a-z-]+/[a-z-]+/[a-z-]+$")
ARABIC_MARKS = "\u064e\u0650\u064f\u0651"  # fatha, kasra, damma, shadda


def test_python_and_javascript_agree_on_the_languages_with_a_stemmer():
    source = (ROOT / "theme" / "assets" / "satchel" / "search-language.js").read_text(encoding="utf-8")
    listed = re.search(r"var STEMMED = \[([^\]]+)\]", source).group(1)
    assert tuple(re.findall(r"'(\w+)'", listed)) == STEMMED


def test_page_text_keeps_words_whole_and_drops_markup():
    html = '<p>Le <strong>tout</strong>. Une <a href="x">fraction</a></p><svg><text>1/2</text></svg><p>deux &amp; trois</p>'
    assert page_text(html) == "Le tout. Une fraction deux & trois"


def words(text: str) -> list[str]:
    return [w for w in re.findall(r"[^\W\d_]+", text) if len(w) >= 5]


def rare_words(site: Path, code: str) -> dict[str, list[str]]:
    """For each lesson: its words that the fewest other pages use, rarest first."""
    store = {}
    for shard in (site / "satchel" / "search" / code / "store").rglob("*.json"):
        store.update(json.loads(shard.read_text(encoding="utf-8")))
    frequency = Counter(w.lower() for doc in store.values() for w in set(words(doc[3])))
    lessons = {}
    for ref, doc in store.items():
        if LESSON_RE.match(ref):
            candidates = sorted(set(words(doc[3])), key=lambda w: (frequency[w.lower()], w))
            lessons[ref] = candidates
    return lessons


@pytest.fixture
def search_page(demo_site, serve, context):
    server = serve(demo_site)
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if message.type in ("error", "warning") else None)

    def open_language(code: str):
        page.goto(server.url + ("" if code == "en" else f"{code}/"))
        page.click("[data-satchel-search-open]")
        return page

    open_language.page = page
    open_language.server = server
    open_language.problems = problems
    yield open_language


def search(page, text: str) -> list[str]:
    """Type `text` in the search box; return the result URLs (bundle-relative refs), best first."""
    page.evaluate("""text => new Promise((resolve, reject) => {
        const dialog = document.querySelector('[data-satchel-search]');
        const timer = setTimeout(() => reject(new Error('no results event')), 10000);
        dialog.addEventListener('satchel:results', () => { clearTimeout(timer); resolve(); }, {once: true});
        const input = dialog.querySelector('input');
        input.value = text;
        input.dispatchEvent(new Event('input'));
    })""", text)
    root = page.evaluate("new URL(document.querySelector('meta[name=satchel-root]').content, location.href).href")
    return [href.removeprefix(root) for href in page.eval_on_selector_all("[data-satchel-search-results] a", "as => as.map(a => a.href)")]


def ranks(results: list[str], ref: str, code: str) -> bool:
    prefix = "" if code == "en" else f"{code}/"
    return f"{prefix}{ref}/" in results[:3]


def add_arabic_marks(word: str) -> str:
    return "".join(ch + (ARABIC_MARKS[i % 4] if "\u0621" <= ch <= "\u064a" else "") for i, ch in enumerate(word))


def strip_accents(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))


@pytest.mark.browser
@pytest.mark.parametrize("code", ["en", "fr", "ar"])
def test_words_from_each_lesson_find_it_in_the_top_3(demo_site, search_page, code):
    page = search_page(code)
    lessons = rare_words(demo_site, code)
    assert len(lessons) == 12
    for ref, candidates in lessons.items():
        query = " ".join(candidates[:2])
        assert ranks(search(page, query), ref, code), (ref, query)
        if code == "fr":
            accented = next((w for w in candidates if strip_accents(w) != w), None)
            if accented:
                assert ranks(search(page, accented), ref, code), (ref, accented)
                assert ranks(search(page, strip_accents(accented)), ref, code), (ref, strip_accents(accented))
        if code == "ar":
            marked = " ".join(add_arabic_marks(w) for w in candidates[:2])  # the same words, with short vowels
            assert ranks(search(page, marked), ref, code), (ref, marked)
    assert search_page.problems == []


# Inflected forms that are not in the lesson's text, found through the language's stemmer
# (test_inflected_forms_are_not_in_the_text checks they are not there).
INFLECTED = [
    ("en", "evaporated condensed", "science/water-cycle/evaporation-and-condensation"),
    ("en", "compared fraction", "mathematics/fractions/comparing-fractions"),
    ("fr", "évaporant condensant", "science/water-cycle/evaporation-and-condensation"),
    ("fr", "comparaison fraction", "mathematics/fractions/comparing-fractions"),
    ("ar", "بالتكاثف", "science/water-cycle/evaporation-and-condensation"),
    ("ar", "الكسور", "mathematics/fractions/what-is-a-fraction"),
]


@pytest.mark.browser
@pytest.mark.parametrize("code, query, ref", INFLECTED)
def test_an_inflected_form_finds_the_lesson(demo_site, search_page, code, query, ref):
    page = search_page(code)
    results = search(page, query)
    assert ranks(results, ref, code), results


@pytest.mark.browser
def test_results_show_title_place_and_marked_snippet(search_page):
    page = search_page("fr")
    search(page, "évaporation")
    first = page.locator("[data-satchel-search-results] li").first
    assert first.locator("strong").text_content()
    assert "Sciences" in first.locator(".satchel-search__trail").text_content()
    assert first.locator("mark").count() >= 1
    assert "1 leçon" in page.text_content("[data-satchel-search-status]") or "leçons" in page.text_content("[data-satchel-search-status]")
    # The keyboard reaches the results and comes back.
    page.focus("[data-satchel-search] input")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.closest('[data-satchel-search-results]') !== null")
    page.keyboard.press("ArrowUp")
    assert page.evaluate("document.activeElement.matches('[data-satchel-search] input')")


@pytest.mark.browser
@pytest.mark.parametrize("query", [
    "the and of", "le la les de", "في من على", "*", ":", "~", "^", "+", "-", "title:water", "wat*", "~2 +water -rain",
    "x" * 1000, "water " * 200, "<script>alert(1)</script>", "\u200f\u200e", "🙂",
])
def test_bad_queries_give_results_or_a_friendly_message(search_page, query):
    page = search_page("ar" if any("\u0600" <= c <= "\u06ff" for c in query) else "en")
    results = search(page, query)
    status = page.text_content("[data-satchel-search-status]")
    assert results or "Nothing found" in status or "لم نجد" in status, status
    assert search_page.problems == []
    assert page.locator("script", has_text="alert(1)").count() == 0


@pytest.mark.browser
def test_search_works_offline_for_the_subjects_on_the_device(demo_site, serve, context, tmp_path):
    import shutil
    site = tmp_path / "site"
    shutil.copytree(demo_site, site)
    server = serve(site)
    page = context.new_page()
    page.goto(server.url + "ar/")
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=20000)
    page.click("[data-satchel-offline]")
    page.wait_for_selector("[data-satchel-parts] li")
    page.click("[data-satchel-parts] li[data-part=science] button")
    page.wait_for_selector("[data-satchel-parts] li[data-part=science][data-state=installed]", timeout=30000)
    page.goto(server.url + "ar/science/")
    page.click("[data-satchel-search-open]")
    online = search(page, "الكسور")
    assert online and all(url.startswith("ar/mathematics/") for url in online)
    server.stop()
    context.set_offline(True)
    page.goto(server.url + "ar/science/")
    page.click("[data-satchel-search-open]")
    assert ranks(search(page, "التبخر"), "science/water-cycle/evaporation-and-condensation", "ar")
    # Mathematics is not on the device: its lessons are left out, and search still answers.
    assert search(page, "الكسور") == []
    assert page.text_content("[data-satchel-search-status]")


@pytest.mark.parametrize("code, query, ref", INFLECTED)
def test_inflected_forms_are_not_in_the_text(code, query, ref):
    text = (ROOT / "curricula" / "demo" / code / f"{ref}.md").read_text(encoding="utf-8").lower()
    assert not any(re.search(rf"(?<![^\W\d_]){re.escape(word)}(?![^\W\d_])", text) for word in query.split() if word != "fraction"), query


def search_files(site: Path, code: str) -> dict[str, str]:
    import hashlib
    folder = site / "satchel" / "search" / code
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*.json")}


def test_each_subject_has_its_own_shard_in_its_own_pack(demo_site):
    for code in ("en", "fr", "ar"):
        assert set(search_files(demo_site, code)) == {
            "titles.json", "index/mathematics.json", "index/science.json", "store/mathematics.json", "store/science.json",
            "store/mathematics/fractions.json", "store/mathematics/fractions-in-life.json", "store/science/water-cycle.json",
            "store/science/clean-water.json"}, "a shard per subject, a text store per unit (and the subject's own page)"
        parts = {}
        for part in ("_shared", "mathematics", "science"):
            listed = json.loads((demo_site / "satchel" / "packs" / code / f"{part}.json").read_text(encoding="utf-8"))
            parts[part] = {f["url"] for f in listed["files"] if f["url"].startswith("satchel/search/")}
        folder = f"satchel/search/{code}/"
        assert parts["_shared"] == {folder + "titles.json"}
        for subject in ("mathematics", "science"):
            assert parts[subject] == {f"{folder}{name}" for name in search_files(demo_site, code)
                                      if name == f"index/{subject}.json" or name.startswith((f"store/{subject}.", f"store/{subject}/"))}
        shard = json.loads((demo_site / "satchel" / "search" / code / "index" / "science.json").read_text(encoding="utf-8"))
        assert shard["refs"] and all(ref.split("/")[0] == "science" for ref in shard["refs"])


def test_editing_one_lesson_changes_only_its_subjects_shard(demo_copy, tmp_path):
    from satchel.builder.build import build
    before = tmp_path / "before"
    build(demo_copy, before, show_progress=False)
    lesson = demo_copy / "en" / "science" / "water-cycle" / "rain-and-rivers.md"
    lesson.write_text(lesson.read_text(encoding="utf-8") + "\nMonsoons bring heavy rain.\n", encoding="utf-8")
    after = tmp_path / "after"
    build(demo_copy, after, show_progress=False)
    old, new = search_files(before, "en"), search_files(after, "en")
    assert {name for name in old if old[name] != new[name]} == {"index/science.json", "store/science/water-cycle.json"}
    for code in ("fr", "ar"):
        assert search_files(before, code) == search_files(after, code)


@pytest.mark.browser
def test_title_suggestions_appear_before_the_shards_arrive(search_page):
    page = search_page.page
    held = []
    # On the context: the service worker's requests go past page.route.
    page.context.route("**/satchel/search/en/index/*.json", lambda route: held.append(route))
    search_page("en")
    page.fill("[data-satchel-search] input", "compar")
    page.wait_for_selector("[data-satchel-search-results][data-satchel-suggestions] li", timeout=10000)
    titles = page.eval_on_selector_all("[data-satchel-search-results] li strong", "s => s.map(e => e.textContent)")
    assert titles and all("compar" in t.lower() for t in titles), titles
    assert held, "the shards were not requested"
    page.evaluate("""() => document.querySelector('[data-satchel-search]').addEventListener('satchel:results',
        () => { window.satchelResultsShown = true; }, {once: true})""")
    assert not page.evaluate("!!window.satchelResultsShown"), "no full results while the shards are held"
    for route in held:
        route.continue_()
    page.wait_for_function("window.satchelResultsShown === true", timeout=10000)
    assert page.locator("[data-satchel-search-results][data-satchel-suggestions]").count() == 0
    assert page.locator("[data-satchel-search-results] li mark").count() >= 1  # full results, with snippets
    assert search_page.problems == []


@pytest.mark.browser
def test_opening_search_fetches_the_titles_and_each_subjects_shard_once(search_page):
    page = search_page.page
    requested = []
    page.on("request", lambda request: requested.append(request.url) if "/satchel/search/" in request.url else None)
    search_page("fr")
    assert ranks(search(page, "évaporation"), "science/water-cycle/evaporation-and-condensation", "fr")
    names = [url.split("/satchel/search/fr/")[1] for url in requested]
    assert sorted(n for n in names if not n.startswith("store/")) == ["index/mathematics.json", "index/science.json", "titles.json"]
    stores = [n for n in names if n.startswith("store/")]
    assert "store/science/water-cycle.json" in stores and len(stores) == len(set(stores)), stores
    assert all(n.count("/") == 2 or n == "store/science.json" for n in stores), "the units' texts, not whole subjects'"


@pytest.mark.browser
def test_a_device_where_search_was_used_has_it_ready_and_a_first_visit_fetches_no_search(demo_site, serve, browser):
    """search.js, its worker and the indexes are not in the app shell: a first visit fetches none of
    them until search is opened. Once a child has searched on the device, every later page loads
    them while it is idle (the worker fetches the title list and every subject's index), so that
    opening search answers without waiting for the network."""
    from tests.conftest import WELCOMED
    server = serve(demo_site)
    context = browser.new_context(service_workers="block")
    context.add_init_script(WELCOMED)
    page = context.new_page()
    asked = []
    page.on("request", lambda request: asked.append(request.url))

    def search_files(urls):
        return sorted({url.split("/satchel/search/fr/")[-1] if "/satchel/search/" in url else url.rsplit("/", 1)[1]
                       for url in urls if "/satchel/search/" in url or "/search" in url.rsplit("/", 1)[1]})

    page.goto(server.url + "fr/")
    page.wait_for_load_state("networkidle")
    page.evaluate("new Promise(r => requestIdleCallback(() => setTimeout(r, 300)))")
    assert search_files(asked) == [], "a first visit downloads no search"
    page.click("[data-satchel-search-open]")
    page.fill("[data-satchel-search] input", "évapor")
    page.wait_for_selector("[data-satchel-search-results] li", timeout=10000)

    asked.clear()
    page.reload()
    page.wait_for_function("window.satchelSearch !== undefined")  # search.js, from the HTTP cache
    expected = {"titles.json", "index/mathematics.json", "index/science.json"}
    for _ in range(200):  # the worker's requests: polled, as the page can't see them (up to 20 s)
        if expected <= set(search_files(asked)):
            break
        page.wait_for_timeout(100)
    assert expected <= set(search_files(asked)), search_files(asked)
    before = len(asked)
    page.click("[data-satchel-search-open]")
    page.fill("[data-satchel-search] input", "évapor")
    page.wait_for_selector("[data-satchel-search-results]:not([data-satchel-suggestions]) li", timeout=10000)
    again = [f for f in search_files(asked[before:]) if not f.startswith("store/")]
    assert again == [], f"they were there already: {again}"
    context.close()


@pytest.mark.browser
def test_ranked_results_come_before_their_snippets_and_keep_their_order(search_page):
    """With every shard in but the text stores not yet, the results show at once, ranked, with
    title, trail and link (satchel:ranked); the snippets are then added to the same list, in the
    same order (satchel:results), without it being drawn again."""
    page = search_page.page
    held = []
    page.context.route("**/satchel/search/en/store/**", lambda route: held.append(route))
    search_page("en")
    page.wait_for_function("window.satchelSearch !== undefined")
    page.evaluate("""() => {
        const dialog = document.querySelector('[data-satchel-search]');
        window.seen = [];
        window.firsts = {};
        for (const name of ['satchel:suggestions', 'satchel:ranked', 'satchel:results']) dialog.addEventListener(name, () => {
            const list = dialog.querySelector('[data-satchel-search-results]');
            window.seen.push({name, urls: Array.from(list.querySelectorAll('a'), a => a.href),
                              titles: Array.from(list.querySelectorAll('a strong'), s => s.textContent),
                              trails: list.querySelectorAll('a .satchel-search__trail').length,
                              marks: list.querySelectorAll('mark').length});
            window.firsts[name] = list.querySelector('li');
        });
    }""")
    # Wait for every shard: until then the answer is the title suggestions.
    page.fill("[data-satchel-search] input", "condensation")
    page.wait_for_function("window.seen.some(s => s.name === 'satchel:ranked')", timeout=10000)
    ranked = page.evaluate("window.seen.find(s => s.name === 'satchel:ranked')")
    assert ranked["urls"] and ranked["marks"] == 0, ranked
    assert len(ranked["titles"]) == len(ranked["urls"]) == ranked["trails"] and all(ranked["titles"]), ranked
    assert held, "the stores were asked for"
    assert not page.evaluate("window.seen.some(s => s.name === 'satchel:results')"), "no full results while the stores are held"
    for route in held:
        route.continue_()
    page.wait_for_function("window.seen.some(s => s.name === 'satchel:results')", timeout=10000)
    full = page.evaluate("window.seen.find(s => s.name === 'satchel:results')")
    assert full["urls"] == ranked["urls"] and full["titles"] == ranked["titles"], (ranked, full)
    assert full["marks"] >= 1
    assert page.evaluate("window.firsts['satchel:ranked'] === window.firsts['satchel:results']"), \
        "the snippets were added to the list shown, not a new list"
    assert "/science/water-cycle/evaporation-and-condensation/" in full["urls"][0]
    assert search_page.problems == []


@pytest.mark.browser
def test_the_search_box_is_modal_escape_closes_it_and_focus_goes_back(search_page):
    """The box is a modal dialog (showModal(), which Chrome 80 has, unlike `inert`): Tab stays in
    the box, the page behind takes no click, Escape closes it and focus goes back to the search
    button; it opens again with the words typed."""
    page = search_page.page
    page.goto(search_page.server.url)
    page.wait_for_load_state("networkidle")
    page.focus("[data-satchel-search-open]")
    page.keyboard.press("Enter")
    dialog = page.locator("[data-satchel-search]")
    expect(dialog).to_have_attribute("open", "")
    assert dialog.evaluate("d => d.matches(':modal')"), "modal: the page behind is inert"
    expect(dialog.locator("input")).to_be_focused()
    for _ in range(6):  # Tab goes round the box, never to the page behind
        page.keyboard.press("Tab")
        assert page.evaluate("!document.activeElement || document.activeElement === document.body "
                             "|| !!document.activeElement.closest('[data-satchel-search]')")
    header = page.locator("header [data-satchel-search-open]")
    assert header.evaluate("b => { const r = b.getBoundingClientRect(); "
                           "return !b.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2)); }"), "the page behind takes no tap"
    dialog.locator("input").focus()
    page.keyboard.type("eau")
    page.keyboard.press("Escape")
    expect(dialog).not_to_have_attribute("open", "")
    expect(page.locator("[data-satchel-search-open]")).to_be_focused()
    page.keyboard.press("Enter")  # and it opens again, the words still in the box
    expect(dialog).to_have_attribute("open", "")
    expect(dialog.locator("input")).to_have_value("eau")
    dialog.locator("[data-satchel-search-close]").click()
    expect(dialog).not_to_have_attribute("open", "")
    expect(page.locator("[data-satchel-search-open]")).to_be_focused()
    assert search_page.problems == []
