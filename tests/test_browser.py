"""The PWA in Debian's Chromium: service worker, a language made available offline, pages loading
with the server stopped and the network cut, updates, and no request to another origin."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from satchel.builder.build import build

pytestmark = pytest.mark.browser


def language_pages(site: Path, code: str) -> list[str]:
    """Every page of a language, from its pack lists (docs/bundle.md)."""
    index = json.loads((site / "satchel" / "packs" / f"{code}.json").read_text(encoding="utf-8"))
    files = [f for part in index["parts"] for f in json.loads((site / part["url"]).read_text(encoding="utf-8"))["files"]]
    return sorted(f["url"] for f in files if f["url"].endswith("/"))


def wait_for_service_worker(page) -> None:
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=20000)


def make_language_offline(page) -> None:
    """Every subject of the page's language, from the dialog's 'All subjects'."""
    page.click("[data-satchel-offline]")
    page.wait_for_selector("[data-satchel-parts] li")
    assert re.search(r"\d", page.text_content("[data-satchel-offline-all]")), "the download size is shown before downloading"
    page.click("[data-satchel-offline-all]")
    page.wait_for_selector("[data-satchel-offline][data-state=ready]", timeout=30000)


@pytest.mark.parametrize("prefix", ["", "school/"], ids=["at-root", "under-a-path"])
def test_a_language_made_available_offline_works_with_the_server_stopped(demo_site, serve, context, tmp_path, prefix):
    site = tmp_path / "site"
    shutil.copytree(demo_site, site)
    server = serve(site, prefix)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.url + "ar/")
    wait_for_service_worker(page)
    assert page.evaluate("document.documentElement.dir") == "rtl"
    make_language_offline(page)
    assert "جاهز" in page.text_content("[data-satchel-offline-status]")

    server.stop()
    context.set_offline(True)
    urls = language_pages(site, "ar")
    assert len(urls) >= 12 + 4 + 2 + 1
    for url in urls:
        response = page.goto(server.url + url)
        assert response.ok, url
        assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["ar", "rtl"], url
        assert page.locator("h1:visible").count() == 1, url  # the TV page has a second, hidden one: its presenter view's
    # Images of the language are there too.
    page.goto(server.url + "ar/science/water-cycle/")
    assert page.evaluate("document.querySelector('img.satchel-illustration').naturalWidth") > 0
    # A page of a language not downloaded: the offline page, in that language, styled, its links working.
    page.goto(server.url + "fr/science/water-cycle/rain-and-rivers/")
    assert page.evaluate("document.documentElement.lang") == "fr"
    assert "hors ligne" in page.text_content("h1")
    assert page.evaluate("getComputedStyle(document.querySelector('.md-header')).backgroundColor") == "rgb(31, 111, 92)"
    assert page.evaluate("document.querySelector('article a.md-button--primary').href") == server.url + "fr/"
    assert errors == []


def test_the_offline_page_is_there_without_any_download(demo_site, serve, context):
    server = serve(demo_site)
    page = context.new_page()
    page.goto(server.url)
    wait_for_service_worker(page)
    server.stop()
    context.set_offline(True)
    page.goto(server.url + "science/clean-water/saving-water/")
    assert page.text_content("h1") == "You are offline"
    page.goto(server.url + "ar/mathematics/")
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["ar", "rtl"]


def test_visiting_every_page_requests_nothing_from_another_origin(demo_site, serve, context):
    server = serve(demo_site)
    origin = urlsplit(server.url).netloc
    requested = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    pages = [url for code in ("en", "fr", "ar") for url in language_pages(demo_site, code)]
    pages += ["_offline/", "fr/_offline/", "ar/_offline/"]
    for url in pages:
        assert page.goto(server.url + url).ok, url
        page.wait_for_load_state("networkidle")
    foreign = [url for url in requested if urlsplit(url).scheme not in ("data", "blob") and urlsplit(url).netloc != origin]
    assert len(requested) > len(pages)
    assert foreign == []


def test_a_new_build_is_offered_and_taken_without_losing_the_offline_language(demo_copy, serve, context, tmp_path):
    site = tmp_path / "site"
    build(demo_copy, site, show_progress=False)
    server = serve(site)
    page = context.new_page()
    page.goto(server.url + "fr/")
    wait_for_service_worker(page)
    make_language_offline(page)

    lesson = demo_copy / "fr" / "mathematics" / "fractions" / "halves-and-quarters.md"
    lesson.write_text(lesson.read_text(encoding="utf-8").replace("\n\n", "\n\nUne phrase toute neuve.\n\n", 1), encoding="utf-8")
    build(demo_copy, site, show_progress=False)

    # The lessons update by themselves (packs); the new app shell waits for the learner's "Update now".
    page.goto(server.url + "fr/mathematics/fractions/halves-and-quarters/")
    page.wait_for_function("document.documentElement.dataset.satchelPacks === 'updated'", timeout=20000)
    page.wait_for_selector("[data-satchel-update]:not([hidden])", timeout=20000)
    assert "Mettre à jour" in page.text_content("[data-satchel-update] button")
    with page.expect_event("load", timeout=20000):
        page.click("[data-satchel-update] button")
    assert "Une phrase toute neuve." in page.content()

    server.stop()
    context.set_offline(True)
    page.goto(server.url + "fr/mathematics/fractions/halves-and-quarters/")
    assert "Une phrase toute neuve." in page.content()
    page.goto(server.url + "fr/science/water-cycle/rain-and-rivers/")
    assert page.text_content("h1") and "hors ligne" not in page.text_content("h1")


@pytest.mark.parametrize("language", ["", "fr/", "ar/"])
def test_chromium_can_install_the_app_in_every_language(demo_site, serve, persistent_context, language):
    server = serve(demo_site)
    page = persistent_context.new_page()
    page.goto(server.url + language)
    wait_for_service_worker(page)
    cdp = persistent_context.new_cdp_session(page)
    assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["errors"] == [] and manifest["url"].endswith(language + "manifest.webmanifest")
