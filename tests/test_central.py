"""Trust between hubs (issue 12): a central takes uploads only with a school hub's credentials, and
`satchel hub sync` sets aside what an upstream refuses (quarantine) instead of stopping there.
The upstreams here are small servers written in the test, on loopback, besides real hubs."""

from __future__ import annotations

import base64
import http.server
import json
import re
import subprocess
import sys
import threading
import time

import pytest
from satchel.hub.store import Store

from tests.progress_files import progress_file
from tests.test_hub import Hub

HUB = [sys.executable, "-m", "satchel.builder.cli", "hub"]


def satchel_hub(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*HUB, *map(str, args)], capture_output=True, text=True)


def sync(data, *args: str) -> subprocess.CompletedProcess:
    return satchel_hub("sync", "--data", data, *args)


def basic(user: str, password: str) -> dict:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def query(data, sql: str, *args) -> list[tuple]:
    store = Store.in_data_dir(data)
    try:
        return store.query(sql, *args)
    finally:
        store.close()


class Upstream:
    """A small upstream on 127.0.0.1 that keeps what it is sent by statement id.

    As an LRS (`POST /xAPI/statements`, a JSON array): 400 for a batch holding a `poisoned` id
    (xAPI batches are all or nothing), 409 for an id it holds with other content, `always` (a
    status) for everything if set. As a central hub (`POST /api/progress`, a progress file): 409
    with the `conflicting` ids of the file listed, the others stored, as a Satchel central does;
    a batch of files gets an answer per file, as from a Satchel central, unless `batches` is off
    (an older central: 422, as for any body that is no progress file)."""

    def __init__(self):
        self.held: dict[str, dict] = {}
        self.poisoned: set[str] = set()
        self.conflicting: set[str] = set()
        self.always: int | None = None
        self.batches = True
        self.posts = 0
        self.connections: set[int] = set()
        self.auth: list[str | None] = []
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # connections kept alive, as by uvicorn

            def log_message(self, *args):
                pass

            def answer(self, status: int, body) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                sent = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with lock:
                    upstream.posts += 1
                    upstream.connections.add(self.client_address[1])  # the client's port: one per connection
                    upstream.auth.append(self.headers.get("authorization"))
                    if upstream.always:
                        return self.answer(upstream.always, {"error": "go away"})
                    if self.path == "/api/progress" and sent.get("format") == "satchel-progress-batch":
                        return self.answer(*upstream.batch(sent))
                    if self.path == "/api/progress":
                        return self.answer(*upstream.progress_file(sent))
                    return self.answer(*upstream.statements(sent))

        lock = threading.Lock()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def statements(self, batch: list[dict]) -> tuple[int, object]:
        if any(s["id"] in self.poisoned for s in batch):
            return 400, {"detail": "a statement of this batch is refused"}
        if any(s["id"] in self.held and self.held[s["id"]] != s for s in batch):
            return 409, {"detail": "A different statement already exists with the same ID"}
        self.held.update((s["id"], s) for s in batch)
        return 200, [s["id"] for s in batch]

    def progress_file(self, data: dict) -> tuple[int, object]:
        ids = [s["id"] for s in data["statements"]]
        conflicts = [i for i in ids if i in self.conflicting]
        new = [s for s in data["statements"] if s["id"] not in self.conflicting and s["id"] not in self.held]
        self.held.update((s["id"], s) for s in new)
        if conflicts:
            return 409, {"error": "other content under the same id", "new": len(new), "known": len(ids) - len(new) - len(conflicts),
                         "conflicts": conflicts}
        return 200, {"new": len(new), "known": len(ids) - len(new)}

    def batch(self, data: dict) -> tuple[int, object]:
        if not self.batches:
            return 422, {"error": "not a valid progress file: 'statements' is a required property"}
        results = [self.progress_file(f) for f in data["files"]]
        answers = [{"status": status, **answer} for status, answer in results]
        refused = [n for n, (status, _) in enumerate(results) if status != 200]
        return (207 if refused else 200), {"files": answers, "refused": refused}

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def upstream():
    server = Upstream()
    yield server
    server.stop()


def school_hub_with(demo_site, data, files: list[dict]) -> None:
    hub = Hub([demo_site], data)
    try:
        for upload in files:
            assert hub.upload(upload)[0] == 200
    finally:
        hub.stop()


def test_a_statement_the_lrs_refuses_is_set_aside_and_the_rest_goes_on(demo_site, tmp_path, upstream):
    data = tmp_path / "school"
    files = [progress_file(400, name=f"Learner {n}") for n in range(3)]
    school_hub_with(demo_site, data, files)
    everything = {s["id"] for f in files for s in f["statements"]}
    poisoned = {files[0]["statements"][123]["id"], files[2]["statements"][7]["id"]}  # in the first batch of 500, and the last
    upstream.poisoned = set(poisoned)
    lrs = upstream.url + "/xAPI/statements"

    for status, says in [(401, "refused the credentials"), (429, "busy"), (404, "check --upstream")]:  # about the request: stop
        upstream.always = status
        result = sync(data, "--upstream", lrs)
        assert result.returncode == 1 and says in result.stderr and "Run it again" in result.stderr, result.stderr
    upstream.always = None
    status = sync(data, "--status")
    assert status.returncode == 0 and "Forwarded: 0\nWaiting: 1,200\nQuarantined (refused by the upstream, set aside): 0\n" in status.stdout

    connections = len(upstream.connections)
    result = sync(data, "--upstream", lrs)
    assert result.returncode == 0, result.stderr
    assert len(upstream.connections) - connections == 1, "one connection for the whole run, kept alive"
    assert "Forwarded 1198 statements" in result.stdout and "2 statements were refused" in result.stdout
    assert set(upstream.held) == everything - poisoned
    assert upstream.posts < 60, "halving a batch of 500 down to one statement takes some 20 posts, not one per statement"
    hub_id = query(data, "SELECT value FROM meta WHERE key = 'hub_id'")[0][0]
    assert re.fullmatch(r"hub-[0-9a-f]{12}", hub_id)
    stamps = {s["context"]["extensions"]["urn:satchel:hub"] for s in upstream.held.values()}
    assert stamps == {hub_id}, "statements from devices carry this hub's own id"

    status = sync(data, "--status")
    assert status.returncode == 0
    assert "Forwarded: 1,198\nWaiting: 0\nQuarantined (refused by the upstream, set aside): 2\n" in status.stdout
    assert '2 x upstream answered 400: {"detail": "a statement of this batch is refused"}' in status.stdout
    assert all(i in status.stdout for i in poisoned) and "--retry-quarantined" in status.stdout
    assert [reason for reason, _ in Store.in_data_dir(data).quarantine_summary()] == [
        'upstream answered 400: {"detail": "a statement of this batch is refused"}']

    posts = upstream.posts
    again = sync(data, "--upstream", lrs)
    assert again.returncode == 0 and "Nothing new to forward" in again.stdout and upstream.posts == posts, "set aside: not sent again"

    # Sent again after a crash before the mark: the same content, so the LRS keeps them (no 409).
    store = Store.in_data_dir(data)
    store.db.execute("UPDATE statements SET forwarded = NULL WHERE id IN (SELECT id FROM statements WHERE forwarded IS NOT NULL LIMIT 40)")
    store.close()
    assert "Forwarded 40 statements" in (again := sync(data, "--upstream", lrs)).stdout and "refused" not in again.stdout

    upstream.poisoned.clear()  # the LRS was fixed
    retried = sync(data, "--upstream", lrs, "--retry-quarantined")
    assert retried.returncode == 0 and "2 quarantined statements are back in line" in retried.stdout
    assert "Forwarded 2 statements" in retried.stdout, retried.stdout
    assert set(upstream.held) == everything
    assert "Forwarded: 1,200\nWaiting: 0\nQuarantined (refused by the upstream, set aside): 0\n" in sync(data, "--status").stdout


def test_a_central_409_sets_aside_only_the_conflicting_statements(demo_site, tmp_path, upstream):
    data = tmp_path / "school"
    files = [progress_file(30, name=f"Learner {n}") for n in range(2)]
    school_hub_with(demo_site, data, files)
    conflicting = {files[0]["statements"][4]["id"], files[0]["statements"][20]["id"], files[1]["statements"][0]["id"]}
    upstream.conflicting = set(conflicting)

    result = sync(data, "--upstream", upstream.url + "/api/progress", "--user", "lycee-1", "--password-file", write(tmp_path, "t0k3n"))
    assert result.returncode == 0 and "Forwarded 57 statements" in result.stdout and "3 statements were refused" in result.stdout
    assert upstream.posts == 1, "both learners' files in one batch; a 409 that lists the conflicts needs no halving"
    assert set(upstream.auth) == set(basic("lycee-1", "t0k3n").values())
    assert set(upstream.held) == {s["id"] for f in files for s in f["statements"]} - conflicting
    assert {s["id"] for s in upstream.held.values() if "extensions" in s["context"]} == set(), "a central knows the school from its credentials"
    assert set(query(data, "SELECT id, reason FROM upstream_quarantine")) == {(i, "conflict at upstream") for i in conflicting}
    assert len(query(data, "SELECT id FROM statements WHERE forwarded IS NOT NULL")) == 57
    assert "3 x conflict at upstream" in sync(data, "--status").stdout


def test_an_older_central_that_takes_no_batches_gets_one_file_a_post(demo_site, tmp_path, upstream):
    data = tmp_path / "school"
    files = [progress_file(30, name=f"Learner {n}") for n in range(3)]
    school_hub_with(demo_site, data, files)
    upstream.batches = False
    result = sync(data, "--upstream", upstream.url + "/api/progress", "--user", "lycee-1", "--password-file", write(tmp_path, "t0k3n"))
    assert result.returncode == 0 and "Forwarded 90 statements" in result.stdout and "refused" not in result.stdout, result
    assert upstream.posts == 1 + 3, "the batch, refused; then a file per learner"
    assert set(upstream.held) == {s["id"] for f in files for s in f["statements"]}


def test_a_central_takes_many_learners_files_in_one_batch(demo_site, tmp_path, database):
    """POST /api/progress with {"format": "satchel-progress-batch", "files": [...]}: each file checked
    and stored as if it came alone, on the same credentials, with an answer of its own."""
    central_data = tmp_path / "central"
    subprocess.run([*HUB, "init", "--data", str(central_data), *(["--db", database] if database else [])], check=True, capture_output=True)
    school, token = re.search(r"School hub: (\S+)\nToken: (\S+)\n", satchel_hub("schools", "add", "Lycée", "--data", central_data).stdout).groups()
    central = Hub([demo_site], central_data)
    try:
        def post(body, headers=None):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            status, _, answer = central.request("api/progress", data, {"content-type": "application/json",
                                                                        **(basic(school, token) if headers is None else headers)})
            return status, json.loads(answer)

        held = progress_file(5, name="Held")
        assert post(held)[0] == 200
        good = [progress_file(40, name=f"Learner {n}") for n in range(3)]
        stranger = progress_file(5, name="Stranger")
        stranger["statements"][2]["actor"]["account"]["name"] = good[0]["profile"]["id"]  # not the file's learner's: 422
        clash = dict(held, statements=[dict(held["statements"][1], timestamp="2020-01-01T00:00:00.000Z"), *progress_file(3)["statements"]])
        for s in clash["statements"]:
            s["actor"]["account"]["name"] = held["profile"]["id"]
        batch = {"format": "satchel-progress-batch", "version": 1, "files": [good[0], stranger, good[1], clash, good[2]]}

        status, answer = post(batch, {})
        assert status == 401 and "satchel hub schools add" in answer["error"], "the same credentials as for a file alone"
        status, answer = post(batch)
        assert status == 207 and answer["refused"] == [1, 3], answer
        assert [f["status"] for f in answer["files"]] == [200, 422, 200, 409, 200]
        assert "statement 3 is not the file's learner's" in answer["files"][1]["error"]
        assert answer["files"][3]["conflicts"] == [held["statements"][1]["id"]] and answer["files"][3]["new"] == 3
        assert (answer["new"], answer["known"]) == (123, 0)
        stored = set(central.stored())
        assert {s["id"] for f in good for s in f["statements"]} <= stored and not {s["id"] for s in stranger["statements"]} & stored

        status, answer = post(dict(batch, files=[good[0], good[1]]))
        assert status == 200 and answer == {"files": [{"status": 200, "new": 0, "known": 40}] * 2, "new": 0, "known": 80, "refused": []}
        status, answer = post(dict(batch, files=[{}] * 1001))
        assert status == 413 and "at most 1,000 files" in answer["error"]
        for bad in [dict(batch, version=2), dict(batch, files=[]), dict(batch, files=good[0]), dict(batch, extra=1)]:
            status, answer = post(bad)
            assert status == 422 and "batch" in answer["error"], bad
        status, answer = post(b'{"format": "satchel-progress-batch", "files": [')
        assert status == 400 and "not JSON" in answer["error"]
    finally:
        central.stop()
    assert query(central_data, "SELECT source, COUNT(*) FROM statements GROUP BY source") == [(school, 5 + 123)]


def write(folder, text: str):
    path = folder / "secret"
    path.write_text(text + "\n", encoding="utf-8")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request) -> str | None:
    return request.getfixturevalue("postgresql") if request.param == "postgresql" else None


def test_a_central_takes_uploads_only_with_a_school_hubs_credentials(demo_site, tmp_path, database, monkeypatch, upstream):
    central_data = tmp_path / "central"
    subprocess.run([*HUB, "init", "--data", str(central_data), *(["--db", database] if database else [])], check=True, capture_output=True)
    added = satchel_hub("schools", "add", "Lycée du Nord", "--data", central_data)
    assert added.returncode == 0, added.stderr
    school, token = re.search(r"School hub: (lycee-du-nord-[0-9a-f]{6})\nToken: (\S{43})\n", added.stdout).groups()
    other, other_token = re.search(r"School hub: (\S+)\nToken: (\S+)\n",
                                   satchel_hub("schools", "add", "École Sud", "--data", central_data).stdout).groups()
    stored = query(central_data, "SELECT token_hash FROM schools")
    assert len(stored) == 2 and all(token not in row[0] and other_token not in row[0] for row in stored), "only hashes are kept"

    monkeypatch.setenv("SATCHEL_SCHOOLS_CACHE_SECONDS", "0.5")
    central = Hub([demo_site], central_data)
    try:
        def upload(headers: dict, statements: int = 10):
            status, answer_headers, body = central.request("api/progress", json.dumps(progress_file(statements)).encode(),
                                                           {"content-type": "application/json", **headers})
            return status, answer_headers, json.loads(body)

        status, headers, body = upload({})
        assert status == 401 and "satchel hub schools add" in body["error"]
        assert headers["www-authenticate"] == 'Basic realm="satchel-central"'
        for wrong in [basic(school, token[:-1] + "x"), basic("nobody-123456", token), basic(school, ""),
                      {"authorization": "Bearer " + token}, {"authorization": "Basic !!!"}]:
            status, headers, body = upload(wrong)
            assert status == 401 and body["error"] and headers["www-authenticate"] == 'Basic realm="satchel-central"', wrong
        assert upload(basic(school, token))[0] == 200
        assert upload(basic(other, other_token), 5)[0] == 200

        assert satchel_hub("schools", "revoke", other, "--data", central_data).returncode == 0
        assert satchel_hub("schools", "revoke", other, "--data", central_data).returncode == 2, "revoked already"
        time.sleep(0.6)  # the central's cache of the credentials
        assert upload(basic(other, other_token))[0] == 401
        assert upload(basic(school, token))[0] == 200
    finally:
        central.stop()
    listed = satchel_hub("schools", "list", "--data", central_data).stdout
    assert re.search(rf"{school}\tLycée du Nord\tadded \S+\tin force", listed) and re.search(rf"{other}\tÉcole Sud\tadded \S+\trevoked ", listed)
    sources = query(central_data, "SELECT source, COUNT(*) FROM statements GROUP BY source ORDER BY source")
    assert sorted(sources) == sorted([(school, 20), (other, 5)]), "each statement is kept with the school hub it came from"

    # The central forwards to an LRS: each statement says which school hub it came from.
    result = sync(central_data, "--upstream", upstream.url + "/xAPI/statements")
    assert "Forwarded 25 statements" in result.stdout, result.stderr
    stamps = [s["context"]["extensions"]["urn:satchel:hub"] for s in upstream.held.values()]
    assert sorted(stamps) == sorted([school] * 20 + [other] * 5)


def test_signed_progress_reaches_the_central_verified_through_a_school_hub(demo_site, tmp_path):
    """A learner's signed file goes to the school hub; the school hub forwards it (unsigned, on its
    credentials, with the learner's key): the central keeps the key and checks each id against it."""
    from tests.progress_files import Learner
    central_data, school_data = tmp_path / "central", tmp_path / "school"
    subprocess.run([*HUB, "init", "--data", str(central_data)], check=True, capture_output=True)
    school, token = re.search(r"School hub: (\S+)\nToken: (\S+)\n",
                              satchel_hub("schools", "add", "Escola", "--data", central_data).stdout).groups()
    amina = Learner("Amina")
    hub = Hub([demo_site], school_data)
    try:
        status, _, _ = hub.request("api/progress", amina.sign(amina.file(12)), {"content-type": "application/json"})
        assert status == 200
    finally:
        hub.stop()
    central = Hub([demo_site], central_data)
    try:
        result = sync(school_data, "--upstream", central.url + "api/progress", "--user", school, "--password-file", write(tmp_path, token))
        assert "Forwarded 12 statements" in result.stdout, result.stderr
    finally:
        central.stop()
    assert query(central_data, "SELECT COUNT(*), SUM(verified) FROM statements") == [(12, 12)]
    assert query(central_data, "SELECT learner, key FROM learner_keys") == [(amina.id, amina.key)]
