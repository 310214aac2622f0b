"""A tiny run of benchmarks/packs.py (a few lessons, a fast link), so that it cannot break unseen."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
DESIGNS = ("files_3", "files_6", "files_8", "packed", "packed_gzip")


def test_the_packs_benchmark_runs_and_prints_its_figures(tmp_path):
    out = tmp_path / "packs.json"
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "packs.py"), "--lessons", "10", "--kbit", "20000",
                          "--latency-ms", "20", "--compress", "--out", str(out)],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    printed = json.loads(run.stdout[run.stdout.index("\n{") + 1:])
    assert printed == json.loads(out.read_text(encoding="utf-8"))
    for design in DESIGNS:
        figures = printed[design]
        assert figures["seconds"] > 0 and figures["ratio"] > 0, design
        assert figures["files"] > 0 and figures["bytes"] > 0 and figures["requests"] > 0, design
    assert printed["files_3"]["ratio"] == 1.0
    assert printed["files_6"]["files"] == printed["packed"]["files"] == printed["packed_gzip"]["files"], "every design stores the same files"
