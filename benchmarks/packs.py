"""Benchmark: how long downloading one subject for offline use takes on a slow network, for two
designs, in Debian's Chromium, on a synthetic curriculum (3 languages x N lessons).

    .venv/bin/python benchmarks/packs.py [--lessons 1000] [--kbit 400] [--latency-ms 400] [--repeat 1] [--compress]

The bundle is served through a throttling proxy on loopback (written here, asyncio): every
request waits `latency` before it goes upstream, and every answer shares one link of `kbit`
kbit/s, as a phone's connection does. The service worker installs unthrottled first; only the
download is timed, each design in a fresh browser context (nothing on the device):
  - files_<k>: what the product does, packs.js fetching the subject's files (and the shared part's)
    k at a time, each hashed and stored by content;
  - packed: one file per part (the files of its list, concatenated in its order, written here
    beside the lists) fetched with one Range request each, sliced, each slice hashed and stored
    the same way. A prototype, to compare: it is not in the product;
  - packed_gzip: the same, but each file gzipped on its own before it is concatenated (a range
    can still start at any file, and the bytes are compressed), gunzipped in the page with
    DecompressionStream (Chrome 80). A prototype too.
With --compress, whole answers are gzipped (as a hub serves a build's .br/.gz copies); a range
never is (the hub serves ranges of the file as written), so the packed design sends more bytes.
`ratio` is each design's seconds over files_3's (the old product), from the same run.
Results also go to benchmarks/results/packs.json.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gzip
import http.server
import io
import json
import os
import sys
import tempfile
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from satchel.builder.build import build  # noqa: E402

from benchmarks.synthetic import write_curriculum  # noqa: E402

SUBJECT = "subject-00"
LANGUAGE = "en"


class ThrottlingProxy:
    """An HTTP proxy on 127.0.0.1 in front of `upstream_port`: while `throttled`, each request is
    held `latency` seconds, and the answers of every connection share one link of `rate` bytes/s."""

    def __init__(self, upstream_port: int, rate: float, latency: float):
        self.upstream_port, self.rate, self.latency = upstream_port, rate, latency
        self.throttled = False
        self.link_free = 0.0  # when the shared link has sent everything queued so far
        self.requests = 0
        self.bytes = 0
        self.port = 0
        self.loop = asyncio.new_event_loop()

    def start(self) -> ThrottlingProxy:
        ready = threading.Event()

        async def main():
            server = await asyncio.start_server(self.connection, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            async with server:
                await server.serve_forever()

        threading.Thread(target=lambda: self.loop.run_until_complete(main()), daemon=True).start()
        ready.wait()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    async def connection(self, client_reader, client_writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(self.requests_up(client_reader, upstream_writer),
                             self.answers_down(upstream_reader, client_writer), return_exceptions=True)

    async def requests_up(self, reader, writer):
        """Client to server. Requests are GETs without bodies: a chunk that starts with a method
        starts a request (keep-alive sends one after the other)."""
        try:
            while data := await reader.read(65536):
                if self.throttled and data[:4] in (b"GET ", b"HEAD"):
                    self.requests += 1
                    await asyncio.sleep(self.latency)
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def answers_down(self, reader, writer):
        """Server to client, through the shared link: each chunk waits for its turn on it."""
        try:
            while data := await reader.read(4096):
                if self.throttled:
                    now = self.loop.time()
                    self.link_free = max(now, self.link_free) + len(data) / self.rate
                    self.bytes += len(data)
                    await asyncio.sleep(self.link_free - now)
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """A static server that answers `Range: bytes=a-b` (as the hub does for big files) and, when
    `compress` is set, gzips whole answers the browser accepts so (as the hub serves a build's
    precompressed copies; never a range, as the hub does not)."""

    compress = False

    def log_message(self, *args):
        pass

    def send_head(self):
        wanted = self.headers.get("Range")
        path = self.translate_path(self.path.split("?")[0])
        if os.path.isdir(path):
            path = os.path.join(path, "index.html")
        if not os.path.isfile(path) or path.endswith("/sw.js"):
            return super().send_head()
        if not wanted:
            if not self.compress or "gzip" not in self.headers.get("Accept-Encoding", ""):
                return super().send_head()
            body = gzip.compress(Path(path).read_bytes(), compresslevel=6, mtime=0)
            self.send_response(200)
            self.send_header("Content-Type", self.guess_type(path))
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return io.BytesIO(body)
        first, _, last = wanted.removeprefix("bytes=").partition("-")
        size = os.path.getsize(path)
        start, end = int(first), min(int(last) if last else size - 1, size - 1)
        with open(path, "rb") as f:
            f.seek(start)
            body = f.read(end - start + 1)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)


def write_packed_parts(site: Path, code: str) -> None:
    """Beside each list, satchel/packs/<code>/<part>.bin: its files concatenated in its order; and
    <part>.gz.bin: each file gzipped on its own, concatenated, with their sizes in <part>.gz.json
    (so that a range can still start at any file, and the answer is compressed)."""
    for listed in sorted((site / "satchel" / "packs" / code).glob("*.json")):
        if listed.name.endswith(".gz.json"):
            continue
        files = json.loads(listed.read_text(encoding="utf-8"))["files"]
        sizes = []
        with open(listed.with_suffix(".bin"), "wb") as out, open(listed.with_suffix(".gz.bin"), "wb") as packed:
            for file in files:
                url = file["url"].removeprefix("./")
                body = (site / (url + "index.html" if url.endswith("/") or not url else url)).read_bytes()
                out.write(body)
                squeezed = gzip.compress(body, compresslevel=9, mtime=0)
                packed.write(squeezed)
                sizes.append(len(squeezed))
        listed.with_suffix(".gz.json").write_text(json.dumps(sizes), encoding="utf-8")


# In the page: the packs.js download (k at a time), or the packed prototype; seconds and bytes.
DOWNLOAD_FILES = """async ([root, code, part, parallel]) => {
  await window.satchelCommon.script('offline');  // planning and downloading (theme/assets/satchel/offline.js)
  const packs = new SatchelPacks(root);
  const began = performance.now();
  const plan = await packs.plan(code, ['_shared', part]);
  await packs.download(plan, { parallel });
  return { seconds: (performance.now() - began) / 1000, bytes: plan.bytes, files: plan.todo.length };
}"""

DOWNLOAD_PACKED = """async ([root, code, part]) => {
  await window.satchelCommon.script('offline');  // planning and downloading (theme/assets/satchel/offline.js)
  const packs = new SatchelPacks(root);
  const hex = (buffer) => Array.from(new Uint8Array(buffer), b => b.toString(16).padStart(2, '0')).join('');
  const began = performance.now();
  const plan = await packs.plan(code, ['_shared', part]);
  const files = await caches.open('satchel-files');
  let bytes = 0, count = 0;
  await Promise.all(plan.parts.map(async (p) => {
    const url = root + 'satchel/packs/' + code + '/' + p.id + '.bin';
    const total = p.list.files.reduce((s, f) => s + f.bytes, 0);
    const response = await fetch(url, { cache: 'no-cache', headers: { 'x-satchel-download': '1', range: 'bytes=0-' + (total - 1) } });
    if (response.status !== 206) throw new Error(url + ': HTTP ' + response.status);
    const body = await response.arrayBuffer();
    let offset = 0;
    for (const f of p.list.files) {
      const slice = body.slice(offset, offset + f.bytes);
      offset += f.bytes;
      if (hex(await crypto.subtle.digest('SHA-256', slice)) !== f.sha256) throw new Error(f.url + ': hash');
      await files.put(packs.fileKey(f.sha256), new Response(slice, { headers: { 'x-satchel-sha256': f.sha256 } }));
      count += 1;
    }
    bytes += body.byteLength;
  }));
  return { seconds: (performance.now() - began) / 1000, bytes, files: count };
}"""


DOWNLOAD_PACKED_GZIP = """async ([root, code, part]) => {
  await window.satchelCommon.script('offline');  // planning and downloading (theme/assets/satchel/offline.js)
  const packs = new SatchelPacks(root);
  const hex = (buffer) => Array.from(new Uint8Array(buffer), b => b.toString(16).padStart(2, '0')).join('');
  const gunzip = (slice) => new Response(new Blob([slice]).stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer();
  const began = performance.now();
  const plan = await packs.plan(code, ['_shared', part]);
  const files = await caches.open('satchel-files');
  let bytes = 0, count = 0;
  await Promise.all(plan.parts.map(async (p) => {
    const base = root + 'satchel/packs/' + code + '/' + p.id;
    const sizes = await (await fetch(base + '.gz.json', { cache: 'no-cache', headers: { 'x-satchel-download': '1' } })).json();
    const total = sizes.reduce((s, n) => s + n, 0);
    const response = await fetch(base + '.gz.bin', { cache: 'no-cache', headers: { 'x-satchel-download': '1', range: 'bytes=0-' + (total - 1) } });
    if (response.status !== 206) throw new Error(base + ': HTTP ' + response.status);
    const body = await response.arrayBuffer();
    let offset = 0;
    for (const [i, f] of p.list.files.entries()) {
      const slice = await gunzip(body.slice(offset, offset + sizes[i]));
      offset += sizes[i];
      if (hex(await crypto.subtle.digest('SHA-256', slice)) !== f.sha256) throw new Error(f.url + ': hash');
      await files.put(packs.fileKey(f.sha256), new Response(slice, { headers: { 'x-satchel-sha256': f.sha256 } }));
      count += 1;
      bytes += f.bytes;
    }
  }));
  return { seconds: (performance.now() - began) / 1000, bytes, files: count };
}"""


def measure(browser, proxy: ThrottlingProxy, design: str) -> dict:
    """One download of SUBJECT on a fresh device, throttled; the service worker installed first."""
    from tests.conftest import WELCOMED

    context = browser.new_context()
    context.add_init_script(WELCOMED)
    try:
        page = context.new_page()
        proxy.throttled = False
        page.goto(proxy.url)
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=60000)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(1000)  # what the page fetches after load (icons) is not the download's
        proxy.throttled, proxy.requests, proxy.bytes = True, 0, 0
        if design == "packed":
            result = page.evaluate(DOWNLOAD_PACKED, [proxy.url, LANGUAGE, SUBJECT])
        elif design == "packed_gzip":
            result = page.evaluate(DOWNLOAD_PACKED_GZIP, [proxy.url, LANGUAGE, SUBJECT])
        else:
            result = page.evaluate(DOWNLOAD_FILES, [proxy.url, LANGUAGE, SUBJECT, int(design.split("_")[1])])
        proxy.throttled = False
        stored = page.evaluate("async () => (await (await caches.open('satchel-files')).keys()).length")
        assert stored >= result["files"], (stored, result)
        return {"seconds": round(result["seconds"], 3), "bytes": result["bytes"], "files": result["files"],
                "requests": proxy.requests, "bytes_on_the_wire": proxy.bytes}
    finally:
        context.close()


def run(lessons: int, kbit: float, latency_ms: float, repeat: int = 1, compress: bool = False,
        designs=("files_3", "files_6", "files_8", "packed", "packed_gzip")) -> dict:
    from playwright.sync_api import sync_playwright

    from tests.conftest import CHROMIUM, CHROMIUM_ARGS

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        tmp = Path(tmp)
        curriculum = write_curriculum(tmp / "curriculum", lessons)
        site = tmp / "site"
        build(curriculum, site, show_progress=False)
        write_packed_parts(site, LANGUAGE)
        handler = type("Handler", (RangeHandler,), {"compress": compress})
        origin = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(site)))
        origin.daemon_threads = True
        threading.Thread(target=origin.serve_forever, daemon=True).start()
        proxy = ThrottlingProxy(origin.server_address[1], rate=kbit * 1000 / 8, latency=latency_ms / 1000).start()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        result: dict = {"lessons_per_language": lessons, "kbit_per_s": kbit, "latency_ms": latency_ms,
                        "compressed": compress, "subject": SUBJECT}
        try:
            for design in designs:
                runs = [measure(browser, proxy, design) for _ in range(repeat)]
                best = min(runs, key=lambda r: r["seconds"])
                result[design] = best
                print(design, best, flush=True)
        finally:
            browser.close()
            origin.shutdown()
        base = result[designs[0]]["seconds"]
        for design in designs:
            result[design]["ratio"] = round(result[design]["seconds"] / base, 3)
        link = result[designs[0]]["bytes_on_the_wire"] / (kbit * 1000 / 8)
        result["link_bound_seconds"] = round(link, 3)  # what the bytes alone take at the link's rate
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lessons", type=int, default=1000)
    parser.add_argument("--kbit", type=float, default=400)
    parser.add_argument("--latency-ms", type=float, default=400)
    parser.add_argument("--repeat", type=int, default=1, help="runs per design; the fastest is kept")
    parser.add_argument("--compress", action="store_true", help="gzip whole answers, as a hub serves a default build")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "packs.json")
    args = parser.parse_args()
    result = run(args.lessons, args.kbit, args.latency_ms, args.repeat, args.compress)
    out = args.out
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
