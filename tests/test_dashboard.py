"""The teacher dashboard of a real `satchel hub` on loopback: nothing without signing in, a CSRF
token on every form, wrong passwords rate-limited, learners' names shown as text, and the grid,
chart, quiz results, recent activity and CSV computed from uploaded progress."""

from __future__ import annotations

import csv
import http.cookiejar
import io
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import pytest

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
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect)

    def get(self, path: str, **headers):
        return self.send(urllib.request.Request(self.hub.url + path, headers=headers))

    def post(self, path: str, fields: dict):
        data = urllib.parse.urlencode(fields).encode()
        return self.send(urllib.request.Request(self.hub.url + path, data=data, headers={"content-type": "application/x-www-form-urlencoded"}))

    def send(self, request):
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode()

    def csrf(self, path: str = "_hub/login") -> str:
        return re.search(r'name="csrf" value="([^"]+)"', self.get(path)[2]).group(1)

    def sign_in(self, password: str = PASSWORD):
        return self.post("_hub/login", {"csrf": self.csrf(), "password": password})


@pytest.fixture
def hub(demo_site, tmp_path):
    running = Hub([demo_site], tmp_path / "data")
    subprocess.run([sys.executable, "-m", "builder.cli", "hub", "set-password", "--data", str(running.data)],
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
    status, _, body = browser.sign_in()
    assert status == 429 and "Wait five minutes" in body, "even the right password waits"


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
    upload = progress_file(1, name="=HYPERLINK(\"x\")")
    assert hub.upload(upload)[0] == 200
    browser = Browser(hub)
    browser.sign_in()
    text = browser.get("_hub/satchel-demo/progress.csv")[2]
    assert {r["learner"] for r in csv.DictReader(io.StringIO(text))} == {"'=HYPERLINK(\"x\")"}


def test_set_password_refuses_short_ones(hub):
    result = subprocess.run([sys.executable, "-m", "builder.cli", "hub", "set-password", "--data", str(hub.data)],
                            input="short\n", text=True, capture_output=True)
    assert result.returncode == 2 and "at least 8 characters" in result.stderr
    assert Browser(hub).sign_in()[0] == 303, "the old password still works"


def test_a_session_holds_across_worker_processes(demo_site, tmp_path):
    """With --workers, every process signs sessions with the one secret the first one chose."""
    running = Hub([demo_site], tmp_path / "data", "--workers", "2")
    try:
        subprocess.run([sys.executable, "-m", "builder.cli", "hub", "set-password", "--data", str(running.data)],
                       input=PASSWORD + "\n", text=True, check=True, capture_output=True)
        browser = Browser(running)
        assert browser.sign_in()[0] == 303
        assert [browser.get("_hub/satchel-demo/")[0] for _ in range(20)] == [200] * 20
    finally:
        running.stop()
