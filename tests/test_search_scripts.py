"""Search in languages written without spaces between words (Japanese, Chinese, Thai, Lao, Khmer,
Burmese): words from the middle of sentences find their lesson, with Intl.Segmenter and without it
(Chrome before 87), and the snippet marks them. The fixture, tests/fixtures/search-scripts, has the
same three lessons in each language."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from satchel.builder.build import build

FIXTURE = Path(__file__).parent / "fixtures" / "search-scripts"
SCRIPTS = ["ja", "zh", "th", "lo", "km", "my"]
LESSONS = ["binary", "variables", "loops"]
LEAST_SHARE = {"lo": 0.85, "km": 0.8}
SENTENCE_END = r"[\s\u3002\uff01\uff1f\uff0c\u3001.!?,\u17d4\u104a\u104b]+"

# Words that sit in the middle of a sentence of the lesson, each with the lesson it is in.
MID_SENTENCE = [
    ("ja", "バイナリ", "binary"), ("ja", "メモリ", "binary"), ("ja", "変数", "variables"), ("ja", "ロボット", "loops"),
    ("zh", "二进制", "binary"), ("zh", "内存", "binary"), ("zh", "变量", "variables"), ("zh", "机器人", "loops"),
    ("th", "เลขฐานสอง", "binary"), ("th", "ตัวแปร", "variables"), ("th", "หุ่นยนต์", "loops"),
    ("lo", "ເລກຖານສອງ", "binary"), ("lo", "ຕົວປ່ຽນ", "variables"), ("lo", "ຫຸ່ນຍົນ", "loops"),
    ("km", "លេខគោលពីរ", "binary"), ("km", "អថេរ", "variables"), ("km", "មនុស្សយន្ត", "loops"),
    ("my", "ဒွိစနစ်", "binary"), ("my", "ကိန်းရှင်", "variables"), ("my", "စက်ရုပ်", "loops"),
]

SEARCH_EACH = """async words => {
    const dialog = document.querySelector('[data-satchel-search]');
    const input = dialog.querySelector('input');
    const list = dialog.querySelector('[data-satchel-search-results]');
    const root = new URL(document.querySelector('meta[name=satchel-root]').content, location.href).href;
    const out = [];
    for (const word of words) {
        await new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('no results event for ' + word)), 10000);
            dialog.addEventListener('satchel:results', () => { clearTimeout(timer); resolve(); }, {once: true});
            input.value = word;
            input.dispatchEvent(new Event('input'));
        });
        out.push(Array.from(list.querySelectorAll('li'), li => ({
            url: li.querySelector('a').href.slice(root.length),
            marks: Array.from(li.querySelectorAll('mark'), m => m.textContent),
        })));
    }
    return out;
}"""


@pytest.fixture(scope="module")
def scripts_site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("search-scripts") / "site"
    build(FIXTURE, site, show_progress=False)
    return site


@pytest.fixture(scope="module")
def server(scripts_site):
    from tests.conftest import Server
    server = Server(scripts_site).start()
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["segmenter", "no-segmenter"])
def open_search(request, browser, server):
    """A function opening the search dialog of a language, in a browser with Intl.Segmenter or
    with it deleted (as on Chrome 80, before it arrived)."""
    from tests.conftest import device
    from tests.old_phone import prepend_to_search_worker
    context = device(browser, service_workers="block")
    routed = []
    if request.param == "no-segmenter":
        context.add_init_script("delete Intl.Segmenter")
        prepend_to_search_worker(context, "delete Intl.Segmenter;\n", routed)  # the engine's worker too
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))

    def open_language(code: str):
        page.goto(f"{server.url}{code}/")
        page.click("[data-satchel-search-open]")
        has = page.evaluate("typeof Intl.Segmenter === 'function'")
        assert has == (request.param == "segmenter")
        page.wait_for_function("window.satchelSearch !== undefined")
        return page

    open_language.mode = request.param
    open_language.problems = problems
    yield open_language
    context.close()
    assert routed or request.param == "segmenter", "the worker was given its script without Intl.Segmenter"


def lesson_texts(site: Path, code: str) -> dict[str, str]:
    store = {}
    for part in (site / "satchel" / "search" / code / "store").rglob("*.json"):  # one per unit
        store.update(json.loads(part.read_text(encoding="utf-8")))
    return {ref.rsplit("/", 1)[1]: doc[3] for ref, doc in store.items() if ref.count("/") == 2}


def mid_sentence_words(browser, texts: dict[str, str], code: str) -> list[tuple[str, str]]:
    """(word, lesson) for every word-like segment that does not start its sentence, as Chromium's
    Intl.Segmenter cuts it; each word once, with the first lesson it is in."""
    page = browser.new_page()
    try:
        cut = page.evaluate("""([code, texts, end]) => Object.fromEntries(Object.entries(texts).map(([lesson, text]) =>
            [lesson, text.split(new RegExp(end, 'u')).flatMap(sentence =>
                Array.from(new Intl.Segmenter(code, {granularity: 'word'}).segment(sentence))
                    .filter(s => s.isWordLike).slice(1).map(s => s.segment))]))""", [code, texts, SENTENCE_END])
    finally:
        page.close()
    seen, words = set(), []
    for lesson, segments in cut.items():
        for word in segments:
            if word not in seen:
                seen.add(word)
                words.append((word, lesson))
    return words


@pytest.mark.browser
def test_the_index_holds_the_words_not_whole_sentences(scripts_site):
    def terms(code: str) -> set[str]:
        shards = sorted((scripts_site / "satchel" / "search" / code / "index").glob("*.json"))
        assert shards, code
        return {term for shard in shards for term, _ in json.loads(shard.read_text(encoding="utf-8"))["index"]["invertedIndex"]}

    terms = {code: terms(code) for code in SCRIPTS}
    for code, word, _ in MID_SENTENCE:
        assert any(term in word for term in terms[code] if len(term) > 1), (code, word)
    assert "バイナリ" in terms["ja"] and "变量" in terms["zh"] and "ตัวแปร" in terms["th"]
    for code in SCRIPTS:
        assert max(len(term) for term in terms[code]) <= 24, code


@pytest.mark.browser
@pytest.mark.parametrize("code", SCRIPTS)
def test_mid_sentence_words_find_their_lesson_and_are_marked(open_search, code):
    page = open_search(code)
    cases = [(word, lesson) for c, word, lesson in MID_SENTENCE if c == code]
    answers = page.evaluate(SEARCH_EACH, [word for word, _ in cases])
    for (word, lesson), results in zip(cases, answers, strict=True):
        urls = [r["url"] for r in results]
        assert f"{code}/computing/data/{lesson}/" in urls[:3], (open_search.mode, word, urls)
        marks = next(r["marks"] for r in results if r["url"] == f"{code}/computing/data/{lesson}/")
        assert marks and (marks[0] in word or word in marks[0]), (open_search.mode, word, marks)
    assert open_search.problems == []


@pytest.mark.browser
@pytest.mark.parametrize("code", SCRIPTS)
def test_the_share_of_mid_sentence_words_found(open_search, browser, scripts_site, code):
    """Every word-like segment that does not start a sentence, searched alone: the share whose
    lesson is among the results (and first among them), printed for the issue's closing note."""
    words = mid_sentence_words(browser, lesson_texts(scripts_site, code), code)
    assert len(words) >= 20, words
    page = open_search(code)
    answers = page.evaluate(SEARCH_EACH, [word for word, _ in words])
    found = first = 0
    missed = []
    for (word, lesson), results in zip(words, answers, strict=True):
        urls = [r["url"] for r in results]
        target = f"{code}/computing/data/{lesson}/"
        found += target in urls
        first += target in urls[:1]
        if target not in urls:
            missed.append(word)
    share = found / len(words)
    print(f"\n[search-scripts] {code} {open_search.mode}: {found}/{len(words)} mid-sentence words found "
          f"({share:.0%}), {first} first; missed: {missed}")
    # Chromium's ICU cuts Lao and Khmer finer than the build's Node: some of its segments are parts
    # of the index's words (ພິວ of ຄອມພິວເຕີ, computer), which a learner typing a word does not type.
    assert share >= LEAST_SHARE.get(code, 0.95), (code, open_search.mode, missed)
    assert open_search.problems == []
