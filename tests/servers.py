"""Other servers the tests run on loopback (nginx, Caddy), each as a process that is not root, from
a folder of its own: its configuration, pid, logs and temporary files are there, none of the
system's are touched."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

# nginx's main configuration, everything in {root}; {http} goes inside its http block.
NGINX_MAIN = """worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections {connections}; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
{http}
}}
"""


def nginx_conf(root: Path, http: str, connections: int = 256) -> str:
    return NGINX_MAIN.format(root=root, http=http, connections=connections)


def nginx_command(root: Path) -> list[str]:
    """nginx with `root` as its prefix and `root`/nginx.conf as its configuration."""
    return [NGINX, "-p", str(root), "-c", str(root / "nginx.conf"), "-e", str(root / "error.log")]


def as_nobody(root: Path) -> list[str]:
    """What to put before a server's command so that it never runs as root: when the tests run as
    root, `root` is given to nobody and the server runs as nobody."""
    if os.geteuid() != 0:
        return []
    subprocess.run(["chown", "-R", "nobody", str(root)], check=True)
    return ["runuser", "-u", "nobody", "--"]


def wait_for_port(port: int, process: subprocess.Popen, what: str, log=lambda: "") -> None:
    """Until `process` answers on the loopback `port`; raises, with its output and `log()`, if it
    stops or does not answer within 30 s."""
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                if process.poll() is None:
                    process.terminate()
                raise RuntimeError(f"{what} did not start: {process.communicate()} {log()}") from None
            time.sleep(0.05)
