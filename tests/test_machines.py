"""Several machines on one database: three hubs on loopback behind Debian's nginx (round robin),
on one PostgreSQL. A teacher signs in through one, progress arrives through another, the
dashboard is read through the third; all three answer the same push key and the same ETags,
though each serves its own copy of the bundle, with other file times."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.progress_files import progress_file
from tests.servers import as_nobody, nginx_command, nginx_conf, wait_for_port
from tests.test_dashboard import PASSWORD, Browser
from tests.test_hub import Hub

CONTACT = "mailto:hub@ministry.example.org"

BALANCER = """    upstream hubs {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://hubs;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            add_header X-Hub $upstream_addr always;
        }}
    }}"""


class Balancer:
    """nginx as a non-root process, with its prefix and configuration in a folder of its own."""

    def __init__(self, ports: list[int]):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.root = root = Path(tempfile.mkdtemp(prefix="satchel-nginx-"))  # not under pytest's folders: those are its owner's alone
        servers = "\n".join(f"        server 127.0.0.1:{port};" for port in ports)
        (root / "nginx.conf").write_text(nginx_conf(root, BALANCER.format(servers=servers, port=self.port)), encoding="utf-8")
        self.process = subprocess.Popen([*as_nobody(root), *nginx_command(root)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        log = root / "error.log"
        wait_for_port(self.port, self.process, "nginx", lambda: log.read_text() if log.exists() else "")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)


def copy_with_other_times(site: Path, target: Path, seconds: int) -> Path:
    """A copy of the bundle whose files all have another modification time (another machine's disk)."""
    shutil.copytree(site, target)
    for path in target.rglob("*"):
        os.utime(path, (seconds, seconds))
    return target


@pytest.fixture
def machines(demo_site, tmp_path, postgresql):
    """Three hubs on one PostgreSQL, each with its own data directory and copy of the bundle; the
    first made the push keys (in the database) before any started; nginx in front."""
    datas = [tmp_path / f"machine-{n}" for n in range(3)]
    command = [sys.executable, "-m", "satchel.builder.cli", "hub"]
    for data in datas:
        subprocess.run([*command, "init", "--data", str(data), "--db", postgresql], check=True, capture_output=True)
    subprocess.run([*command, "push-keys", "--data", str(datas[0]), "--contact", CONTACT], check=True, capture_output=True)
    subprocess.run([*command, "set-password", "--data", str(datas[1])], input=PASSWORD + "\n", text=True, check=True,
                   capture_output=True)
    sites = [copy_with_other_times(demo_site, tmp_path / f"site-{n}", 1_000_000_000 + n * 86_400) for n in range(3)]
    hubs = []
    try:
        for site, data in zip(sites, datas, strict=True):
            hubs.append(Hub([site], data, "--trusted-proxy", "127.0.0.1"))
        balancer = Balancer([hub.port for hub in hubs])
    except BaseException:
        for hub in hubs:
            hub.stop()
        raise
    yield hubs, balancer
    balancer.stop()
    for hub in hubs:
        hub.stop()


class Through(Browser):
    """A browser that talks to the balancer, and notes which hub answered each request."""

    def __init__(self, balancer: Balancer):
        super().__init__(balancer)
        self.answered: list[str] = []

    def send(self, request):
        status, headers, body = super().send(request)
        self.answered.append(headers["x-hub"])
        return status, headers, body


def test_a_teacher_signs_in_through_one_hub_and_sees_what_arrived_through_another(machines):
    hubs, balancer = machines
    browser = Through(balancer)
    status, _, _ = browser.sign_in()
    assert status == 303, "signed in: the session secret and the password are in the shared database"
    signed_in_at = browser.answered[-1]
    amina = progress_file(6, name="Amina Through-Nginx")
    request = urllib.request.Request(balancer.url + "api/progress", data=json.dumps(amina).encode(),
                                     headers={"content-type": "application/json"})
    status, _, body = browser.send(request)
    assert status == 200, body
    uploaded_at = browser.answered[-1]
    status, _, page = browser.get("_hub/satchel-demo/")
    read_at = browser.answered[-1]
    assert status == 200 and "Amina Through-Nginx" in page, "the upload is seen through every hub"
    assert len({signed_in_at, uploaded_at, read_at}) == 3, (signed_in_at, uploaded_at, read_at)
    assert set(browser.answered) == {f"127.0.0.1:{hub.port}" for hub in hubs}


def test_every_hub_answers_the_same_push_key(machines):
    hubs, balancer = machines
    browser = Through(balancer)
    keys = set()
    for _ in range(6):
        status, _, body = browser.get("api/push/key")
        assert status == 200, body
        keys.add(re.search(r'"publicKey":"([\w-]+)"', body).group(1))
    assert len(keys) == 1 and set(browser.answered) == {f"127.0.0.1:{hub.port}" for hub in hubs}
    for hub in hubs:  # and straight, not through nginx
        assert hub.request("api/push/key")[2].decode() == body


@pytest.mark.parametrize("path", ["sw.js", "index.html", "ar/", "satchel/curriculum.json"])
def test_every_hub_gives_the_same_etag_and_a_304_for_another_hubs_etag(machines, path):
    hubs, balancer = machines
    etags = {hub.request(path, headers={"accept-encoding": "br"})[1]["etag"] for hub in hubs}
    assert len(etags) == 1, "each hub's copy has other file times, and the same content"
    etag = etags.pop()
    for hub in hubs:
        assert hub.request(path, headers={"accept-encoding": "br", "if-none-match": etag})[0] == 304, hub.url
    browser = Through(balancer)
    for _ in range(3):
        status, _, _ = browser.get(path, **{"accept-encoding": "br", "if-none-match": etag})
        assert status == 304
    assert len(set(browser.answered)) == 3
