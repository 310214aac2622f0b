"""Benchmark: the hub on loopback, run as `satchel hub` (uvicorn, one process), against nginx
(Debian's package, one worker process) serving the same bundle, in the same run.

    .venv/bin/python benchmarks/hub.py [--requests 4000] [--uploads 2000] [--clients 8]

- static: requests/s and p50/p99 latency of a lesson page and of a 5 MB media file, from the hub
  serving the bundle's folder, from the hub serving a `.satchel` archive of it, and from nginx,
  and each one's share of nginx's rate: the median of 3 rounds that take the servers in turn;
- uploads/s of progress files of 50 statements (each a new learner's, so every statement is
  stored) on SQLite and on PostgreSQL (a server the benchmark starts, as the tests do).
Clients are `--clients` processes, each with a keep-alive connection. The machine's cores are
shared by clients and server, as on a hub that is also a hotspot. Results also go to
benchmarks/results/hub.json.
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

from builder import DEMO_CURRICULUM  # noqa: E402
from builder.archive import pack  # noqa: E402
from builder.build import build  # noqa: E402
from tests.conftest import free_port, new_database, running_postgresql  # noqa: E402
from tests.progress_files import progress_file  # noqa: E402
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


def uploads(site: Path, data: Path, count: int, clients: int, db: str | None = None, workers: int = 1) -> dict:
    files = [json.dumps(progress_file(50, name=f"Learner {n}")).encode() for n in range(count)]
    hub = Hub([site], data, "--workers", str(workers), db=db)
    try:
        result = load(hub.port, [("POST", "/api/progress", body) for body in files], clients)
    finally:
        hub.stop()
    stored = len(hub.stored())
    assert stored == 50 * count, f"stored {stored} statements, expected {50 * count}"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000, help="lesson page requests (media: a tenth)")
    parser.add_argument("--uploads", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    if not Path(NGINX).exists():
        sys.exit("benchmarks/hub.py compares with nginx: install Debian's nginx (apt-get install nginx-light)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        site = tmp / "site"
        build(DEMO_CURRICULUM, site, show_progress=False)
        (site / "media").mkdir()
        (site / "media" / "film-5mb.bin").write_bytes(os.urandom(5 * 1000 * 1000))
        os.chmod(tmp, 0o755)
        result: dict = {"clients": args.clients, "requests": args.requests, "uploads": args.uploads}
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
        result["uploads_sqlite"] = uploads(site, tmp / "hub-sqlite", args.uploads, args.clients)
        print("uploads_sqlite", json.dumps(result["uploads_sqlite"]), flush=True)
        result["uploads_sqlite_2_workers"] = uploads(site, tmp / "hub-sqlite-2", args.uploads, args.clients, workers=2)
        print("uploads_sqlite_2_workers", json.dumps(result["uploads_sqlite_2_workers"]), flush=True)
        with running_postgresql() as server:
            result["uploads_postgresql"] = uploads(site, tmp / "hub-pg", args.uploads, args.clients, new_database(server, "bench"))
        print("uploads_postgresql", json.dumps(result["uploads_postgresql"]), flush=True)
        shutil.rmtree(tmp / "nginx", ignore_errors=True)
    out = HERE / "results" / "hub.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
