"""The hub, run as `satchel hub` (uvicorn) on loopback: the headers a PWA needs, refusals of paths
outside the bundle, and progress uploads: stored once, bad ones refused with a 4xx while the hub
keeps serving, concurrent ones all kept."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import brotli
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from satchel.builder.archive import pack
from satchel.hub.store import Store

from tests.conftest import free_port
from tests.progress_files import progress_file


class Hub:
    """`satchel hub` in a process of its own, up once /api/health answers. `popen` overrides how the
    process is started (its output goes to pipes, read by output(), unless said otherwise)."""

    def __init__(self, sites: list[Path], data: Path, *extra: str, port: int | None = None, db: str | None = None, **popen):
        self.data = data
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        command = [sys.executable, "-m", "satchel.builder.cli", "hub"]
        if not data.exists():
            subprocess.run([*command, "init", "--data", str(data), *(["--db", db] if db else [])], check=True, capture_output=True)
        popen = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, **popen}
        self.process = subprocess.Popen([*command, *map(str, sites), "--data", str(data), "--port", str(self.port), *extra], **popen)
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(self.url + "api/health", timeout=1)
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    if self.process.poll() is None:
                        self.stop()
                    raise RuntimeError(f"the hub did not start: {self.output()}") from None
                time.sleep(0.1)

    def output(self):
        """What the hub printed (once it has stopped)."""
        return self.process.communicate()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)

    def request(self, path: str, data: bytes | None = None, headers: dict | None = None, method: str | None = None):
        """(status, headers, body) of one request; HTTP errors are answers too."""
        request = urllib.request.Request(self.url + path, data=data, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def upload(self, body, content_type: str = "application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        status, _, reply = self.request("api/progress", data, {"content-type": content_type})
        return status, json.loads(reply) if reply else None

    def stored(self) -> list[str]:
        store = Store.in_data_dir(self.data)
        try:
            return [row[0] for row in store.query("SELECT id FROM statements")]
        finally:
            store.close()


@pytest.fixture(params=["folder", "archive"])
def hub(demo_site, tmp_path, request):
    """A hub serving the demo from its folder, or from a `.satchel` archive of it (the same answers)."""
    site = demo_site
    if request.param == "archive":
        site = tmp_path / "demo.satchel"
        pack(demo_site, site)
    running = Hub([site], tmp_path / "data")
    yield running
    running.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request) -> str | None:
    """The hub's database: None for SQLite in its data directory, or a fresh PostgreSQL database."""
    return request.getfixturevalue("postgresql") if request.param == "postgresql" else None


@pytest.fixture
def any_hub(demo_site, tmp_path, database):
    running = Hub([demo_site], tmp_path / "data", db=database)
    yield running
    running.stop()


def test_headers_for_an_offline_app(hub, demo_site):
    status, headers, body = hub.request("sw.js")
    assert status == 200 and headers["cache-control"] == "no-cache" and "javascript" in headers["content-type"]
    assert body == (demo_site / "sw.js").read_bytes()
    status, headers, _ = hub.request("fr/manifest.webmanifest")
    assert headers["content-type"].startswith("application/manifest+json") and headers["cache-control"] == "no-cache"
    for hashed in [*demo_site.glob("assets/satchel/*.*.js"), *demo_site.glob("assets/satchel/style.*.css"),
                   *demo_site.glob("assets/satchel/lang/*.js")]:  # named by their content: never change
        assert "immutable" in hub.request(hashed.relative_to(demo_site).as_posix())[1]["cache-control"], hashed
    assert hub.request("assets/satchel/search.js")[1]["cache-control"] == "no-cache", "a fixed name is revalidated"

    status, headers, _ = hub.request("ar/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    status, _, _ = hub.request("ar/", headers={"if-none-match": headers["etag"]})
    assert status == 304
    assert hub.request("ar")[0] == 200  # redirected to ar/

    picture = next(demo_site.rglob("*.svg"))
    url = picture.relative_to(demo_site).as_posix()
    status, headers, body = hub.request(url, headers={"range": "bytes=10-29"})
    assert status == 206 and body == picture.read_bytes()[10:30] and headers["content-range"].endswith(f"/{picture.stat().st_size}")
    assert hub.request(url, headers={"range": "bytes=100000-"})[0] == 416
    assert hub.request("no/such/page/")[0] == 404


@pytest.mark.parametrize("accepted, sent", [
    ("gzip, br", "br"), ("br", "br"), ("gzip", "gzip"), ("", None), ("identity", None), ("*", "br"),
    ("gzip, deflate, br;q=0", "gzip"),  # br;q=0 means "not brotli", though the word is there
    ("br;q=0.5, gzip;q=0.8", "gzip"), ("BR;Q=1, gzip;q=0.9", "br"), ("br;q=0, gzip;q=0", None), ("*;q=0", None),
    ("gzip;q=0, *", "br"), ("br;q=nonsense, gzip", "gzip"), ("x-gzip", "gzip"),
])
def test_precompressed_files_are_sent_as_accept_encoding_asks(demo_site, tmp_path, accepted, sent):
    """Every build writes .br and .gz copies; the hub picks one by the weights of Accept-Encoding."""
    import gzip
    page = demo_site / "index.html"
    decode = {"br": brotli.decompress, "gzip": gzip.decompress, None: lambda body: body}[sent]
    running = Hub([demo_site], tmp_path / "data")
    try:
        for attempt in range(2):  # read from disk, then answered from memory
            status, headers, body = running.request("", headers={"accept-encoding": accepted})
            assert status == 200 and headers.get("content-encoding") == sent, (attempt, headers)
            assert headers["vary"] == "Accept-Encoding" and decode(body) == page.read_bytes()
    finally:
        running.stop()


@pytest.mark.parametrize("path", ["../hub.sqlite3", "%2e%2e/hub.sqlite3", "..%2fhub.sqlite3", "%2e%2e%2f%2e%2e%2fetc/passwd",
                                  "ar/../../data/hub.sqlite3", "..\\hub.sqlite3", "%00", "assets/%2e%2e/%2e%2e/%2e%2e/etc/passwd"])
def test_paths_outside_the_bundle_are_refused(hub, path):
    # urllib would tidy '..' itself: send the bytes as given.
    with socket.create_connection(("127.0.0.1", hub.port)) as s:
        s.sendall(f"GET /{path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    assert status in (400, 404), answer[:200]
    assert b"SQLite" not in answer and b"root:" not in answer
    assert hub.request("api/health")[0] == 200


def test_an_upload_is_stored_once(any_hub):
    upload = progress_file(50)
    assert any_hub.upload(upload) == (200, {"new": 50, "known": 0})
    assert any_hub.upload(upload) == (200, {"new": 0, "known": 50})
    more = dict(upload, statements=upload["statements"][:10] + progress_file(5, learner=upload["profile"]["id"])["statements"])
    assert any_hub.upload(more) == (200, {"new": 5, "known": 10})
    assert sorted(any_hub.stored()) == sorted({s["id"] for s in more["statements"] + upload["statements"]})


def test_bad_uploads_get_a_4xx_and_the_hub_keeps_serving(any_hub):
    good = progress_file(3)
    bad_statement = json.loads(json.dumps(good))
    bad_statement["statements"][1]["actor"]["account"]["name"] = "00000000-0000-4000-8000-000000000000"
    cases = [
        (b"{not json", "application/json", 400),
        (b'{"a": "\xff\xfe"}', "application/json", 400),  # invalid UTF-8
        (b"[" * 100000 + b"]" * 100000, "application/json", 400),  # deep nesting
        (b'{"n": ' + b"9" * 5000 + b"}", "application/json", 400),  # a number too long
        (b'{"n": NaN}', "application/json", 400),
        (json.dumps(good).encode(), "text/plain", 415),
        (json.dumps({"hello": "world"}).encode(), "application/json", 422),
        (json.dumps(dict(good, version=3)).encode(), "application/json", 422),
        (json.dumps(dict(good, curriculum={"id": "other"})).encode(), "application/json", 422),
        (json.dumps(dict(good, statements="x" * 100000)).encode(), "application/json", 422),
        (json.dumps(bad_statement).encode(), "application/json", 422),
    ]
    for body, content_type, expected in cases:
        status, reply = any_hub.upload(body, content_type)
        assert status == expected, (body[:60], status, reply)
        assert reply["error"], reply
    assert any_hub.stored() == []
    assert any_hub.upload(good) == (200, {"new": 3, "known": 0})
    assert any_hub.request("api/health")[0] == 200


def test_oversized_bodies_are_refused_without_reading_them(any_hub):
    """A declared 100 MB body is refused at once; a chunked body (no length said) is cut off at the
    limit (10 MB by default). The answer comes while the client is still sending."""
    def answer(request: bytes, chunk: bytes, chunks: int) -> bytes:
        with socket.create_connection(("127.0.0.1", any_hub.port)) as s:
            s.sendall(request)
            try:
                for _ in range(chunks):
                    s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the hub stopped reading: that is the point
            return s.recv(65536)

    head = b"POST /api/progress HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    assert answer(head + b"Content-Length: 100000000\r\n\r\n", b" " * 65536, 1).startswith(b"HTTP/1.1 413")
    piece = b" " * 1_000_000
    chunked = b"%x\r\n" % len(piece) + piece + b"\r\n"
    assert answer(head + b"Transfer-Encoding: chunked\r\n\r\n", chunked, 12).startswith(b"HTTP/1.1 413")
    assert any_hub.request("api/health")[0] == 200
    assert any_hub.stored() == []


def test_200_concurrent_uploads_from_50_learners_are_all_stored_once(any_hub):
    learners = [progress_file(20, name=f"Learner {n}") for n in range(50)]
    # Each learner uploads four times: twice the same file, and two files overlapping it.
    uploads = []
    for upload in learners:
        extra = progress_file(10, learner=upload["profile"]["id"])["statements"]
        uploads += [upload, upload, dict(upload, statements=upload["statements"][:5] + extra), dict(upload, statements=extra)]
    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(any_hub.upload, uploads))
    assert all(status == 200 for status, _ in answers)
    expected = {s["id"] for u in uploads for s in u["statements"]}
    stored = any_hub.stored()
    assert len(stored) == len(set(stored)) == len(expected) == 50 * 30
    assert set(stored) == expected
    assert sum(reply["new"] for _, reply in answers) == len(expected), "each statement is reported new exactly once"


def test_a_hub_killed_mid_burst_loses_nothing_and_duplicates_nothing(demo_site, tmp_path, database):
    """1,000 uploads; the hub gets SIGKILL half-way and is started again; clients retry until they
    get an answer, as the app's outbox does. Every statement is then stored, once."""
    import signal
    import threading

    hub = Hub([demo_site], tmp_path / "data", db=database)
    uploads = [progress_file(5, name=f"Learner {n % 50}") for n in range(1000)]
    sent = threading.Semaphore(0)

    def send(upload) -> tuple[int, dict]:
        tries = 0
        while True:
            tries += 1
            try:
                status, answer = hub.upload(upload)
                if status == 200:
                    sent.release()
                    return tries, answer
            except (OSError, http.client.HTTPException):
                pass  # refused, or the answer cut off by the kill: try again, as the app's outbox does
            time.sleep(0.05)

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = pool.map(send, uploads)
        for _ in range(300):
            sent.acquire()
        hub.process.send_signal(signal.SIGKILL)
        hub.process.wait()
        hub = Hub([demo_site], tmp_path / "data", port=hub.port)
        answered = list(results)
    hub.stop()
    stored = hub.stored()
    expected = {s["id"] for u in uploads for s in u["statements"]}
    assert set(stored) == expected, "zero lost"
    # What the hub reported: each file's statements are new once, in the answer to the try that
    # stored them; a file answered "known" was stored by an earlier try whose answer the kill cut off.
    for tries, answer in answered:
        assert (answer["new"], answer["known"]) in ((5, 0), (0, 5)), answer
        assert answer["known"] == 0 or tries > 1, "known at the first try: reported as stored by someone else"
    assert sum(a["new"] for _, a in answered) + sum(a["known"] for t, a in answered if t > 1) == len(stored) == 5000
    assert max(t for t, _ in answered) > 1, "some uploads were cut off by the kill and sent again"


def test_two_worker_processes_store_each_statement_once(demo_site, tmp_path):
    hub = Hub([demo_site], tmp_path / "data", "--workers", "2")
    try:
        uploads = [progress_file(10, name=f"Learner {n}") for n in range(60)]
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(hub.upload, uploads + uploads))
        assert all(status == 200 for status, _ in answers)
        assert sum(reply["new"] for _, reply in answers) == 600
        stored = hub.stored()
        assert len(stored) == len(set(stored)) == 600
    finally:
        hub.stop()


def test_several_bundles_are_served_under_their_curriculum_id(demo_site, tmp_path, demo_copy):
    from satchel.builder.build import build
    settings = demo_copy / "curriculum.yml"
    settings.write_text(settings.read_text(encoding="utf-8").replace("id: satchel-demo", "id: second-school"), encoding="utf-8")
    second = tmp_path / "second"
    build(demo_copy, second, show_progress=False)
    running = Hub([demo_site, second], tmp_path / "data")
    try:
        status, _, body = running.request("")
        assert status == 200 and b'href="second-school/"' in body and b'href="satchel-demo/"' in body
        assert running.request("second-school/sw.js")[2] == (second / "sw.js").read_bytes()
        assert running.upload(progress_file(2, curriculum="second-school"))[0] == 200
        assert running.upload(progress_file(2, curriculum="third"))[0] == 422
    finally:
        running.stop()


def test_the_hub_explains_a_missing_data_directory(demo_site, tmp_path):
    result = subprocess.run([sys.executable, "-m", "satchel.builder.cli", "hub", str(demo_site), "--data", str(tmp_path / "none")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "satchel hub init --data" in result.stderr
    subprocess.run([sys.executable, "-m", "satchel.builder.cli", "hub", "init", "--data", str(tmp_path / "data")], check=True, capture_output=True)
    result = subprocess.run([sys.executable, "-m", "satchel.builder.cli", "hub", str(tmp_path), "--data", str(tmp_path / "data")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "is not a Satchel bundle" in result.stderr
    unreachable = f"postgresql://satchel@127.0.0.1:{free_port()}/hub"
    result = subprocess.run([sys.executable, "-m", "satchel.builder.cli", "hub", "init", "--data", str(tmp_path / "pg"), "--db", unreachable],
                            capture_output=True, text=True)
    assert result.returncode == 2 and f"cannot use the database {unreachable}" in result.stderr
    assert not (tmp_path / "pg" / "database.txt").exists()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4), max_leaves=12)


def mutated(good: dict):
    """A good file with one value anywhere replaced (or removed)."""
    def paths(value, prefix=()):
        yield prefix
        children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, child in children:
            yield from paths(child, prefix + (key,))

    @st.composite
    def make(draw):
        path = draw(st.sampled_from([p for p in paths(good) if p]))
        data = json.loads(json.dumps(good))
        *parents, last = path
        target = data
        for key in parents:
            target = target[key]
        if draw(st.booleans()):
            target[last] = draw(json_values)
        elif isinstance(target, dict):
            del target[last]
        return json.dumps(data).encode()
    return make()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.binary(max_size=2000), json_values.map(lambda v: json.dumps(v).encode()), mutated(progress_file(3))))
def test_fuzzed_uploads_never_get_a_5xx(any_hub, body):
    status, reply = any_hub.upload(body)
    assert status < 500, (body[:200], status, reply)
    assert status == 200 or 400 <= status < 500


def test_small_files_served_from_memory_follow_changes_on_disk(demo_site, tmp_path):
    import os
    import shutil
    site = tmp_path / "site"
    shutil.copytree(demo_site, site)
    running = Hub([site], tmp_path / "data")
    try:
        first = running.request("ar/")
        assert running.request("ar/")[2] == first[2]  # the second comes from memory
        assert running.request("ar/", method="HEAD")[2] == b""
        assert running.request("ar/", headers={"if-none-match": first[1]["etag"]})[0] == 304
        page = site / "ar" / "index.html"
        page.write_bytes(page.read_bytes().replace(b"</body>", b"<!-- new version --></body>"))
        os.utime(page, ns=(page.stat().st_mtime_ns + 10**9,) * 2)
        status, headers, body = running.request("ar/", headers={"if-none-match": first[1]["etag"]})
        assert status == 200 and b"<!-- new version -->" in body and headers["etag"] != first[1]["etag"]
    finally:
        running.stop()


def test_the_hub_serves_https_with_a_given_certificate(demo_site, tmp_path):
    """The deployment model of docs/hub.md: the hub holds a certificate for the name devices use."""
    import ssl
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")], check=True, capture_output=True)
    port = free_port()
    command = [sys.executable, "-m", "satchel.builder.cli", "hub"]
    subprocess.run([*command, "init", "--data", str(tmp_path / "data")], check=True, capture_output=True)
    process = subprocess.Popen([*command, str(demo_site), "--data", str(tmp_path / "data"), "--port", str(port),
                                "--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    trusted = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/sw.js", context=trusted, timeout=2) as response:
                    assert response.status == 200 and response.read() == (demo_site / "sw.js").read_bytes()
                break
            except (OSError, urllib.error.URLError):
                assert process.poll() is None and time.monotonic() < deadline, process.communicate()
                time.sleep(0.2)
        with pytest.raises(OSError):  # https only: plain http gets no answer
            urllib.request.urlopen(f"http://127.0.0.1:{port}/sw.js", timeout=2)
    finally:
        process.terminate()
        process.wait(10)


def test_every_build_writes_compressed_copies_the_hub_sends_unless_told_not_to(tmp_path):
    import gzip

    from satchel.builder import DEMO_CURRICULUM
    site = tmp_path / "site"
    result = subprocess.run([sys.executable, "-m", "satchel.builder.cli", "build", str(DEMO_CURRICULUM), "-o", str(site)],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "Compressed" in result.stdout, result.stderr
    page = site / "fr" / "index.html"
    assert brotli.decompress((site / "fr" / "index.html.br").read_bytes()) == page.read_bytes()
    assert gzip.decompress((site / "fr" / "index.html.gz").read_bytes()) == page.read_bytes()
    listed = [f["url"] for part in (site / "satchel" / "packs" / "fr").glob("*.json")
              for f in json.loads(part.read_text(encoding="utf-8"))["files"]]
    assert listed and not [url for url in listed if url.endswith((".br", ".gz"))], "copies are not downloaded by devices"
    assert ".br" not in (site / "sw.js").read_text(encoding="utf-8")
    running = Hub([site], tmp_path / "data")
    try:
        status, headers, body = running.request("fr/", headers={"accept-encoding": "br"})
        assert headers["content-encoding"] == "br" and brotli.decompress(body) == page.read_bytes()
        status, headers, body = running.request("fr/", headers={"accept-encoding": "gzip"})
        assert headers["content-encoding"] == "gzip" and gzip.decompress(body) == page.read_bytes()
    finally:
        running.stop()
    plain = tmp_path / "plain"
    result = subprocess.run([sys.executable, "-m", "satchel.builder.cli", "build", str(DEMO_CURRICULUM), "-o", str(plain), "--no-precompress"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "Compressed" not in result.stdout, result.stderr
    assert not list(plain.rglob("*.br")) and not list(plain.rglob("*.gz"))


def start_refused(sites: list[Path], data: Path) -> subprocess.CompletedProcess:
    """`satchel hub SITES --data DATA`, expected to refuse to start (it is given 60 s to say so)."""
    return subprocess.run([sys.executable, "-m", "satchel.builder.cli", "hub", *map(str, sites), "--data", str(data),
                           "--port", str(free_port())], capture_output=True, text=True, timeout=60)


def test_two_folders_of_one_curriculum_are_refused_at_start(demo_site, tmp_path):
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(demo_site, copy)
    subprocess.run([sys.executable, "-m", "satchel.builder.cli", "hub", "init", "--data", str(tmp_path / "data")], check=True, capture_output=True)
    result = start_refused([demo_site, copy], tmp_path / "data")
    assert result.returncode == 2, result.stdout
    assert "two bundles of the curriculum 'satchel-demo'" in result.stderr
    assert f"{demo_site} (version 1.0.0) and {copy} (version 1.0.0)" in result.stderr, result.stderr
    assert "give only one of them" in result.stderr


def test_an_imported_archive_and_a_folder_of_its_curriculum_are_refused_at_start(demo_site, tmp_path):
    """docs/hub.md's first example, taken literally: import an archive, and also pass site/."""
    data = tmp_path / "data"
    pack(demo_site, tmp_path / "demo.satchel")
    subprocess.run([sys.executable, "-m", "satchel.builder.cli", "hub", "init", "--data", str(data)], check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "satchel.builder.cli", "hub", "import", str(tmp_path / "demo.satchel"), "--data", str(data)],
                   check=True, capture_output=True)
    result = start_refused([demo_site], data)
    assert result.returncode == 2, result.stdout
    assert f"{demo_site} (version 1.0.0) and {data / 'bundles' / 'satchel-demo'} (version 1.0.0)" in result.stderr, result.stderr
    assert f"serve only the imported one (leave {demo_site} out of the command)" in result.stderr
    assert "or remove one" in result.stderr


def test_etags_are_the_contents_hash_for_folders_and_archives_alike(demo_site, tmp_path):
    """The same file has the same ETag from a folder (whatever its files' times) and from an archive."""
    import hashlib
    import os
    import shutil
    folder = tmp_path / "site"
    shutil.copytree(demo_site, folder)
    big = os.urandom(600 * 1024)  # above the 256 KB kept in memory: hashed once, then known by size and time
    (folder / "big.bin").write_bytes(big)
    for path in folder.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    pack(folder, tmp_path / "demo.satchel")
    hubs = [Hub([folder], tmp_path / "data-folder"), Hub([tmp_path / "demo.satchel"], tmp_path / "data-archive")]
    try:
        for path, body in (("sw.js", (folder / "sw.js").read_bytes()), ("big.bin", big)):
            expected = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
            for running in hubs:
                for _ in range(2):  # the first answer hashes, the next ones know it
                    status, headers, got = running.request(path, headers={"accept-encoding": "identity"})
                    assert (status, headers["etag"], got) == (200, expected, body), (running.url, path)
                assert running.request(path, headers={"if-none-match": expected, "accept-encoding": "identity"})[0] == 304
        status, headers, _ = hubs[0].request("big.bin", headers={"range": "bytes=0-99"})
        assert status == 206 and headers["etag"] == f'"{hashlib.sha256(big).hexdigest()[:32]}"'
    finally:
        for running in hubs:
            running.stop()
