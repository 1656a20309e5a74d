"""Which (model, hardware, workload) tasks a meta-data set measures: a sampled design.

A full factorial of models x hardware x workloads costs more CPU hours than it teaches: a
selector learns from many different tasks, not from every combination. The design here
puts every workload on ``per_workload`` distinct (model, hardware) pairs, dealt cyclically
from a seeded shuffle of the pairs, so that

* every workload is measured ``per_workload`` times, on different pairs;
* every pair gets the same number of workloads, give or take one;
* a model's tasks on one hardware profile and on another overlap only by chance, as for
  providers that each offer what they have.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

Task = tuple[str, str, str]  # (model spec, hardware name, workload name), as the grid names them


def sample_tasks(
    models: Sequence[str],
    hardware: Sequence[str],
    workloads: Sequence[str],
    per_workload: int,
    seed: int = 0,
) -> tuple[Task, ...]:
    """The design's tasks, in (model, hardware, workload) order of the inputs."""
    pairs = [(m, h) for m in models for h in hardware]
    if not 1 <= per_workload <= len(pairs):
        raise ValueError(
            f"per_workload must be in [1, {len(pairs)}] (models x hardware), not {per_workload}"
        )
    order = list(pairs)
    random.Random(f"tasks/{seed}").shuffle(order)
    chosen = {
        (*order[(i * per_workload + j) % len(order)], w)
        for i, w in enumerate(workloads)
        for j in range(per_workload)
    }
    return tuple(
        (m, h, w) for m in models for h in hardware for w in workloads if (m, h, w) in chosen
    )
