"""The shared LLM-Inference-Bench data (in-repo copy): loading, and the acceptance check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import meta
from meta.table import PerformanceTable

DATA = Path(__file__).resolve().parents[2] / "data" / "llm-inference-bench"
TASK_COLS = ["Hardware", "Num of Hardware", "Model", "Input Output Length", "Batch Size"]


def _table(metric: str = "Throughput", lower: bool = False) -> PerformanceTable:
    return PerformanceTable.from_csv(
        DATA / "frameworks_nvidia.csv", TASK_COLS, "Framework", metric, lower_is_better=lower
    )


def test_in_repo_copy_with_license():
    assert (DATA / "LICENSE").read_text().startswith("BSD 3-Clause")
    assert "argonne-lcf/LLM-Inference-Bench" in (DATA / "README.md").read_text()


def test_frameworks_table_shape_and_metric_direction():
    t = _table()
    assert (t.n_tasks, t.n_methods) == (881, 4)
    assert t.methods == ["Deepspeed-MII", "TensorRT-LLM", "llama.cpp", "vLLM"]
    assert int(t.available.sum()) == 2103  # 2126 rows, repeats aggregated
    lat = _table("Latency", lower=True)
    # tokens/s x seconds = batch x (input + output) tokens for every framework except
    # llama.cpp, whose latency column measures something else: rank by throughput
    no_llamacpp = ~t.available[:, t.methods.index("llama.cpp")]
    best_tp = np.nanargmax(t.normalized[no_llamacpp], axis=1)
    best_lat = np.nanargmax(lat.normalized[no_llamacpp], axis=1)
    assert (best_tp == best_lat).all()


def test_public_api_is_lazy():
    assert meta.MetaInfSelector.__name__ == "MetaInfSelector"
    assert "evaluate" in dir(meta)
    with pytest.raises(AttributeError):
        _ = meta.nope


@pytest.mark.slow
@pytest.mark.parametrize("group_by", ["Hardware", "Model"])
def test_metainf_at_least_sbs_and_best_non_oracle(group_by):
    res = meta.evaluate(_table(), group_by=group_by, n_bootstrap=0)
    np_ = {k: v["normalized_performance"] for k, v in res.summary.items()}
    assert res.candidate == "MetaInf" and res.oracles == ["VBS"]
    others = [v for k, v in np_.items() if k not in (res.candidate, *res.oracles)]
    # SBS already reaches 0.993 of the oracle here, so MetaInf can at best tie it; the
    # network's floating point differs between CPUs (seen: 0.992984 vs SBS 0.992988 on an
    # Intel host, 0.9931 on an AMD one), so "tie" means within 0.1 % of the oracle, far
    # inside the bootstrap interval (+-0.003); ALORS, the forests and kNN trail by >= 1 %
    tie = 1e-3
    assert np_[res.candidate] >= np_[res.single_best] - tie
    assert np_[res.candidate] >= max(others) - tie
