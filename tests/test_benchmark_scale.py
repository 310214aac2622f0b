"""A smoke run of benchmarks/scale.py at a tiny size: it fills a store, times every dashboard page
over HTTP and writes its figures (which mean nothing at this size)."""

from __future__ import annotations

import json

from tests.test_benchmarks import run


def test_the_dashboard_at_scale_runs_to_the_end(tmp_path):
    out = tmp_path / "scale.json"
    printed = run("scale.py", "--statements", "2000", "--learners", "40", "--rounds", "2", "--out", str(out), timeout=300)
    assert "2,000 statements, 40 learners (sqlite)" in printed
    result = json.loads(out.read_text(encoding="utf-8"))
    assert set(result["pages"]) == {"dashboard", "filtered", "learner", "csv"}
    assert all(page["p50_ms"] > 0 and page["bytes"] > 0 for page in result["pages"].values())
    assert result["hub_peak_rss_mb"] > 0 and result["statements"] == 2000
