"""The learner's app sends progress to the school hub by itself: Chromium against a real
`satchel hub` on loopback. Nothing is lost while the hub is away, nothing is stored twice, and a
plain static server (a CDN: no hub) leaves the outbox alone. Also the hub's page for progress
files carried on a USB stick."""

from __future__ import annotations

import json
import time

from tests.progress_files import progress_file
from tests.test_hub import Hub
from tests.test_progress import LESSON, LESSON_3, answer_quiz, open_profiles, visit


def outbox(page) -> int:
    return page.evaluate("window.satchelProgress.db().then(d => d.count('outbox'))")


def wait_for_empty_outbox(page, seconds: float = 15) -> None:
    """Until the outbox is empty (page.evaluate awaits the database; wait_for_function would not)."""
    deadline = time.monotonic() + seconds
    while outbox(page):
        assert time.monotonic() < deadline, "the outbox was not sent"
        time.sleep(0.2)


def statement_ids(page) -> set[str]:
    return set(page.evaluate("window.satchelProgress.db().then(d => d.getAllKeys('statements'))"))


def test_progress_reaches_the_hub_and_survives_the_hub_being_away(context, demo_site, tmp_path):
    hub = Hub([demo_site], tmp_path / "data")
    page = context.new_page()
    try:
        visit(page, hub.url + LESSON + "/")
        answer_quiz(page, right=True)
        page.wait_for_function("document.documentElement.dataset.satchelSync === 'done'", timeout=15000)
        wait_for_empty_outbox(page)
        assert statement_ids(page) <= set(hub.stored())
        open_profiles(page)
        assert page.text_content("[data-satchel-synced]").startswith("Last sent to the school hub:")
        page.click("[data-satchel-profiles-close]")

        visit(page, hub.url + LESSON_3 + "/")  # loaded while the hub is up
        hub.stop()
        answer_quiz(page, right=True)
        page.wait_for_function("document.documentElement.dataset.satchelSync === 'offline'", timeout=15000)
        assert outbox(page) > 0, "what the hub did not get waits in the outbox"

        hub = Hub([demo_site], tmp_path / "data", port=hub.port)
        visit(page, hub.url)  # the next start sends it
        wait_for_empty_outbox(page)
        stored = hub.stored()
        assert len(stored) == len(set(stored)), "nothing stored twice"
        assert statement_ids(page) <= set(stored), "nothing lost"
    finally:
        hub.stop()


def test_without_a_hub_the_outbox_waits(context, demo_site, serve):
    site = serve(demo_site)  # a static server: POST /api/progress is not understood
    page = context.new_page()
    visit(page, site.url + LESSON + "/")
    answer_quiz(page, right=True)
    page.wait_for_function("document.documentElement.dataset.satchelSync === 'no-hub'", timeout=15000)
    assert outbox(page) == len(statement_ids(page)) > 0


def test_without_a_hub_the_outbox_is_not_sent_again_in_full(context, demo_site, tmp_path, serve):
    """A CDN answers 'no hub' once to the whole outbox; after that an empty file asks, and the
    outbox goes only to a hub that appears at the same origin."""
    site = serve(demo_site)
    page = context.new_page()
    posted: list[int] = []
    page.on("request", lambda r: r.method == "POST" and r.url.endswith("/api/progress") and posted.append(len(r.post_data_buffer or b"")))
    visit(page, site.url + LESSON + "/")
    answer_quiz(page, right=True)
    page.wait_for_function("document.documentElement.dataset.satchelSync === 'no-hub'", timeout=15000)
    assert posted and max(posted) > 2000, "the first try sends the outbox"
    posted.clear()
    visit(page, site.url + LESSON_3 + "/")
    page.evaluate("window.satchelProgress.sync()")
    assert posted and max(posted) <= 2, f"only an empty file asks again: {posted}"
    assert outbox(page) > 0

    port = site.port
    site.stop()
    hub = Hub([demo_site], tmp_path / "data", port=port)  # a hub answers at the same origin now
    try:
        visit(page, hub.url)
        wait_for_empty_outbox(page)
        assert statement_ids(page) <= set(hub.stored()), "nothing lost"
    finally:
        hub.stop()


def test_progress_files_from_a_usb_stick(browser, demo_site, tmp_path):
    hub = Hub([demo_site], tmp_path / "data")
    good = progress_file(7, name="Kofi")
    (tmp_path / "kofi.json").write_text(json.dumps(good), encoding="utf-8")
    (tmp_path / "broken.json").write_text("{half a file", encoding="utf-8")
    page = browser.new_page()
    try:
        page.goto(hub.url + "_hub/upload")
        for attempt in (1, 2):
            page.set_input_files("input[type=file]", [str(tmp_path / "kofi.json"), str(tmp_path / "broken.json")])
            with page.expect_navigation():
                page.click("button[type=submit]")
            rows = page.locator("tbody tr").all_text_contents()
            assert rows[0] == ("kofi.json" + ("Kofi: 7 new steps, 0 already on the hub." if attempt == 1 else "Kofi: 0 new steps, 7 already on the hub."))
            assert rows[1].startswith("broken.jsonRefused:")
        assert sorted(hub.stored()) == sorted(s["id"] for s in good["statements"])
    finally:
        page.close()
        hub.stop()


def test_the_service_worker_sends_the_outbox_on_a_background_sync(context, demo_site, tmp_path):
    """Where the browser has Background Sync, the service worker sends the outbox by itself when
    the network is back: the event is dispatched here through the DevTools protocol."""
    hub = Hub([demo_site], tmp_path / "data")
    page = context.new_page()
    try:
        visit(page, hub.url + LESSON + "/")
        page.evaluate("navigator.serviceWorker.ready")
        hub.stop()
        answer_quiz(page, right=True)
        page.wait_for_function("document.documentElement.dataset.satchelSync === 'offline'", timeout=15000)
        assert outbox(page) > 0
        hub = Hub([demo_site], tmp_path / "data", port=hub.port)

        cdp = context.new_cdp_session(page)
        registrations = []
        cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
        cdp.send("ServiceWorker.enable")
        deadline = time.monotonic() + 10
        while not registrations and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        registration = registrations[0]
        cdp.send("ServiceWorker.dispatchSyncEvent", {"origin": hub.url.rstrip("/"), "registrationId": registration["registrationId"],
                                                     "tag": "satchel-upload", "lastChance": False})
        wait_for_empty_outbox(page)  # no reload, no 'online' event: the service worker sent it
        assert statement_ids(page) <= set(hub.stored())
    finally:
        hub.stop()
