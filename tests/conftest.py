"""Shared fixtures: a built demo, a real HTTP server on loopback, and Debian's Chromium."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest
from satchel.builder import DEMO_CURRICULUM
from satchel.builder.build import build
from satchel.hub.static import cache_control

CHROMIUM = os.environ.get("SATCHEL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("demo") / "site"
    build(DEMO_CURRICULUM, site, show_progress=False)
    return site


@pytest.fixture
def demo_copy(tmp_path) -> Path:
    """A copy of the demo curriculum that a test may change."""
    target = tmp_path / "demo"
    shutil.copytree(DEMO_CURRICULUM, target)
    return target


class CountingWriter:
    """The answer stream of one connection, counting every byte sent (status line, headers, body)."""

    def __init__(self, raw):
        self.raw, self.count = raw, 0

    def write(self, data) -> int:
        self.count += len(data)
        return self.raw.write(data)

    def __getattr__(self, name):
        return getattr(self.raw, name)


class Server:
    """A static HTTP server on 127.0.0.1 serving one folder; it can stop and start again on the same port.

    `sent` records (path, bytes sent with headers) of every GET, for byte accounting. `before_get`,
    if set, is called with each path first: it may sleep (a slow network), or return False to drop
    the connection unanswered (a server dying mid-download)."""

    def __init__(self, folder: Path, port: int = 0, prefix: str = ""):
        self.folder = folder
        self.prefix = prefix  # serve the folder under /<prefix>, as a hub or CDN may
        self.port = port
        self.httpd = None
        self.requests: list[str] = []
        self.sent: list[tuple[str, int]] = []
        self.before_get = None

    def start(self) -> Server:
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                self.wfile = CountingWriter(self.wfile)

            def end_headers(self):
                # The caching a hub or a CDN gives a bundle (docs/hub.md): revalidate, except the
                # versioned workbox runtime; an ETag so that revalidating costs a 304.
                path = self.path.split("?")[0]
                self.send_header("Cache-Control", cache_control(path.lstrip("/")))
                etag = self.etag()
                if etag:
                    self.send_header("ETag", etag)
                super().end_headers()

            def etag(self) -> str | None:
                path = self.translate_path(self.path.split("?")[0])
                path = os.path.join(path, "index.html") if os.path.isdir(path) else path
                try:
                    stat = os.stat(path)
                except OSError:
                    return None
                return f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'

            def do_GET(self):
                if server.before_get is not None and server.before_get(self.path) is False:
                    self.close_connection = True
                    return
                server.requests.append(self.path)
                before = self.wfile.count
                etag = self.etag()
                if etag and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                else:
                    super().do_GET()
                server.sent.append((self.path, self.wfile.count - before))

            def translate_path(self, path):
                if server.prefix:
                    if not path.startswith(f"/{server.prefix}"):
                        return str(server.folder / "no-such-file")
                    path = path[len(server.prefix) + 1:]
                return super().translate_path(path)

        handler = functools.partial(Handler, directory=str(self.folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.prefix}"


@pytest.fixture
def serve():
    servers: list[Server] = []

    def start(folder: Path, prefix: str = "") -> Server:
        server = Server(folder, prefix=prefix).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def playwright():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); .ci/run does")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


# A device whose child has already answered the first run's "Who is learning?": the tests of
# other journeys start there (tests/test_old_phone.py goes through the first run itself).
WELCOMED = "try { localStorage.setItem('satchel-welcomed', '1'); } catch (e) {}"


def device(browser, **options):
    """A new browser context, as a phone that has been through the first run."""
    context = browser.new_context(**options)
    context.add_init_script(WELCOMED)
    return context


@pytest.fixture
def persistent_context(playwright, tmp_path):
    """A browser profile on disk, as a learner's phone has (not incognito): for installability."""
    context = playwright.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    context.add_init_script(WELCOMED)
    yield context
    context.close()


@pytest.fixture
def context(browser):
    context = device(browser, service_workers="allow")
    yield context
    context.close()


def in_own_thread(work):
    """`work()` in a thread of its own: the browser tests keep an event loop running in the main thread,
    where asyncio.run() and Playwright's sync API refuse to start."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result(300)


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_postgresql():
    """A real PostgreSQL server (Debian's package) on loopback, in a throwaway folder; run as the
    'postgres' user when we are root. Yields its base URL (add '/<database>')."""
    import subprocess
    import tempfile
    import time

    import psycopg
    initdb = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not initdb:
        raise RuntimeError("PostgreSQL is missing: install Debian's postgresql (apt-get install postgresql); scripts/dev.sh test does")
    bindir = initdb[-1].parent
    root = Path(tempfile.mkdtemp(prefix="satchel-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(root / "data"), "-U", "satchel", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen([*as_user, str(bindir / "postgres"), "-D", str(root / "data"), "-p", str(port), "-k", str(root),
                               "-c", "listen_addresses=127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"postgresql://satchel@127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                psycopg.connect(f"{url}/postgres").close()
                break
            except psycopg.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL did not start: {server.stderr.read().decode()[-2000:]}") from None
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(root, ignore_errors=True)


def new_database(server_url: str, name: str) -> str:
    import psycopg
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    return f"{server_url}/{name}"


@pytest.fixture(scope="session")
def postgresql_server():
    try:
        with running_postgresql() as url:
            yield url
    except RuntimeError as error:
        pytest.fail(str(error))


@pytest.fixture
def postgresql(postgresql_server, request):
    """A fresh, empty database on the session's server; its URL."""
    import re
    return new_database(postgresql_server, "t_" + re.sub(r"\W", "_", request.node.name.lower())[:50] + f"_{os.getpid()}_{free_port()}")


RALPH = "ralph-malph[backend-fs,lrs,cli]==5.1.0"


# Ralph's fs backend writes each batch of statements with operation "create", which refuses to
# write to a file that exists: the LRS takes only the first POST ("fs_lrs.jsonl already exists and
# overwrite is not allowed"). "append", an operation of the same backend, takes every batch: the
# server is Ralph's own app (ralph.api:app, what `ralph runserver` starts), with that default.
RALPH_SERVER = """
import sys
import uvicorn
from ralph.backends.data.base import BaseOperationType
from ralph.backends.lrs.fs import FSLRSBackend
FSLRSBackend.default_operation_type = BaseOperationType.APPEND
uvicorn.run("ralph.api:app", host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


@contextlib.contextmanager
def running_ralph(app: Path):
    """Ralph serving on loopback, its data and settings in the folder `app`, with its file-system
    backend (appending every batch) and basic auth, in its own virtual environment (made once
    under the Satchel cache). Yields (statements URL, user, password). Also for benchmarks/sync.py."""
    import subprocess
    import sys
    import time
    import urllib.request

    from satchel.builder.nodejs import cache_dir
    home = cache_dir() / "ralph-5.1.0"
    python = home / "bin" / "python"
    if not (home / ".installed").is_file():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(home)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", RALPH, "requests"], check=True)
        (home / ".installed").write_text(RALPH)
    (app / "data").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, RALPH_APP_DIR=str(app), RALPH_RUNSERVER_BACKEND="fs",
               RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH=str(app / "data"))
    user, password = "hub-1", "not-a-real-secret"
    subprocess.run([str(home / "bin" / "ralph"), "auth", "-u", user, "-p", password, "-s", "all", "-M", "mailto:hub-1@example.org", "-w"],
                   env=env, check=True, capture_output=True)
    port = free_port()
    log = app / "ralph.log"  # a file, not a pipe: a pipe nobody reads would stop Ralph once full
    with log.open("wb") as output:
        server = subprocess.Popen([str(python), "-c", RALPH_SERVER, str(port)], cwd=app, env=env, stdout=output, stderr=output)
    try:
        url = f"http://127.0.0.1:{port}/xAPI/statements"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/__heartbeat__", timeout=1)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Ralph did not start: {log.read_text(errors='replace')[-2000:]}") from None
                time.sleep(0.3)
        yield url, user, password
    finally:
        server.terminate()
        server.wait(30)


@pytest.fixture(scope="session")
def ralph_lrs(tmp_path_factory):
    """A real xAPI Learning Record Store on loopback (running_ralph): (statements URL, user, password)."""
    with running_ralph(tmp_path_factory.mktemp("ralph")) as lrs:
        yield lrs
