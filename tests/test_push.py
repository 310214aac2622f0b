"""Web Push, end to end without a browser vendor: devices subscribe through the hub's API, `satchel
hub notify` sends with pywebpush to a push service on loopback (tests/push_service.py) that checks
the VAPID signature and decrypts each message; and Chromium shows a pushed message. The hub posts
only to public push services: the test service is let through by `push-keys
--allow-test-endpoint`, and everything else on this machine stays out of reach."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from satchel.builder.archive import pack
from satchel.builder.build import build
from satchel.hub import push
from satchel.hub.store import Store

from tests.push_service import PINNED_NAME, PushService, Silent
from tests.test_hub import Hub

CONTACT = "mailto:hub@school.example.org"
EXPECTED = {
    "en": {"title": "New lessons", "body": "Satchel School: version 1.0.0 is here. Tap to get the new lessons.", "url": "./"},
    "fr": {"title": "Nouvelles leçons", "body": "École Satchel : la version 1.0.0 est là. Touche pour avoir les nouvelles leçons.",
           "url": "fr/"},
    "ar": {"title": "دروس جديدة", "body": "مدرسة ساتشل: الإصدار 1.0.0 متوفر. اضغط لتحصل على الدروس الجديدة.", "url": "ar/"},
}


def satchel(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "satchel.builder.cli", *map(str, args)], capture_output=True, text=True, timeout=120)


def push_keys(data: Path, *allowed: str, extra: tuple = ()) -> subprocess.CompletedProcess:
    """`satchel hub push-keys`, letting the hub post to the given origins on loopback (for tests only)."""
    options = [option for origin in allowed for option in ("--allow-test-endpoint", origin + "/")]
    return satchel("hub", "push-keys", "--data", data, "--contact", CONTACT, *options, *extra)


@pytest.fixture
def service(tmp_path, monkeypatch):
    """The push service; the hub's commands, run from here, trust its certificate."""
    running = PushService(CONTACT, tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(running.ca))
    yield running
    running.stop()


@pytest.fixture
def silent():
    running = Silent()
    yield running
    running.stop()


@pytest.fixture
def push_hub(demo_site, tmp_path, service, silent):
    """A hub with push keys that may post to `service` and to `silent`, both on loopback."""
    data = tmp_path / "data"
    assert satchel("hub", "init", "--data", data).returncode == 0
    result = push_keys(data, service.origin, silent.origin)
    assert result.returncode == 0 and "FOR TESTS ONLY" in result.stderr, result.stderr
    running = Hub([demo_site], data)
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


def meta(data: Path, key: str) -> str | None:
    store = Store.in_data_dir(data)
    try:
        return store.meta(key)
    finally:
        store.close()


def test_keys_are_made_once_and_the_private_key_is_never_served(push_hub, demo_site):
    pem = meta(push_hub.data, push.PRIVATE_KEY_META)
    assert pem.startswith("-----BEGIN PRIVATE KEY-----"), "the key pair lives in the database"
    assert not (push_hub.data / push.KEY_FILE).exists() and not (push_hub.data / push.SETTINGS_FILE).exists()
    status, _, body = push_hub.request("api/push/key")
    public = json.loads(body)["publicKey"]
    assert status == 200 and len(public) == 87  # 65 bytes, base64url
    again = satchel("hub", "push-keys", "--data", push_hub.data, "--contact", CONTACT)
    assert again.returncode == 0 and public in again.stdout, "running it again keeps the keys"
    assert meta(push_hub.data, push.PRIVATE_KEY_META) == pem
    secret = pem.splitlines()[1]
    assert secret not in again.stdout + again.stderr, "never printed"
    for path in ("push-vapid.pem", "../push-vapid.pem", "%2e%2e/push-vapid.pem", "api/push/key", "api/openapi.json", "api/health"):
        assert secret.encode() not in push_hub.request(path)[2], path
    assert satchel("hub", "push-keys", "--data", push_hub.data, "--contact", "hub@school").returncode == 2
    assert push_keys(push_hub.data, "http://127.0.0.1:9").returncode == 2, "a test endpoint is https too"
    assert "allow_test_endpoints" not in json.loads(meta(push_hub.data, push.SETTINGS_META)), \
        "running push-keys again without --allow-test-endpoint removes them"
    output = push_hub.stop() or push_hub.output()
    assert secret not in output[0] + output[1], "nor logged"


def test_an_upgraded_hub_moves_its_key_files_into_the_database(demo_site, tmp_path, service):
    """A hub from before the database kept the key pair in DATA/push-vapid.pem and DATA/push.json:
    at start it moves them in, so the devices subscribed with that key still get notifications."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    data = tmp_path / "data"
    assert satchel("hub", "init", "--data", data).returncode == 0
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    (data / push.KEY_FILE).write_text(pem, encoding="utf-8")
    (data / push.KEY_FILE).chmod(0o600)
    old_settings = {"public_key": push.public_key(pem), "contact": CONTACT, "max_subscriptions_per_curriculum": 50,
                    "allow_test_endpoints": [service.origin + "/"]}
    (data / push.SETTINGS_FILE).write_text(json.dumps(old_settings), encoding="utf-8")
    hub = Hub([demo_site], data)
    try:
        status, _, body = hub.request("api/push/key")
        assert status == 200 and json.loads(body)["publicKey"] == push.public_key(pem)
        assert subscribe(hub, service.subscription("old-phone"))[0] == 201
    finally:
        hub.stop()
    assert meta(data, push.PRIVATE_KEY_META) == pem
    assert json.loads(meta(data, push.SETTINGS_META))["max_subscriptions_per_curriculum"] == 50
    result = satchel("hub", "notify", demo_site, "--data", data)
    assert result.returncode == 0 and "Notified 1 devices" in result.stdout, result.stderr
    assert service.problems == [], "signed with the key the device subscribed with"


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


def loopback_only(name: str) -> bool:
    """Whether `name` resolves, here, to loopback addresses only (from /etc/hosts: no DNS query)."""
    try:
        return all(ipaddress.ip_address(a[4][0]).is_loopback for a in socket.getaddrinfo(name, 443, type=socket.SOCK_STREAM))
    except OSError:
        return False


@pytest.mark.parametrize("endpoint, reason", [
    ("https://127.0.0.2/push/x", "not an IP address"),
    ("https://[::1]/push/x", "not an IP address"),
    ("https://10.0.0.1/push/x", "not an IP address"),
    ("https://localhost:8443/push/x", "port 443"),
    ("http://example.org/push/x", "must be an https:// URL"),
    ("https://user:secret@push.example.org/x", "user name or password"),
    ("https://push..example.org/x", "not a DNS name"),
    ("https://localhost/push/x", "this machine (loopback)"),  # a name, port 443: refused for where it resolves
])
def test_subscriptions_to_this_machine_or_its_network_are_refused(push_hub, service, endpoint, reason):
    if "//localhost/" in endpoint and not loopback_only("localhost"):
        pytest.skip("localhost does not resolve to loopback only on this machine")
    status, reply = subscribe(push_hub, {**service.subscription("x"), "endpoint": endpoint})
    assert status == 422 and reason in reply["error"], reply
    assert subscriptions(push_hub.data) == []


@pytest.mark.parametrize("address, why", [
    ("127.0.0.2", "loopback"), ("::1", "loopback"), ("10.0.0.1", "private"), ("192.168.1.20", "private"),
    ("172.16.5.4", "private"), ("100.64.0.1", "carrier-grade NAT"), ("169.254.169.254", "link-local"),
    ("fe80::1%eth0", "link-local"), ("224.0.0.251", "multicast"), ("ff02::1", "multicast"), ("0.0.0.0", "unspecified"),
    ("::", "unspecified"), ("240.0.0.1", ""), ("fc00::1", "private"), ("192.0.2.1", ""),
    ("::ffff:127.0.0.1", "inside an IPv6 address"), ("::ffff:10.1.2.3", "inside an IPv6 address"),
    ("2002:7f00:1::1", "loopback), inside an IPv6 address"), ("2002:a00:1::1", "private network's address, inside"),
    ("64:ff9b::a9fe:a9fe", "link-local address, inside"), ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ("8.8.8.8", None), ("2606:4700:4700::1111", None), ("2002:808:808::1", None),
])
def test_which_addresses_the_hub_never_posts_to(address, why):
    got = push.forbidden(ipaddress.ip_address(address))
    assert got is None if why is None else (got is not None and why in got), got


def test_the_hubs_own_addresses_are_refused_even_public_ones(monkeypatch):
    assert ipaddress.ip_address("127.0.0.1") in push.own_addresses()
    monkeypatch.setattr(push, "own_addresses", lambda: frozenset({ipaddress.ip_address("8.8.8.8")}))
    assert push.forbidden(ipaddress.ip_address("8.8.8.8")) == "an address of this hub"
    assert push.forbidden(ipaddress.ip_address("8.8.4.4")) is None


def test_subscriptions_stored_before_these_rules_are_not_sent_to(demo_site, tmp_path, service):
    """Subscriptions put into the database directly (from an older hub, or by hand) that point at
    this machine: notify does not connect to any, and says so. The hub's own log and a listener
    that counts connections show that nothing arrived."""
    data = tmp_path / "data"
    assert satchel("hub", "init", "--data", data).returncode == 0
    assert push_keys(data, service.origin).returncode == 0
    trap = Silent()  # on loopback, not allowed
    port = trap.origin.rsplit(":", 1)[1]
    hub = Hub([demo_site], data, "--log-level", "info")
    try:
        endpoints = [f"https://127.0.0.1:{hub.port}/_hub/logout", f"http://127.0.0.1:{hub.port}/_hub/logout",
                     f"http://127.0.0.1:{port}/push/old-http", f"https://127.0.0.1:{port}/push/ip", f"https://localhost:{port}/push/name"]
        if loopback_only("localhost"):
            endpoints.append("https://localhost/push/name-443")  # passes every rule but where it resolves, checked again now
        keys = service.subscription("stored")["keys"]
        store = Store.in_data_dir(data)
        try:
            for endpoint in endpoints:
                store.add_push_subscription(endpoint, "satchel-demo", "en", keys["p256dh"], keys["auth"])
        finally:
            store.close()
        assert subscribe(hub, service.subscription("fine"))[0] == 201
        result = satchel("hub", "notify", demo_site, "--data", data)
    finally:
        hub.stop()
        out, err = hub.process.communicate()
        trap.stop()
    assert "/api/push/subscriptions" in out + err, "the hub logs every request (so the next line means something)"
    assert "_hub/logout" not in out + err and "Invalid HTTP request" not in out + err, "nothing reached the hub"
    assert trap.connections == [], "nothing connected to the listener"
    assert result.returncode == 1 and "Notified 1 devices" in result.stdout, result.stderr
    assert [name for name, _, _ in service.delivered] == ["fine"]
    for endpoint in endpoints:
        assert re.search(rf"not sent \([^\n]+\): {re.escape(endpoint)}\n", result.stderr), endpoint
    assert f"{len(endpoints)} subscriptions point where this hub does not send" in result.stderr
    assert len(subscriptions(data)) == len(endpoints) + 1, "kept: a captive portal's DNS must not cost every subscription"


def test_subscriptions_past_the_cap_are_refused(push_hub, service, silent):
    assert push_keys(push_hub.data, service.origin, silent.origin, extra=("--max-subscriptions", "2")).returncode == 0
    one = service.subscription("one")
    assert subscribe(push_hub, one)[0] == 201
    assert subscribe(push_hub, service.subscription("two"))[0] == 201
    status, reply = subscribe(push_hub, service.subscription("three"))
    assert status == 507 and "already keeps 2 subscriptions for satchel-demo" in reply["error"]
    assert subscribe(push_hub, one, "fr")[0] == 201, "a device already kept may still change its language"
    assert [e.rsplit("/", 1)[1] for e in subscriptions(push_hub.data)] == ["one", "two"]
    assert push_keys(push_hub.data, service.origin).returncode == 0
    assert subscribe(push_hub, service.subscription("four"))[0] == 507, "the cap stays when push-keys runs again"


def test_a_send_connects_to_the_checked_address_under_the_endpoints_name(service):
    """What defeats DNS rebinding: the connection goes to the address that was checked, while TLS
    (SNI, the certificate's name) and the Host header keep the endpoint's name. push.example.org
    is never resolved here; the service, on 127.0.0.1, has a certificate for that name."""
    port = int(service.origin.rsplit(":", 1)[1])
    with push.PinnedSession(push.Target(PINNED_NAME, port, ("127.0.0.1",)), 5) as session:
        response = session.post(f"https://{PINNED_NAME}:{port}/push/unknown", data=b"{}")
        assert response.status_code == 403 and service.hosts == [f"{PINNED_NAME}:{port}"]
        with pytest.raises(requests.exceptions.InvalidURL):
            session.post(f"https://elsewhere.example.org:{port}/push/unknown", data=b"{}")
    with push.PinnedSession(push.Target("other.example.org", port, ("127.0.0.1",)), 5) as session:
        with pytest.raises(requests.exceptions.SSLError):  # its certificate is checked against the name, not the address
            session.post(f"https://other.example.org:{port}/push/unknown", data=b"{}")
    assert len(service.hosts) == 1


def test_a_redirect_is_an_answer_and_is_not_followed(push_hub, service, demo_site):
    assert subscribe(push_hub, service.subscription("moved"))[0] == 201
    service.answers = {"moved": [307]}
    result = satchel("hub", "notify", demo_site, "--data", push_hub.data)
    assert result.returncode == 1 and "not delivered (HTTP 307)" in result.stderr, result.stderr
    assert service.attempts == [("moved", 307)], "no request to the Location, and no retry"


def test_the_push_services_certificate_is_checked(push_hub, service, demo_site, monkeypatch):
    assert subscribe(push_hub, service.subscription("phone"))[0] == 201
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    result = satchel("hub", "notify", demo_site, "--data", push_hub.data, "--deadline", "2")
    assert result.returncode == 1 and "not delivered (network: SSLError)" in result.stderr, result.stderr
    assert service.delivered == [] and service.attempts == []


def test_an_endpoint_that_never_answers_costs_at_most_the_deadline(push_hub, service, silent, demo_site):
    assert subscribe(push_hub, service.subscription("fine"))[0] == 201
    assert subscribe(push_hub, {**service.subscription("hang"), "endpoint": f"{silent.origin}/push/hang"})[0] == 201
    started = time.monotonic()
    result = satchel("hub", "notify", demo_site, "--data", push_hub.data, "--deadline", "3")
    took = time.monotonic() - started
    assert result.returncode == 1 and "Notified 1 devices" in result.stdout, result.stderr
    assert f"not delivered (no answer before the run's deadline (3 s)): {silent.origin}/push/hang" in result.stderr
    assert silent.connections, "it connected: the deadline ended it, nothing else"
    assert took < 3 + 5, f"{took:.1f} s (a few of them to start Python)"  # without a deadline: 4 attempts of 10 s


def test_each_attempt_ends_at_its_deadline_whatever_the_endpoint_does(push_hub, service, silent, demo_site):
    """A silent endpoint (a TLS handshake that never ends) and one that answers a byte every 0.2 s,
    for ever (each read is quick, so socket timeouts alone would never end it): each attempt ends
    after attempt_seconds, and the next attempt is made."""
    service.trickle = {"slow"}
    hang = f"{silent.origin}/push/hang"
    for subscription in (service.subscription("fine"), service.subscription("slow"), {**service.subscription("hang"), "endpoint": hang}):
        assert subscribe(push_hub, subscription)[0] == 201
    curriculum = json.loads((demo_site / "satchel" / "curriculum.json").read_text(encoding="utf-8"))
    store = Store.in_data_dir(push_hub.data)
    try:
        started = time.monotonic()
        report = push.notify(store, push_hub.data, {curriculum["id"]: curriculum}, attempts=2, backoff=0.2, attempt_seconds=1)
        took = time.monotonic() - started
    finally:
        store.close()
    assert report.sent == 1 and report.retried == 2
    assert sorted(report.failed) == sorted([(hang, "no answer within 1 s"), (f"{service.origin}/push/slow", "no answer within 1 s")])
    assert [status for name, status in service.attempts if name == "slow"] == [0, 0], "cut off, then tried again"
    assert len(silent.connections) == 2
    assert took < 2 * 1 + 0.2 + 1.5, f"{took:.1f} s"


def test_importing_a_new_version_notifies_the_subscribers_in_the_background(demo_copy, tmp_path, service, silent):
    data = tmp_path / "data"
    assert satchel("hub", "init", "--data", data).returncode == 0
    assert push_keys(data, service.origin, silent.origin).returncode == 0
    build(demo_copy, tmp_path / "v1", show_progress=False)
    pack(tmp_path / "v1", tmp_path / "v1.satchel")
    assert satchel("hub", "import", tmp_path / "v1.satchel", "--data", data).returncode == 0
    hub = Hub([], data)
    try:
        assert subscribe(hub, service.subscription("phone"), "fr")[0] == 201
        assert subscribe(hub, {**service.subscription("hang"), "endpoint": f"{silent.origin}/push/hang"})[0] == 201
    finally:
        hub.stop()
    config = demo_copy / "curriculum.yml"
    config.write_text(config.read_text(encoding="utf-8").replace("version: 1.0.0", "version: 1.1.0"), encoding="utf-8")
    build(demo_copy, tmp_path / "v2", show_progress=False)
    pack(tmp_path / "v2", tmp_path / "v2.satchel")
    service.delay = 6  # every endpoint hangs: this one answers after 6 s, the other never
    started = time.monotonic()
    result = satchel("hub", "import", tmp_path / "v2.satchel", "--data", data)
    took = time.monotonic() - started
    log = data / "push-notify.log"
    assert result.returncode == 0 and "in the background (process" in result.stdout and str(log.resolve()) in result.stdout, result.stderr
    assert took < service.delay, f"the import took {took:.1f} s"
    pid = int(re.search(r"\(process (\d+)\)", result.stdout).group(1))
    try:
        until = time.monotonic() + 30
        while not service.delivered and time.monotonic() < until:
            time.sleep(0.1)
        assert [payload["body"] for _, payload, _ in service.delivered] == [EXPECTED["fr"]["body"].replace("1.0.0", "1.1.0")]
        silent.stop()  # its connections are reset: the background run ends after its retries (1 + 2 + 4 s)
        while "devices of the new lessons" not in log.read_text(encoding="utf-8") and time.monotonic() < until:
            time.sleep(0.2)
        report = log.read_text(encoding="utf-8")
        assert "after importing satchel-demo 1.1.0" in report and "Notified 1 devices" in report, report
        assert f"{silent.origin}/push/hang" in report, "what failed is in the log too"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)  # only if still running (a failed assertion)


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
