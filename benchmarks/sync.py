"""Benchmark: `satchel hub sync` from one school hub, statements/s forwarded on loopback, both hubs
on SQLite: to a central hub (POST /api/progress), and to an xAPI LRS (Ralph, as the tests run it).

    .venv/bin/python benchmarks/sync.py [--learners 1000] [--each 50] [--ralph 10000] [--out benchmarks/results/sync.json]

- central: hub/upstream.py as it is (one kept-alive connection, batches of many learners' files
  of up to 1 MB), against, in the same run and on a copy of the same school hub, the path it
  replaced (kept here only: one POST per learner's file, each on a new connection, 500 statements
  read at a time);
- ralph: hub/upstream.py to Ralph (xAPI batches of up to 1 MB, each statement checked against
  xAPI 2.0 first), with the first `--ralph` statements of the school hub. Ralph's file backend
  reads its whole file on every POST: its figure is Ralph's more than ours.
Each run's statements are checked to have all arrived. Results also go to benchmarks/results/sync.json.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from satchel.builder import DEMO_CURRICULUM  # noqa: E402
from satchel.builder.build import build  # noqa: E402
from satchel.hub.store import Store, now  # noqa: E402
from satchel.hub.upstream import forward  # noqa: E402

from tests.conftest import running_ralph  # noqa: E402
from tests.progress_files import progress_file  # noqa: E402
from tests.test_hub import Hub  # noqa: E402

HUB = [sys.executable, "-m", "satchel.builder.cli", "hub"]


def school_hub(site: Path, data: Path, learners: int, each: int) -> int:
    """A school hub holding `learners` learners' files of `each` statements, uploaded as devices do."""
    hub = Hub([site], data)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=60)
        for n in range(learners):
            connection.request("POST", "/api/progress", json.dumps(progress_file(each, name=f"Learner {n}")).encode(),
                               {"content-type": "application/json"})
            response = connection.getresponse()
            assert response.status == 200, response.read()
            response.read()
        connection.close()
    finally:
        hub.stop()
    return learners * each


def old_forward(store: Store, upstream: str, user: str, password: str) -> int:
    """The path before batches, as it was (for the baseline only): 500 statements read at a time,
    one POST per learner's file, each on a new connection (urllib)."""
    auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    sent = 0
    while True:
        rows = store.query("SELECT id, curriculum, learner, body, source FROM statements s WHERE forwarded IS NULL "
                           "AND NOT EXISTS (SELECT 1 FROM upstream_quarantine q WHERE q.id = s.id) ORDER BY received, id LIMIT ?", 500)
        if not rows:
            return sent
        groups = defaultdict(list)
        for row in rows:
            groups[(row[1], row[2])].append(row)
        for (curriculum, learner), group in groups.items():
            name, colour, picture = store.query("SELECT name, colour, picture FROM learners WHERE curriculum = ? AND id = ?",
                                                curriculum, learner)[0]
            store.query("SELECT key FROM learner_keys WHERE curriculum = ? AND learner = ? "
                        "ORDER BY CASE how WHEN 'derived' THEN 0 ELSE 1 END, added LIMIT 1", curriculum, learner)
            data = {"format": "satchel-progress", "version": 2, "curriculum": {"id": curriculum}, "exported": now(),
                    "profile": {"id": learner, "name": name, "colour": colour, "picture": picture},
                    "statements": [json.loads(row[3]) for row in group]}
            request = urllib.request.Request(upstream, data=json.dumps(data, ensure_ascii=False).encode(), method="POST",
                                             headers={"content-type": "application/json", "authorization": auth})
            with urllib.request.urlopen(request, timeout=60) as response:
                assert response.status == 200
            store.mark_forwarded([row[0] for row in group], now())
            sent += len(group)


def to_central(site: Path, tmp: Path, school: Path, name: str, how) -> dict:
    """Statements/s from a copy of `school` to a fresh central, forwarded by `how`."""
    data, central_data = tmp / f"school-{name}", tmp / f"central-{name}"
    shutil.copytree(school, data)
    subprocess.run([*HUB, "init", "--data", str(central_data)], check=True, capture_output=True)
    issued = subprocess.run([*HUB, "schools", "add", "Lycée", "--data", str(central_data)], capture_output=True, text=True, check=True).stdout
    user, token = re.search(r"School hub: (\S+)\nToken: (\S+)\n", issued).groups()
    central = Hub([site], central_data)
    store = Store.in_data_dir(data)
    try:
        start = time.perf_counter()
        sent = how(store, central.url + "api/progress", user, token)
        seconds = time.perf_counter() - start
    finally:
        store.close()
        central.stop()
    held = Store.in_data_dir(central_data)
    (count,), = held.query("SELECT COUNT(*) FROM statements")
    held.close()
    return {"statements": sent, "seconds": round(seconds, 2), "per_second": round(sent / seconds), "central_holds": count}


def to_ralph(tmp: Path, school: Path, statements: int) -> dict:
    """Statements/s from a copy of `school` (its first `statements`) to Ralph."""
    data = tmp / "school-ralph"
    shutil.copytree(school, data)
    store = Store.in_data_dir(data)
    store.db.execute("UPDATE statements SET forwarded = '2000-01-01T00:00:00Z' WHERE id NOT IN "
                     "(SELECT id FROM statements ORDER BY received, id LIMIT ?)", (statements,))
    with running_ralph(tmp / "ralph") as (url, user, password):
        start = time.perf_counter()
        done = forward(store, url, user, password)
        seconds = time.perf_counter() - start
        request = urllib.request.Request(url + "?limit=1", headers={"x-experience-api-version": "2.0.0", "authorization":
                                         "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()})
        with urllib.request.urlopen(request, timeout=60) as response:
            assert json.loads(response.read())["statements"], "Ralph holds the statements"
    store.close()
    return {"statements": done.sent, "quarantined": done.quarantined, "posts": done.posts, "seconds": round(seconds, 2),
            "per_second": round(done.sent / seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=1000)
    parser.add_argument("--each", type=int, default=50, help="statements per learner")
    parser.add_argument("--ralph", type=int, default=10000, help="statements forwarded to Ralph (0: none)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "sync.json", help="where the results go")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        site = tmp / "site"
        build(DEMO_CURRICULUM, site, show_progress=False)
        school = tmp / "school"
        total = school_hub(site, school, args.learners, args.each)
        result: dict = {"learners": args.learners, "statements_each": args.each, "statements": total}

        def batched(store, url, user, password):
            return forward(store, url, user, password).sent

        result["central"] = to_central(site, tmp, school, "batched", batched)
        print("central", json.dumps(result["central"]), flush=True)
        result["central_baseline_one_post_per_learner"] = to_central(site, tmp, school, "baseline", old_forward)
        print("central_baseline_one_post_per_learner", json.dumps(result["central_baseline_one_post_per_learner"]), flush=True)
        for key in ("central", "central_baseline_one_post_per_learner"):
            assert result[key]["central_holds"] == total, f"{key}: the central holds {result[key]['central_holds']} of {total}"
        result["central_speedup"] = round(result["central"]["per_second"] / result["central_baseline_one_post_per_learner"]["per_second"], 1)
        if args.ralph:
            result["ralph"] = to_ralph(tmp, school, min(args.ralph, total))
            print("ralph", json.dumps(result["ralph"]), flush=True)
            assert result["ralph"]["statements"] == min(args.ralph, total), result["ralph"]
    print(f"hub -> central: {result['central']['per_second']:,} statements/s (one post per learner, new connections: "
          f"{result['central_baseline_one_post_per_learner']['per_second']:,}/s; x{result['central_speedup']})"
          + (f"; hub -> Ralph: {result['ralph']['per_second']:,} statements/s" if args.ralph else ""), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
