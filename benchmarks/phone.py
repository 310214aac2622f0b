"""Benchmark: the home page's first paint, cold, on a throttled phone, as `satchel hub` serves a bundle,
and what installing the app shell costs on the wire.

    .venv/bin/python benchmarks/phone.py [--lessons N | --curriculum DIR] [--runs 3]
        [--cpu 6] [--kbps 400] [--latency 400] [--out FILE]

The curriculum (the demo unless --lessons N asks for the synthetic one, benchmarks/synthetic.py) is
built twice, compressed and not (`--precompress`, or `--no-precompress` once compression is the
default: the flag is read from `satchel build --help`), and each bundle is served by `satchel hub`
on loopback behind a throttling reverse proxy written here: the responses of all connections share
one link of --kbps kbit/s (requests another, as a phone's uplink), and each request is held
--latency ms before it is forwarded. Being a proxy, it slows the service worker's downloads too,
which Chromium's network emulation does not.

Each run opens the home in a fresh Chromium context (Debian's /usr/bin/chromium; empty cache, no
service worker, no stored data: a first visit), 360x740, touch, mobile, its CPU slowed --cpu times
(CDP Emulation.setCPUThrottlingRate: the page's thread; the service worker's is not). It records,
from the start of the navigation:
  - first paint and first contentful paint (performance paint entries; goal for the default build:
    first paint <= 2.5 s);
  - `sw_ready_ms`: navigator.serviceWorker.ready resolved (the worker is active) and the page is
    controlled; `precached_ms`: every URL of the precache manifest (read from the bundle's sw.js)
    is in the caches;
  - the bytes the proxy relayed until then (status lines, headers, bodies, both ways) and the
    requests: the honest first-install shell figure (benchmarks/build.py estimates it from files).
Builds take turns in each run; the figures are the median of --runs. Results also go to
benchmarks/results/phone.json (or --out).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tests.test_hub import Hub  # noqa: E402  (`satchel hub` in a process of its own, as the tests run it)

DEMO = ROOT / "curricula" / "demo"
CHROMIUM = os.environ.get("SATCHEL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
FIRST_PAINT_GOAL_MS = 2500
SLICE = 1460  # bytes sent at once on the shared link: about one TCP segment, so connections interleave
RUN_SECONDS = 300
METRICS = ("first_paint_ms", "first_contentful_paint_ms", "sw_ready_ms", "precached_ms", "bytes", "bytes_down", "bytes_up", "requests")


def build_variants() -> list[tuple[str, list[str], bool]]:
    """(name, extra `satchel build` arguments, is the default build) of the two builds to compare,
    after what `satchel build --help` offers."""
    help_text = subprocess.run([sys.executable, "-m", "satchel.builder.cli", "build", "--help"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout
    if "--no-precompress" in help_text:
        return [("default (compressed)", [], True), ("--no-precompress", ["--no-precompress"], False)]
    if "--precompress" in help_text:
        return [("default (uncompressed)", [], True), ("--precompress", ["--precompress"], False)]
    return [("default", [], True)]


def build_site(curriculum: Path, site: Path, extra: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "satchel.builder.cli", "build", str(curriculum), "-o", str(site), *extra], cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"satchel build {' '.join(extra)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")


def precache_urls(site: Path) -> list[str]:
    """The URLs of the precache manifest that workbox-cli wrote into sw.js."""
    sw = (site / "sw.js").read_text(encoding="utf-8")
    return sorted(set(re.findall(r'"url":\s*"([^"]+)"', sw)))


class Link:
    """One direction of the phone's connection: `rate` bytes per second shared by every TCP connection."""

    def __init__(self, rate: float):
        self.rate = rate
        self.free_at = 0.0  # loop time when the link has sent all it was given

    async def send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        for start in range(0, len(data), SLICE):
            piece = data[start:start + SLICE]
            self.free_at = max(loop.time(), self.free_at) + len(piece) / self.rate
            await asyncio.sleep(self.free_at - loop.time())
            writer.write(piece)
            await writer.drain()


class ThrottlingProxy:
    """A reverse proxy on 127.0.0.1 in front of `upstream_port`: requests wait `latency` seconds, then
    go up through one shared uplink; responses come down through one shared downlink. HTTP/1.1, keep-alive;
    it reads request heads (and Content-Length bodies) to count requests and delay each, and relays
    responses as bytes. It runs an asyncio loop in a thread of its own."""

    def __init__(self, upstream_port: int, kbps: float, latency_ms: float):
        self.upstream_port = upstream_port
        self.rate = kbps * 1000 / 8
        self.latency = latency_ms / 1000
        self.bytes_down = self.bytes_up = self.requests = 0
        self.paths: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.port = 0
        started = threading.Event()
        threading.Thread(target=self._run, args=(started,), daemon=True).start()
        started.wait(10)

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.down, self.up = Link(self.rate), Link(self.rate)
        server = self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        started.set()
        self.loop.run_forever()

    def reset(self) -> None:
        """Start counting again (between runs: no connection of the last run is still sending)."""
        def reset():
            self.bytes_down = self.bytes_up = self.requests = 0
            self.paths = []
        self.loop.call_soon_threadsafe(reset)
        time.sleep(0.05)

    def counts(self) -> dict:
        return {"bytes": self.bytes_down + self.bytes_up, "bytes_down": self.bytes_down, "bytes_up": self.bytes_up,
                "requests": self.requests, "paths": list(self.paths)}

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        responses = asyncio.ensure_future(self._responses(up_reader, writer))
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
                body = await reader.readexactly(int(length.group(1))) if length else b""
                self.requests += 1
                self.paths.append(head.split(b" ", 2)[1].decode("latin-1") if head.count(b" ") >= 2 else "?")
                await asyncio.sleep(self.latency)
                self.bytes_up += len(head) + len(body)
                await self.up.send(up_writer, head + body)
                if re.search(rb"\r\ntransfer-encoding:\s*chunked", head, re.I):  # not sent by the pages; relay as bytes
                    while data := await reader.read(65536):
                        self.bytes_up += len(data)
                        await self.up.send(up_writer, data)
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            up_writer.close()  # the client left: an answer still coming is no longer sent
            responses.cancel()
            writer.close()

    async def _responses(self, up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await up_reader.read(65536):
                self.bytes_down += len(data)
                await self.down.send(writer, data)
        except ConnectionError:
            pass
        finally:
            writer.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


# In the page: the paint entries, then the active and controlling worker, then every precached URL in the caches.
MEASURE = """async ({urls, deadline}) => {
  const until = performance.now() + deadline;
  const later = () => new Promise(resolve => setTimeout(resolve, 25));
  const paint = name => performance.getEntriesByType('paint').find(entry => entry.name === name);
  while (!(paint('first-paint') && paint('first-contentful-paint'))) {
    if (performance.now() > until) throw new Error('no paint entries');
    await later();
  }
  await navigator.serviceWorker.ready;
  while (!navigator.serviceWorker.controller) {
    if (performance.now() > until) throw new Error('the service worker never took control');
    await later();
  }
  const ready = performance.now();
  for (const url of urls) {
    const href = new URL(url, document.baseURI).href;
    while (!(await caches.match(href, {ignoreSearch: true}))) {
      if (performance.now() > until) throw new Error('not precached: ' + url);
      await later();
    }
  }
  return {first_paint_ms: paint('first-paint').startTime, first_contentful_paint_ms: paint('first-contentful-paint').startTime,
          sw_ready_ms: ready, precached_ms: performance.now()};
}"""


def measure(browser, proxy: ThrottlingProxy, urls: list[str], cpu: float) -> dict:
    """One cold first visit of the home through the proxy."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  service_workers="allow")
    try:
        page = context.new_page()
        session = context.new_cdp_session(page)
        session.send("Emulation.setCPUThrottlingRate", {"rate": cpu})
        proxy.reset()
        page.goto(f"http://127.0.0.1:{proxy.port}/", wait_until="commit", timeout=RUN_SECONDS * 1000)
        figures = {key: round(value) for key, value in page.evaluate(MEASURE, {"urls": urls, "deadline": RUN_SECONDS * 1000}).items()}
        figures.update(proxy.counts())  # the paths requested until then, too
        return figures
    finally:
        context.close()
        time.sleep(0.2)  # connections of this context close before the next run counts


def report(name: str, median: dict, default: bool) -> str:
    goal = f" (goal <= {FIRST_PAINT_GOAL_MS:,} ms)" if default else ""
    return (f"{name}: home first paint {median['first_paint_ms']:,} ms{goal}, first contentful paint "
            f"{median['first_contentful_paint_ms']:,} ms, service worker ready {median['sw_ready_ms']:,} ms, precache complete "
            f"{median['precached_ms']:,} ms; relayed until then {median['bytes']:,} B ({median['bytes_down']:,} B down, "
            f"{median['bytes_up']:,} B up) in {median['requests']} requests")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--curriculum", type=Path, default=DEMO, help="a curriculum folder (default: the demo)")
    source.add_argument("--lessons", type=int, help="the synthetic curriculum with this many lessons per language instead")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cpu", type=float, default=6, help="CPU slowdown of the page (default 6)")
    parser.add_argument("--kbps", type=float, default=400, help="shared bandwidth each way, kbit/s (default 400)")
    parser.add_argument("--latency", type=float, default=400, help="ms added to each request (default 400)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "phone.json")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.lessons:
            from benchmarks.synthetic import write_curriculum
            curriculum, described = write_curriculum(tmp / "curriculum", args.lessons), f"synthetic, {args.lessons} lessons x 3 languages"
        else:
            curriculum, described = args.curriculum, str(args.curriculum)
        variants = []
        for n, (name, extra, default) in enumerate(build_variants()):
            site = tmp / f"site-{n}"
            build_site(curriculum, site, extra)
            variants.append({"name": name, "flags": extra, "default": default, "site": site, "urls": precache_urls(site), "runs": []})
        print(f"{described}; CPU {args.cpu:g}x, {args.kbps:g} kbit/s each way, {args.latency:g} ms per request; "
              f"median of {args.runs}; builds: {', '.join(v['name'] for v in variants)}", flush=True)
        servers = []
        try:
            for n, variant in enumerate(variants):
                log = (tmp / f"hub-{n}.log").open("w")  # the hub's log, not a pipe nobody reads
                hub = Hub([variant["site"]], tmp / f"data-{n}", stdout=log, stderr=subprocess.STDOUT)
                servers.append((hub, log))
                variant["proxy"] = ThrottlingProxy(hub.port, args.kbps, args.latency)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    for _ in range(args.runs):
                        for variant in variants:  # the builds take turns, so both see the same machine
                            variant["runs"].append(measure(browser, variant["proxy"], variant["urls"], args.cpu))
                finally:
                    browser.close()
        finally:
            for variant in variants:
                if "proxy" in variant:
                    variant["proxy"].stop()
            for hub, log in servers:
                hub.stop()
                log.close()

    result = {"curriculum": described, "cpu_slowdown": args.cpu, "kbps": args.kbps, "latency_ms": args.latency, "runs": args.runs,
              "first_paint_goal_ms": FIRST_PAINT_GOAL_MS, "builds": {}}
    for variant in variants:
        median = {key: round(statistics.median(run[key] for run in variant["runs"])) for key in METRICS}
        result["builds"][variant["name"]] = {"flags": variant["flags"], "default": variant["default"],
                                             "precached_urls": len(variant["urls"]), "median": median, "runs": variant["runs"]}
        print(report(variant["name"], median, variant["default"]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"Results: {args.out}")


if __name__ == "__main__":
    main()
