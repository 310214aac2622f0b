"""Benchmark: learner progress with a long history, in Debian's Chromium with the CPU throttled 4x
(DevTools Emulation.setCPUThrottlingRate), on a synthetic curriculum (3 languages x N lessons).

    .venv/bin/python benchmarks/progress.py [--lessons 1000] [--events 10000] [--throttle 4] [--runs 3] [--only signing]
        [--out benchmarks/results/progress.json]

A profile gets `--events` statements spread over the lessons (opened, time, answers, quizzes,
completions). Then, median of `--runs`, each on a reloaded page:
  - home_ms: from progress.js starting to the home page's meters and guide drawn (the
    'satchel-progress-shown' measure), with that history; home_empty_ms is the same with no
    history, the baseline of the same run;
  - recompute_ms: what drawing would cost without the stored summary: reading every statement of
    the profile and deriving the state from them;
  - export_ms: reading every statement and writing the progress file (JSON, signed by the
    learner's key, as the app saves it: satchelSync.fileText);
  - import_new_ms / import_known_ms: loading that file into a fresh browser profile, then again
    (every statement already known);
  - signing (the device's cost of learner keys, progress-identity.js), in another fresh browser
    profile, each run in the same page: key_ms, making a learner's key (satchelIdentity.makeKey,
    the mean of 10); ids_50_ms, 50 statement ids bound to it (statementId); sign_50_ms and
    sign_500_ms, the signed text (signedText) of a progress file of 50 statements and of 500 (the
    app's upload batch), against stringify_50_ms and stringify_500_ms, JSON.stringify of the same
    file, the baseline of the same run (signedText is JSON.stringify, then the ECDSA signature):
    per file, the mean of 50 (5 for 500 statements). `--only signing` runs this part alone.
Results also go to benchmarks/results/progress.json (or --out).
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

from satchel.builder.build import build  # noqa: E402
from search import CHROMIUM_ARGS, WELCOMED, Server  # noqa: E402
from synthetic import write_curriculum  # noqa: E402

# Makes `n` statements over the home page's lessons, as a year of use would: per lesson visited,
# an opening, time, four answers, a quiz result and a completion; their ids bound to the learner's
# key, as the app makes them.
MAKE_HISTORY = """async ([n, curriculum]) => {
  const M = satchelProgressModel, P = satchelProgress;
  const root = new URL(document.querySelector('meta[name="satchel-root"]').content, location.href);
  const outline = await (await fetch(new URL(satchelCommon.config.outline, root))).json();  // the home's lesson list
  const profile = await P.createProfile('Benchmark', '🐢', '#1565c0');
  const key = await P.keyOf(profile.id);
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
  for (const s of list) s.id = await satchelIdentity.statementId(key.publicKey);
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
  const data = satchelProgressModel.file(curriculum, '1', p, await satchelProgress.statementsOf(profile));
  const text = await satchelSync.fileText(await satchelProgress.db(), data, profile);
  return {ms: performance.now() - t0, text: text};
}"""

IMPORT = """async (text) => {
  const file = new File([text], 'progress.json', {type: 'application/json'});
  const t0 = performance.now();
  const message = await satchelProgress.importFile(file);
  return {ms: performance.now() - t0, message: message};
}"""


# Progress files of each of `sizes` statements, shaped as MAKE_HISTORY's, of a learner with a key
# and their statement ids bound to it, as the app makes them; kept in the page for SIGN.
MAKE_FILES = """async ([sizes, curriculum]) => {
  const M = satchelProgressModel, ID = satchelIdentity;
  const root = new URL(document.querySelector('meta[name="satchel-root"]').content, location.href);
  const outline = await (await fetch(new URL(satchelCommon.config.outline, root))).json();  // the home's lesson list
  const key = await ID.makeKey();
  const profile = {id: await ID.learnerId(key.publicKey), name: 'Benchmark', colour: '#1565c0', picture: '🐢'};
  const files = {};
  for (const n of sizes) {
    const list = [];
    let t = Date.parse('2026-01-01T08:00:00Z');
    for (let i = 0; list.length < n; i++) {
      const base = {curriculum, profile: profile.id, lesson: outline[i % outline.length].id, language: 'en', title: 'Lesson ' + i};
      const at = () => new Date(t += 1000).toISOString();
      const add = async (what) => list.push(M.statement(Object.assign({id: await ID.statementId(key.publicKey), timestamp: at()}, what, base)));
      await add({verb: 'launched'});
      await add({verb: 'experienced', result: {duration: 'PT300S'}});
      for (let q = 0; q < 4; q++) await add({verb: 'answered', quiz: 0, question: q, result: {score: {scaled: 1, raw: 1, min: 0, max: 1}, success: true}});
      await add({verb: 'passed', quiz: 0, result: {score: {scaled: 1, raw: 4, min: 0, max: 4}, success: true, completion: true}});
      await add({verb: 'completed', result: {completion: true}});
    }
    files[n] = M.file(curriculum, '1', profile, list.slice(0, n), key.publicKey);
  }
  window.__signing = {key, files};
}"""

# One run of the signing part: `keys` new keys, then 50 ids bound to the last one, then each file
# stringified and signed `repeat[n]` times each (the two in turn, the first alternating with `run`);
# times are per key and per file, as the page's clock is coarse (0.1 ms). The signed text is
# checked after.
SIGN = """async ([run, keys, ids, repeat]) => {
  const ID = satchelIdentity, {key, files} = window.__signing;
  const out = {};
  let made, t = performance.now();
  for (let i = 0; i < keys; i++) made = await ID.makeKey();
  out.key_ms = (performance.now() - t) / keys;
  t = performance.now();
  for (let i = 0; i < ids; i++) await ID.statementId(made.publicKey);
  out['ids_' + ids + '_ms'] = performance.now() - t;
  for (const n of Object.keys(files)) {
    const data = files[n];
    let signed;
    for (const step of run % 2 ? ['sign', 'stringify'] : ['stringify', 'sign']) {
      t = performance.now();
      for (let i = 0; i < repeat[n]; i++) {
        if (step === 'sign') signed = await ID.signedText(data, key);
        else JSON.stringify(data);
      }
      out[step + '_' + n + '_ms'] = (performance.now() - t) / repeat[n];
    }
    if (await ID.checkSignature(signed, JSON.parse(signed)) !== true) throw new Error('the signed text does not verify');
    out['bytes_' + n] = new TextEncoder().encode(signed).length;
  }
  return out;
}"""

SIGNING_SIZES = (50, 500)
SIGNING_IDS = 50
SIGNING_KEYS = 10  # keys made per run (key_ms is per key)
SIGNING_REPEAT = {50: 50, 500: 5}  # times each file is stringified and signed per run (the ms are per file)


def signing(playwright, profile: Path, url: str, curriculum: str, throttle: float, runs: int) -> dict:
    """The signing part: medians of `runs` runs at `throttle`, and each file's signing cost as a
    ratio to its JSON.stringify."""
    context, page, cdp = open_page(playwright, profile, url, throttle)
    if not page.evaluate("satchelIdentity.available"):
        raise RuntimeError("WebCrypto is not available in the page: satchelIdentity cannot sign")
    page.evaluate(MAKE_FILES, [list(SIGNING_SIZES), curriculum])
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
    measured = [page.evaluate(SIGN, [run, SIGNING_KEYS, SIGNING_IDS, {str(n): k for n, k in SIGNING_REPEAT.items()}]) for run in range(runs)]
    context.close()
    result = {key: round(statistics.median(m[key] for m in measured), 2) for key in measured[0] if key.endswith("_ms")}
    for n in SIGNING_SIZES:
        result[f"bytes_{n}"] = measured[0][f"bytes_{n}"]
        result[f"sign_{n}_ratio_to_stringify"] = round(result[f"sign_{n}_ms"] / max(result[f"stringify_{n}_ms"], 0.01), 1)
    return result


def home_ms(page) -> float:
    page.reload()
    page.evaluate("window.satchelProgress.ready")
    return page.evaluate("performance.getEntriesByName('satchel-progress-shown')[0].duration")


def open_page(playwright, profile: Path, url: str, throttle: float):
    context = playwright.chromium.launch_persistent_context(str(profile), executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS,
                                                            service_workers="block", viewport={"width": 412, "height": 915})
    context.add_init_script(WELCOMED)
    page = context.new_page()
    page.goto(url)
    page.evaluate("window.satchelProgress.ready")
    return context, page, context.new_cdp_session(page)


def history(playwright, tmp: Path, url: str, curriculum_id: str, args, result: dict) -> None:
    """The history part: home page, recompute, export and import, into `result`."""
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
    for key in ("home_empty_ms", "home_ms", "recompute_ms", "export_ms", "import_new_ms", "import_known_ms"):
        result[key] = round(result[key], 1)
    result["home_ratio_to_empty"] = round(result["home_ms"] / result["home_empty_ms"], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lessons", type=int, default=1000, help="lessons per language")
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--throttle", type=float, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=("history", "signing"), help="run one part only")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "progress.json", help="where the results go")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        curriculum = write_curriculum(tmp / "curriculum", args.lessons)
        site = tmp / "site"
        print(f"Building {args.lessons} lessons x 3 languages...", flush=True)
        build(curriculum, site, show_progress=False)
        curriculum_id = json.loads((site / "satchel" / "curriculum.json").read_text(encoding="utf-8"))["id"]
        server = Server(site)
        url = server.url
        result: dict = {"lessons": args.lessons, "events": args.events, "throttle": args.throttle, "runs": args.runs}
        with sync_playwright() as playwright:
            if args.only != "signing":
                history(playwright, tmp, url, curriculum_id, args, result)
            if args.only != "history":
                result["signing"] = signing(playwright, tmp / "signing", url, curriculum_id, args.throttle, args.runs)
        server.close()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))
    if "home_ms" in result:
        print(f"Home page progress with {args.events} events: {result['home_ms']} ms at {args.throttle:g}x throttle "
              f"(goal < 100 ms; {result['home_ratio_to_empty']}x the empty profile's {result['home_empty_ms']} ms).")
    if "signing" in result:
        r = result["signing"]
        files = "; ".join(f"signing {n} statements {r[f'sign_{n}_ms']} ms (JSON.stringify {r[f'stringify_{n}_ms']} ms, "
                          f"{r[f'sign_{n}_ratio_to_stringify']}x)" for n in SIGNING_SIZES)
        print(f"Learner keys at {args.throttle:g}x throttle: a key {r['key_ms']} ms; {SIGNING_IDS} statement ids "
              f"{r[f'ids_{SIGNING_IDS}_ms']} ms; {files} (median of {args.runs}).")


if __name__ == "__main__":
    main()
