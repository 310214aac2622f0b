"""`satchel publish`: a bundle to an S3-compatible bucket, and nginx and Caddy configurations,
each compared file by file with what `satchel hub` sends for the same file.

The bucket is moto's server (`moto[server]`), started on loopback as a process of its own and
spoken to over HTTP by boto3, as a real bucket is. It is a fair stand-in for S3's object API:
it implements PutObject, HeadObject, GetObject, ListObjectsV2 and DeleteObjects, stores and
returns Content-Type, Cache-Control, Content-Encoding and x-amz-meta-* as S3 does, and gives a
single-part upload the MD5 of its body as ETag, which is what publish compares."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

import boto3
import pytest
from satchel.builder.build import build
from satchel.builder.headers import compressed_copy
from satchel.builder.publish import (
    HASHED,
    PACK_INDEXES,
    PACK_LISTS,
    VERSION,
    bundle_files,
    caddy_config,
    nginx_config,
    publish,
    upload_stage,
)

from tests.conftest import free_port
from tests.servers import NGINX, as_nobody, nginx_command, nginx_conf, wait_for_port
from tests.test_hub import Hub

CADDY = shutil.which("caddy") or "/usr/bin/caddy"
COMPARED = ("content-type", "cache-control", "content-encoding", "vary")
ACCEPT_BR = "br, gzip"


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    port = free_port()
    moto = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "w") as output:  # it logs every request: a pipe nobody reads would fill, and stop it
        process = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port)], stdout=output, stderr=subprocess.STDOUT, text=True)
    wait_for_port(port, process, "moto's S3 server", log.read_text)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


@pytest.fixture
def bucket(s3_endpoint, request):
    """A new bucket, a client for it, and the keys of every PutObject the client sends, in order."""
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test")
    name = request.node.name.replace("_", "-").lower()[:50]
    client.create_bucket(Bucket=name)
    sent: list[str] = []

    def record(request, **_):
        path = urllib.parse.unquote(urllib.parse.urlsplit(request.url).path)
        sent.append(path.split("/", 2)[2])  # /bucket/key: path-style, as for any endpoint on an address

    client.meta.events.register("before-send.s3.PutObject", record)
    return name, client, sent


@pytest.fixture(scope="module")
def hub(demo_site, tmp_path_factory):
    running = Hub([demo_site], tmp_path_factory.mktemp("hub") / "data")
    yield running
    running.stop()


def hub_headers(hub, path: str, accept: str = ACCEPT_BR) -> dict[str, str]:
    """What the hub sends for a bundle's file to a browser sending this Accept-Encoding; for a .br
    or .gz copy, what it sends for the file it is a copy of, to a browser accepting that encoding only."""
    copy = compressed_copy(path)
    url, accept = (copy[0], copy[1]) if copy else (path, accept)
    status, headers, _ = hub.request(url, headers={"Accept-Encoding": accept})
    assert status == 200, path
    return {name: headers[name] for name in COMPARED if headers[name] is not None}


def test_the_upload_order_puts_content_first_and_sw_js_last(demo_site):
    paths = bundle_files(demo_site)
    stages = [upload_stage(path) for path in paths]
    assert stages == sorted(stages)
    assert paths[-1] == "sw.js" and set(paths[-3:-1]) == {"sw.js.br", "sw.js.gz"}
    assert upload_stage("assets/satchel/core.0123456789.js") == HASHED
    assert upload_stage("satchel/packs/fr/mathematics.json") == PACK_LISTS
    assert upload_stage("satchel/packs/fr.json.br") == PACK_INDEXES
    assert upload_stage("satchel/version.json") == VERSION


def test_every_object_has_the_hubs_headers_and_arrives_in_order(demo_site, bucket, hub):
    name, client, sent = bucket
    result = publish(demo_site, f"s3://{name}/school", client, show_progress=False)
    files = bundle_files(demo_site)
    assert sorted(result.uploaded) == sorted(files) and result.unchanged == 0
    assert result.bytes == sum((demo_site / path).stat().st_size for path in files)

    assert len(sent) == len(files) and set(sent) == {f"school/{path}" for path in files}
    position = {key.removeprefix("school/"): index for index, key in enumerate(sent)}
    assert sent[-1] == "school/sw.js", "the service worker is the last upload"
    content = [p for p in files if upload_stage(p) < PACK_LISTS]
    lists = [p for p in files if upload_stage(p) in (PACK_LISTS, PACK_INDEXES)]
    assert lists and max(position[p] for p in content) < min(position[p] for p in lists), "pack lists after every file they name"
    indexes = [p for p in lists if upload_stage(p) == PACK_INDEXES]
    assert max(position[p] for p in lists if p not in indexes) < min(position[p] for p in indexes)
    assert max(position[p] for p in files if p != "sw.js") < position["sw.js"]

    checked_encodings = set()
    for path in files:
        stored = client.head_object(Bucket=name, Key=f"school/{path}")
        served = hub_headers(hub, path, accept="identity")  # the plain object: the hub's answer to no compression
        got = {"content-type": stored["ContentType"], "cache-control": stored["CacheControl"]}
        if stored.get("ContentEncoding"):
            got["content-encoding"] = stored["ContentEncoding"]
            checked_encodings.add(stored["ContentEncoding"])
        served.pop("vary", None)  # a bucket has no Vary: the CDN in front adds it (docs/hub.md)
        assert got == served, path
        assert stored["ContentLength"] == (demo_site / path).stat().st_size, path
    assert checked_encodings == {"br", "gzip"}
    assert client.head_object(Bucket=name, Key="school/manifest.webmanifest")["ContentType"].startswith("application/manifest+json")


def test_a_second_publish_uploads_nothing(demo_site, bucket, s3_endpoint):
    name, client, sent = bucket
    publish(demo_site, f"s3://{name}", client, show_progress=False)
    sent.clear()
    again = publish(demo_site, f"s3://{name}", client, show_progress=False)
    assert sent == [] and again.uploaded == [] and again.unchanged == len(bundle_files(demo_site))

    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    command = [sys.executable, "-m", "satchel.builder.cli", "publish", str(demo_site), f"s3://{name}", "--endpoint-url", s3_endpoint]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    assert f"0 uploaded (0.00 MB), {len(bundle_files(demo_site))} unchanged." in result.stdout


def test_a_changed_lesson_uploads_only_what_changed(demo_copy, tmp_path, bucket):
    name, client, sent = bucket
    site = tmp_path / "site"
    build(demo_copy, site, show_progress=False)
    before = {path: (site / path).read_bytes() for path in bundle_files(site)}
    publish(site, f"s3://{name}/v", client, show_progress=False)

    lesson = demo_copy / "en" / "science" / "water-cycle" / "rain-and-rivers.md"
    lesson.write_text(lesson.read_text(encoding="utf-8") + "\nOne more sentence, for the test.\n", encoding="utf-8")
    build(demo_copy, site, show_progress=False)
    after = {path: (site / path).read_bytes() for path in bundle_files(site)}
    changed = {path for path, body in after.items() if before.get(path) != body}
    assert changed and len(changed) < len(after) / 4, "one lesson changes a few files"

    sent.clear()
    result = publish(site, f"s3://{name}/v", client, show_progress=False, delete=True)
    assert set(sent) == {f"v/{path}" for path in changed} and set(result.uploaded) == changed
    assert sent[-1] == "v/sw.js" and "sw.js" in changed, "a new content hash, a new worker"
    gone = set(before) - set(after)
    assert set(result.deleted) | set(result.kept) == gone
    listed = {item["Key"][2:] for item in client.list_objects_v2(Bucket=name, Prefix="v/").get("Contents", [])}
    assert listed == set(after) | set(result.kept)


# nginx and Caddy with the printed configurations -----------------------------------------------



class Server:
    """nginx or Caddy as a non-root process, from a folder of its own, on a free loopback port."""

    def __init__(self, kind: str, site: Path):
        self.port = free_port()
        self.root = root = Path(tempfile.mkdtemp(prefix=f"satchel-{kind}-"))  # not under pytest's folders: those are its owner's
        self.site = root / "site"
        shutil.copytree(site, self.site)  # readable by the server's user
        if kind == "nginx":
            (root / "satchel.conf").write_text(nginx_config(self.site, f"127.0.0.1:{self.port}"), encoding="utf-8")
            http = f"    include /etc/nginx/mime.types;\n    include {root}/satchel.conf;"
            (root / "nginx.conf").write_text(nginx_conf(root, http, connections=64), encoding="utf-8")
            command = nginx_command(root)
        else:
            (root / "Caddyfile").write_text(caddy_config(self.site, f"http://127.0.0.1:{self.port}"), encoding="utf-8")
            command = [CADDY, "run", "--config", str(root / "Caddyfile"), "--adapter", "caddyfile"]
        as_user = as_nobody(root)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(root), "XDG_DATA_HOME": str(root), "XDG_CONFIG_HOME": str(root)}
        with open(root / "output.log", "w") as output:  # read only if it fails: a pipe nobody reads would fill
            self.process = subprocess.Popen([*as_user, *command], stdout=output, stderr=subprocess.STDOUT, text=True, env=env, cwd=root)
        wait_for_port(self.port, self.process, kind, lambda: "".join(p.read_text() for p in root.glob("*.log")))
        self.url = f"http://127.0.0.1:{self.port}/"

    def headers(self, path: str, accept: str = ACCEPT_BR) -> dict[str, str]:
        request = urllib.request.Request(self.url + path, headers={"Accept-Encoding": accept})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200, path
            return {name: response.headers[name] for name in COMPARED if response.headers[name] is not None}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.mark.parametrize("kind", ["nginx", "caddy"])
def test_the_printed_configuration_serves_the_hubs_headers(kind, demo_site, hub):
    if not Path(NGINX if kind == "nginx" else CADDY).exists():
        pytest.fail(f"{kind} is not installed: bash scripts/dev.sh test installs it")
    server = Server(kind, demo_site)
    try:
        plain = [path for path in bundle_files(demo_site) if compressed_copy(path) is None]
        urls = [*plain, "", "fr/"]  # and folders, answered with their index.html
        for accept in (ACCEPT_BR, "gzip"):  # a browser, and an old one without brotli
            for path in urls:
                assert server.headers(path, accept) == hub_headers(hub, path, accept), f"{kind}, {accept}: {path}"
        assert server.headers("sw.js")["cache-control"] == "no-cache"
        assert server.headers("index.html")["content-encoding"] == "br"
    finally:
        server.stop()


def test_print_config_from_the_command_line(demo_site):
    for kind, needle in (("nginx", "gzip_static on;"), ("caddy", "precompressed br gzip")):
        result = subprocess.run([sys.executable, "-m", "satchel.builder.cli", "publish", str(demo_site), "--print-config", kind],
                                capture_output=True, text=True, check=True)
        assert needle in result.stdout and "application/manifest+json" in result.stdout


def test_delete_removes_what_the_bundle_lost_after_sw_js_and_keeps_recent_hashed_assets(demo_site, bucket):
    name, client, sent = bucket
    publish(demo_site, f"s3://{name}", client, show_progress=False)
    old_page, old_asset = "retired/lesson/index.html", "assets/satchel/core.0123456789.js"
    for key in (old_page, old_asset):
        client.put_object(Bucket=name, Key=key, Body=b"of an earlier version")
    events: list[str] = []
    client.meta.events.register("before-send.s3.DeleteObjects", lambda **_: events.append("delete"))

    def keys() -> set[str]:
        return {item["Key"] for item in client.list_objects_v2(Bucket=name).get("Contents", [])}

    result = publish(demo_site, f"s3://{name}", client, show_progress=False, delete=True)
    assert result.deleted == [old_page] and result.kept == [old_asset] and events == ["delete"]
    assert old_page not in keys() and old_asset in keys()
    assert set(bundle_files(demo_site)) <= keys(), "nothing of the bundle is deleted"

    client.put_object(Bucket=name, Key="sw.js", Body=b"an older worker")  # so this publish uploads sw.js, then deletes
    sent.clear()
    order: list[str] = []
    client.meta.events.register("before-send.s3.PutObject", lambda **_: order.append("put"))
    client.meta.events.register("before-send.s3.DeleteObjects", lambda **_: order.append("delete"))
    result = publish(demo_site, f"s3://{name}", client, show_progress=False, delete=True, keep_hashed_days=0)
    assert result.deleted == [old_asset] and old_asset not in keys()
    assert sent == ["sw.js"] and order == ["put", "delete"], "deleted after sw.js is up"
