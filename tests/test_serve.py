"""`satchel serve`: authors preview the curriculum, and a saved change shows up without a restart."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode("utf-8")
    except OSError:
        return None


def wait_for(condition, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("timed out")


def test_serve_rebuilds_when_a_lesson_is_saved(demo_copy):
    port = free_port()
    url = f"http://127.0.0.1:{port}/fr/science/water-cycle/where-is-water/"
    server = subprocess.Popen([sys.executable, "-m", "satchel.builder.cli", "serve", str(demo_copy), "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = wait_for(lambda: fetch(url))
        assert '<html lang="fr" dir="ltr">' in first and "Un paragraphe ajouté" not in first
        lesson = demo_copy / "fr" / "science" / "water-cycle" / "where-is-water.md"
        lesson.write_text(lesson.read_text(encoding="utf-8") + "\nUn paragraphe ajouté.\n", encoding="utf-8")
        wait_for(lambda: "Un paragraphe ajouté" in (fetch(url) or ""))
    finally:
        server.terminate()
        output = server.communicate(timeout=20)[0]
    assert f"on http://127.0.0.1:{port}/" in output, output
    assert sorted(p.name for p in demo_copy.parent.iterdir()) == ["demo"], "nothing is left beside the curriculum"
