"""Benchmark: the hub on loopback, run as `satchel hub` (uvicorn, one process), against nginx
(Debian's package, one worker process) serving the same bundle, in the same run.

    .venv/bin/python benchmarks/hub.py [--requests 4000] [--uploads 2000] [--clients 8] [--rounds 5] [--only uploads]
        [--out benchmarks/results/hub.json]

- static: requests/s and p50/p99 latency of a lesson page and of a 5 MB media file, from the hub
  serving the bundle's folder, from the hub serving a `.satchel` archive of it, and from nginx,
  and each one's share of nginx's rate: the median of 3 rounds that take the servers in turn;
- uploads/s of progress files of 50 statements (each a new learner's, so every statement is
  stored) on SQLite and on PostgreSQL (a server the benchmark starts, as the tests do), unsigned
  (as before learner keys) against signed by the learner's device key (tests/progress_files.py
  `Learner`: the hub also binds the new learner's key, checks that the 50 statement ids are bound
  to it and verifies the ECDSA signature), and the ratio signed/unsigned (goal >= 0.9: signature
  checks cost at most 10 %). The signed bodies are made before timing: signing is the device's
  cost (benchmarks/progress.py measures it), not the hub's. `--rounds` rounds take the two kinds
  in turn (in alternating order), each on a fresh hub and database; each one's median round is
  reported. `--only uploads` skips the static part (and nginx).
Clients are `--clients` processes, each with a keep-alive connection. The machine's cores are
shared by clients and server, as on a hub that is also a hotspot. Results also go to
benchmarks/results/hub.json (or --out).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from satchel.builder import DEMO_CURRICULUM  # noqa: E402
from satchel.builder.archive import pack  # noqa: E402
from satchel.builder.build import build  # noqa: E402
from satchel.hub.store import Store  # noqa: E402

from tests.conftest import free_port, new_database, running_postgresql  # noqa: E402
from tests.progress_files import Learner, progress_file  # noqa: E402
from tests.test_hub import Hub  # noqa: E402

LESSON = "/mathematics/fractions/what-is-a-fraction/"
MEDIA = "/media/film-5mb.bin"
NGINX = "/usr/sbin/nginx"
ROUNDS = 3


def client(args) -> list[float]:
    """One client process: its jobs in order over one keep-alive connection; the latencies."""
    port, jobs = args
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    latencies = []
    for method, path, body in jobs:
        start = time.perf_counter()
        connection.request(method, path, body=body, headers={"content-type": "application/json"} if body else {})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {response.status}")
        latencies.append(time.perf_counter() - start)
    return latencies


def load(port: int, jobs: list, clients: int) -> dict:
    shares = [(port, jobs[i::clients]) for i in range(clients)]
    with Pool(clients) as pool:
        start = time.perf_counter()
        latencies = sorted(x for part in pool.map(client, shares) for x in part)
        seconds = time.perf_counter() - start
    return {"per_second": round(len(jobs) / seconds, 1), "p50_ms": round(statistics.median(latencies) * 1000, 2),
            "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000, 2)}


def start_nginx(site: Path, folder: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    temp = " ".join(f"{name}_temp_path {folder / name};" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    temp = temp.replace(f"client_body_temp_path {folder / 'client_body'}", f"client_body_temp_path {folder / 'body'}")
    config = folder / "nginx.conf"
    config.write_text(f"""
{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
daemon off;
pid {folder / 'nginx.pid'};
error_log {folder / 'error.log'};
events {{ worker_connections 1024; }}
http {{
  include /etc/nginx/mime.types;
  types {{ application/manifest+json webmanifest; }}
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  {temp}
  server {{ listen 127.0.0.1:{port}; root {site}; index index.html; etag on; }}
}}
""", encoding="utf-8")
    process = subprocess.Popen([NGINX, "-c", str(config), "-p", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(100):
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/")
            return process, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nginx did not start: {process.stderr.read().decode()}")


def static(site: Path, tmp: Path, args, result: dict) -> None:
    """The static part: the hub (from the folder, from an archive) against nginx, into `result`."""
    pack(site, tmp / "site.satchel")
    hub, from_archive = Hub([site], tmp / "hub-static"), Hub([tmp / "site.satchel"], tmp / "hub-archive")
    nginx, nginx_port = start_nginx(site, tmp / "nginx")
    try:
        for name, path, count in (("lesson_page", LESSON, args.requests), ("media_5mb", MEDIA, max(50, args.requests // 10))):
            jobs = [("GET", path, None)] * count
            # Rounds interleave the three servers, so that a noisy moment of the machine does
            # not fall on one of them only; each one's median round is reported.
            rounds = {"hub": [], "hub_archive": [], "nginx": []}
            for _ in range(ROUNDS):
                for server, port in (("hub", hub.port), ("hub_archive", from_archive.port), ("nginx", nginx_port)):
                    rounds[server].append(load(port, jobs, args.clients))
            ours, archived, theirs = (sorted(rounds[s], key=lambda r: r["per_second"])[ROUNDS // 2] for s in rounds)
            result[name] = {"hub": ours, "hub_archive": archived, "nginx": theirs,
                            "hub_share_of_nginx": round(ours["per_second"] / theirs["per_second"], 2),
                            "hub_archive_share_of_nginx": round(archived["per_second"] / theirs["per_second"], 2)}
            print(name, json.dumps(result[name]), flush=True)
    finally:
        hub.stop()
        from_archive.stop()
        nginx.terminate()
        nginx.wait()
    shutil.rmtree(tmp / "nginx", ignore_errors=True)


def uploads(site: Path, data: Path, count: int, clients: int, db: str | None = None, workers: int = 1,
            files: list[bytes] | None = None, signed: bool = False) -> dict:
    """Uploads/s of `files` (by default `count` new unsigned ones) to a fresh hub on `data` (and `db`);
    then checks that every statement was stored (and, when `signed`, verified, with each learner's
    key bound)."""
    if files is None:
        files = [json.dumps(progress_file(50, name=f"Learner {n}")).encode() for n in range(count)]
    hub = Hub([site], data, "--workers", str(workers), db=db)
    try:
        result = load(hub.port, [("POST", "/api/progress", body) for body in files], clients)
    finally:
        hub.stop()
    store = Store.in_data_dir(data)
    try:
        (stored, verified), = store.query("SELECT COUNT(*), COALESCE(SUM(verified), 0) FROM statements")
        (keys,), = store.query("SELECT COUNT(*) FROM learner_keys")
    finally:
        store.close()
    assert stored == 50 * len(files), f"stored {stored} statements, expected {50 * len(files)}"
    if signed:
        assert verified == stored and keys == len(files), f"{verified} of {stored} statements verified, {keys} keys bound"
    else:
        assert verified == 0 and keys == 0, f"unsigned files: {verified} statements verified, {keys} keys bound"
    return result


def signed_against_unsigned(site: Path, tmp: Path, count: int, clients: int, rounds: int, server: str) -> dict:
    """Uploads/s of `count` signed files against `count` unsigned ones, on SQLite and on the
    PostgreSQL `server`: `rounds` rounds, each running both kinds on both databases (in turn, the
    kind first in a round alternating), each run on a fresh hub and database."""
    print(f"Making {count} signed and {count} unsigned files of 50 statements...", flush=True)
    bodies = {"unsigned": [json.dumps(progress_file(50, name=f"Learner {n}")).encode() for n in range(count)], "signed": []}
    for n in range(count):
        learner = Learner(f"Learner {n}")
        bodies["signed"].append(learner.sign(learner.file(50)))
    runs: dict = {(db, kind): [] for db in ("sqlite", "postgresql") for kind in bodies}
    for r in range(rounds):
        for db in ("sqlite", "postgresql"):
            for kind in ("unsigned", "signed") if r % 2 == 0 else ("signed", "unsigned"):
                name = f"{db}-{kind}-{r}"
                url = new_database(server, name.replace("-", "_")) if db == "postgresql" else None
                runs[db, kind].append(uploads(site, tmp / f"hub-{name}", count, clients, url, files=bodies[kind], signed=kind == "signed"))
                shutil.rmtree(tmp / f"hub-{name}", ignore_errors=True)
                if url:
                    drop_database(server, name.replace("-", "_"))
        print(f"round {r + 1}/{rounds}:", ", ".join(f"{db} {kind} {runs[db, kind][-1]['per_second']}/s" for db, kind in runs), flush=True)
    result = {"files": count, "statements_per_file": 50, "rounds": rounds,
              "bytes_per_file": {kind: round(statistics.mean(map(len, bodies[kind]))) for kind in bodies}}
    for db in ("sqlite", "postgresql"):
        median = {kind: sorted(runs[db, kind], key=lambda run: run["per_second"])[rounds // 2] for kind in bodies}
        result[db] = {**median, "signed_to_unsigned": round(median["signed"]["per_second"] / median["unsigned"]["per_second"], 2),
                      "rounds_per_second": {kind: [run["per_second"] for run in runs[db, kind]] for kind in bodies}}
    return result


def drop_database(server_url: str, name: str) -> None:
    import psycopg
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as db:
        db.execute(f'DROP DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000, help="lesson page requests (media: a tenth)")
    parser.add_argument("--uploads", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of signed against unsigned uploads")
    parser.add_argument("--only", choices=("static", "uploads"), help="run one part only (uploads: no nginx needed)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "hub.json", help="where the results go")
    args = parser.parse_args()
    if args.only != "uploads" and not Path(NGINX).exists():
        sys.exit("benchmarks/hub.py compares with nginx: install Debian's nginx (apt-get install nginx-light), "
                 "or measure the uploads only (--only uploads)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        site = tmp / "site"
        build(DEMO_CURRICULUM, site, show_progress=False)
        (site / "media").mkdir()
        (site / "media" / "film-5mb.bin").write_bytes(os.urandom(5 * 1000 * 1000))
        os.chmod(tmp, 0o755)
        result: dict = {"clients": args.clients, "requests": args.requests, "uploads": args.uploads}
        if args.only != "uploads":
            static(site, tmp, args, result)
        if args.only != "static":
            result["uploads_sqlite_2_workers"] = uploads(site, tmp / "hub-sqlite-2", args.uploads, args.clients, workers=2)
            print("uploads_sqlite_2_workers", json.dumps(result["uploads_sqlite_2_workers"]), flush=True)
            with running_postgresql() as server:
                compared = signed_against_unsigned(site, tmp, args.uploads, args.clients, args.rounds, server)
            result["uploads_signed_against_unsigned"] = compared
            for db in ("sqlite", "postgresql"):
                # As before learner keys: unsigned files (now the median of the rounds).
                result[f"uploads_{db}"] = compared[db]["unsigned"]
                result[f"uploads_{db}_signed"] = compared[db]["signed"]
                print(f"uploads_{db}", json.dumps(compared[db]["unsigned"]), flush=True)
                print(f"uploads_{db}_signed", json.dumps(compared[db]["signed"]), flush=True)
            for db in ("sqlite", "postgresql"):
                c = compared[db]
                print(f"signed/unsigned {db}: {c['signed']['per_second']} / {c['unsigned']['per_second']} uploads/s "
                      f"= {c['signed_to_unsigned']} (goal >= 0.9; median of {args.rounds} rounds of {args.uploads} files "
                      f"of 50 statements)", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
