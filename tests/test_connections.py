"""The hub's connections are bounded (hub/connections.py), on a real hub under a limit of 1,024
open files: idle connections cannot crowd a device out, and requests that never finish coming, or
answers never read, are cut at their deadlines while the hub goes on serving."""

from __future__ import annotations

import http.client
import pickle
import resource
import select
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from satchel.hub.connections import Limits, default_max_connections, uvicorn_options

from tests.test_hub import Hub

FILE_LIMIT = 1024  # a Raspberry Pi's soft limit; here the hard one too, so the hub cannot raise it
IDLE = 1100
HEADER_TIMEOUT = BODY_TIMEOUT = 2  # the quick hub's, in seconds
MARGIN = 3  # seconds a deadline may be late, on a loaded machine


def lower_file_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT))


class LimitedHub(Hub):
    """A `Hub` started with 1,024 open files at most; what it logs goes to a file, read by `log()`."""

    def __init__(self, site: Path, data: Path, *extra: str):
        self.log_file = data.with_suffix(".log")
        with self.log_file.open("w") as log:
            super().__init__([site], data, *extra, stdout=log, stderr=subprocess.STDOUT, preexec_fn=lower_file_limit)

    def log(self) -> str:
        return self.log_file.read_text()

    output = log

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)


@pytest.fixture(scope="module")
def quick_hub(demo_site, tmp_path_factory):
    """A hub with deadlines of 2 s, to see them pass."""
    hub = LimitedHub(demo_site, tmp_path_factory.mktemp("quick") / "data",
                     "--header-timeout", str(HEADER_TIMEOUT), "--body-timeout", str(BODY_TIMEOUT))
    yield hub
    hub.stop()


def read_until_closed(connection: socket.socket, seconds: float) -> tuple[bytes, bool]:
    """What the hub sends on `connection` within `seconds`, and whether it closed the connection."""
    received, deadline = b"", time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        connection.settimeout(left)
        try:
            chunk = connection.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return received, True
        if not chunk:
            return received, True
        received += chunk
    return received, False


def closed_by_hub(connection: socket.socket) -> bool:
    connection.setblocking(False)
    try:
        return connection.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


@pytest.fixture
def many_files():
    """This test process may open IDLE connections and more."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = IDLE + 500
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"this test opens {IDLE} connections; the hard limit of open files is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_request_is_answered_while_1100_idle_connections_are_held(demo_site, tmp_path, many_files):
    # Deadlines longer than the test: only the cap can make room for the device.
    hub = LimitedHub(demo_site, tmp_path / "data", "--header-timeout", "60", "--body-timeout", "60")
    idle: list[socket.socket] = []
    try:
        for _ in range(IDLE):
            connection = socket.socket()
            connection.setblocking(False)
            connection.connect_ex(("127.0.0.1", hub.port))
            idle.append(connection)
        connecting, deadline = select.poll(), time.monotonic() + 20  # (select() stops at descriptor 1,023)
        waiting = {connection.fileno() for connection in idle}
        for fd in waiting:
            connecting.register(fd, select.POLLOUT)
        while waiting and time.monotonic() < deadline:
            for fd, _ in connecting.poll(1000):
                connecting.unregister(fd)
                waiting.discard(fd)
        assert not waiting, f"{len(waiting)} of {IDLE} connections were not made within 20 s"

        started = time.monotonic()
        with urllib.request.urlopen(hub.url + "api/health", timeout=15) as answer:
            assert answer.status == 200
        elapsed = time.monotonic() - started
        print(f"answered in {elapsed:.3f} s with {IDLE} idle connections held")
        assert elapsed < 15

        cap = default_max_connections(FILE_LIMIT)
        deadline = time.monotonic() + 5  # the hub's closings may still be on their way
        while (closed := sum(closed_by_hub(c) for c in idle)) < IDLE - cap and time.monotonic() < deadline:
            time.sleep(0.2)
        assert IDLE - cap <= closed < IDLE - cap + 50, "the hub closes the idle connections over its cap, and only those"
        assert hub.request("api/health")[0] == 200
        assert "Too many open files" not in hub.log()
    finally:
        for connection in idle:
            connection.close()
        hub.stop()


def test_a_request_left_half_sent_is_closed_at_the_header_deadline(quick_hub):
    with quick_hub.connect() as half, quick_hub.connect() as silent:
        half.sendall(b"GET /api/hea")
        started = time.monotonic()
        answer, closed = read_until_closed(half, HEADER_TIMEOUT + MARGIN)
        elapsed = time.monotonic() - started
        assert closed and answer.startswith(b"HTTP/1.1 408 ")
        assert HEADER_TIMEOUT - 0.5 < elapsed < HEADER_TIMEOUT + MARGIN
        assert read_until_closed(silent, 1) == (b"", True), "a connection that sent nothing is closed without an answer"


def test_headers_that_never_end_are_refused(quick_hub):
    with quick_hub.connect() as endless:
        endless.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: " + b"a" * 70_000)
        answer, closed = read_until_closed(endless, MARGIN)
        assert closed and answer.startswith(b"HTTP/1.1 431 ")


def test_a_body_sent_at_one_byte_a_second_is_cut_off_while_others_are_served(quick_hub):
    served = 0
    with quick_hub.connect() as slow:
        slow.sendall(b"POST /api/progress HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 10000\r\n\r\n")
        started, answer, closed = time.monotonic(), b"", False
        for _ in range(BODY_TIMEOUT + 2 * MARGIN):  # a byte a second, for as long as the hub may take
            if select.select([slow], [], [], 1)[0]:
                answer, closed = read_until_closed(slow, MARGIN)
                break
            slow.sendall(b" ")
            served += quick_hub.request("api/health")[0] == 200
        elapsed = time.monotonic() - started
    assert closed and answer.startswith(b"HTTP/1.1 408 ")
    assert BODY_TIMEOUT - 0.5 < elapsed < BODY_TIMEOUT + MARGIN
    assert served >= BODY_TIMEOUT - 1


def test_a_body_sent_slowly_after_its_answer_is_cut_off_without_a_second_answer(quick_hub):
    with quick_hub.connect() as slow:
        slow.sendall(b"POST /api/progress HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
                     b"Content-Length: 10000\r\n\r\n")
        answer, closed = read_until_closed(slow, 1)
        assert answer.startswith(b"HTTP/1.1 415 ") and not closed, "refused at once, from its headers"
        for _ in range(BODY_TIMEOUT + 2 * MARGIN):
            if select.select([slow], [], [], 1)[0]:
                break
            slow.sendall(b" ")
        assert read_until_closed(slow, MARGIN) == (b"", True)


def test_an_answer_the_device_stops_reading_is_dropped(quick_hub, demo_site):
    # The bundle's largest file the hub keeps in memory, asked for again and again: 8 MB in all, more
    # than the kernel buffers hold (4 MB on loopback).
    stylesheet = max((p for p in demo_site.rglob("*") if p.is_file() and not p.name.endswith((".br", ".gz"))
                      and p.stat().st_size <= 256 * 1024), key=lambda p: p.stat().st_size)
    path = "/" + stylesheet.relative_to(demo_site).as_posix()
    requests = 8 * 1024 * 1024 // stylesheet.stat().st_size + 1
    with socket.socket() as reader:
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: the hub's buffer fills
        reader.settimeout(10)
        reader.connect(("127.0.0.1", quick_hub.port))
        reader.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode() * requests)
        time.sleep(BODY_TIMEOUT + MARGIN)  # reading nothing
        answer, closed = read_until_closed(reader, MARGIN)
    assert closed and len(answer) < requests * stylesheet.stat().st_size
    assert quick_hub.request("api/health")[0] == 200


def test_a_keep_alive_device_makes_several_requests_on_one_connection(quick_hub):
    connection = http.client.HTTPConnection("127.0.0.1", quick_hub.port, timeout=10)
    try:
        statuses = []
        for method, path, body in [("GET", "/api/health", None), ("GET", "/", None),
                                   ("POST", "/api/progress", b"{}"), ("GET", "/api/health", None)]:
            connection.request(method, path, body=body, headers={"content-type": "application/json"})
            answer = connection.getresponse()
            answer.read()
            statuses.append(answer.status)
            if len(statuses) == 1:
                first = connection.sock
            time.sleep(0.5)  # a pause, well within the deadlines
        assert connection.sock is first, "every request went on the first connection"
        assert statuses[:2] == [200, 200] and 400 <= statuses[2] < 500 and statuses[3] == 200
    finally:
        connection.close()


def test_the_default_cap_leaves_files_for_the_rest():
    assert default_max_connections(1024) == 819
    assert default_max_connections(16384) == 10000
    assert default_max_connections(256) == 156
    options = uvicorn_options(Limits(819))
    assert options["ws"] == "none", "no upgrade takes a connection out of its deadlines"
    assert pickle.loads(pickle.dumps(options["http"])).keywords["limits"] == Limits(819), "--workers pickles it"
