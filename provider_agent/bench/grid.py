"""What to measure: :class:`GridSpec`, the preset grids and the CLI's way to one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from provider_agent.bench.design import Task, sample_tasks
from provider_agent.bench.presets import DEFAULT_GRID, GRID_NAMES, GRIDS
from provider_agent.harness import BenchConfig
from provider_agent.methods import get_method
from provider_agent.workload_design import DESIGNS, design_workloads
from provider_agent.workloads import WorkloadSpec, get_workload

__all__ = ["DEFAULT_GRID", "GRIDS", "GRID_NAMES", "GridSpec", "grid_from_options"]


@dataclass(frozen=True)
class GridSpec:
    """What to measure; names are resolved and validated on construction.

    Every method runs on every task. The tasks are all models x hardware x workloads, or,
    with ``tasks``, the (model, hardware, workload) triples of a sampled design.
    """

    models: tuple[str, ...]
    hardware: tuple[str, ...]
    workloads: tuple[str, ...]
    methods: tuple[str, ...]
    config: BenchConfig = field(default_factory=BenchConfig)
    workload_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: tuple[Task, ...] | None = None
    # "task": one (model, hardware) after the other, so that rows fill up as a budgeted run
    # goes; "method": one method after the other over every task (the cheap ones first)
    order: str = "task"

    def __post_init__(self) -> None:
        if self.order not in ("task", "method"):
            raise ValueError(f"order must be 'task' or 'method', not {self.order!r}")
        for label in ("models", "hardware", "workloads", "methods"):
            if not getattr(self, label):
                raise ValueError(f"grid needs at least one of {label}")
        for m in self.methods:
            get_method(m)  # raises UnknownMethodError with the list of names
        for w in self.workloads:
            get_workload(w)
        for t in self.tasks or ():
            m, h, w = t
            if m not in self.models or h not in self.hardware or w not in self.workloads:
                raise ValueError(f"task {t} is not in the grid's models x hardware x workloads")

    def workload_names(self, model: str, hardware: str) -> tuple[str, ...]:
        """The workloads measured for (model, hardware), in the grid's order."""
        if self.tasks is None:
            return self.workloads
        mine = {w for m, h, w in self.tasks if (m, h) == (model, hardware)}
        return tuple(w for w in self.workloads if w in mine)

    def workload(self, name: str) -> WorkloadSpec:
        spec = get_workload(name)
        return (
            spec.with_(**self.workload_overrides[name]) if name in self.workload_overrides else spec
        )

    def workload_specs(self) -> list[WorkloadSpec]:
        return [self.workload(w) for w in self.workloads]


def expand_workloads(names: tuple[str, ...]) -> tuple[str, ...]:
    """Workload names with each design name (``qmc``) replaced by all of its workloads."""
    out: list[str] = []
    for n in names:
        if n in DESIGNS:
            out.extend(w.name for w in design_workloads(n))
        else:
            out.append(n)
    return tuple(dict.fromkeys(out))


def grid_from_options(
    name: str | None,
    *,
    models: tuple[str, ...] | None = None,
    hardware: tuple[str, ...] | None = None,
    workloads: tuple[str, ...] | None = None,
    methods: tuple[str, ...] | None = None,
    reps: int | None = None,
    warmup: int | None = None,
    only_models: tuple[str, ...] | None = None,
    order: str | None = None,
) -> GridSpec:
    """A preset grid (or the smoke grid) with any of its fields overridden.

    A preset with ``tasks_per_workload`` samples its tasks (:func:`sample_tasks`) from the
    models, hardware and workloads it ends up with. ``only_models`` measures the part of
    that design that falls on these models (the design itself is unchanged), so that a
    session short of time can spend it on the models the data set lacks.
    """
    if name is not None and name not in GRIDS:
        raise ValueError(f"unknown grid {name!r} (have {', '.join(GRIDS)})")
    base = GRIDS[name or DEFAULT_GRID]
    cfg = BenchConfig(
        warmup=base["warmup"] if warmup is None else warmup,
        repetitions=base["reps"] if reps is None else reps,
    )
    models = models or base["models"]
    hardware = hardware or base["hardware"]
    workloads = expand_workloads(workloads or base["workloads"])
    per_workload = base.get("tasks_per_workload")
    tasks = None
    if per_workload:
        k = min(per_workload, len(models) * len(hardware))
        tasks = sample_tasks(models, hardware, workloads, k, seed=base.get("design_seed", 0))
    if only_models:
        unknown = sorted(set(only_models) - set(models))
        if unknown:
            raise ValueError(f"--only-models {unknown} are not among the grid's models {models}")
        models = tuple(m for m in models if m in only_models)
        tasks = tasks and tuple(t for t in tasks if t[0] in only_models)
    return GridSpec(
        models=models,
        hardware=hardware,
        workloads=workloads,
        methods=methods or base["methods"],
        config=cfg,
        tasks=tasks,
        order=order or base.get("order", "task"),
    )
