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


def test_build_against_mkdocs(tmp_path):
    """benchmarks/build.py at 3 lessons x 3 languages: both builds run, every figure is printed and positive."""
    out = tmp_path / "build.json"
    printed = run("build.py", "--sizes", "3", "--repeat", "1", "--out", str(out), timeout=90)
    for figure in ("time ratio ", "RSS ratio ", "peak RSS of the process tree (sum)", " chrome ", "first-install shell ", "per language: "):
        assert figure in printed, figure
    row = json.loads(out.read_text(encoding="utf-8"))["3"]
    assert row["time_ratio"] > 0 and row["rss_ratio"] > 0
    # the sum over the tree holds at least its largest process (Python, beside the Node jobs)
    assert row["satchel_peak_rss_tree_mb"] >= row["satchel_peak_rss_largest_process_mb"] > 10
    lesson = row["satchel_lesson"]
    assert lesson["page_brotli"] > lesson["content_brotli"] > 100
    assert lesson["chrome_brotli"] == lesson["page_brotli"] - lesson["content_brotli"]
    assert row["shell_brotli"] > 1000 and row["shell_files"] > 3
    assert set(row["languages"]) == {"en", "fr", "ar"}
    assert all(figures["raw"] > figures["brotli"] > 0 for figures in row["languages"].values())


@pytest.mark.browser
def test_update_costs(tmp_path):
    """benchmarks/update.py at 3 lessons: installing a subject and three updates, each with bytes sent."""
    printed = run("update.py", "--lessons", "3", "--out", str(tmp_path / "update.json"), timeout=90)
    for step in ("whole_language", "install_subject", "update_1", "update_10", "update_100"):
        assert step in printed, step
    result = json.loads(printed[printed.index("\n{") + 1:])
    assert result["install_subject"]["bytes"] > 0 and result["whole_language"]["bytes"] > 0
    assert result["update_1"]["changed_bytes"] > 0 and result["update_1"]["bytes"] > 0


@pytest.mark.browser
def test_phone_first_paint(tmp_path):
    """benchmarks/phone.py at 3 lessons, one run, lightly throttled: both builds are served by the hub
    through the throttling proxy, and paints, service worker and bytes relayed come back positive."""
    out = tmp_path / "phone.json"
    printed = run("phone.py", "--lessons", "3", "--runs", "1", "--cpu", "1", "--kbps", "4000", "--latency", "20", "--out", str(out),
                  timeout=90)
    assert "home first paint " in printed and "precache complete " in printed and "relayed until then " in printed
    builds = json.loads(out.read_text(encoding="utf-8"))["builds"]
    assert len(builds) == 2 and sum(build["default"] for build in builds.values()) == 1
    for build in builds.values():
        median = build["median"]
        assert 0 < median["first_paint_ms"] <= median["first_contentful_paint_ms"], median
        assert 0 < median["sw_ready_ms"] <= median["precached_ms"], median
        assert median["bytes"] > 10_000 and median["bytes_down"] > median["bytes_up"] > 0 and median["requests"] > 3, median
