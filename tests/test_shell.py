"""The app shell in Debian's Chromium (issue 15): a first visit downloads each of its files once,
the service worker keeps the visited language's script and nothing a message asks beyond it."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter

import pytest

from tests.test_packs import open_page

pytestmark = pytest.mark.browser

KEPT = """async () => {
    const names = (await caches.keys()).filter((n) => n.startsWith('satchel-languages-'));
    const urls = [];
    for (const name of names) urls.push(...(await (await caches.open(name)).keys()).map((r) => r.url));
    return urls;
}"""
PRECACHED = """async () => {
    const names = (await caches.keys()).filter((n) => n.startsWith('workbox-precache'));
    return names.length ? (await (await caches.open(names[0])).keys()).map((r) => r.url) : [];
}"""


def served_copy(demo_site, serve, tmp_path):
    """A copy of the demo's bundle (a test may add to it) and the server serving it."""
    site = tmp_path / "site"
    shutil.copytree(demo_site, site)
    return site, serve(site)


def wait_until_kept(page, count: int) -> list[str]:
    page.wait_for_function(f"({KEPT})().then((urls) => urls.length >= {count})", timeout=20000)
    return page.evaluate(KEPT)


def test_a_first_visit_downloads_each_file_of_the_shell_once(demo_site, serve, context, tmp_path):
    site, server = served_copy(demo_site, serve, tmp_path)
    page = open_page(context, server.url + "fr/")
    page.wait_for_function(f"({PRECACHED})().then((urls) => urls.length >= 8)", timeout=20000)
    kept = wait_until_kept(page, 1)
    assert len(kept) == 1 and re.search(r"/assets/satchel/lang/fr\.[0-9a-f]{10}\.js$", kept[0]), kept
    asked = Counter(path.split("?")[0] for path in server.requests)
    shared = [path for path in asked if re.search(r"/assets/satchel/(core|app|style)\.[0-9a-f]{10}\.(js|css)$|/lang/fr\.", path)]
    assert len(shared) == 4, asked
    sent = Counter()
    for path, count in server.sent:
        sent[path.split("?")[0]] += count
    for path in shared:  # the file once, and at most a revalidation (the worker's import asks again: a 304)
        size = (site / path.lstrip("/")).stat().st_size
        assert size < sent[path] < size + 1024, (path, size, sent[path], asked)
    assert not any("/lang/en." in path or "/lang/ar." in path for path in asked), "a first visit fetches no other language's script"
    assert not any(re.search(r"/assets/satchel/(offline|search|media|quiz)\.js$", path) for path in asked), \
        ("a first visit fetches none of what only some learners use", asked)


def test_the_worker_keeps_only_a_language_s_own_files(demo_site, serve, context, tmp_path):
    site, server = served_copy(demo_site, serve, tmp_path)
    (site / "secret.txt").write_text("not for the cache", encoding="utf-8")
    page = open_page(context, server.url)
    wait_until_kept(page, 1)
    ar = next((site / "assets" / "satchel" / "lang").glob("ar.*.js")).relative_to(site).as_posix()
    hostile = ["https://example.org/assets/satchel/lang/ar.0123456789.js", server.url + "secret.txt", server.url + "sw.js",
               server.url + "satchel/packs/ar.json", server.url + "assets/satchel/lang/../../../secret.txt", 42, None]
    page.evaluate("""(urls) => navigator.serviceWorker.controller.postMessage({type: 'satchel-keep-language', urls})""",
                  [*hostile[:3], server.url + ar])  # only the first four of a message are read
    page.evaluate("""(urls) => navigator.serviceWorker.controller.postMessage({type: 'satchel-keep-language', urls})""",
                  [*hostile[3:], server.url + "ar/_offline/"])
    page.evaluate("""() => navigator.serviceWorker.controller.postMessage({type: 'satchel-keep-language', urls: 'sw.js'})""")
    # Waited for by name, not by count: the page's own message for its language may briefly leave
    # two copies of that script while the worker stores it.
    page.wait_for_function(f"({KEPT})().then((urls) => urls.includes({json.dumps(server.url + ar)}))", timeout=20000)
    kept = page.evaluate(KEPT)
    assert all(url == server.url + ar or re.search(r"/assets/satchel/lang/en\.[0-9a-f]{10}\.js$", url) for url in kept), kept
    assert not any(url.endswith(("secret.txt", "sw.js", "ar.json", "_offline/")) for url in kept), kept


def test_offline_a_visited_language_keeps_working_after_its_subject_is_kept(demo_site, serve, context, tmp_path):
    """A page of a subject kept on the device, offline: its language's script is there (kept by the
    worker, and in the language's shared pack), so the app runs: dialogs, profiles, no error."""
    _, server = served_copy(demo_site, serve, tmp_path)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.url + "ar/")
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=20000)
    wait_until_kept(page, 1)
    page.click("[data-satchel-offline]")
    page.click("[data-satchel-parts] li[data-part='science'] button")
    page.wait_for_selector("[data-satchel-parts] li[data-part='science'][data-state=installed]", timeout=60000)
    page.evaluate("""async () => { for (const n of await caches.keys()) if (n.startsWith('satchel-languages-')) await caches.delete(n); }""")
    server.stop()
    context.set_offline(True)
    page.goto(server.url + "ar/science/water-cycle/rain-and-rivers/")
    assert page.evaluate("[document.documentElement.lang, typeof window.satchelLanguage]") == ["ar", "object"], \
        "the script came from the shared pack"
    page.click("[data-satchel-profile-open]")
    page.wait_for_selector("[data-satchel-profiles][open]")
    assert errors == []


@pytest.mark.parametrize("width", [360, 1280])
def test_the_header_icons_from_the_stylesheet_are_drawn(demo_site, serve, browser, width):
    """The header's icons are CSS masks now (one copy in the stylesheet, not in every page): each
    is drawn, at a size, in the header's colour, on a phone and on a desktop."""
    from tests.conftest import WELCOMED
    server = serve(demo_site)
    context = browser.new_context(viewport={"width": width, "height": 740}, service_workers="block")
    context.add_init_script(WELCOMED)
    page = context.new_page()
    page.goto(server.url + "ar/mathematics/fractions/")
    icons = page.eval_on_selector_all("header .satchel-icon", """icons => icons.map(i => {
        const r = i.getBoundingClientRect(), s = getComputedStyle(i);
        return {name: i.className, width: r.width, height: r.height, mask: s.webkitMaskImage || s.maskImage, colour: s.backgroundColor};
    })""")
    context.close()
    assert len(icons) == 4, icons
    for icon in icons:
        assert icon["width"] >= 16 and icon["height"] >= 16, icon
        assert icon["mask"].startswith('url("data:image/svg+xml'), icon
        assert icon["colour"] not in ("rgba(0, 0, 0, 0)", "transparent"), icon
