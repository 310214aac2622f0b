"""Web Push, end to end without a browser vendor: devices subscribe through the hub's API, `satchel
hub notify` sends with pywebpush to a push service on loopback (tests/push_service.py) that checks
the VAPID signature and decrypts each message; and Chromium shows a pushed message."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from builder.archive import pack
from builder.build import build
from hub.store import Store
from tests.push_service import PushService
from tests.test_hub import Hub

CONTACT = "mailto:hub@school.example.org"
EXPECTED = {
    "en": {"title": "New lessons", "body": "Satchel School: version 1.0.0 is here. Tap to get the new lessons.", "url": "./"},
    "fr": {"title": "Nouvelles leçons", "body": "École Satchel : la version 1.0.0 est là. Touche pour avoir les nouvelles leçons.",
           "url": "fr/"},
    "ar": {"title": "دروس جديدة", "body": "مدرسة ساتشل: الإصدار 1.0.0 متوفر. اضغط لتحصل على الدروس الجديدة.", "url": "ar/"},
}


def satchel(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "builder.cli", *map(str, args)], capture_output=True, text=True)


@pytest.fixture
def push_hub(demo_site, tmp_path):
    data = tmp_path / "data"
    assert satchel("hub", "init", "--data", data).returncode == 0
    result = satchel("hub", "push-keys", "--data", data, "--contact", CONTACT)
    assert result.returncode == 0, result.stderr
    running = Hub([demo_site], data)
    yield running
    running.stop()


@pytest.fixture
def service():
    running = PushService(CONTACT)
    yield running
    running.stop()


def subscribe(hub: Hub, subscription: dict, language: str = "en", curriculum: str = "satchel-demo"):
    return send(hub, "POST", {"curriculum": curriculum, "language": language, "subscription": subscription})


def send(hub: Hub, method: str, body: dict):
    status, _, reply = hub.request("api/push/subscriptions", json.dumps(body).encode(), {"content-type": "application/json"}, method=method)
    return status, json.loads(reply) if reply else None


def subscriptions(data: Path) -> list[str]:
    store = Store.in_data_dir(data)
    try:
        return [row[0] for row in store.query("SELECT endpoint FROM push_subscriptions ORDER BY endpoint")]
    finally:
        store.close()


def test_keys_are_made_once_and_the_private_key_is_never_served(push_hub, demo_site):
    key_file = push_hub.data / "push-vapid.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    status, _, body = push_hub.request("api/push/key")
    public = json.loads(body)["publicKey"]
    assert status == 200 and len(public) == 87  # 65 bytes, base64url
    again = satchel("hub", "push-keys", "--data", push_hub.data, "--contact", CONTACT)
    assert again.returncode == 0 and public in again.stdout, "running it again keeps the keys"
    secret = key_file.read_text(encoding="utf-8").splitlines()[1]
    for path in ("push-vapid.pem", "../push-vapid.pem", "%2e%2e/push-vapid.pem", "api/push/key", "api/openapi.json"):
        assert secret.encode() not in push_hub.request(path)[2], path
    assert satchel("hub", "push-keys", "--data", push_hub.data, "--contact", "hub@school").returncode == 2


def test_every_subscriber_gets_the_exact_message_in_their_language(push_hub, service, demo_site):
    for language in ("en", "fr", "ar"):
        assert subscribe(push_hub, service.subscription(f"phone-{language}"), language) == (201, {"ok": True})
    result = satchel("hub", "notify", demo_site, "--data", push_hub.data)
    assert result.returncode == 0 and "Notified 3 devices" in result.stdout, result.stderr
    assert service.problems == []
    got = {name: payload for name, payload, _ in service.delivered}
    for language, expected in EXPECTED.items():
        assert got[f"phone-{language}"] == {**expected, "tag": "satchel-new-lessons", "version": "1.0.0"}
    headers = service.delivered[0][2]
    assert int(headers["ttl"]) >= 7 * 24 * 3600, "phones offline for days still get it"
    assert headers["content-encoding"] == "aes128gcm"


def test_ended_subscriptions_are_removed_and_failures_retried_then_reported(push_hub, service, demo_site):
    for name in ("gone-404", "gone-410", "flaky", "down", "fine"):
        assert subscribe(push_hub, service.subscription(name))[0] == 201
    service.answers = {"gone-404": [404], "gone-410": [410], "flaky": [500, 503], "down": [500] * 10}
    result = satchel("hub", "notify", demo_site, "--data", push_hub.data)
    assert result.returncode == 1
    assert "Notified 2 devices" in result.stdout and "2 subscriptions had ended" in result.stdout
    assert "not delivered (HTTP 500)" in result.stderr and "/push/down" in result.stderr
    assert sorted(name for name, _, _ in service.delivered) == ["fine", "flaky"]
    assert [s for n, s in service.attempts if n == "flaky"] == [500, 503, 201], "retried until delivered"
    assert len([n for n, _ in service.attempts if n == "down"]) == 4, "tried a bounded number of times"
    assert [e.rsplit("/", 1)[1] for e in subscriptions(push_hub.data)] == ["down", "fine", "flaky"]


def test_a_thousand_subscriptions_are_notified_a_few_at_a_time(push_hub, service, demo_site):
    store = Store.in_data_dir(push_hub.data)
    try:
        for n in range(1000):
            sub = service.subscription(f"phone-{n}")
            store.add_push_subscription(sub["endpoint"], "satchel-demo", ("en", "fr", "ar")[n % 3], sub["keys"]["p256dh"], sub["keys"]["auth"])
    finally:
        store.close()
    service.delay = 0.01
    result = satchel("hub", "notify", demo_site, "--data", push_hub.data)
    assert result.returncode == 0 and "Notified 1000 devices" in result.stdout, result.stderr
    assert len({name for name, _, _ in service.delivered}) == 1000 and service.problems == []
    assert 1 < service.most_in_flight <= 16


@pytest.mark.parametrize("case, change, status", [
    ("http endpoint elsewhere", {"endpoint": "http://push.example.org/x"}, 422),
    ("ftp endpoint", {"endpoint": "ftp://push.example.org/x"}, 422),
    ("no endpoint", {"endpoint": None}, 422),
    ("endpoint too long", {"endpoint": "https://push.example.org/" + "x" * 3000}, 422),
    ("p256dh not base64", {"keys": {"p256dh": "not base64!", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, 422),
    ("p256dh not on the curve", {"keys": {"p256dh": "BA" + "A" * 85, "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, 422),
    ("auth too short", {"keys": {"p256dh": None, "auth": "AAAA"}}, 422),
    ("no keys", {"keys": None}, 422),
])
def test_malformed_subscriptions_are_refused(push_hub, service, case, change, status):
    subscription = service.subscription("x")
    if change.get("keys", {}) and change["keys"].get("p256dh") is None:
        change = {"keys": {"p256dh": subscription["keys"]["p256dh"], "auth": change["keys"]["auth"]}}
    got, reply = subscribe(push_hub, {**subscription, **change})
    assert got == status and reply["error"], case
    assert subscriptions(push_hub.data) == []


def test_bad_requests_and_bursts_are_refused_and_the_hub_stays_up(push_hub, service):
    good = service.subscription("ok")
    assert subscribe(push_hub, good, language="xx")[0] == 422
    assert subscribe(push_hub, good, curriculum="other")[0] == 422
    huge = json.dumps({"curriculum": "satchel-demo", "language": "en", "subscription": good, "pad": "x" * 10000}).encode()
    assert push_hub.request("api/push/subscriptions", huge, {"content-type": "application/json"}, method="POST")[0] == 413
    assert push_hub.request("api/push/subscriptions", b"{", {"content-type": "application/json"}, method="POST")[0] == 400
    assert push_hub.request("api/push/subscriptions", b"{}", {"content-type": "text/plain"}, method="POST")[0] == 415
    assert subscribe(push_hub, good) == (201, {"ok": True})
    assert send(push_hub, "DELETE", {"endpoint": good["endpoint"]}) == (200, {"removed": True})
    assert send(push_hub, "DELETE", {"endpoint": good["endpoint"]}) == (200, {"removed": False})
    assert subscriptions(push_hub.data) == []
    statuses = [subscribe(push_hub, good)[0] for _ in range(10)]
    assert statuses[-1] == 429 and set(statuses) == {201, 429}, "at most 10 a minute from one address"
    assert push_hub.request("api/health")[0] == 200


def test_a_hub_without_keys_says_so(demo_site, tmp_path):
    hub = Hub([demo_site], tmp_path / "data")
    try:
        status, _, body = hub.request("api/push/key")
        assert status == 404 and b"push-keys" in body
    finally:
        hub.stop()
    result = satchel("hub", "notify", demo_site, "--data", tmp_path / "data")
    assert result.returncode == 2 and "push-keys" in result.stderr


def test_importing_a_new_version_notifies_the_subscribers(demo_copy, tmp_path, service):
    data = tmp_path / "data"
    for args in (("init",), ("push-keys", "--contact", CONTACT)):
        assert satchel("hub", *args, "--data", data).returncode == 0
    build(demo_copy, tmp_path / "v1", show_progress=False)
    pack(tmp_path / "v1", tmp_path / "v1.satchel")
    assert satchel("hub", "import", tmp_path / "v1.satchel", "--data", data).returncode == 0
    hub = Hub([], data)
    try:
        assert subscribe(hub, service.subscription("phone"), "fr")[0] == 201
    finally:
        hub.stop()
    config = demo_copy / "curriculum.yml"
    config.write_text(config.read_text(encoding="utf-8").replace("version: 1.0.0", "version: 1.1.0"), encoding="utf-8")
    build(demo_copy, tmp_path / "v2", show_progress=False)
    pack(tmp_path / "v2", tmp_path / "v2.satchel")
    result = satchel("hub", "import", tmp_path / "v2.satchel", "--data", data)
    assert result.returncode == 0 and "Notified 1 devices" in result.stdout, result.stderr
    assert [payload["body"] for _, payload, _ in service.delivered] == [EXPECTED["fr"]["body"].replace("1.0.0", "1.1.0")]


@pytest.mark.browser
@pytest.mark.parametrize("language", ["fr", "ar"])
def test_the_service_worker_shows_a_pushed_message(demo_site, serve, context, language):
    server = serve(demo_site)
    context.grant_permissions(["notifications"], origin=server.url.rstrip("/"))
    page = context.new_page()
    page.goto(server.url + f"{language}/")
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=20000)
    cdp = context.new_cdp_session(page)
    registrations = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
    cdp.send("ServiceWorker.enable")
    for _ in range(50):
        if any(r["scopeURL"] == server.url for r in registrations):
            break
        page.wait_for_timeout(100)
    registration = next(r["registrationId"] for r in registrations if r["scopeURL"] == server.url)
    payload = {**EXPECTED[language], "tag": "satchel-new-lessons", "version": "1.0.0"}
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": server.url.rstrip("/"), "registrationId": registration,
                                                   "data": json.dumps(payload, ensure_ascii=False)})
    shown = []
    for _ in range(50):
        shown = page.evaluate("""navigator.serviceWorker.ready.then(r => r.getNotifications()).then(list =>
            list.map(n => ({title: n.title, body: n.body, tag: n.tag, url: n.data && n.data.url, lang: n.lang, dir: n.dir})))""")
        if shown:
            break
        page.wait_for_timeout(100)
    assert shown == [{"title": payload["title"], "body": payload["body"], "tag": "satchel-new-lessons",
                      "url": server.url + payload["url"], "lang": language, "dir": "rtl" if language == "ar" else "ltr"}]


@pytest.mark.browser
def test_the_app_asks_only_after_a_tap(push_hub, context):
    asked = []
    context.on("request", lambda request: asked.append(request.url) if "/api/push/subscriptions" in request.url else None)
    page = context.new_page()
    page.goto(push_hub.url + "fr/")
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=20000)
    page.reload()
    page.wait_for_load_state("networkidle")
    assert page.evaluate("Notification.permission") == "default", "nothing is asked on load"
    assert asked == [] and subscriptions(push_hub.data) == []
    page.click("[data-satchel-offline]")
    page.wait_for_selector("[data-satchel-push]:not([hidden])", timeout=20000)
    assert page.text_content("[data-satchel-push]") == "Me prévenir des nouvelles leçons"
    assert page.evaluate("Notification.permission") == "default" and asked == []
    context.grant_permissions(["notifications"], origin=push_hub.url.rstrip("/"))
    page.click("[data-satchel-push]")
    # This Chromium has no browser vendor's push service to register with (no internet): the
    # learner is told, and nothing is kept half subscribed.
    page.wait_for_function("/disponibles|sera prévenu/.test(document.querySelector('[data-satchel-offline-status]').textContent)",
                           timeout=30000)
    status = page.text_content("[data-satchel-offline-status]")
    subscribed = page.evaluate("navigator.serviceWorker.ready.then(r => r.pushManager.getSubscription()).then(s => !!s)")
    if subscribed:  # a Chromium that can reach a push service: the hub keeps the subscription
        assert "sera prévenu" in status and len(subscriptions(push_hub.data)) == 1
    else:
        assert "ne sont pas disponibles" in status and subscriptions(push_hub.data) == []
        assert page.get_attribute("[data-satchel-push]", "data-state") == "off"
