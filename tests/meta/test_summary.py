"""meta.summary: per-task winners, the single best method (SBS) and the oracle."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from meta.summary import (
    describe,
    normalized_scores,
    performance_matrix,
    selection_summary,
    single_best,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "metadataset"


def _rows(table: dict[str, dict[str, float]], metric: str = "output_tokens_per_s"):
    """workload -> method -> value, as long-format rows of one model on one host."""
    return [
        {"model": "x", "hardware": "h", "workload": wl, "method": m, metric: v}
        for wl, values in table.items()
        for m, v in values.items()
    ]


def test_single_best_top1_and_winners():
    rows = _rows(
        {
            "a": {"m1": 2.0, "m2": 1.0},
            "b": {"m1": 2.0, "m2": 1.0},
            "c": {"m1": 1.0, "m2": 2.0},
        }
    )
    s = selection_summary(rows, "output_tokens_per_s", "max")
    assert s["sbs"] == "m1" and s["sbs_top1"] == pytest.approx(2 / 3) and s["distinct_winners"] == 2
    assert s["sbs_mean_normalized"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert s["winners_by_workload"]["c"] == {"m2": 1}
    assert s["wins"] == {"m1": 2, "m2": 1}
    assert s["best_by_task"] == {"x|h|a": "m1", "x|h|b": "m1", "x|h|c": "m2"}


def test_minimized_metric_and_non_positive_values():
    rows = _rows({"a": {"m1": 10.0, "m2": 20.0}, "b": {"m1": 0.0, "m2": 5.0}}, "ttft_p50_ms")
    s = selection_summary(rows, "ttft_p50_ms", "min")
    # a: m1 best (1.0), m2 0.5; b: m1's 0 is the minimum, but a value that is not
    # positive scores 0, and so does everything normalized by it
    assert s["best_by_task"] == {"x|h|a": "m1", "x|h|b": "m1"}
    assert s["sbs"] == "m1" and s["sbs_mean_normalized"] == pytest.approx(0.5)


def test_sbs_must_cover_every_task():
    # m3 wins the one task it ran on; over the tasks it skipped it would be unknown
    rows = _rows({"a": {"m1": 1.0, "m2": 0.9, "m3": 5.0}, "b": {"m1": 1.0, "m2": 2.0}})
    s = selection_summary(rows, "output_tokens_per_s")
    assert s["sbs"] == "m2"  # (0.18 + 1) / 2 beats m1's (0.2 + 0.5) / 2; m3 is no candidate
    # when no method covers every task, every method is a candidate
    rows = _rows({"a": {"m1": 1.0}, "b": {"m2": 2.0}})
    assert selection_summary(rows, "output_tokens_per_s")["sbs"] == "m1"


def test_missing_nan_and_empty():
    rows = _rows({"a": {"m1": 1.0, "m2": float("nan")}})
    rows.append({"model": "x", "hardware": "h", "workload": "b", "method": "m2"})  # no metric
    s = selection_summary(rows, "output_tokens_per_s")
    assert s["tasks"] == 1 and s["wins"] == {"m1": 1}
    assert selection_summary([], "output_tokens_per_s") == {
        "metric": "output_tokens_per_s",
        "tasks": 0,
    }
    assert describe({"metric": "x", "tasks": 0}) == ""
    with pytest.raises(ValueError, match="sense"):
        selection_summary(rows, "output_tokens_per_s", "up")


def test_ties_go_to_the_first_row_of_the_task():
    rows = _rows({"a": {"m1": 1.0, "m2": 1.0}, "b": {"m2": 1.0, "m1": 1.0}})
    s = selection_summary(rows, "output_tokens_per_s")
    assert s["best_by_task"] == {"x|h|a": "m1", "x|h|b": "m2"}
    assert s["sbs"] == "m1"  # equal means: the method met first


def test_later_rows_replace_earlier_ones():
    rows = _rows({"a": {"m1": 1.0, "m2": 2.0}})
    rows.append(rows[0] | {"output_tokens_per_s": 3.0})
    assert selection_summary(rows, "output_tokens_per_s")["sbs"] == "m1"


def test_matrix_pieces():
    rows = _rows({"a": {"m1": 4.0, "m2": 2.0}, "b": {"m2": 3.0}})
    m = performance_matrix(rows, "output_tokens_per_s")
    assert m.tasks == [("x", "h", "a"), ("x", "h", "b")] and m.methods == ["m1", "m2"]
    np.testing.assert_array_equal(m.values, [[4.0, 2.0], [np.nan, 3.0]])
    best, scores = normalized_scores(m.values, "max", m.arrival)
    assert best.tolist() == [0, 1]
    np.testing.assert_array_equal(scores, [[1.0, 0.5], [np.nan, 1.0]])
    assert single_best(scores) == (1, 0.75)  # only m2 covers both tasks


def test_mean_is_exactly_rounded():
    """The SBS mean is fsum / n, as ``statistics.fmean`` computes it."""
    values = [0.1, 0.7, 0.2, 0.3, 0.9, 0.6]
    rows = _rows({str(i): {"m": v, "best": 1.0} for i, v in enumerate(values)})
    s = selection_summary(rows, "output_tokens_per_s")
    assert s["sbs"] == "best"
    scores = normalized_scores(performance_matrix(rows, "output_tokens_per_s").values)[1]
    assert np.nanmean(scores[:, 0]) == pytest.approx(math.fsum(values) / len(values))


@pytest.mark.parametrize(
    "name", sorted(p.name[: -len(".summary.json")] for p in DATA.glob("*.summary.json"))
)
def test_committed_summary_is_reproduced_from_the_committed_rows(name):
    table = json.loads((DATA / f"{name}.json").read_text())
    summary = json.loads((DATA / f"{name}.summary.json").read_text())
    for metric, expected in summary["objectives"].items():
        got = selection_summary(table["rows"], metric, expected["sense"])
        assert json.dumps(got) == json.dumps(expected)
        assert describe(got).startswith(f"{metric} ({expected['sense']}, all methods)")
