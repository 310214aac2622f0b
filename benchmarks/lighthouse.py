"""Benchmark: Lighthouse scores and load metrics of the pages a learner opens first, as a phone
on a slow network sees them, served by `satchel hub` (what schools run) on loopback.

    .venv/bin/python benchmarks/lighthouse.py [--site DIR] [--pages / mathematics/fractions/what-is-a-fraction/]
        [--rounds 3] [--json out.json]

Builds the demo curriculum with --precompress, as a hub's is (or takes --site, a built site), serves
it with `satchel hub`, and runs Lighthouse (pinned in benchmarks/lighthouse/package-lock.json,
installed once into the build's Node environment, builder/nodejs.py) in Debian's Chromium
($CHROME_PATH, else /usr/bin/chromium): mobile, simulated throttling (Lighthouse's defaults).
Pages: the home of the default language and the first lesson with a quiz, unless --pages. Per
page, the median of --rounds (each metric on its own; the pages take turns in each round) of the
performance, accessibility, best-practices and SEO scores, CLS, LCP and TBT (ms, simulated), and
the bytes transferred. Lighthouse loads each page in a fresh profile: no stored progress, no
service worker yet.

Nothing reaches the internet, and nothing waits for it either: Chromium's requests off loopback
(the page's own, and its vendor's background calls) go to a proxy that refuses them at once.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from satchel.builder.build import build  # noqa: E402
from satchel.builder.nodejs import ensure_node_env  # noqa: E402
from satchel.builder.precompress import precompress  # noqa: E402

DEMO = ROOT / "curricula" / "demo"
# Chromium calls its vendor's servers (clock, accounts, updates) even with chrome-launcher's
# --disable-background-networking: every request off loopback goes to a proxy that refuses it
# (a bound port that does not listen), and no host name but 127.0.0.1 resolves.
CHROME_FLAGS = '--headless=new --no-sandbox --proxy-server=127.0.0.1:{port} --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"'
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
METRICS = {"cls": "cumulative-layout-shift", "lcp_ms": "largest-contentful-paint", "tbt_ms": "total-blocking-time",
           "bytes": "total-byte-weight"}
RUN_SECONDS = 180  # one Lighthouse run takes about 10 s here; past this it has hung


def lighthouse_home() -> Path:
    return ensure_node_env(package_dir=HERE / "lighthouse")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_hub(site: Path, data: Path) -> tuple[subprocess.Popen, str]:
    """`satchel hub SITE` of this checkout on loopback, once /api/health answers."""
    command = [sys.executable, "-m", "satchel.builder.cli", "hub"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    subprocess.run([*command, "init", "--data", str(data)], check=True, capture_output=True, cwd=ROOT, env=env)
    port = free_port()
    log = data / "hub.log"
    with log.open("w") as output:
        hub = subprocess.Popen([*command, str(site), "--data", str(data), "--host", "127.0.0.1", "--port", str(port)],
                               cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(url + "api/health", timeout=1)
            return hub, url
        except OSError:
            if hub.poll() is not None or time.monotonic() > deadline:
                hub.kill()
                hub.wait()
                raise SystemExit(f"the hub did not start:\n{log.read_text()}") from None
            time.sleep(0.1)


def first_quiz_lesson(site: Path) -> str:
    """The first lesson, in the home page's outline (the curriculum's order), that has a quiz."""
    languages = json.loads((site / "satchel" / "curriculum.json").read_text(encoding="utf-8"))["languages"]
    outline = site / "satchel" / "outline" / f"{next(lang['code'] for lang in languages if lang['default'])}.json"
    urls = [lesson["url"] for lesson in json.loads(outline.read_text(encoding="utf-8"))] if outline.is_file() else []
    for url in urls:
        page = site / url / "index.html"
        if page.is_file() and "data-satchel-quiz" in page.read_text(encoding="utf-8"):
            return url
    raise SystemExit(f"no lesson with a quiz in {outline}: name one with --pages")


def lighthouse(home: Path, url: str, report: Path, refusing_port: int) -> dict:
    """One Lighthouse run of `url`: its scores (0-100) and metrics."""
    cli = home / "node_modules" / "lighthouse" / "cli" / "index.js"
    env = dict(os.environ, CHROME_PATH=os.environ.get("CHROME_PATH", "/usr/bin/chromium"))
    command = [str(home / "env" / "bin" / "node"), str(cli), url, "--output=json", f"--output-path={report}", "--quiet",
               f"--chrome-flags={CHROME_FLAGS.format(port=refusing_port)}", "--no-enable-error-reporting", "--max-wait-for-load=45000"]
    report.unlink(missing_ok=True)
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = process.communicate(timeout=RUN_SECONDS)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)  # chrome-launcher then ends the Chromium it started (its own process group)
        process.communicate(timeout=30)
        raise SystemExit(f"Lighthouse did not finish {url} in {RUN_SECONDS} s") from None
    if process.returncode != 0 or not report.is_file():
        raise SystemExit(f"Lighthouse failed on {url} (exit {process.returncode}):\n{stdout[-2000:]}\n{stderr[-2000:]}")
    result = json.loads(report.read_text(encoding="utf-8"))
    if result.get("runtimeError"):
        raise SystemExit(f"Lighthouse could not load {url}: {result['runtimeError']}")
    figures = {name: round(100 * result["categories"][name]["score"]) for name in CATEGORIES}
    figures |= {name: result["audits"][audit]["numericValue"] for name, audit in METRICS.items()}
    figures["warnings"] = result.get("runWarnings", [])
    figures["lighthouse"] = result["lighthouseVersion"]
    figures["chromium"] = result["environment"]["hostUserAgent"]
    return figures


def median(runs: list[dict]) -> dict:
    middle = {name: statistics.median(run[name] for run in runs) for name in [*CATEGORIES, *METRICS]}
    middle["cls"] = round(middle["cls"], 3)
    for name in ("lcp_ms", "tbt_ms", "bytes"):
        middle[name] = round(middle[name])
    return middle


def table(pages: dict) -> str:
    width = max(len(path) for path in pages)
    lines = [f"{'page':<{width}}  {'perf':>4} {'a11y':>4} {'best':>4} {'seo':>4}  {'CLS':>6} {'LCP ms':>7} {'TBT ms':>7} {'bytes':>9}"]
    for path, figures in pages.items():
        m = figures["median"]
        lines.append(f"{path:<{width}}  {m['performance']:>4} {m['accessibility']:>4} {m['best-practices']:>4} {m['seo']:>4}  "
                     f"{m['cls']:>6.3f} {m['lcp_ms']:>7} {m['tbt_ms']:>7} {m['bytes']:>9,}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, help="a built site (build it with --precompress, as a hub's); default: build the demo")
    parser.add_argument("--pages", nargs="+", help="paths in the site (default: / and the first lesson with a quiz)")
    parser.add_argument("--rounds", type=int, default=3, help="Lighthouse runs per page; the median is reported")
    parser.add_argument("--json", type=Path, help="also write every run and the medians here")
    args = parser.parse_args()

    home = lighthouse_home()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        site = args.site
        if site is None:
            site = tmp / "site"
            build(DEMO, site, show_progress=False)
            precompress(site)
        pages = [path.lstrip("/") for path in args.pages] if args.pages else ["", first_quiz_lesson(site)]
        hub, url = start_hub(site.resolve(), tmp / "hub")
        runs: dict[str, list[dict]] = {f"/{path}": [] for path in pages}
        refusing = socket.socket()  # bound, never listening: a connection to it is refused
        refusing.bind(("127.0.0.1", 0))
        try:
            for round_ in range(args.rounds):
                for path in pages:
                    print(f"Round {round_ + 1}/{args.rounds}: /{path}", flush=True)
                    runs[f"/{path}"].append(lighthouse(home, url + path, tmp / "report.json", refusing.getsockname()[1]))
        finally:
            refusing.close()
            hub.terminate()
            hub.wait(10)

    first = next(iter(runs.values()))[0]
    result = {"lighthouse": first["lighthouse"], "chromium": first["chromium"], "form_factor": "mobile", "throttling": "simulate",
              "rounds": args.rounds, "pages": {path: {"median": median(page_runs), "runs": page_runs} for path, page_runs in runs.items()}}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"Lighthouse {result['lighthouse']}, mobile, simulated throttling, median of {args.rounds}:")
    print(table(result["pages"]))
    for path, page_runs in runs.items():
        for warning in {w for run in page_runs for w in run["warnings"]}:
            print(f"{path}: {warning}")


if __name__ == "__main__":
    main()
