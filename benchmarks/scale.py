"""Benchmark: the teacher dashboard at national scale, read from the summaries (hub/report.py).

    .venv/bin/python benchmarks/scale.py [--statements 200000] [--learners 2000] [--rounds 20]
        [--postgresql URL] [--out benchmarks/results/scale.json]

A hub's store (SQLite in a temporary data directory, or the PostgreSQL database `--postgresql`
names, which must be empty) is filled with N statements over L learners through the store's own
insert path (hub/progress.py `prepare`, then Store.add_file: the summaries are kept as in
production): each learner opens, spends time in, answers, fails or passes and completes lessons of
the demo curriculum (curricula/demo), over several days. Then the real app (`satchel hub`, one
process) is started on it, a teacher signs in, and each page is fetched `--rounds` times over HTTP:
the curriculum dashboard, a filtered page (a subject, learners not started, sorted by last
activity), a learner's page and the CSV. Printed and written to benchmarks/results/scale.json:
p50/p95 in ms of each, the CSV's size, and the hub process's peak RSS (VmHWM).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from builder import DEMO_CURRICULUM  # noqa: E402
from builder.build import build  # noqa: E402
from hub.progress import prepare  # noqa: E402
from hub.store import Store  # noqa: E402
from tests.progress_files import progress_file, statement  # noqa: E402
from tests.test_dashboard import PASSWORD, Browser  # noqa: E402
from tests.test_hub import Hub  # noqa: E402

CURRICULUM = "satchel-demo"


def lessons_of() -> list[str]:
    """The demo's lesson ids: <subject>/<unit>/<lesson> of its default language's Markdown files."""
    root = DEMO_CURRICULUM / "en"
    return sorted(str(path.relative_to(root).with_suffix("")) for path in root.glob("*/*/*.md") if path.name != "index.md")


def learner_steps(learner: str, lessons: list[str], count: int, rng: random.Random) -> list[dict]:
    """About `count` statements of one learner, lesson after lesson, as the app records them."""
    steps, n = [], rng.randrange(0, 20 * 86400)
    while len(steps) < count:
        lesson = rng.choice(lessons)
        n += rng.randrange(600, 30_000)
        steps.append(statement(CURRICULUM, learner, "launched", lesson, n))
        steps.append(statement(CURRICULUM, learner, "experienced", lesson, n + 1, duration=f"PT{rng.randrange(30, 900)}S"))
        for question in range(rng.randrange(1, 4)):
            right = rng.random() < 0.6
            steps.append(statement(CURRICULUM, learner, "answered", f"{lesson}#quiz-0-{question}", n + 2 + question,
                                   score={"scaled": int(right), "raw": int(right), "min": 0, "max": 1}, success=right))
        scaled = round(rng.random(), 2)
        steps.append(statement(CURRICULUM, learner, "passed" if scaled >= 0.6 else "failed", f"{lesson}#quiz-0", n + 6,
                               score={"scaled": scaled}, success=scaled >= 0.6))
        if scaled >= 0.6:
            steps.append(statement(CURRICULUM, learner, "completed", lesson, n + 7, completion=True))
    return steps[:count]


async def fill(store: Store, statements: int, learners: int, lessons: list[str]) -> None:
    rng = random.Random(7)
    each = max(1, statements // learners)
    for k in range(learners):
        data = progress_file(0, name=f"Learner {k:05}")
        data["statements"] = learner_steps(data["profile"]["id"], lessons, each, rng)
        for chunk in range(0, each, 400):  # a device uploads what is new since its last upload
            part = dict(data, statements=data["statements"][chunk:chunk + 400])
            await store.add_file(prepare(json.dumps(part).encode(), {CURRICULUM}))


def timed(browser: Browser, path: str, rounds: int) -> dict:
    times, size = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        status, _, body = browser.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert status == 200, (path, status)
        size = len(body.encode())
    times.sort()
    return {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 1),
            "bytes": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--statements", type=int, default=200_000)
    parser.add_argument("--learners", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--postgresql", help="an empty PostgreSQL database's URL (default: SQLite)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "scale.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        site = tmp / "site"
        build(DEMO_CURRICULUM, site, show_progress=False)
        lessons = lessons_of() or ["mathematics/fractions/what-is-a-fraction"]
        data = tmp / "data"
        subprocess.run([sys.executable, "-m", "builder.cli", "hub", "init", "--data", str(data),
                        *(["--db", args.postgresql] if args.postgresql else [])], check=True, capture_output=True)
        store = Store.in_data_dir(data)
        started = time.perf_counter()
        asyncio.run(fill(store, args.statements, args.learners, lessons))
        fill_seconds = time.perf_counter() - started
        stored = store.query("SELECT COUNT(*) FROM statements")[0][0]
        store.close()
        subprocess.run([sys.executable, "-m", "builder.cli", "hub", "set-password", "--data", str(data)],
                       input=PASSWORD + "\n", text=True, check=True, capture_output=True)
        hub = Hub([site], data)
        try:
            browser = Browser(hub)
            assert browser.sign_in()[0] == 303
            subject = lessons[-1].split("/")[0]
            learner = Store.in_data_dir(data)
            someone = learner.query("SELECT id FROM learners ORDER BY name LIMIT 1")[0][0]
            learner.close()
            pages = {"dashboard": f"_hub/{CURRICULUM}/", "filtered": f"_hub/{CURRICULUM}/?subject={subject}&show=not_started&sort=last",
                     "learner": f"_hub/{CURRICULUM}/learner/{someone}", "csv": f"_hub/{CURRICULUM}/progress.csv"}
            result = {"statements": stored, "learners": args.learners, "database": "postgresql" if args.postgresql else "sqlite",
                      "fill_seconds": round(fill_seconds, 1), "rounds": args.rounds,
                      "pages": {name: timed(browser, path, args.rounds) for name, path in pages.items()}}
            status = Path(f"/proc/{hub.process.pid}/status").read_text()
            result["hub_peak_rss_mb"] = round(int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) / 1024, 1)
        finally:
            hub.stop()
    for name, figures in result["pages"].items():
        print(f"{name}: p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, {figures['bytes']:,} bytes")
    print(f"{stored:,} statements, {args.learners:,} learners ({result['database']}), filled in {result['fill_seconds']} s; "
          f"hub peak RSS {result['hub_peak_rss_mb']} MB")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
