"""Benchmark: learner progress with a long history, in Debian's Chromium with the CPU throttled 4x
(DevTools Emulation.setCPUThrottlingRate), on a synthetic curriculum (3 languages x N lessons).

    .venv/bin/python benchmarks/progress.py [--lessons 1000] [--events 10000] [--throttle 4] [--runs 3]

A profile gets `--events` statements spread over the lessons (opened, time, answers, quizzes,
completions). Then, median of `--runs`, each on a reloaded page:
  - home_ms: from progress.js starting to the home page's meters and guide drawn (the
    'satchel-progress-shown' measure), with that history; home_empty_ms is the same with no
    history, the baseline of the same run;
  - recompute_ms: what drawing would cost without the stored summary: reading every statement of
    the profile and deriving the state from them;
  - export_ms: reading every statement and writing the progress file (JSON);
  - import_new_ms / import_known_ms: loading that file into a fresh browser profile, then again
    (every statement already known).
Results also go to benchmarks/results/progress.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from search import CHROMIUM_ARGS, serve  # noqa: E402
from synthetic import write_curriculum  # noqa: E402

from builder.build import build  # noqa: E402

# Makes `n` statements over the home page's lessons, as a year of use would: per lesson visited,
# an opening, time, four answers, a quiz result and a completion.
MAKE_HISTORY = """async ([n, curriculum]) => {
  const M = satchelProgressModel, P = satchelProgress;
  const outline = JSON.parse(document.getElementById('satchel-outline').textContent);
  const profile = await P.createProfile('Benchmark', '🐢', '#1565c0');
  const list = [];
  let t = Date.parse('2026-01-01T08:00:00Z');
  for (let i = 0; list.length < n; i++) {
    const lesson = outline[i % outline.length].id;
    const base = {curriculum, profile: profile.id, lesson, language: 'en', title: 'Lesson ' + i};
    const at = () => new Date(t += 1000).toISOString();
    list.push(M.statement(Object.assign({verb: 'launched', timestamp: at()}, base)));
    list.push(M.statement(Object.assign({verb: 'experienced', timestamp: at(), result: {duration: 'PT300S'}}, base)));
    for (let q = 0; q < 4; q++) list.push(M.statement(Object.assign({verb: 'answered', quiz: 0, question: q, timestamp: at(),
      result: {score: {scaled: 1, raw: 1, min: 0, max: 1}, success: true}}, base)));
    list.push(M.statement(Object.assign({verb: 'passed', quiz: 0, timestamp: at(),
      result: {score: {scaled: 1, raw: 4, min: 0, max: 4}, success: true, completion: true}}, base)));
    list.push(M.statement(Object.assign({verb: 'completed', timestamp: at(), result: {completion: true}}, base)));
  }
  await P.store(profile.id, list.slice(0, n));
  return profile;
}"""

RECOMPUTE = """async ([profile, curriculum]) => {
  const t0 = performance.now();
  const statements = await satchelProgress.statementsOf(profile);
  satchelProgressModel.derive(statements, curriculum);
  return performance.now() - t0;
}"""

EXPORT = """async ([profile, curriculum]) => {
  const t0 = performance.now();
  const p = await satchelProgress.currentProfile();
  const text = JSON.stringify(satchelProgressModel.file(curriculum, '1', p, await satchelProgress.statementsOf(profile)));
  return {ms: performance.now() - t0, text: text};
}"""

IMPORT = """async (text) => {
  const file = new File([text], 'progress.json', {type: 'application/json'});
  const t0 = performance.now();
  const message = await satchelProgress.importFile(file);
  return {ms: performance.now() - t0, message: message};
}"""


def home_ms(page) -> float:
    page.reload()
    page.evaluate("window.satchelProgress.ready")
    return page.evaluate("performance.getEntriesByName('satchel-progress-shown')[0].duration")


def open_page(playwright, profile: Path, url: str, throttle: float):
    context = playwright.chromium.launch_persistent_context(str(profile), executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS,
                                                            service_workers="block", viewport={"width": 412, "height": 915})
    page = context.new_page()
    page.goto(url)
    page.evaluate("window.satchelProgress.ready")
    return context, page, context.new_cdp_session(page)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lessons", type=int, default=1000, help="lessons per language")
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--throttle", type=float, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        curriculum = write_curriculum(tmp / "curriculum", args.lessons)
        site = tmp / "site"
        print(f"Building {args.lessons} lessons x 3 languages...", flush=True)
        build(curriculum, site, show_progress=False)
        curriculum_id = json.loads((site / "satchel" / "curriculum.json").read_text(encoding="utf-8"))["id"]
        server, url = serve(site)
        result: dict = {"lessons": args.lessons, "events": args.events, "throttle": args.throttle, "runs": args.runs}
        with sync_playwright() as playwright:
            context, page, cdp = open_page(playwright, tmp / "phone", url, args.throttle)
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": args.throttle})
            result["home_empty_ms"] = statistics.median(home_ms(page) for _ in range(args.runs))
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})
            print(f"Recording {args.events} events...", flush=True)
            profile = page.evaluate(MAKE_HISTORY, [args.events, curriculum_id])
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": args.throttle})
            result["home_ms"] = statistics.median(home_ms(page) for _ in range(args.runs))
            result["recompute_ms"] = statistics.median(page.evaluate(RECOMPUTE, [profile["id"], curriculum_id]) for _ in range(args.runs))
            exports = [page.evaluate(EXPORT, [profile["id"], curriculum_id]) for _ in range(args.runs)]
            result["export_ms"] = statistics.median(e["ms"] for e in exports)
            text = exports[0]["text"]
            result["file_bytes"] = len(text.encode())
            context.close()

            new, known = [], []
            for run in range(args.runs):
                context, page, cdp = open_page(playwright, tmp / f"other-{run}", url, args.throttle)
                cdp.send("Emulation.setCPUThrottlingRate", {"rate": args.throttle})
                first = page.evaluate(IMPORT, text)
                again = page.evaluate(IMPORT, text)
                assert f"{args.events} new" in first["message"] and "0 new" in again["message"], (first["message"], again["message"])
                new.append(first["ms"])
                known.append(again["ms"])
                context.close()
            result["import_new_ms"] = statistics.median(new)
            result["import_known_ms"] = statistics.median(known)
        server.shutdown()

    for key in ("home_empty_ms", "home_ms", "recompute_ms", "export_ms", "import_new_ms", "import_known_ms"):
        result[key] = round(result[key], 1)
    result["home_ratio_to_empty"] = round(result["home_ms"] / result["home_empty_ms"], 2)
    out = HERE / "results" / "progress.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))
    print(f"Home page progress with {args.events} events: {result['home_ms']} ms at {args.throttle:g}x throttle "
          f"(goal < 100 ms; {result['home_ratio_to_empty']}x the empty profile's {result['home_empty_ms']} ms).")


if __name__ == "__main__":
    main()
