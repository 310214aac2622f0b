"""A smoke run of benchmarks/scale.py at a tiny size: it fills a hub through its upload path, has
teachers fetch every dashboard page at once over HTTP, and writes its figures (which mean nothing
at this size)."""

from __future__ import annotations

import json

from tests.test_benchmarks import run

PAGES = {"curriculum", "page_2", "last_page", "not_started", "stuck", "sort_done", "sort_last", "questions", "questions_stuck", "learner",
         "csv"}


def test_the_dashboard_at_scale_runs_to_the_end(tmp_path):
    out = tmp_path / "scale.json"
    printed = run("scale.py", "--statements", "2000", "--learners", "50", "--rounds", "2", "--teachers", "3", "--clients", "2",
                  "--explain", "--out", str(out), timeout=300)
    assert "2,000 statements, 50 learners (sqlite)" in printed
    result = json.loads(out.read_text(encoding="utf-8"))
    assert set(result["pages"]) == PAGES and set(result["queries"]) == PAGES
    assert all(page["p50_ms"] > 0 and page["bytes"] > 0 and page["requests"] == 3 * 2 for page in result["pages"].values())
    assert result["hub_peak_rss_mb"] > 0 and result["sizes"]["statements"] == 2000 == result["ingest"]["statements_new"]
    assert result["ingest"]["statements_per_second"] > 0


def test_a_central_on_postgresql_knows_each_statements_school(tmp_path):
    """The national case at a tiny size: a throwaway PostgreSQL, a central with school credentials."""
    out = tmp_path / "scale.json"
    printed = run("scale.py", "--national", "--statements", "1200", "--learners", "30", "--schools", "3", "--classes", "6",
                  "--rounds", "1", "--teachers", "2", "--clients", "2", "--out", str(out), timeout=300)
    assert "1,200 statements, 30 learners (postgresql)" in printed
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["database"] == "postgresql" and result["sizes"]["schools"] == 3 and set(result["pages"]) == PAGES
