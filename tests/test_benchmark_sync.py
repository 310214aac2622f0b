"""A smoke run of benchmarks/sync.py at a tiny size: it forwards a small school hub to a central
(batched, and the old one-post-per-learner path) and to Ralph, checks all arrived, and writes its
figures (which mean nothing at this size)."""

from __future__ import annotations

import json

from tests.test_benchmarks import run


def test_the_sync_benchmark_runs_to_the_end(tmp_path):
    out = tmp_path / "sync.json"
    printed = run("sync.py", "--learners", "12", "--each", "20", "--ralph", "100", "--out", str(out), timeout=600)
    assert "hub -> central: " in printed and "hub -> Ralph: " in printed
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["statements"] == 240
    for key in ("central", "central_baseline_one_post_per_learner"):
        assert result[key]["statements"] == result[key]["central_holds"] == 240 and result[key]["per_second"] > 0
    assert result["ralph"]["statements"] == 100 and result["ralph"]["quarantined"] == 0
