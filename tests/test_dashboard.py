"""The teacher dashboard of a real `satchel hub` on loopback: nothing without signing in, a CSRF
token on every form, sessions that signing out or a new password ends, wrong passwords limited per
address and for the account (X-Forwarded-For believed only from a --trusted-proxy), learners' names
shown as text, and the grid, chart, quiz results, recent activity and CSV computed from uploaded progress."""

from __future__ import annotations

import csv
import http.cookiejar
import io
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from satchel.hub.auth import SignInLimits

from tests.progress_files import progress_file, statement
from tests.test_hub import Hub

PASSWORD = "chalk-and-slate"
LESSON = "mathematics/fractions/what-is-a-fraction"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """Cookies kept, redirects not followed: each answer is seen as the server gave it."""

    def __init__(self, hub: Hub):
        self.hub = hub
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), NoRedirect)

    def get(self, path: str, **headers):
        return self.send(urllib.request.Request(self.hub.url + path, headers=headers))

    def post(self, path: str, fields: dict, headers: dict | None = None):
        data = urllib.parse.urlencode(fields).encode()
        return self.send(urllib.request.Request(self.hub.url + path, data=data,
                                                headers={"content-type": "application/x-www-form-urlencoded", **(headers or {})}))

    def send(self, request):
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode()

    def csrf(self, path: str = "_hub/login") -> str:
        return re.search(r'name="csrf" value="([^"]+)"', self.get(path)[2]).group(1)

    def sign_in(self, password: str = PASSWORD, forwarded_for: str | None = None):
        headers = {"x-forwarded-for": forwarded_for} if forwarded_for else {}
        return self.post("_hub/login", {"csrf": self.csrf(), "password": password}, headers)

    def cookie(self) -> str:
        """The session cookie, as a copy of it taken from the browser would be."""
        return next(f"{c.name}={c.value}" for c in self.cookies if c.name == "satchel_hub")


def set_password(hub: Hub, password: str = PASSWORD) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "satchel.builder.cli", "hub", "set-password", "--data", str(hub.data)],
                          input=password + "\n", text=True, check=True, capture_output=True)


def replayed(hub: Hub, cookie: str, path: str = "_hub/satchel-demo/") -> tuple[int, str]:
    """(status, location) of a request carrying a copied cookie, from another machine."""
    status, headers, _ = Browser(hub).get(path, cookie=cookie)
    return status, headers.get("location", "")


def until(condition, seconds: float = 15):
    """Wait for condition() to be true (then return it), or fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, "still not so"
        time.sleep(0.1)
    return result


@pytest.fixture
def hub(demo_site, tmp_path):
    running = Hub([demo_site], tmp_path / "data")
    subprocess.run([sys.executable, "-m", "satchel.builder.cli", "hub", "set-password", "--data", str(running.data)],
                   input=PASSWORD + "\n", text=True, check=True, capture_output=True)
    yield running
    running.stop()


def test_nothing_without_signing_in(hub):
    browser = Browser(hub)
    for path in ("_hub/", "_hub/satchel-demo/", "_hub/satchel-demo/progress.csv"):
        status, headers, _ = browser.get(path)
        assert status == 303 and headers["location"] == "/_hub/login", path
    assert browser.sign_in("not the password")[0] == 401
    assert browser.get("_hub/satchel-demo/")[0] == 303


def test_forms_need_the_csrf_token(hub):
    browser = Browser(hub)
    browser.get("_hub/login")
    assert browser.post("_hub/login", {"password": PASSWORD})[0] == 403
    assert browser.post("_hub/login", {"password": PASSWORD, "csrf": "guessed"})[0] == 403
    assert browser.sign_in()[0] == 303
    assert browser.get("_hub/satchel-demo/")[0] == 200
    assert browser.post("_hub/logout", {})[0] == 403, "signing out needs the token too"
    assert browser.get("_hub/satchel-demo/")[0] == 200
    assert browser.post("_hub/logout", {"csrf": browser.csrf("_hub/satchel-demo/")})[0] == 303
    assert browser.get("_hub/satchel-demo/")[0] == 303


def test_wrong_passwords_are_rate_limited(hub):
    browser = Browser(hub)
    statuses = [browser.sign_in(f"guess {n}")[0] for n in range(6)]
    assert statuses == [401] * 5 + [429]
    status, headers, body = browser.sign_in()
    assert status == 429 and re.search(r"Wait (59|60) seconds", body), "even the right password waits, and is told how long"
    assert headers["retry-after"] in ("59", "60")


def test_a_cookie_replayed_after_signing_out_opens_nothing(hub):
    browser = Browser(hub)
    assert browser.sign_in()[0] == 303
    copied = browser.cookie()
    assert replayed(hub, copied) == (200, ""), "a copied cookie opens the dashboard while the session lasts"
    assert browser.post("_hub/logout", {"csrf": browser.csrf("_hub/satchel-demo/")})[0] == 303
    assert replayed(hub, copied) == (303, "/_hub/login")
    assert replayed(hub, copied, "_hub/satchel-demo/progress.csv") == (303, "/_hub/login")


@pytest.mark.parametrize("workers, database", [("1", "sqlite"), ("2", "sqlite"), ("2", "postgresql")])
def test_a_new_password_signs_every_session_out(demo_site, tmp_path, request, workers, database):
    """`satchel hub set-password` ends every session, in every worker process (one database)."""
    url = request.getfixturevalue("postgresql") if database == "postgresql" else None
    running = Hub([demo_site], tmp_path / "data", "--workers", workers, db=url)
    try:
        set_password(running)
        browsers = [Browser(running), Browser(running)]
        assert [b.sign_in()[0] for b in browsers] == [303, 303]
        copied = [b.cookie() for b in browsers]
        assert [replayed(running, c)[0] for c in copied for _ in range(4)] == [200] * 8
        said = set_password(running, "a new password").stdout
        assert [replayed(running, c) for c in copied for _ in range(4)] == [(303, "/_hub/login")] * 8
        assert "2 dashboard sessions were signed out" in said
        assert [b.get("_hub/")[0] for b in browsers] == [303, 303]
        assert browsers[0].sign_in()[0] == 401 and browsers[0].sign_in("a new password")[0] == 303
    finally:
        running.stop()


@pytest.fixture
def quick_blocks(monkeypatch):
    """Sign-in blocks of 1 s (60 s on a real hub), so a test sees them end."""
    monkeypatch.setenv("SATCHEL_HUB_SIGN_IN_BLOCK", "1")


def started(demo_site, tmp_path, *extra: str) -> Hub:
    running = Hub([demo_site], tmp_path / "data", *extra)
    set_password(running)
    return running


def test_forwarded_addresses_are_not_believed_by_default(demo_site, tmp_path, quick_blocks):
    """With no --trusted-proxy, a client that sends X-Forwarded-For is still its own address."""
    running = started(demo_site, tmp_path)
    try:
        browser = Browser(running)
        statuses = [browser.sign_in(f"guess {n}", forwarded_for=f"10.0.0.{n}")[0] for n in range(6)]
        assert statuses == [401] * 5 + [429]
        assert browser.sign_in(forwarded_for="10.0.1.1")[0] == 429
    finally:
        running.stop()


def test_a_trusted_proxy_forwards_each_address(demo_site, tmp_path, quick_blocks):
    """With --trusted-proxy 127.0.0.1, two addresses behind it are limited separately."""
    running = started(demo_site, tmp_path, "--trusted-proxy", "127.0.0.1")
    try:
        browser = Browser(running)
        assert [browser.sign_in(f"guess {n}", forwarded_for="10.0.0.1")[0] for n in range(6)] == [401] * 5 + [429]
        assert browser.sign_in(forwarded_for="10.0.0.1")[0] == 429
        assert browser.sign_in("guess", forwarded_for="10.0.0.2")[0] == 401
        assert browser.sign_in(forwarded_for="10.0.0.2")[0] == 303, "the teacher behind the same proxy is not kept out"
    finally:
        running.stop()


def test_a_block_ends_by_itself(demo_site, tmp_path, quick_blocks):
    running = started(demo_site, tmp_path)
    try:
        browser = Browser(running)
        assert [browser.sign_in(f"guess {n}")[0] for n in range(5)] == [401] * 5
        blocked_at = time.monotonic()
        status, headers, body = browser.sign_in()
        assert status == 429 and headers["retry-after"] == "1" and "Wait 1 second" in body
        # Trying again and again while blocked (with the right password) does not make the block longer.
        until(lambda: browser.sign_in()[0] == 303)
        assert 0.5 < time.monotonic() - blocked_at < 5
    finally:
        running.stop()


def test_failures_from_many_addresses_block_the_account_for_a_while(demo_site, tmp_path, monkeypatch):
    """20 failures within 5 blocks' time (10 s here, 5 minutes on a real hub), from any addresses,
    make every address wait; the wait ends by itself when the oldest failures are old enough."""
    monkeypatch.setenv("SATCHEL_HUB_SIGN_IN_BLOCK", "2")
    running = started(demo_site, tmp_path, "--trusted-proxy", "127.0.0.1")
    try:
        browser = Browser(running)
        assert [browser.sign_in("guess", forwarded_for=f"10.0.0.{n // 5}")[0] for n in range(20)] == [401] * 20
        status, headers, _ = browser.sign_in(forwarded_for="10.0.9.9")
        assert status == 429 and 1 <= int(headers["retry-after"]) <= 10
        until(lambda: browser.sign_in(forwarded_for="10.0.9.9")[0] == 303)
    finally:
        running.stop()


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_address_blocks_double_to_five_times_the_first():
    clock = Clock()
    limits = SignInLimits(block=60, clock=clock)
    waits = []
    for _ in range(5):
        assert [limits.start("10.0.0.1") for _ in range(5)] == [0] * 5
        waits.append(limits.wait("10.0.0.1"))
        assert limits.start("10.0.0.1") == waits[-1], "a refused attempt changes nothing"
        clock.now += waits[-1]
    assert waits == [60, 120, 240, 300, 300]
    clock.now += 15 * 60 + 1
    assert [limits.start("10.0.0.1") for _ in range(5)] == [0] * 5 and limits.wait("10.0.0.1") == 60, "quiet, forgotten"
    limits.succeeded("10.0.0.1")
    assert limits.wait("10.0.0.1") == 0, "the right password forgets the address's failures"


def test_the_account_waits_at_most_five_times_the_first_block():
    clock = Clock()
    limits = SignInLimits(block=60, clock=clock)
    for n in range(20):
        assert limits.start(f"10.0.0.{n}") == 0
        clock.now += 1
    assert limits.wait("10.0.9.9") == 280, "the oldest failure, 20 s ago, counts for 280 s more"
    assert limits.start("10.0.9.9") == 280 and limits.start("10.0.0.1") == 280
    clock.now += 280
    assert limits.wait("10.0.9.9") == 0


def test_the_dashboard_shows_uploaded_progress_and_escapes_names(hub):
    evil = "<script>alert(1)</script>"
    amina = progress_file(0, name="Amina")
    learner = amina["profile"]["id"]
    amina["statements"] = [
        statement("satchel-demo", learner, "launched", LESSON, 1),
        statement("satchel-demo", learner, "passed", LESSON + "#quiz-0", 2, score={"scaled": 0.75}, success=True, completion=True),
        statement("satchel-demo", learner, "completed", LESSON, 3, completion=True),
    ]
    other = progress_file(0, name=evil)
    other["statements"] = [statement("satchel-demo", other["profile"]["id"], "launched", LESSON, 4)]
    for upload in (amina, other):
        assert hub.upload(upload)[0] == 200

    browser = Browser(hub)
    browser.sign_in()
    status, headers, page = browser.get("_hub/satchel-demo/")
    assert status == 200 and headers["cache-control"] == "no-store"
    assert evil not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Mathematics" in page
    assert re.search(r"Mathematics</span>.*?<b>8%</b>", page, re.S), "1 of 12 (learner, lesson) pairs done in mathematics: 8%"
    assert "75%" in page and "finished What is a fraction?" in page

    status, headers, text = browser.get("_hub/satchel-demo/progress.csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert headers["content-type"].startswith("text/csv") and len(rows) == 2 * 12
    row = next(r for r in rows if r["learner"] == "Amina" and r["lesson_id"] == LESSON)
    assert (row["opened"], row["completed"], row["best_score"], row["attempts"]) == ("1", "1", "0.75", "1")

    status, _, page = browser.get("_hub/satchel-demo/?lang=ar")
    assert 'dir="rtl"' in page and "الدروس المنتهية حسب المادة" in page and "الرياضيات" in page


def test_spreadsheet_formulas_in_names_are_defused(hub):
    """A cell starting with = + - @, a tab or a carriage return may run as a formula (OWASP): quoted."""
    names = ["=HYPERLINK(\"x\")", "+1", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1", "Amina =1"]
    for name in names:
        assert hub.upload(progress_file(1, name=name))[0] == 200
    browser = Browser(hub)
    browser.sign_in()
    text = browser.get("_hub/satchel-demo/progress.csv")[2]
    assert {r["learner"] for r in csv.DictReader(io.StringIO(text, newline=""))} == {"'" + n for n in names[:-1]} | {"Amina =1"}


def test_set_password_refuses_short_ones(hub):
    result = subprocess.run([sys.executable, "-m", "satchel.builder.cli", "hub", "set-password", "--data", str(hub.data)],
                            input="short\n", text=True, capture_output=True)
    assert result.returncode == 2 and "at least 8 characters" in result.stderr
    assert Browser(hub).sign_in()[0] == 303, "the old password still works"


def test_a_session_holds_across_worker_processes(demo_site, tmp_path):
    """With --workers, every process signs sessions with the one secret the first one chose."""
    running = Hub([demo_site], tmp_path / "data", "--workers", "2")
    try:
        subprocess.run([sys.executable, "-m", "satchel.builder.cli", "hub", "set-password", "--data", str(running.data)],
                       input=PASSWORD + "\n", text=True, check=True, capture_output=True)
        browser = Browser(running)
        assert browser.sign_in()[0] == 303
        assert [browser.get("_hub/satchel-demo/")[0] for _ in range(20)] == [200] * 20
    finally:
        running.stop()
