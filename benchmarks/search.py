"""Benchmark: Satchel's sharded, prebuilt per-language search against mkdocs-material's built-in
search and Pagefind, on the same synthetic curriculum (3 languages x N lessons), in Debian's
Chromium with the CPU throttled 4x (DevTools Emulation.setCPUThrottlingRate), in the same run.

    .venv/bin/python benchmarks/search.py [--lessons 1000] [--throttle 4] [--runs 3] [--out FILE]

The contenders:
  - satchel: Satchel's own build of the curriculum (per language: titles.json for instant
    suggestions, then one lunr index per subject and one text store per subject);
  - material: plain mkdocs (material + static-i18n + navigation.prune, benchmarks/build.py's
    config) and its built-in search (lunr, the index built in a worker at every page load);
  - pagefind: the pagefind binary (PyPI's pagefind-bin) run over that same material site, one index
    per language (from <html lang>), header, sidebars and footer left out; driven through its JS
    API (pagefind.js: search(), then data() for the first PAGEFIND_SHOWN results, as its default
    UI shows 5), from a search box added to the same lesson page. Material's own search index is
    answered 404 in this contender's server, so its worker does not compete.

Everything is served by one small HTTP server: a file's .br copy when it has one and the browser
accepts br, otherwise brotli made on the fly (quality 11, kept in memory), so the three are
compared as a hub would serve them.

Reported, each in a fresh browser profile where the learner searched once, with the page reloaded
(cold: no index in memory; Satchel loads search ahead, while the page is idle, on a device where
search was used, as material builds its index at every page load):
  - open_ms: from opening search to the first results, the page having loaded and settled
    (Satchel: open_ms to its full results, with their snippets, as material's and Pagefind's first
    results have theirs; open_ranked_ms to its ranked results, the same pages in the same order
    with title, trail and link, shown while their snippets' texts are fetched; open_suggest_ms to
    the first list on screen, title suggestions, ranked or full results, whichever came first);
  - load_ms: from the start of the page load to the first results, search opened as soon as the
    page is interactive (material starts building its index at every page load, the others only
    when search is opened: this counts both);
  - keystroke_ms: per keystroke once results are there;
  - first_query_bytes: response body bytes the server sent, in a fresh profile (cold HTTP cache:
    a first search on the device), from opening search until the first (Satchel: full) results,
    plus what the page fetched for search before it was opened (material: its worker and
    search_index.json; Satchel: nothing, a device where search was never used loads none ahead);
and index bytes per lesson (brotli, each file as served) per language, and the time to build
Satchel's indexes. Chromium throttles the page's main thread, not web workers: material builds its
index in a worker and Pagefind searches in one, so they run unthrottled there, which favours them.
Results also go to benchmarks/results/search.json.
"""

from __future__ import annotations

import argparse
import email.utils
import http.server
import json
import mimetypes
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import brotli

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from build import plain_mkdocs_config  # noqa: E402
from satchel.builder.curriculum import require_valid  # noqa: E402
from satchel.builder.search import build_indexes  # noqa: E402
from synthetic import LANGUAGES, write_curriculum  # noqa: E402

# A device whose child answered the first run's question (as tests/conftest.py's WELCOMED): the
# welcome dialog would wait for an answer.
WELCOMED = "try { localStorage.setItem('satchel-welcomed', '1'); } catch (e) {}"

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
QUERY = "river"  # in the synthetic English vocabulary; each keystroke of the second word is timed
MORE = " seed"
KINDS = ("satchel", "material", "pagefind")
CODES = [code for code, _ in LANGUAGES]
PAGEFIND_SHOWN = 5  # results whose data() (title, excerpt) is fetched, as Pagefind's default UI shows
# Material's header, sidebars and footer: not the page's content (Pagefind would index all <body>).
PAGEFIND_EXCLUDE = ".md-header, .md-tabs, .md-sidebar, .md-footer, .md-skip, .md-search, .md-dialog"

# Records when the learner opens search, and when results are on screen, in the page's own clock:
# Satchel's and the Pagefind harness's events, material's result items appearing.
TIMING_SCRIPT = """
window.__bench = {};
document.addEventListener('click', e => {
  if (e.target.closest('[data-satchel-search-open], label[for=__search], [data-pagefind-open]')) window.__bench.open = performance.now();
}, true);
document.addEventListener('satchel:suggestions', () => {
  if (window.__bench.open && !window.__bench.suggest) window.__bench.suggest = performance.now();
}, true);
document.addEventListener('satchel:ranked', () => {
  if (window.__bench.open && !window.__bench.ranked) window.__bench.ranked = performance.now();
}, true);
for (const name of ['satchel:results', 'pagefind:results']) document.addEventListener(name, () => {
  if (window.__bench.open && !window.__bench.first) window.__bench.first = performance.now();
}, true);
new MutationObserver(() => {
  const found = document.querySelector('.md-search-result__item');
  if (found && window.__bench.open && !window.__bench.first) window.__bench.first = performance.now();
}).observe(document, {subtree: true, childList: true, characterData: true});
"""

# A search box on the material lesson page, searching with Pagefind's JS API: opening it imports
# pagefind.js and starts loading the page's language (init()); each input searches, fetches the
# first results' data and shows them, then says so (pagefind:results).
PAGEFIND_HARNESS = """
document.addEventListener('DOMContentLoaded', () => {
  const open = document.createElement('button');
  open.setAttribute('data-pagefind-open', '');
  open.textContent = 'Search';
  const box = document.createElement('input');
  box.setAttribute('data-pagefind-input', '');
  const list = document.createElement('ul');
  list.setAttribute('data-pagefind-results', '');
  document.body.prepend(open, box, list);
  let loading = null, ticket = 0;
  async function run() {
    const mine = ++ticket, text = box.value.trim();
    if (!text || !loading) return;
    const pagefind = await loading;
    const search = await pagefind.search(text);
    if (mine !== ticket || !search) return;
    const data = await Promise.all(search.results.slice(0, SHOWN).map(r => r.data()));
    if (mine !== ticket) return;
    list.replaceChildren(...data.map(d => {
      const li = document.createElement('li'), a = document.createElement('a'), s = document.createElement('span');
      a.href = d.url; a.textContent = d.meta.title; s.innerHTML = d.excerpt;
      li.append(a, s);
      return li;
    }));
    document.dispatchEvent(new CustomEvent('pagefind:results'));
  }
  open.addEventListener('click', () => {
    if (!loading) loading = import(new URL('/pagefind/pagefind.js', location.href).href)
      .then(async pagefind => { await pagefind.init(); return pagefind; });
    box.focus();
    run();
  });
  box.addEventListener('input', run);
});
""".replace("SHOWN", str(PAGEFIND_SHOWN))

_compressed: dict[tuple[str, float], bytes | None] = {}
_compressed_lock = threading.Lock()


def brotli_of(path: Path) -> bytes | None:
    """A file's brotli copy as served: its .br beside it, or made once (None when it would not be smaller)."""
    key = (str(path), path.stat().st_mtime)
    with _compressed_lock:
        if key not in _compressed:
            side = path.with_name(path.name + ".br")
            raw = path.read_bytes()
            body = side.read_bytes() if side.is_file() else brotli.compress(raw, quality=11)
            _compressed[key] = body if len(body) < len(raw) else None
        return _compressed[key]


def served_bytes(path: Path) -> int:
    body = brotli_of(path)
    return len(body) if body is not None else path.stat().st_size


def accepts_brotli(header: str) -> bool:
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() == "br":
            q = params.strip()
            return not (q.startswith("q=") and float(q[2:] or 0) == 0)
    return False


class Server:
    """Serves a site folder, brotli when accepted; logs (path, body bytes) of every response."""

    def __init__(self, folder: Path, blocked: tuple[str, ...] = ()):
        self.log: list[tuple[str, int]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
                file = (folder / path.lstrip("/")).resolve()
                if file.is_dir():
                    file = file / "index.html"
                if path in blocked or not file.is_file() or folder.resolve() not in file.parents:
                    self.send_error(404)
                    return
                stamp = email.utils.formatdate(int(file.stat().st_mtime), usegmt=True)
                if self.headers.get("If-Modified-Since") == stamp:
                    self.send_response(304)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    owner.log.append((path, 0))
                    return
                body = brotli_of(file) if accepts_brotli(self.headers.get("Accept-Encoding", "")) else None
                encoded = body is not None
                if body is None:
                    body = file.read_bytes()
                kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
                self.send_response(200)
                self.send_header("Content-Type", kind + ("; charset=utf-8" if kind.startswith("text/") else ""))
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Last-Modified", stamp)
                self.send_header("Vary", "Accept-Encoding")
                if encoded:
                    self.send_header("Content-Encoding", "br")
                self.end_headers()
                self.wfile.write(body)
                owner.log.append((path, len(body)))

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


CONTROLS = {  # opener, search box
    "satchel": ("[data-satchel-search-open]", "[data-satchel-search] input"),
    "material": ("label[for=__search]", ".md-search__input"),
    "pagefind": ("[data-pagefind-open]", "[data-pagefind-input]"),
}
# Material's search files, fetched at every page load (counted in its first query's bytes); in the
# Pagefind contender they are not served.
MATERIAL_SEARCH = ("/search/search_index.json", "/assets/javascripts/workers/")


def open_context(playwright, kind: str, throttle: float, profile: Path):
    context = playwright.chromium.launch_persistent_context(str(profile), executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS,
                                                            service_workers="block", viewport={"width": 412, "height": 915})
    context.add_init_script(WELCOMED)
    page = context.pages[0] if context.pages else context.new_page()
    context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": throttle})
    page.add_init_script(TIMING_SCRIPT)
    if kind == "pagefind":
        page.add_init_script(PAGEFIND_HARNESS)
    return context, page


# Opening search and typing the query in one task of the page, as a quick learner would: no test
# driver's round trip between the tap and the words is counted. Material listens to keyup.
TYPE_AT_ONCE = """([opener, box, query]) => {
  document.querySelector(opener).click();
  const input = document.querySelector(box);
  input.focus();
  input.value = query;
  input.dispatchEvent(new Event('input', {bubbles: true}));
  input.dispatchEvent(new KeyboardEvent('keyup', {bubbles: true, key: 'End'}));
}"""


def search_once(page, kind: str) -> None:
    opener, box = CONTROLS[kind]
    page.evaluate(TYPE_AT_ONCE, [opener, box, QUERY])
    page.wait_for_function("window.__bench.first !== undefined", timeout=120000)


def first_results(playwright, url: str, kind: str, throttle: float, profile: Path, settle: bool) -> dict:
    context, page = open_context(playwright, kind, throttle, profile)
    page.goto(url)
    page.wait_for_load_state("networkidle", timeout=120000)  # a loaded machine (CI, shared cores) is slow
    search_once(page, kind)  # a learner who has searched on this device before
    page.reload(wait_until="domcontentloaded")  # cold: no index in memory; files come from the HTTP cache
    if settle:
        page.wait_for_load_state("networkidle", timeout=120000)
    search_once(page, kind)
    origin = "window.__bench.open" if settle else "0"
    first = page.evaluate(f"window.__bench.first - ({origin})")
    prefix = "open" if settle else "load"
    out = {f"{prefix}_ms": round(first)}
    if kind == "satchel":
        # The ranked results (none when the stores were in memory already: then the full results).
        ranked = page.evaluate(f"Math.min(window.__bench.ranked ?? Infinity, window.__bench.first) - ({origin})")
        out[f"{prefix}_ranked_ms"] = round(ranked)
        # The first list on screen: the title suggestions, or the results when they came first
        # (no suggestions are shown once every shard is in).
        suggest = page.evaluate(f"Math.min(window.__bench.suggest ?? Infinity, window.__bench.ranked ?? Infinity, window.__bench.first) - ({origin})")
        out[f"{prefix}_suggest_ms"] = round(suggest)
    _, box = CONTROLS[kind]
    keystrokes = []
    for char in MORE:
        page.evaluate("window.__bench.first = undefined; window.__bench.open = performance.now()")
        page.locator(box).press(char if char != " " else "Space")
        page.wait_for_function("window.__bench.first !== undefined || performance.now() - window.__bench.open > 5000")
        value = page.evaluate("window.__bench.first === undefined ? null : window.__bench.first - window.__bench.open")
        if value is not None:
            keystrokes.append(value)
    context.close()
    out["keystroke_ms"] = round(statistics.median(keystrokes)) if keystrokes else None
    return out


def first_query_bytes(playwright, server: Server, url: str, kind: str, throttle: float, profile: Path) -> dict:
    """Bytes the server sent for search in a fresh profile: after opening until the first results,
    plus material's search files fetched at page load."""
    context, page = open_context(playwright, kind, throttle, profile)
    page.goto(url)
    page.wait_for_load_state("networkidle")
    time.sleep(0.3)
    before = len(server.log)
    search_once(page, kind)
    time.sleep(0.05)  # the server logs a response once written
    after = list(server.log[before:])
    context.close()
    ahead = MATERIAL_SEARCH if kind == "material" else ("/satchel/search/", "/assets/satchel/search", "/assets/satchel/vendor/")
    at_load = [(p, n) for p, n in server.log[:before] if p.startswith(ahead)]
    counted = at_load + after
    return {"bytes": sum(n for _, n in counted), "requests": len(counted), "files": [[p, n] for p, n in counted]}


def satchel_index_bytes(site: Path, lessons: int) -> dict:
    sizes = {}
    for code in CODES:
        folder = site / "satchel" / "search" / code
        parts = {"titles": [folder / "titles.json"], "index": sorted((folder / "index").glob("*.json")),
                 "store": sorted((folder / "store").rglob("*.json"))}
        served = {name: sum(served_bytes(p) for p in files) for name, files in parts.items()}
        sizes[code] = {**{f"{name}_brotli_per_lesson": round(n / lessons) for name, n in served.items()},
                       "brotli_per_lesson": round(sum(served.values()) / lessons),
                       "shards": len(parts["index"]), "raw_bytes": sum(p.stat().st_size for ps in parts.values() for p in ps)}
    return sizes


def pagefind_binary() -> str:
    import pagefind_bin
    folder = Path(pagefind_bin.__file__).resolve().parent
    for name in ("pagefind_extended", "pagefind"):
        if (folder / name).is_file():
            return str(folder / name)
    raise SystemExit(f"no pagefind binary in {folder}")


def run_pagefind(site: Path, out: Path | None = None, glob: str | None = None) -> None:
    command = [pagefind_binary(), "--site", str(site), "--exclude-selectors", PAGEFIND_EXCLUDE, "--silent"]
    if glob:
        command += ["--glob", glob]
    if out:
        command += ["--output-path", str(out)]
    subprocess.run(command, check=True, capture_output=True)


def pagefind_index_bytes(material_site: Path, folder: Path, lessons: int) -> dict:
    """Each language indexed on its own (its pages only), to weigh its index: meta, index chunks and
    filters (`index`), and the pages' fragments (`store`); pagefind.js and the wasm are the engine."""
    globs = {"en": "{index.html,subject-*/**/*.html}", "fr": "fr/**/*.html", "ar": "ar/**/*.html"}
    sizes = {}
    for code in CODES:
        out = folder / f"pagefind-{code}"
        run_pagefind(material_site, out, globs[code])
        files = [p for p in out.rglob("*") if p.is_file()]
        store = [p for p in files if p.suffix == ".pf_fragment"]
        index = [p for p in files if p.suffix in (".pf_meta", ".pf_index", ".pf_filter") or p.name == "pagefind-entry.json"]
        engine = [out / "pagefind.js", out / f"wasm.{code}.pagefind"]
        entry = json.loads((out / "pagefind-entry.json").read_text(encoding="utf-8"))
        index_n, store_n = sum(served_bytes(p) for p in index), sum(served_bytes(p) for p in store)
        sizes[code] = {"index_brotli_per_lesson": round(index_n / lessons), "store_brotli_per_lesson": round(store_n / lessons),
                       "brotli_per_lesson": round((index_n + store_n) / lessons),
                       "engine_brotli": sum(served_bytes(p) for p in engine if p.is_file()),
                       "pages": sum(lang["page_count"] for lang in entry["languages"].values())}
    return sizes


def build_seconds(curriculum_dir: Path, site: Path, repeat: int = 3) -> float:
    """Time to build the three indexes from the pages' text (what the build does once pages are rendered)."""
    curriculum = require_valid(curriculum_dir)
    documents = {}
    for code in CODES:
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


def ratio(a, b):
    return round(a / b, 2) if a is not None and b else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lessons", type=int, default=1000)
    parser.add_argument("--throttle", type=float, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "search.json")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        curriculum = write_curriculum(tmp / "curriculum", args.lessons)
        satchel_site, material_site = tmp / "satchel", tmp / "material"
        subprocess.run([sys.executable, "-m", "satchel.builder.cli", "build", str(curriculum), "-o", str(satchel_site)],
                       check=True, cwd=HERE.parent, capture_output=True)
        subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(plain_mkdocs_config(curriculum, material_site))],
                       check=True, capture_output=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
        started = time.perf_counter()
        run_pagefind(material_site)  # material_site/pagefind/, every language
        pagefind_seconds = time.perf_counter() - started
        sites = {"satchel": (satchel_site, ()), "material": (material_site, ()),
                 "pagefind": (material_site, ("/search/search_index.json",))}
        lesson = "subject-00/unit-000/lesson-03/"
        results = {"lessons_per_language": args.lessons, "throttle": args.throttle, "runs": args.runs,
                   **{kind: [] for kind in KINDS}}
        with sync_playwright() as playwright:
            for run in range(args.runs):  # interleaved, so all see the same machine
                for settle in (True, False):
                    for kind in KINDS:
                        server = Server(*sites[kind])
                        try:
                            profile = tmp / f"profile-{kind}-{run}-{settle}"
                            results[kind].append(first_results(playwright, server.url + lesson, kind, args.throttle, profile, settle))
                        finally:
                            server.close()
            for kind in KINDS:
                server = Server(*sites[kind])
                try:
                    results[f"{kind}_first_query"] = first_query_bytes(playwright, server, server.url + lesson, kind,
                                                                       args.throttle, tmp / f"profile-{kind}-bytes")
                finally:
                    server.close()
        keys = ("open_ms", "open_ranked_ms", "open_suggest_ms", "load_ms", "load_ranked_ms", "load_suggest_ms", "keystroke_ms")
        for kind in KINDS:
            for key in keys:
                values = [r[key] for r in results[kind] if r.get(key) is not None]
                if values or kind == "satchel" or ("suggest" not in key and "ranked" not in key):
                    results[f"{kind}_{key}"] = statistics.median(values) if values else None
            results[f"{kind}_first_query_bytes"] = results[f"{kind}_first_query"]["bytes"]
        for key in ("open_ms", "load_ms", "keystroke_ms"):  # how many times faster Satchel is (> 1: Satchel ahead)
            for other in ("material", "pagefind"):
                results[f"speedup_{key}_vs_{other}"] = ratio(results[f"{other}_{key}"], results[f"satchel_{key}"])
        for key in ("open", "load"):
            for other in ("material", "pagefind"):
                for step in ("suggest", "ranked"):
                    results[f"speedup_{key}_{step}_ms_vs_{other}"] = ratio(results[f"{other}_{key}_ms"], results[f"satchel_{key}_{step}_ms"])
        for other in ("material", "pagefind"):  # < 1: Satchel fetches less
            results[f"first_query_bytes_satchel_over_{other}"] = ratio(results["satchel_first_query_bytes"], results[f"{other}_first_query_bytes"])
        results["satchel_index_bytes"] = satchel_index_bytes(satchel_site, args.lessons)
        material_index = material_site / "search" / "search_index.json"
        results["material_index_brotli_per_lesson"] = round(served_bytes(material_index) / (len(CODES) * args.lessons))
        results["material_index_raw_bytes"] = material_index.stat().st_size
        results["pagefind_index_bytes"] = pagefind_index_bytes(material_site, tmp, args.lessons)
        results["pagefind_index_seconds"] = round(pagefind_seconds, 2)
        results["satchel_index_build_seconds"] = round(build_seconds(curriculum, satchel_site), 2)

    print(json.dumps(results, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print_table(results)
    print(f"Results: {args.out}")


def print_table(r: dict) -> None:
    rows = [("open → suggestions, ms", "open_suggest_ms"), ("open → ranked results, ms", "open_ranked_ms"),
            ("open → full results, ms", "open_ms"),
            ("load → suggestions, ms", "load_suggest_ms"), ("load → ranked results, ms", "load_ranked_ms"),
            ("load → full results, ms", "load_ms"),
            ("keystroke → results, ms", "keystroke_ms"), ("bytes fetched, first query", "first_query_bytes")]
    title = f"N = {r['lessons_per_language']} lessons x 3, CPU {r['throttle']:g}x"
    print(f"\n{title:32} {'Satchel':>10} {'material':>10} {'Pagefind':>10}"
          f" {'material/S':>10} {'Pagefind/S':>10}")
    for label, key in rows:
        values = [r.get(f"{kind}_{key}") for kind in KINDS]
        if "suggest" in key or "ranked" in key:
            values[1] = values[2] = None
        s = values[0]
        cells = " ".join(f"{v if v is not None else '-':>10}" for v in values)
        ratios = " ".join(f"{ratio(v, s) if v is not None else '-':>10}" for v in values[1:])
        print(f"{label:32} {cells} {ratios}")
    for code in CODES:
        s, p = r["satchel_index_bytes"][code]["brotli_per_lesson"], r["pagefind_index_bytes"][code]["brotli_per_lesson"]
        m = r["material_index_brotli_per_lesson"]
        print(f"{'index B/lesson, brotli, ' + code:32} {s:>10} {m:>10} {p:>10} {ratio(m, s):>10} {ratio(p, s):>10}")


if __name__ == "__main__":
    main()
