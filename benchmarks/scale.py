"""Benchmark: a hub filled through its upload path, then the teacher dashboard under teachers at once.

    .venv/bin/python benchmarks/scale.py [--school | --national] [--statements N] [--learners N]
        [--schools N] [--classes N] [--clients N] [--teachers N] [--rounds N] [--workers N]
        [--postgresql [URL]] [--explain] [--keep DIR] [--skip PAGE ...] [--out benchmarks/results/scale.json]

Two cases, each size overridable:
  --school (the default): one school hub on SQLite, 2,000 learners, 200,000 statements; target
    every page's p95 <= 200 ms.
  --national: a central on PostgreSQL (the tests' own throwaway server, tests/conftest.py, unless
    --postgresql URL names an empty database), 10,000 learners in 400 classes of 50 schools,
    1,000,000 statements; target every page's p95 <= 300 ms and <= 300 MB per hub worker.

The hub (`satchel hub`, `--workers` processes) is started on an empty data directory and filled
over HTTP by `--clients` processes POSTing batches ({"format": "satchel-progress-batch", ...}, as
school hubs forward them; hub/intake.py) to /api/progress: at a central, each school's batches
carry its credentials (`satchel hub schools add`), so statements know their school. Each learner
opens, spends time in, answers, fails or passes and completes lessons of the demo curriculum over
several days. Classes are the benchmark's own (learner k is in class k % classes, of school
class % schools): the hub is not told of them. Then `--teachers` signed-in teachers (threads) each
fetch every dashboard page `--rounds` times: the curriculum page, page 2, the last page, a subject's
learners not started and stuck, sorted by done and by last activity, a lesson's questions page (and
page 2 of its stuck learners), a learner's page, the CSV
(first each page alone, three times, for its own cost without a queue). Printed and written to
--out: statements/s ingested, p50/p95 in ms of each page, and each hub process's peak RSS (sampled
from /proc while filling and while serving). `--explain` adds each page's queries (run again
through hub/report.py, timed, with EXPLAIN ANALYZE on PostgreSQL). `--keep DIR` keeps the data
directory and the built site in DIR (to profile the hub on them after).
Figures on a shared machine are noisy: the load average is recorded before, between and after.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from satchel.builder import DEMO_CURRICULUM  # noqa: E402
from satchel.builder.build import build  # noqa: E402

from tests.progress_files import progress_file, statement  # noqa: E402
from tests.test_central import basic  # noqa: E402
from tests.test_dashboard import PASSWORD, Browser  # noqa: E402
from tests.test_hub import Hub  # noqa: E402

CURRICULUM = "satchel-demo"
HUB = [sys.executable, "-m", "satchel.builder.cli", "hub"]
CASES = {"school": {"statements": 200_000, "learners": 2_000, "schools": 1, "classes": 40, "target_p95_ms": 200},
         "national": {"statements": 1_000_000, "learners": 10_000, "schools": 50, "classes": 400, "target_p95_ms": 300}}
TARGET_RSS_MB = 300
QUIZ_LESSON = "mathematics/fractions/what-is-a-fraction"  # a lesson with quiz questions: its questions page
FILE_STATEMENTS = 400  # a device uploads what is new since its last upload: a file of at most this many
BATCH_BYTES = 4_000_000  # a batch's body, about at most (the hub takes 10 MB)


def lessons_of(site: Path) -> list[str]:
    """The demo's lesson ids, as its build lists them (satchel/curriculum.json), sorted: a glob of
    its Markdown would also take a lesson's other files (a video's transcript is Markdown too)."""
    described = json.loads((site / "satchel" / "curriculum.json").read_text(encoding="utf-8"))
    return sorted(lesson["id"] for subject in described["subjects"] for unit in subject["units"] for lesson in unit["lessons"])


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


def learner_files(k: int, statements: int, lessons: list[str]) -> list[dict]:
    """Learner k's progress files (the same learner and statements on every run but the ids)."""
    rng = random.Random(k)
    learner = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    steps = learner_steps(learner, lessons, statements, rng)
    data = progress_file(0, name=f"Learner {k:05}", learner=learner)
    return [dict(data, statements=steps[chunk:chunk + FILE_STATEMENTS]) for chunk in range(0, len(steps), FILE_STATEMENTS)]


def upload_batches(port: int, headers: dict, learners: list[int], each: int, lessons: list[str]) -> tuple[int, int, float]:
    """One client (a process of its own): these learners' files in batches of about BATCH_BYTES,
    one connection kept alive. (statements sent, statements the hub says are new, seconds sending)."""
    import orjson
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    sent = new = 0
    waited = 0.0
    files: list[bytes] = []

    def post() -> None:
        nonlocal new, waited
        body = b'{"format":"satchel-progress-batch","version":1,"files":[' + b",".join(files) + b"]}"
        started = time.perf_counter()
        connection.request("POST", "/api/progress", body, {"content-type": "application/json", **headers})
        response = connection.getresponse()
        answer = orjson.loads(response.read())
        waited += time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"the hub answered {response.status}: {str(answer)[:500]}")
        new += answer["new"]
        files.clear()

    size = 0
    for k in learners:
        for data in learner_files(k, each, lessons):
            text = orjson.dumps(data)
            if files and (size + len(text) > BATCH_BYTES or len(files) >= 1000):
                post()
                size = 0
            files.append(text)
            size += len(text)
            sent += len(data["statements"])
    if files:
        post()
    connection.close()
    return sent, new, waited


def add_schools(data: Path, schools: int) -> list[tuple[str, str]]:
    """`satchel hub schools add` for each school: [(school id, token)]; the hub becomes a central."""
    made = []
    for n in range(schools):
        added = subprocess.run([*HUB, "schools", "add", f"School {n:02}", "--data", str(data)], capture_output=True, text=True, check=True)
        made.append(re.search(r"School hub: (\S+)\nToken: (\S+)\n", added.stdout).groups())
    return made


def fill(port: int, credentials: list[tuple[str, str]], args, lessons: list[str]) -> dict:
    """Every learner's statements through POST /api/progress, `args.clients` processes at once."""
    each = max(1, args.statements // args.learners)
    school_count = max(1, len(credentials))
    by_school: dict[int, list[int]] = {}
    for k in range(args.learners):
        by_school.setdefault((k % args.classes) % school_count, []).append(k)
    # work in slices of a school's learners, so that the clients' batches come from many schools at once
    slices = [(school, learners[n:n + 50]) for school, learners in by_school.items() for n in range(0, len(learners), 50)]
    slices.sort(key=lambda item: (item[1][0] // 50 // school_count, item[0]))
    started = time.perf_counter()
    with ProcessPoolExecutor(args.clients) as pool:
        jobs = [pool.submit(upload_batches, port, basic(*credentials[school]) if credentials else {}, learners, each, lessons)
                for school, learners in slices]
        done = [job.result() for job in jobs]
    seconds = time.perf_counter() - started
    sent, new = sum(d[0] for d in done), sum(d[1] for d in done)
    return {"seconds": round(seconds, 1), "statements_sent": sent, "statements_new": new,
            "statements_per_second": round(new / seconds), "clients": args.clients}


def descendants(pid: int) -> list[int]:
    """pid and its processes' processes (the workers of `satchel hub --workers N`)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo.extend(int(child) for child in task.read_text().split())
    return found


class Memory:
    """Each hub process's RSS, sampled from /proc every 0.2 s: the peak per phase, and VmHWM."""

    def __init__(self, pid: int):
        self.pid, self.phase = pid, "start"
        self.peaks: dict[str, dict[int, float]] = {}
        self.hwm: dict[int, float] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def sample(self) -> None:
        for pid in descendants(self.pid):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            values = {line.split(":")[0]: int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith(("VmRSS", "VmHWM"))}
            if "VmRSS" not in values:
                continue
            peaks = self.peaks.setdefault(self.phase, {})
            peaks[pid] = max(peaks.get(pid, 0), values["VmRSS"])
            self.hwm[pid] = max(self.hwm.get(pid, 0), values["VmHWM"])

    def run(self) -> None:
        while not self.stopping.wait(0.2):
            self.sample()

    def stop(self) -> dict:
        self.sample()
        self.stopping.set()
        self.thread.join()
        mb = lambda per_pid: {str(pid): round(value, 1) for pid, value in sorted(per_pid.items())}  # noqa: E731
        return {"peak_rss_mb_by_phase": {phase: mb(peaks) for phase, peaks in self.peaks.items()}, "vm_hwm_mb": mb(self.hwm)}


def dashboard_pages(data: Path, learners: int, lessons: list[str]) -> dict[str, str]:
    from satchel.hub.store import Store
    store = Store.in_data_dir(data)
    try:
        some = [row[0] for row in store.query("SELECT id FROM learners WHERE curriculum = ? ORDER BY name LIMIT 20", CURRICULUM)]
        total = store.query("SELECT COUNT(*) FROM learners WHERE curriculum = ?", CURRICULUM)[0][0]
    finally:
        store.close()
    subject, base = lessons[-1].split("/")[0], f"_hub/{CURRICULUM}/"
    return {"curriculum": base, "page_2": f"{base}?page=2", "last_page": f"{base}?page={max(1, -(-total // 50))}",
            "not_started": f"{base}?subject={subject}&show=not_started", "stuck": f"{base}?subject={subject}&show=stuck",
            "sort_done": f"{base}?sort=done", "sort_last": f"{base}?sort=last",
            "questions": f"{base}questions?lesson={QUIZ_LESSON}", "questions_stuck": f"{base}questions?lesson={QUIZ_LESSON}&show=stuck&page=2",
            **{f"learner#{n}": f"{base}learner/{learner}" for n, learner in enumerate(some)}, "csv": f"{base}progress.csv"}


def teachers_at_once(hub: Hub, pages: dict[str, str], teachers: int, rounds: int) -> dict:
    """`teachers` threads, each signed in, fetch every page `rounds` times (each starting at
    another page): {page: p50, p95, bytes, requests}."""
    browsers = []
    for _ in range(teachers):
        browser = Browser(hub)
        assert browser.sign_in()[0] == 303, "the teacher could not sign in"
        browsers.append(browser)
    names = [name for name in pages if not name.startswith("learner#")] + ["learner"]
    learner_pages = [path for name, path in pages.items() if name.startswith("learner#")]
    times: dict[str, list[float]] = {name: [] for name in names}
    sizes: dict[str, int] = {}
    errors: list[str] = []

    def teacher(n: int, browser: Browser) -> None:
        for round_ in range(rounds):
            for step in range(len(names)):
                name = names[(n + step) % len(names)]
                path = learner_pages[(n + round_) % len(learner_pages)] if name == "learner" else pages[name]
                started = time.perf_counter()
                status, _, body = browser.get(path)
                times[name].append((time.perf_counter() - started) * 1000)
                if status != 200:
                    errors.append(f"{path}: {status}")
                sizes[name] = len(body.encode())

    threads = [threading.Thread(target=teacher, args=(n, browser)) for n, browser in enumerate(browsers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:5]
    out = {}
    for name in names:
        ordered = sorted(times[name])
        out[name] = {"p50_ms": round(statistics.median(ordered), 1), "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 1),
                     "bytes": sizes[name], "requests": len(ordered)}
    return {"pages": out, "seconds": round(time.perf_counter() - started, 1)}


class Explaining:
    """A store for hub/report.py that times each query, and on PostgreSQL keeps its EXPLAIN ANALYZE."""

    def __init__(self, store, postgresql: bool):
        self.store, self.postgresql, self.queries = store, postgresql, []

    def query(self, sql: str, *args) -> list[tuple]:
        started = time.perf_counter()
        rows = self.store.query(sql, *args)
        ms = (time.perf_counter() - started) * 1000
        plan = self.store.query(("EXPLAIN (ANALYZE, BUFFERS) " if self.postgresql else "EXPLAIN QUERY PLAN ") + sql, *args)
        self.queries.append({"ms": round(ms, 1), "sql": re.sub(r"(\?, )+\?", "?, ...", sql),
                             "plan": [" | ".join(map(str, row)) if not self.postgresql else row[0] for row in plan]})
        return rows

    def __getattr__(self, name):  # whatever else hub/report.py asks of its store
        return getattr(self.store, name)


def explain(data: Path, site: Path, pages: dict[str, str], postgresql: bool) -> dict:
    """Each page's queries, run again through hub/report.py's own functions: time and plan."""
    from urllib.parse import parse_qsl, urlsplit

    from satchel.hub import dashboard, exports
    from satchel.hub.report import PAGE_SIZE, Filters, build_report, learner_report, learner_rows, lesson_outline
    from satchel.hub.store import Store
    curriculum = json.loads((site / "satchel" / "curriculum.json").read_text(encoding="utf-8"))
    subjects = {subject["id"] for subject in curriculum["subjects"]}
    store = Store.in_data_dir(data)
    out = {}
    try:
        for name, path in pages.items():
            if name.startswith("learner#") and name != "learner#0":
                continue
            spy = Explaining(store, postgresql)
            if name == "csv":  # hub/exports.py's rows, as its child process reads them: every learner, then their cells 500 at a time
                lessons = [(lesson["id"], lesson["title"]) for lesson in lesson_outline(curriculum, "en")]
                exports.write_csv(exports.export_rows(spy, CURRICULUM, lessons, Filters()), io.StringIO())
            elif name.startswith("questions"):  # as hub/dashboard.py questions_page: a page of learners, one lesson's answers
                query = dict(parse_qsl(urlsplit(path).query))
                filters = Filters.of(query, subjects)
                ids = [lesson["id"] for lesson in lesson_outline(curriculum, "en") if not filters.subject or lesson["subject"] == filters.subject]
                _, rows = learner_rows(spy, CURRICULUM, ids, filters, PAGE_SIZE, (filters.page - 1) * PAGE_SIZE)
                Store.question_results(spy, CURRICULUM, [row[0] for row in rows], query["lesson"])
                Store.question_totals(spy, CURRICULUM, query["lesson"])
            elif name.startswith("learner#"):
                learner_report(spy, curriculum, "en", path.rsplit("/", 1)[1])
            else:  # as hub/dashboard.py curriculum_page: the report, then the store's other reads
                filters = Filters.of(dict(parse_qsl(urlsplit(path).query)), subjects)
                report = build_report(spy, curriculum, "en", filters)
                for method, extra in [("count_open_conflicts", ()), ("question_totals", ()),
                                      ("unverified_counts", ()), ("classes", (getattr(filters, "school", ""),))]:
                    getattr(Store, method)(spy, CURRICULUM, *extra)
                started = time.perf_counter()  # the grid's cells, made in Python (the answers are on the questions pages)
                dashboard.grid_cells(report, dashboard.strings("en"), "en")
                spy.queries.append({"ms": round((time.perf_counter() - started) * 1000, 1),
                                    "sql": "(Python) hub/dashboard.py grid_cells", "plan": [f"{len(report.learners)} learners"]})
            out[name.removesuffix("#0")] = {"total_ms": round(sum(q["ms"] for q in spy.queries), 1), "queries": spy.queries}
    finally:
        store.close()
    return out


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


@contextlib.contextmanager
def database(args):
    """The PostgreSQL URL to init the hub with (None: SQLite in the data directory)."""
    if args.postgresql is None:
        yield None
    elif args.postgresql:
        yield args.postgresql
    else:  # the tests' own throwaway server (Debian's binaries, in a temporary folder)
        from tests.conftest import new_database, running_postgresql
        with running_postgresql() as server:
            yield new_database(server, "scale")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    case = parser.add_mutually_exclusive_group()
    case.add_argument("--school", dest="case", action="store_const", const="school", help="one school on SQLite (the default)")
    case.add_argument("--national", dest="case", action="store_const", const="national", help="a central on PostgreSQL")
    parser.add_argument("--statements", type=int)
    parser.add_argument("--learners", type=int)
    parser.add_argument("--schools", type=int, help="school hubs with credentials at a central (1: a school hub, no central)")
    parser.add_argument("--classes", type=int)
    parser.add_argument("--clients", type=int, default=3, help="processes uploading at once")
    parser.add_argument("--teachers", type=int, default=10, help="signed-in teachers fetching pages at once")
    parser.add_argument("--rounds", type=int, default=10, help="times each teacher fetches every page")
    parser.add_argument("--workers", type=int, default=1, help="satchel hub --workers")
    parser.add_argument("--skip", nargs="+", default=[], metavar="PAGE",
                        help="pages the teachers leave out (e.g. csv: the HTML pages' figures without exports in the queue)")
    parser.add_argument("--postgresql", nargs="?", const="", metavar="URL",
                        help="PostgreSQL: an empty database's URL, or none to start a throwaway server (--national's default)")
    parser.add_argument("--explain", action="store_true", help="time each page's queries, with EXPLAIN ANALYZE on PostgreSQL")
    parser.add_argument("--keep", type=Path, help="fill and serve from this data directory's parent, kept after (for profiling)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "scale.json")
    args = parser.parse_args()
    args.case = args.case or "school"
    sizes = CASES[args.case]
    for key in ("statements", "learners", "schools", "classes"):
        if getattr(args, key) is None:
            setattr(args, key, sizes[key])
    if args.case == "national" and args.postgresql is None:
        args.postgresql = ""
    load = {"start": loadavg()}
    kept = contextlib.nullcontext(str(args.keep)) if args.keep else tempfile.TemporaryDirectory()
    with kept as tmp, database(args) as url:
        tmp = Path(tmp)
        tmp.mkdir(parents=True, exist_ok=True)
        site = tmp / "site"
        build(DEMO_CURRICULUM, site, show_progress=False)
        lessons = lessons_of(site)
        data = tmp / "data"
        subprocess.run([*HUB, "init", "--data", str(data), *(["--db", url] if url else [])], check=True, capture_output=True)
        credentials = add_schools(data, args.schools) if args.schools > 1 else []
        subprocess.run([*HUB, "set-password", "--data", str(data)], input=PASSWORD + "\n", text=True, check=True, capture_output=True)
        with (tmp / "hub.log").open("w") as log:
            hub = Hub([site], data, *(["--workers", str(args.workers)] if args.workers > 1 else []), stdout=log, stderr=log)
        memory = Memory(hub.process.pid)
        try:
            memory.phase = "fill"
            ingest = fill(hub.port, credentials, args, lessons)
            load["after_fill"] = loadavg()
            print(f"ingested {ingest['statements_new']:,} statements in {ingest['seconds']} s: {ingest['statements_per_second']:,}/s "
                  f"({args.clients} clients); load average {load['after_fill']}", flush=True)
            pages = {name: path for name, path in dashboard_pages(data, args.learners, lessons).items()
                     if name.split("#")[0] not in args.skip}
            memory.phase = "dashboard"
            alone = teachers_at_once(hub, pages, 1, 3)["pages"]  # each page's own cost, no queue
            served = teachers_at_once(hub, pages, args.teachers, args.rounds)
            for name, figures in served["pages"].items():
                figures["alone_p50_ms"] = alone[name]["p50_ms"]
            rss = memory.stop()
            load["end"] = loadavg()
        finally:
            if memory.thread.is_alive():
                memory.stop()
            hub.stop()
        result = report(args, url, ingest, served, rss, load)
        if args.explain:  # after the figures are out: hub/ may be mid-edit, and an error here loses nothing
            try:
                queries = explain(data, site, pages, url is not None)
            except Exception as error:
                print(f"--explain failed: {error!r}")
                return
            result["queries"] = queries
            slowest = max(queries, key=lambda name: queries[name]["total_ms"])
            print(f"slowest page's queries ({slowest}): " + "; ".join(f"{q['ms']} ms" for q in queries[slowest]["queries"]))
            args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


def report(args, url, ingest: dict, served: dict, rss: dict, load: dict) -> dict:
    """Print the figures and write them to args.out; the result."""
    target = CASES[args.case]["target_p95_ms"]
    worst = max(rss["vm_hwm_mb"].values())
    result = {"case": args.case, "database": "postgresql" if url is not None else "sqlite",
              "sizes": {"statements": ingest["statements_new"], "learners": args.learners, "schools": args.schools, "classes": args.classes},
              "ingest": ingest, "teachers": args.teachers, "rounds": args.rounds, "workers": args.workers, "skipped": args.skip, **served,
              "hub_memory": rss, "hub_peak_rss_mb": worst, "load_average": load,
              "targets": {"p95_ms": target, "rss_mb_per_worker": TARGET_RSS_MB,
                          "met": all(page["p95_ms"] <= target for page in served["pages"].values()) and worst <= TARGET_RSS_MB}}
    for name, figures in served["pages"].items():
        print(f"{name}: p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms (alone: p50 {figures['alone_p50_ms']} ms), "
              f"{figures['bytes']:,} bytes"
              + ("" if figures["p95_ms"] <= target else f"  (over {target} ms)"))
    print(f"{ingest['statements_new']:,} statements, {args.learners:,} learners ({result['database']}), "
          f"{ingest['statements_per_second']:,} statements/s ingested; hub peak RSS {worst} MB "
          f"({', '.join(f'{pid}: {mb} MB' for pid, mb in rss['vm_hwm_mb'].items())}); load average {load['end']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
