"""The benchmarks keep working: each runs at a tiny size (not timed here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_score_benchmark_runs_and_reports_its_figures(tmp_path: Path):
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "score.py"),
            "--items",
            "1500",
            "--folder",
            str(tmp_path),
            "--rounds",
            "2",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout.split("\n", 1)[1]  # after the "cores: ..." line
    (figures,) = json.loads(text)
    assert figures["items"] == 1500
    assert len(figures["rounds"]) == 2
    for round_ in figures["rounds"]:
        # Each round's cold score met a rule set new to the store; its
        # incremental one classified the changed items and their children
        # only (the second round's touch changed the store again).
        assert round_["classified"] == 1500
        assert 0 < round_["changed"] <= round_["reclassified"] < 1500
        for name in ("baseline", "cold", "warm", "incremental", "command"):
            assert round_[name] > 0 and round_[f"{name}_cpu"] >= 0
        assert 0 < round_["alignment"] < 1
    assert figures["rss_mb"] > 0
