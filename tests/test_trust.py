"""Who may write what at a hub (docs/security.md), tried as a classmate on the school's Wi-Fi
would: a copied progress file re-signed by someone else, a forged statement over a real one, a
rename by a stranger, a cross-site form, poison files among honest uploads, impossible dates, and
a full disk. Real `satchel hub` processes on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import stat
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from satchel.hub.progress import BadProgress, StoreFailed, prepare
from satchel.hub.store import Store

from tests import test_hub
from tests.conftest import in_own_thread
from tests.progress_files import Learner, progress_file
from tests.test_dashboard import Browser, set_password
from tests.test_hub import Hub

any_hub, database = test_hub.any_hub, test_hub.database  # the same fixtures: every test on SQLite and PostgreSQL


def post(hub: Hub, body: bytes, headers: dict | None = None):
    status, _, reply = hub.request("api/progress", body, {"content-type": "application/json", **(headers or {})})
    return status, json.loads(reply)


def rows(hub: Hub, sql: str, *args):
    store = Store.in_data_dir(hub.data)
    try:
        return store.query(sql, *args)
    finally:
        store.close()


def test_a_signed_upload_is_verified_and_idempotent(any_hub):
    amina = Learner("Amina")
    body = amina.sign(amina.file(20))
    assert post(any_hub, body) == (200, {"new": 20, "known": 0})
    assert post(any_hub, body) == (200, {"new": 0, "known": 20})
    assert rows(any_hub, "SELECT COUNT(*), SUM(verified) FROM statements") == [(20, 20)]
    assert rows(any_hub, "SELECT key, how FROM learner_keys") == [(amina.key, "derived")]


def test_a_copied_file_re_signed_by_another_learner_is_refused_at_its_first_upload(any_hub):
    """The copier rewrites the actor to themselves and signs with their own key; the real learner
    has never uploaded. The ids were made with the real learner's key, so the hub refuses it."""
    amina, copier = Learner("Amina"), Learner("Copier")
    copied = amina.file(30)
    copied["profile"].update(id=copier.id, name="Copier", key=copier.key)
    for s in copied["statements"]:
        s["actor"]["account"]["name"] = copier.id
    status, reply = post(any_hub, copier.sign(copied))
    assert status == 422 and "another learner's device" in reply["error"], reply
    assert rows(any_hub, "SELECT COUNT(*) FROM statements") == [(0,)]
    assert post(any_hub, amina.sign(amina.file(3)))[0] == 200  # the real one still can


def test_another_key_cannot_sign_for_a_learner(any_hub):
    """Keeping the real learner's id and signing with another key: refused, whatever the order."""
    amina, stranger = Learner("Amina"), Learner("Stranger")
    forged = amina.file(0)
    forged["profile"]["key"] = stranger.key
    status, reply = post(any_hub, stranger.sign(forged))
    assert status == 403, reply
    assert rows(any_hub, "SELECT COUNT(*) FROM learners") == [(0,)]


def test_a_tampered_signed_file_is_refused(any_hub):
    amina = Learner()
    body = amina.sign(amina.file(5))
    tampered = body.replace(b'"PT120S"', b'"PT999S"', 1)
    assert tampered != body
    status, reply = post(any_hub, tampered)
    assert status == 422 and "signature does not match" in reply["error"]


def test_a_same_id_forgery_is_answered_409_kept_aside_and_shown_to_the_teacher(any_hub):
    """A forged "passed 100 %" sent after a real "failed 20 %" with the same id: never 'known'."""
    amina = Learner("Amina")
    real = amina.file(1)
    quiz = real["statements"][0]
    quiz["verb"] = {"id": "http://adlnet.gov/expapi/verbs/failed", "display": {"en": "failed"}}
    quiz["object"]["id"] += "#quiz-0"
    quiz["result"] = {"score": {"scaled": 0.2, "raw": 1, "min": 0, "max": 5}, "success": False, "completion": True}
    assert post(any_hub, amina.sign(real))[0] == 200
    forged = copy.deepcopy(real)
    forged["statements"][0]["verb"] = {"id": "http://adlnet.gov/expapi/verbs/passed", "display": {"en": "passed"}}
    forged["statements"][0]["result"]["score"] = {"scaled": 1, "raw": 5, "min": 0, "max": 5}
    forged["statements"].append(amina.file(1)["statements"][0])  # an honest new one beside it is stored
    status, reply = post(any_hub, amina.sign(forged))
    assert status == 409 and reply["conflicts"] == [quiz["id"]] and reply["new"] == 1, reply
    assert post(any_hub, amina.sign(forged))[0] == 409  # again: the same answer, one copy kept aside
    assert rows(any_hub, "SELECT COUNT(*) FROM conflicts") == [(1,)]
    assert json.loads(rows(any_hub, "SELECT body FROM statements WHERE id = ?", quiz["id"])[0][0])["result"]["score"]["scaled"] == 0.2
    assert post(any_hub, amina.sign(real)) == (200, {"new": 0, "known": 1})  # the same content stays idempotent

    set_password(any_hub)
    teacher = Browser(any_hub)
    assert teacher.sign_in()[0] == 303
    assert "(1 to resolve)" in teacher.get("_hub/satchel-demo/")[2]
    trust = teacher.get("_hub/satchel-demo/trust")[2]
    assert f'data-conflict="{quiz["id"]}"' in trust and "passed" in trust and "100 %" in trust and "20 %" in trust
    digest = re.search(r'name="digest" value="([0-9a-f]+)"', trust).group(1)
    csrf = re.search(r'name="csrf" value="([^"]+)"', trust).group(1)
    assert teacher.post("_hub/satchel-demo/trust", {"csrf": csrf, "digest": digest, "action": "use"})[0] == 303
    counted = json.loads(rows(any_hub, "SELECT body FROM statements WHERE id = ?", quiz["id"])[0][0])
    assert counted["result"]["score"]["scaled"] == 1  # the teacher's choice; the other copy is still kept
    assert rows(any_hub, "SELECT COUNT(*) FROM conflicts") == [(2,)]
    assert "(0 to resolve)" in teacher.get("_hub/satchel-demo/")[2]


def test_a_stranger_cannot_rename_a_learner(any_hub):
    amina = Learner("Amina")
    assert post(any_hub, amina.sign(amina.file(2)))[0] == 200
    rename = progress_file(0, name="Hacked", learner=amina.id)  # unsigned, knowing only the id (the CSV has it)
    status, reply = post(any_hub, json.dumps(rename).encode())
    assert status == 401, reply
    legacy = progress_file(2, name="Old phone")  # a learner from before keys: their id is a version 4 UUID
    assert post(any_hub, json.dumps(legacy).encode())[0] == 200
    assert post(any_hub, json.dumps(progress_file(0, name="Hacked", learner=legacy["profile"]["id"])).encode())[0] == 200
    assert sorted(rows(any_hub, "SELECT name FROM learners")) == [("Amina",), ("Old phone",)]


def test_a_learner_from_before_keys_is_bound_to_the_first_key_and_enrols_another_with_a_class_code(any_hub):
    legacy = progress_file(3, name="Old phone")
    assert post(any_hub, json.dumps(legacy).encode())[0] == 200  # unsigned, unverified, kept
    phone = Learner("Old phone", learner=legacy["profile"]["id"])
    mine = phone.file(2)
    mine["statements"] += legacy["statements"]  # the same statements, now sent by the app with its key
    assert post(any_hub, phone.sign(mine)) == (200, {"new": 2, "known": 3})
    assert post(any_hub, json.dumps(legacy).encode())[0] == 403  # unsigned files no longer speak for them
    other = Learner("Old phone", learner=legacy["profile"]["id"])  # the learner on a second phone
    assert post(any_hub, other.sign(other.file(1)))[0] == 403
    store = Store.in_data_dir(any_hub.data)
    code, _ = store.add_enrolment("satchel-demo", "Class 4B")
    store.close()
    assert post(any_hub, other.sign(other.file(1)), {"satchel-enrolment": code.lower()})[0] == 200
    assert post(any_hub, other.sign(other.file(1)))[0] == 200  # enrolled once, known since
    assert rows(any_hub, "SELECT COUNT(*) FROM statements WHERE verified = 0") == [(3,)]


POISON = [
    # context nested 255 to 1,024 deep: parsed, then refused before it can fail the group's encoding
    lambda: _nest(300), lambda: _nest(1000),
    lambda: json.dumps(dict(progress_file(1), exported="9999-12-31T23:59:59Z")).encode(),
    lambda: _with(timestamp="0000-99-99T99:99:99Z"), lambda: _with(result={"duration": "PT9999999S"}),
    lambda: _with(result={"duration": "PT99999S"}),
    lambda: json.dumps(progress_file(1)).encode().replace(b'"Amina"', b'"A\\ud800"'),  # a lone surrogate
]


def _with(**change) -> bytes:
    data = progress_file(1)
    data["statements"][0].update(change)
    return json.dumps(data).encode()


def _nest(depth: int) -> bytes:
    """A file whose statement's context.extensions nests `depth` deep (written as text: Python's
    own encoder would not go so deep)."""
    data = progress_file(1)
    data["statements"][0]["context"]["extensions"] = {"urn:x": "NEST"}
    return json.dumps(data).encode().replace(b'"NEST"', b'{"a":' * depth + b"{}" + b"}" * depth)


def test_poison_files_get_their_4xx_and_30_honest_uploads_beside_them_all_succeed(any_hub):
    honest = [json.dumps(progress_file(50)).encode() for _ in range(30)]
    work = [(body, True) for body in honest] + [(make(), False) for make in POISON for _ in range(3)]
    work.sort(key=lambda item: hash(item[0]))  # interleaved
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda item: (post(any_hub, item[0])[0], item[1]), work))
    assert [status for status, good in answers if good] == [200] * 30
    assert all(400 <= status < 500 for status, good in answers if not good), answers
    assert rows(any_hub, "SELECT COUNT(*) FROM statements") == [(30 * 50,)]


def upload_form(hub: Hub, files: list[tuple[str, bytes]], teacher: Browser | None = None):
    """(status, page) of the USB page's form sent as a browser sends it (with its CSRF token)."""
    browser = teacher or Browser(hub)
    csrf = browser.csrf("_hub/upload")
    boundary = "satchel-test-boundary"
    body = f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n".encode()
    for name, data in files:
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n"
                 "Content-Type: application/json\r\n\r\n").encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    status, _, page = browser.send(urllib.request.Request(hub.url + "_hub/upload", data=body, headers={
        "content-type": f"multipart/form-data; boundary={boundary}", "sec-fetch-site": "same-origin"}))
    return status, page


def test_a_lone_surrogate_on_the_usb_page_is_refused_alone(any_hub):
    poisoned = json.dumps(progress_file(1)).encode().replace(b'"Amina"', b'"A\\ud800"')
    good = json.dumps(progress_file(4, name="Baraka")).encode()
    status, page = upload_form(any_hub, [("bad.json", poisoned), ("good.json", good)])
    assert status == 200 and "Baraka: 4 new steps" in page and "Refused" in page
    assert rows(any_hub, "SELECT COUNT(*) FROM statements") == [(4,)]


def test_a_cross_site_post_to_the_usb_page_is_refused(any_hub):
    """Another site's page posting a no-cors multipart form: the browser says cross-site, and it
    carries no CSRF token (the session cookie is SameSite=Strict)."""
    good = json.dumps(progress_file(2)).encode()
    boundary = "satchel"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.json\"\r\n"
            f"Content-Type: application/json\r\n\r\n").encode() + good + f"\r\n--{boundary}--\r\n".encode()
    for headers in ({"sec-fetch-site": "cross-site", "origin": "http://evil.example"}, {}):
        status, _, _ = any_hub.request("_hub/upload", body, {"content-type": f"multipart/form-data; boundary={boundary}", **headers})
        assert status == 403
    assert rows(any_hub, "SELECT COUNT(*) FROM statements") == [(0,)]


def test_the_hub_answers_other_requests_while_it_parses_a_large_upload(any_hub):
    """A 9 MB upload is parsed off the event loop: health checks asked all through the upload wait
    far less than the upload takes (on main, one waited about as long: 0.9 s of the loop)."""
    data = progress_file(12500)
    for n, s in enumerate(data["statements"]):
        s["timestamp"] = f"2026-10-{1 + n % 28:02d}" + s["timestamp"][10:]  # weeks offline, a few hundred a day
    big = json.dumps(data).encode()
    assert len(big) > 8_500_000
    waits: list[float] = []
    finished = []

    def upload() -> float:
        start = time.monotonic()
        assert post(any_hub, big)[0] == 200
        finished.append(True)
        return time.monotonic() - start

    def health():
        while not finished and len(waits) < 10000:
            start = time.monotonic()
            urllib.request.urlopen(any_hub.url + "api/health", timeout=30).read()
            waits.append(time.monotonic() - start)

    with ThreadPoolExecutor(2) as pool:
        took = pool.submit(upload)
        pool.submit(health).result(120)
        took = took.result(120)
    assert len(waits) > 3 and max(waits) < 0.5 * took, (max(waits), took)


def test_more_statements_in_a_day_than_anyone_makes_are_refused(any_hub):
    flood = progress_file(5001)  # all on one day
    status, reply = post(any_hub, json.dumps(flood).encode())
    assert status == 429 and "in a day" in reply["error"]
    assert post(any_hub, json.dumps(dict(flood, statements=flood["statements"][:4000])).encode())[0] == 200
    assert post(any_hub, json.dumps(dict(flood, statements=flood["statements"][4000:])).encode())[0] == 429
    assert rows(any_hub, "SELECT COUNT(*) FROM statements") == [(4000,)]


def test_the_database_is_readable_by_the_hub_alone(tmp_path):
    Store.init(tmp_path / "data").close()
    assert stat.S_IMODE(os.stat(tmp_path / "data" / "hub.sqlite3").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "data").st_mode) == 0o700


def test_a_full_disk_is_said_and_loses_nothing_already_stored(tmp_path):
    store = Store.init(tmp_path / "data")
    pages = store.query("PRAGMA page_count")[0][0]
    store.db.execute(f"PRAGMA max_page_count = {pages + 25}")  # a disk with a few pages left beyond the new hub's tables
    fitting = prepare(json.dumps(progress_file(5)).encode(), {"satchel-demo"})

    def upload(checked):
        """add_file on an event loop of its own (in a thread: the browser tests keep one running here)."""
        async def run():
            return await store.add_file(checked)
        return in_own_thread(lambda: asyncio.run(run()))

    assert upload(fitting).new == 5
    huge = prepare(json.dumps(progress_file(3000)).encode(), {"satchel-demo"})
    with pytest.raises(StoreFailed) as failure:
        upload(huge)
    assert failure.value.disk_full and "cannot rollback" not in str(failure.value)
    assert store.query("SELECT COUNT(*) FROM statements") == [(5,)]
    store.close()


def test_keyed_statements_need_a_signed_file():
    amina = Learner()
    data = progress_file(1, learner=str(uuid.uuid4()))
    data["statements"][0]["id"] = amina.statement_id()
    with pytest.raises(BadProgress, match="not signed"):
        prepare(json.dumps(data).encode(), {"satchel-demo"})
