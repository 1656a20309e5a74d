"""Synthetic performance tables whose best method is a known function of the features.

Used by tests (does a selector recover a rule it could learn?) and by the benchmark
(scaling to 10,000 tasks x 20 methods). The generator mimics the project's long format:
columns ``model, hardware, batch_size, input_len, output_len, prefix_share, method``
and a throughput metric, with names that the descriptor parser understands
("synth-13b", "GPU-80GB").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

TASK_COLS = ["model", "hardware", "batch_size", "input_len", "output_len", "prefix_share"]
MODEL_SIZES_B = [0.5, 1, 3, 7, 13, 34, 70]
HARDWARE_MEM_GB = [16, 24, 48, 80, 141]
RULE_METHODS = ["baseline", "prefix-caching", "speculative-decoding", "large-batch", "int8-quant"]


@dataclass
class SyntheticTable:
    frame: pd.DataFrame
    task_cols: list[str]
    method_col: str
    metric: str
    best: dict[str, str]  # task key -> true best method (noise-free)


def _task_grid(n_tasks: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": [f"synth-{s:g}b" for s in rng.choice(MODEL_SIZES_B, n_tasks)],
            "hardware": [f"GPU-{m}GB" for m in rng.choice(HARDWARE_MEM_GB, n_tasks)],
            "batch_size": rng.choice([1, 4, 16, 64], n_tasks),
            "input_len": rng.choice([128, 512, 2048], n_tasks),
            "output_len": rng.choice([64, 256, 1024], n_tasks),
            "prefix_share": rng.choice([0.0, 0.25, 0.5, 0.9], n_tasks),
        }
    )


def _z(tasks: pd.DataFrame) -> dict[str, np.ndarray]:
    """Standardized drivers of performance, in [-1, 1]-ish."""
    size = tasks["model"].str.extract(r"synth-([\d.]+)b")[0].astype(float).to_numpy()
    mem = tasks["hardware"].str.extract(r"GPU-(\d+)GB")[0].astype(float).to_numpy()
    return {
        "size": np.log(size / 7) / 2,
        "mem": np.log(mem / 48) / 1.2,
        "batch": np.log(tasks["batch_size"].to_numpy() / 8) / 2,
        "out": np.log(tasks["output_len"].to_numpy() / 256) / 1.4,
        "inp": np.log(tasks["input_len"].to_numpy() / 512) / 1.4,
        "prefix": tasks["prefix_share"].to_numpy() * 2 - 1,
    }


def rule_effects(tasks: pd.DataFrame) -> np.ndarray:
    """log-speedup of each RULE_METHODS entry: who wins is a clear function of features.

    prefix caching wins with shared prefixes, speculative decoding with small batches and
    long outputs, a large batch with large batches, int8 when the model is big for the
    memory; the baseline wins when none applies.
    """
    z = _z(tasks)
    eff = np.zeros((len(tasks), len(RULE_METHODS)))
    eff[:, 0] = 0.15
    eff[:, 1] = 0.9 * z["prefix"] + 0.2 * z["inp"] - 0.1
    eff[:, 2] = -0.8 * z["batch"] + 0.5 * z["out"] - 0.35
    eff[:, 3] = 0.9 * z["batch"] - 0.45
    eff[:, 4] = 0.9 * (z["size"] - z["mem"]) - 0.4
    return eff


def make_rule_table(
    n_tasks: int = 300,
    noise: float = 0.03,
    missing: float = 0.2,
    random_state: int = 0,
) -> SyntheticTable:
    """Tasks x RULE_METHODS with throughput = base(task) x exp(effect + noise).

    ``missing``: share of (task, method) cells dropped (each task keeps one or more).
    """
    rng = np.random.default_rng(random_state)
    tasks = _task_grid(n_tasks, rng).drop_duplicates().reset_index(drop=True)
    z = _z(tasks)
    base = 6.0 - 1.0 * z["size"] + 0.6 * z["mem"] + 0.8 * z["batch"] - 0.2 * z["inp"]
    eff = rule_effects(tasks)
    return _assemble(tasks, RULE_METHODS, base, eff, noise, missing, rng)


def make_random_table(
    n_tasks: int = 10_000,
    n_methods: int = 20,
    noise: float = 0.05,
    missing: float = 0.3,
    random_state: int = 0,
) -> SyntheticTable:
    """Large table for benchmarks: each method's effect is a random linear function of
    the standardized drivers, so the best method varies across tasks."""
    rng = np.random.default_rng(random_state)
    tasks = _task_grid(n_tasks, rng)
    tasks["input_len"] = rng.integers(16, 4096, n_tasks)  # many distinct tasks
    tasks = tasks.drop_duplicates().reset_index(drop=True)
    z = _z(tasks)
    Z = np.column_stack([z[k] for k in ("size", "mem", "batch", "out", "inp", "prefix")])
    W = rng.normal(0, 0.4, (Z.shape[1], n_methods))
    eff = Z @ W + rng.normal(0, 0.1, n_methods)
    base = 6.0 - z["size"] + 0.6 * z["mem"] + 0.8 * z["batch"]
    methods = [f"method-{j:02d}" for j in range(n_methods)]
    return _assemble(tasks, methods, base, eff, noise, missing, rng)


def _assemble(
    tasks: pd.DataFrame,
    methods: list[str],
    base: np.ndarray,
    eff: np.ndarray,
    noise: float,
    missing: float,
    rng: np.random.Generator,
) -> SyntheticTable:
    from meta.table import task_key

    n, m = eff.shape
    keep = rng.random((n, m)) >= missing
    keep[np.arange(n), rng.integers(0, m, n)] = True
    log_perf = base[:, None] + eff + rng.normal(0, noise, (n, m))
    ti, mj = np.nonzero(keep)
    frame = tasks.iloc[ti].reset_index(drop=True)
    frame["method"] = [methods[j] for j in mj]
    frame["throughput"] = np.exp(log_perf[ti, mj])
    keys = [task_key(r) for r in tasks[TASK_COLS].itertuples(index=False, name=None)]
    best = {}
    for i, k in enumerate(keys):
        avail = np.flatnonzero(keep[i])
        best[k] = methods[avail[np.argmax(eff[i, avail])]]
    return SyntheticTable(frame, list(TASK_COLS), "method", "throughput", best)
