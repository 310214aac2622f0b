"""A tiny run of benchmarks/search.py (a few lessons, one run, no throttle), so that it cannot break
unseen: Satchel, material's search and Pagefind must each have found results and been weighed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("satchel", "material", "pagefind")


def test_the_search_benchmark_runs_all_three_contenders(tmp_path):
    out = tmp_path / "search.json"
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "search.py"), "--lessons", "12", "--runs", "1",
                          "--throttle", "1", "--out", str(out)], capture_output=True, text=True, timeout=90, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(out.read_text(encoding="utf-8"))
    for kind in KINDS:
        assert len(figures[kind]) == 2, kind  # settled and from page load
        for key in ("open_ms", "load_ms", "keystroke_ms", "first_query_bytes"):
            assert figures[f"{kind}_{key}"] > 0, (kind, key)
        assert figures[f"{kind}_first_query"]["requests"] > 0, kind
    for key in ("open", "load"):  # the first list, then the ranked results, then their snippets
        assert 0 < figures[f"satchel_{key}_suggest_ms"] <= figures[f"satchel_{key}_ranked_ms"] <= figures[f"satchel_{key}_ms"]
    for code in ("en", "fr", "ar"):
        assert figures["satchel_index_bytes"][code]["brotli_per_lesson"] > 0
        assert figures["satchel_index_bytes"][code]["shards"] > 0
        assert figures["pagefind_index_bytes"][code]["brotli_per_lesson"] > 0
        assert figures["pagefind_index_bytes"][code]["pages"] >= 12
    assert figures["material_index_brotli_per_lesson"] > 0
    for key in ("open_ms", "load_ms", "keystroke_ms"):
        assert figures[f"speedup_{key}_vs_material"] > 0 and figures[f"speedup_{key}_vs_pagefind"] > 0
    assert "Pagefind" in run.stdout and "Satchel" in run.stdout
