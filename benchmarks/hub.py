"""Benchmark: the hub on loopback, run as `satchel hub` (uvicorn, one process) on the demo bundle.

    .venv/bin/python benchmarks/hub.py [--uploads 2000] [--requests 3000] [--clients 16]

Reports requests/s and p50/p99 latency of a lesson page (GET), and uploads/s of progress files of
50 statements each on SQLite (each a new learner's, so every statement is stored), with
`--clients` concurrent clients over keep-alive connections. Results also go to
benchmarks/results/hub.json. (The comparison with nginx and PostgreSQL comes with those parts of
the hub.)
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from builder import DEMO_CURRICULUM  # noqa: E402
from builder.build import build  # noqa: E402
from tests.progress_files import progress_file  # noqa: E402
from tests.test_hub import Hub  # noqa: E402

LESSON = "mathematics/fractions/what-is-a-fraction/"


def run(port: int, jobs: list[tuple[str, str, bytes | None]], clients: int) -> dict:
    """Send (method, path, body) jobs from `clients` threads, each on its own keep-alive connection."""
    local = threading.local()
    latencies: list[float] = []

    def one(job) -> int:
        if not hasattr(local, "connection"):
            local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        method, path, body = job
        start = time.perf_counter()
        local.connection.request(method, path, body=body, headers={"content-type": "application/json"} if body else {})
        response = local.connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - start)
        return response.status

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        statuses = list(pool.map(one, jobs))
    seconds = time.perf_counter() - start
    assert all(s == 200 for s in statuses), {s for s in statuses}
    latencies.sort()
    return {"per_second": round(len(jobs) / seconds, 1), "p50_ms": round(statistics.median(latencies) * 1000, 2),
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        site = tmp / "site"
        build(DEMO_CURRICULUM, site, show_progress=False)
        files = [json.dumps(progress_file(50, name=f"Learner {n}")).encode() for n in range(args.uploads)]
        hub = Hub([site], tmp / "data")
        try:
            result = {"clients": args.clients,
                      "lesson_page": run(hub.port, [("GET", "/" + LESSON, None)] * args.requests, args.clients),
                      "uploads_sqlite": run(hub.port, [("POST", "/api/progress", body) for body in files], args.clients)}
        finally:
            hub.stop()
        assert len(hub.stored()) == 50 * args.uploads
    out = HERE / "results" / "hub.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
