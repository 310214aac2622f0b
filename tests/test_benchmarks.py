"""Smoke runs of the benchmarks at a tiny size: they run to the end, and print their figures.
(The figures themselves mean nothing at this size; benchmarks/*.py say how to measure.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(script: str, *args: str, timeout: int = 120) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_hub_uploads_signed_against_unsigned(tmp_path):
    """The uploads part alone (no nginx needed): signed and unsigned files on SQLite and PostgreSQL."""
    out = tmp_path / "hub.json"
    printed = run("hub.py", "--only", "uploads", "--uploads", "20", "--rounds", "1", "--clients", "2", "--out", str(out))
    for db in ("sqlite", "postgresql"):
        assert f"signed/unsigned {db}: " in printed
    result = json.loads(out.read_text(encoding="utf-8"))
    compared = result["uploads_signed_against_unsigned"]
    for db in ("sqlite", "postgresql"):
        assert compared[db]["signed"]["per_second"] > 0 and compared[db]["unsigned"]["per_second"] > 0
        assert compared[db]["signed_to_unsigned"] > 0
        assert result[f"uploads_{db}"] == compared[db]["unsigned"]


@pytest.mark.browser
def test_progress_history_and_signing(tmp_path):
    """Both parts of benchmarks/progress.py in Chromium: a small history, and the learner key's costs."""
    out = tmp_path / "progress.json"
    printed = run("progress.py", "--lessons", "5", "--events", "100", "--runs", "1", "--out", str(out))
    assert "Home page progress with 100 events: " in printed
    assert "Learner keys at 4x throttle: a key " in printed
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["import_new_ms"] > 0
    signing = result["signing"]
    for key in ("key_ms", "ids_50_ms", "sign_50_ms", "stringify_50_ms", "sign_500_ms", "stringify_500_ms"):
        assert signing[key] > 0, key
    assert signing["bytes_500"] > signing["bytes_50"]


@pytest.mark.browser
def test_lighthouse_home(tmp_path):
    """benchmarks/lighthouse.py on the demo's home, one round: Lighthouse (installed once) runs in
    Chromium against the hub and its scores and metrics come back."""
    out = tmp_path / "lighthouse.json"
    printed = run("lighthouse.py", "--pages", "/", "--rounds", "1", "--json", str(out), timeout=180)
    assert "Lighthouse 12.2.3, mobile, simulated throttling, median of 1:" in printed
    result = json.loads(out.read_text(encoding="utf-8"))
    home = result["pages"]["/"]["median"]
    for category in ("performance", "accessibility", "best-practices", "seo"):
        assert 0 <= home[category] <= 100, category
    assert home["lcp_ms"] > 0 and home["bytes"] > 10_000 and home["cls"] >= 0 and home["tbt_ms"] >= 0
    warnings = result["pages"]["/"]["runs"][0]["warnings"]
    assert warnings == [], warnings
