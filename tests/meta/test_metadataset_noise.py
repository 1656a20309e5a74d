"""bench/metadataset_noise.py: the spread of re-measured cells and winner agreement."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location(
    "metadataset_noise", Path(__file__).resolve().parents[2] / "bench" / "metadataset_noise.py"
)
noise = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(noise)


def _row(workload: str, method: str, tps: float, ttft: float) -> dict:
    return {
        "model": "m",
        "hardware": "h",
        "workload": workload,
        "method": method,
        "output_tokens_per_s": tps,
        "ttft_p50_ms": ttft,
        "e2e_p90_ms": ttft * 2,
    }


def test_compare_reports_spread_and_winner_agreement():
    first = [
        _row("a", "x", 100, 10),
        _row("a", "y", 50, 20),
        _row("b", "x", 10, 5),
        _row("b", "y", 12, 4),
    ]
    second = [
        _row("a", "x", 110, 10),
        _row("a", "y", 50, 22),
        _row("b", "x", 13, 5),
        _row("b", "y", 11, 4),
    ]
    c = noise.compare(first, second)
    assert c["cells"] == 4
    thr = c["output_tokens_per_s"]
    assert thr["tasks"] == 2 and thr["same_winner"] == 0.5  # b's winner flipped
    assert thr["median_abs_change_pct"] == pytest.approx(9.5, abs=0.6)
    assert c["ttft_p50_ms"]["same_winner"] == 1.0
    md = noise.markdown({"tasks": 2, "minutes": 0.1, "comparison": c})  # main()'s shape
    assert "| output_tokens_per_s |" in md and md.startswith("4 cells of 2 tasks")
