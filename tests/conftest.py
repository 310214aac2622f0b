"""Shared fixtures: a built demo, a real HTTP server on loopback, and Debian's Chromium."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

from builder import DEMO_CURRICULUM
from builder.build import build

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


class Server:
    """A static HTTP server on 127.0.0.1 serving one folder; it can stop and start again on the same port."""

    def __init__(self, folder: Path, port: int = 0, prefix: str = ""):
        self.folder = folder
        self.prefix = prefix  # serve the folder under /<prefix>, as a hub or CDN may
        self.port = port
        self.httpd = None
        self.requests: list[str] = []

    def start(self) -> Server:
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def end_headers(self):
                if self.path.endswith("sw.js"):
                    self.send_header("Cache-Control", "no-cache")
                super().end_headers()

            def do_GET(self):
                server.requests.append(self.path)
                super().do_GET()

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


@pytest.fixture
def persistent_context(playwright, tmp_path):
    """A browser profile on disk, as a learner's phone has (not incognito): for installability."""
    context = playwright.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield context
    context.close()


@pytest.fixture
def context(browser):
    context = browser.new_context(service_workers="allow")
    yield context
    context.close()
