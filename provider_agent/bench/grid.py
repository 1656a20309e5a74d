"""What to measure: :class:`GridSpec`, the preset grids and the CLI's way to one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from provider_agent.bench.presets import DEFAULT_GRID, GRID_NAMES, GRIDS
from provider_agent.harness import BenchConfig
from provider_agent.methods import get_method
from provider_agent.workloads import WorkloadSpec, get_workload

__all__ = ["DEFAULT_GRID", "GRIDS", "GRID_NAMES", "GridSpec", "grid_from_options"]


@dataclass(frozen=True)
class GridSpec:
    """What to measure; names are resolved and validated on construction."""

    models: tuple[str, ...]
    hardware: tuple[str, ...]
    workloads: tuple[str, ...]
    methods: tuple[str, ...]
    config: BenchConfig = field(default_factory=BenchConfig)
    workload_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for label in ("models", "hardware", "workloads", "methods"):
            if not getattr(self, label):
                raise ValueError(f"grid needs at least one of {label}")
        for m in self.methods:
            get_method(m)  # raises UnknownMethodError with the list of names
        for w in self.workloads:
            get_workload(w)

    def workload(self, name: str) -> WorkloadSpec:
        spec = get_workload(name)
        return (
            spec.with_(**self.workload_overrides[name]) if name in self.workload_overrides else spec
        )

    def workload_specs(self) -> list[WorkloadSpec]:
        return [self.workload(w) for w in self.workloads]


def grid_from_options(
    name: str | None,
    *,
    models: tuple[str, ...] | None = None,
    hardware: tuple[str, ...] | None = None,
    workloads: tuple[str, ...] | None = None,
    methods: tuple[str, ...] | None = None,
    reps: int | None = None,
    warmup: int | None = None,
) -> GridSpec:
    """A preset grid (or the smoke grid) with any of its fields overridden."""
    if name is not None and name not in GRIDS:
        raise ValueError(f"unknown grid {name!r} (have {', '.join(GRIDS)})")
    base = GRIDS[name or DEFAULT_GRID]
    cfg = BenchConfig(
        warmup=base["warmup"] if warmup is None else warmup,
        repetitions=base["reps"] if reps is None else reps,
    )
    return GridSpec(
        models=models or base["models"],
        hardware=hardware or base["hardware"],
        workloads=workloads or base["workloads"],
        methods=methods or base["methods"],
        config=cfg,
    )
