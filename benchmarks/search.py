"""Benchmark: Satchel's prebuilt per-language search against mkdocs-material's built-in search on
the same synthetic curriculum (3 languages x N lessons), in Debian's Chromium with the CPU
throttled 4x (DevTools Emulation.setCPUThrottlingRate), in the same run.

    .venv/bin/python benchmarks/search.py [--lessons 1000] [--throttle 4] [--runs 3]

Reports, each in a fresh browser profile with the page reloaded (cold: no index in memory):
  - open_ms: from opening search to the first results, the page having loaded and settled;
  - load_ms: from the start of the page load to the first results, search opened as soon as the
    page is interactive (material starts building its index at every page load, Satchel only
    when search is opened: this counts both);
  - keystroke_ms: per keystroke once results are there;
and index bytes per lesson (brotli) per language, and the time to build Satchel's indexes.
Chromium throttles the page's main thread, not web workers: material builds its index in a worker,
so it runs unthrottled here, which favours it. Results also go to benchmarks/results/search.json.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import brotli

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from build import plain_mkdocs_config  # noqa: E402
from synthetic import write_curriculum  # noqa: E402

from builder.curriculum import require_valid  # noqa: E402
from builder.search import build_indexes  # noqa: E402

# A device whose child answered the first run's question (as tests/conftest.py's WELCOMED): the
# welcome dialog would wait for an answer.
WELCOMED = "try { localStorage.setItem('satchel-welcomed', '1'); } catch (e) {}"

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
QUERY = "river"  # in the synthetic English vocabulary; each keystroke of the second word is timed
MORE = " seed"

# Records when the learner opens search, and when results are on screen, in the page's own clock.
TIMING_SCRIPT = """
window.__bench = {};
document.addEventListener('click', e => {
  if (e.target.closest('[data-satchel-search-open], label[for=__search]')) window.__bench.open = performance.now();
}, true);
new MutationObserver(() => {
  const found = document.querySelector('[data-satchel-search-results] li, .md-search-result__item');
  if (found && window.__bench.open && !window.__bench.first) window.__bench.first = performance.now();
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def first_results(playwright, url: str, kind: str, throttle: float, profile: Path, settle: bool) -> dict:
    context = playwright.chromium.launch_persistent_context(str(profile), executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS,
                                                            service_workers="block", viewport={"width": 412, "height": 915})
    context.add_init_script(WELCOMED)
    page = context.new_page()
    context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": throttle})
    page.add_init_script(TIMING_SCRIPT)
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.reload(wait_until="domcontentloaded")  # cold: no index in memory; files come from the HTTP cache
    if settle:
        page.wait_for_load_state("networkidle")
    if kind == "satchel":
        opener, box, item = "[data-satchel-search-open]", "[data-satchel-search] input", "[data-satchel-search-results] li"
    else:
        opener, box, item = "label[for=__search]", ".md-search__input", ".md-search-result__item"
    page.click(opener)
    page.fill(box, QUERY)
    page.locator(box).press("End")  # a real key press too: material listens to keyup
    page.wait_for_selector(item, timeout=120000)
    page.wait_for_function("window.__bench.first !== undefined")
    first = page.evaluate("window.__bench.first - (%s)" % ("window.__bench.open" if settle else "0"))
    keystrokes = []
    for char in MORE:
        page.evaluate("window.__bench.first = undefined; window.__bench.open = performance.now()")
        page.locator(box).press(char if char != " " else "Space")
        page.wait_for_function("window.__bench.first !== undefined || performance.now() - window.__bench.open > 5000")
        value = page.evaluate("window.__bench.first === undefined ? null : window.__bench.first - window.__bench.open")
        if value is not None:
            keystrokes.append(value)
    context.close()
    return {"open_ms" if settle else "load_ms": round(first), "keystroke_ms": round(statistics.median(keystrokes)) if keystrokes else None}


def index_bytes(site: Path, lessons: int) -> dict:
    sizes = {}
    for code in ("en", "fr", "ar"):
        index = (site / "satchel" / "search" / code / "index.json").read_bytes()
        store = b"".join(p.read_bytes() for p in sorted((site / "satchel" / "search" / code / "store").glob("*.json")))
        sizes[code] = {"index_brotli_per_lesson": round(len(brotli.compress(index, quality=11)) / lessons),
                       "store_brotli_per_lesson": round(len(brotli.compress(store, quality=11)) / lessons),
                       "index_raw_bytes": len(index)}
    return sizes


def build_seconds(curriculum_dir: Path, site: Path, repeat: int = 3) -> float:
    """Time to build the three indexes from the pages' text (what the build does once pages are rendered)."""
    curriculum = require_valid(curriculum_dir)
    documents = {}
    for code in ("en", "fr", "ar"):
        for shard in sorted((site / "satchel" / "search" / code / "store").glob("*.json")):
            for ref, (title, trail, url, body) in json.loads(shard.read_text(encoding="utf-8")).items():
                documents.setdefault(code, []).append({"ref": ref, "title": title, "trail": trail, "url": url,
                                                       "subject": shard.stem, "body": body})
    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            build_indexes(curriculum, documents, Path(tmp))
            times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lessons", type=int, default=1000)
    parser.add_argument("--throttle", type=float, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        curriculum = write_curriculum(tmp / "curriculum", args.lessons)
        satchel_site, material_site = tmp / "satchel", tmp / "material"
        subprocess.run([sys.executable, "-m", "builder.cli", "build", str(curriculum), "-o", str(satchel_site)],
                       check=True, cwd=HERE.parent, capture_output=True)
        subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(plain_mkdocs_config(curriculum, material_site))],
                       check=True, capture_output=True)
        lesson = "subject-00/unit-000/lesson-03/"
        results = {"lessons_per_language": args.lessons, "throttle": args.throttle, "satchel": [], "material": []}
        with sync_playwright() as playwright:
            for run in range(args.runs):  # interleaved, so both see the same machine
                for settle in (True, False):
                    for kind, site in (("satchel", satchel_site), ("material", material_site)):
                        server, url = serve(site)
                        try:
                            profile = tmp / f"profile-{kind}-{run}-{settle}"
                            results[kind].append(first_results(playwright, url + lesson, kind, args.throttle, profile, settle))
                        finally:
                            server.shutdown()
                            server.server_close()
        for kind in ("satchel", "material"):
            runs = results[kind]
            for key in ("open_ms", "load_ms", "keystroke_ms"):
                values = [r[key] for r in runs if r.get(key) is not None]
                results[f"{kind}_{key}"] = statistics.median(values) if values else None
        for key in ("open_ms", "load_ms", "keystroke_ms"):
            results[f"speedup_{key}"] = round(results[f"material_{key}"] / results[f"satchel_{key}"], 1)
        results["satchel_index_bytes"] = index_bytes(satchel_site, args.lessons)
        material_index = (material_site / "search" / "search_index.json").read_bytes()
        results["material_index_brotli_per_lesson"] = round(len(brotli.compress(material_index, quality=11)) / (3 * args.lessons))
        results["material_index_raw_bytes"] = len(material_index)
        results["satchel_index_build_seconds"] = round(build_seconds(curriculum, satchel_site), 2)

    print(json.dumps(results, indent=1))
    out = HERE / "results" / "search.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    for key, what in (("open_ms", "opening search to first results"), ("load_ms", "page load to first results"),
                      ("keystroke_ms", "per keystroke")):
        print(f"{what}: Satchel {results[f'satchel_{key}']} ms, material {results[f'material_{key}']} ms "
              f"(material / Satchel = {results[f'speedup_{key}']})")
    print(f"Results: {out}")


if __name__ == "__main__":
    main()
