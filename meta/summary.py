"""How much the choice of method matters in a performance table: per-task winners, the
single best solver (SBS) and the oracle (VBS).

A pure function of long-format rows (one per task x method, task = model x hardware x
workload): numpy and the standard library only, so the provider agent (``bench
--summary``) and anything else that holds rows can call it without the rest of ``meta``.

Per task, a method's *normalized score* is ``value / best`` for a maximized metric and
``best / value`` for a minimized one (0 when the value is not positive), so the per-task
best scores 1 and the oracle, which always picks it, has a mean score of 1 by definition.
The SBS is the method with the best mean score, over the methods measured on every task
(a method that skipped the hard tasks would look better than it is) or over all methods
when none covers every task. Ties go to the method that comes first in the rows (per task
for the winner, over all tasks for the SBS).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

TASK_KEYS = ("model", "hardware", "workload")
SENSES = ("max", "min")


class PerformanceMatrix(NamedTuple):
    """A long-format table as a tasks x methods matrix.

    ``arrival[t, m]`` is the index of the row that first gave the cell (inf where missing):
    per task, ties go to the method whose row came first. Methods are in the order in which
    they first appear going through the tasks in order, each task's methods in row order.
    """

    tasks: list[tuple[Any, ...]]
    methods: list[str]
    values: np.ndarray
    arrival: np.ndarray


def performance_matrix(
    rows: Iterable[Mapping[str, Any]],
    metric: str,
    task_keys: Sequence[str] = TASK_KEYS,
    method_key: str = "method",
) -> PerformanceMatrix:
    """The matrix of ``metric``: rows without it, or with NaN, are left out; a missing cell
    is NaN. A later row for the same cell replaces the earlier one's value."""
    tasks: dict[tuple[Any, ...], int] = {}
    cells: dict[tuple[int, str], tuple[int, float]] = {}  # (task, method) -> (arrival, value)
    for i, r in enumerate(rows):
        raw = r.get(metric)
        if raw is None or (value := float(raw)) != value:
            continue
        t = tasks.setdefault(tuple(r[k] for k in task_keys), len(tasks))
        first = cells.get((t, r[method_key]), (i, value))[0]
        cells[(t, r[method_key])] = (first, value)
    first_seen: dict[str, tuple[int, int]] = {}
    for (t, m), (i, _) in cells.items():
        first_seen[m] = min(first_seen.get(m, (t, i)), (t, i))
    methods = sorted(first_seen, key=first_seen.__getitem__)
    column = {m: j for j, m in enumerate(methods)}
    values = np.full((len(tasks), len(methods)), np.nan)
    arrival = np.full(values.shape, np.inf)
    for (t, m), (i, value) in cells.items():
        values[t, column[m]] = value
        arrival[t, column[m]] = i
    return PerformanceMatrix(list(tasks), methods, values, arrival)


def normalized_scores(
    values: np.ndarray, sense: str = "max", arrival: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per task (row) the index of the best method, and every cell's normalized score.

    Every row needs at least one value; missing cells stay NaN. Ties go to the smallest
    ``arrival`` (default: the first column).
    """
    if sense not in SENSES:
        raise ValueError(f"sense must be one of {SENSES}, not {sense!r}")
    top = (np.nanmax(values, axis=1) if sense == "max" else np.nanmin(values, axis=1))[:, None]
    order = (
        np.broadcast_to(np.arange(values.shape[1]), values.shape) if arrival is None else arrival
    )
    best = np.argmin(np.where(values == top, order, np.inf), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = values / top if sense == "max" else np.where(values > 0, top / values, 0.0)
    scores[np.isnan(values)] = np.nan
    return best, scores


def mean_scores(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per method, its mean normalized score over the tasks it was measured on (exactly
    rounded), and how many tasks that is."""
    measured = ~np.isnan(scores)
    counts = measured.sum(axis=0)
    means = np.array(
        [math.fsum(scores[measured[:, j], j]) / counts[j] for j in range(scores.shape[1])]
    )
    return means, counts


def single_best(scores: np.ndarray) -> tuple[int, float]:
    """The SBS column and its mean normalized score (see the module docstring)."""
    means, counts = mean_scores(scores)
    full = counts == scores.shape[0]
    candidates = np.flatnonzero(full) if full.any() else np.arange(scores.shape[1])
    sbs = int(candidates[np.argmax(means[candidates])])
    return sbs, float(means[sbs])


def _counts(names: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for n in names:
        out[n] = out.get(n, 0) + 1
    return out


def selection_summary(
    rows: Iterable[Mapping[str, Any]],
    metric: str,
    sense: str = "max",
    task_keys: Sequence[str] = TASK_KEYS,
    method_key: str = "method",
    group_by: str | None = "workload",
) -> dict[str, Any]:
    """Per task the best method; the SBS, how often it is the per-task best (top-1) and its
    mean normalized score (the oracle's is 1.0); winners counted overall and per value of
    the ``group_by`` task column (``winners_by_<group_by>``).

    ``{"metric": metric, "tasks": 0}`` when no row has the metric.
    """
    tasks, methods, values, arrival = performance_matrix(rows, metric, task_keys, method_key)
    if not tasks:
        return {"metric": metric, "tasks": 0}
    best, scores = normalized_scores(values, sense, arrival)
    sbs, sbs_mean = single_best(scores)
    winners = [methods[b] for b in best]
    wins = _counts(winners)
    out: dict[str, Any] = {
        "metric": metric,
        "sense": sense,
        "tasks": len(tasks),
        "sbs": methods[sbs],
        "sbs_top1": int(np.count_nonzero(best == sbs)) / len(tasks),
        "sbs_mean_normalized": sbs_mean,
        "distinct_winners": len(wins),
        "wins": dict(sorted(wins.items(), key=lambda kv: -kv[1])),
    }
    if group_by is not None:
        g = list(task_keys).index(group_by)
        groups = sorted({t[g] for t in tasks})
        out[f"winners_by_{group_by}"] = {
            v: _counts(w for t, w in zip(tasks, winners, strict=True) if t[g] == v) for v in groups
        }
    out["best_by_task"] = {
        "|".join(map(str, t)): w for t, w in sorted(zip(tasks, winners, strict=True))
    }
    return out


def describe(summary: Mapping[str, Any], scope: str = "all methods") -> str:
    """One line of :func:`selection_summary` output for people (empty when it has no tasks)."""
    s = summary
    if not s.get("tasks"):
        return ""
    return (
        f"{s['metric']} ({s['sense']}, {scope}): {s['tasks']} tasks, "
        f"{s['distinct_winners']} distinct winners; single best {s['sbs']} is the "
        f"best on {s['sbs_top1']:.0%} of tasks (mean {s['sbs_mean_normalized']:.2f} "
        "of the oracle)"
    )
