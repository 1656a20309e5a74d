from __future__ import annotations

import numpy as np
import pytest

from meta.table import PerformanceTable, task_key


def test_median_aggregation_and_pivot(tiny_frame):
    t = PerformanceTable.from_frame(tiny_frame, ["model", "hardware", "batch"], "method", "tps")
    assert t.n_tasks == 3 and t.methods == ["fast", "mid", "slow"]
    row = t.task_keys.index(task_key(["m7b", "A100", 1]))
    assert t.matrix[row, 0] == pytest.approx(120.0)  # median of 100, 120, 500
    other = t.task_keys.index(task_key(["m70b", "H100", 4]))
    assert np.isnan(t.matrix[other, 0]) and not t.available[other, 0]
    assert t.available.sum() == 7


def test_normalized_higher_and_lower_is_better(tiny_frame):
    cols = ["model", "hardware", "batch"]
    hi = PerformanceTable.from_frame(tiny_frame, cols, "method", "tps")
    lo = PerformanceTable.from_frame(tiny_frame, cols, "method", "tps", lower_is_better=True)
    r = hi.task_keys.index(task_key(["m7b", "H100", 1]))
    assert hi.normalized[r, 2] == pytest.approx(1.0)  # 300 tokens/s is best
    assert hi.normalized[r, 0] == pytest.approx(200 / 300)
    assert lo.normalized[r, 0] == pytest.approx(1.0)  # 200 s is best when lower is better
    assert lo.normalized[r, 2] == pytest.approx(200 / 300)
    assert np.all(np.nanmax(hi.normalized, axis=1) == pytest.approx(1.0))


def test_subset_keeps_methods_and_order(tiny_frame):
    t = PerformanceTable.from_frame(tiny_frame, ["model", "hardware", "batch"], "method", "tps")
    sub = t.subset([2, 0])
    assert sub.methods == t.methods
    assert sub.task_keys == [t.task_keys[2], t.task_keys[0]]
    np.testing.assert_array_equal(sub.available, t.available[[2, 0]])


def test_groups_and_errors(tiny_frame, tmp_path):
    t = PerformanceTable.from_frame(tiny_frame, ["model", "hardware", "batch"], "method", "tps")
    assert sorted(set(t.groups("hardware"))) == ["A100", "H100"]
    assert len(set(t.groups(None))) == t.n_tasks
    with pytest.raises(KeyError):
        t.groups("method")
    with pytest.raises(KeyError):
        PerformanceTable.from_frame(tiny_frame, ["nope"], "method", "tps")
    path = tmp_path / "t.csv"
    tiny_frame.to_csv(path, index=False)
    again = PerformanceTable.from_csv(path, ["model", "hardware", "batch"], "method", "tps")
    np.testing.assert_allclose(again.matrix, t.matrix)


def test_non_positive_metric_rows_dropped(tiny_frame):
    df = tiny_frame.copy()
    df.loc[len(df)] = ["m70b", "H100", 4, "fast", 0.0]
    t = PerformanceTable.from_frame(df, ["model", "hardware", "batch"], "method", "tps")
    r = t.task_keys.index(task_key(["m70b", "H100", 4]))
    assert not t.available[r, t.methods.index("fast")]
