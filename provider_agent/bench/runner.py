"""The grid runner: models x hardware profiles x methods x workloads -> table + reports.

:func:`run_grid` plans the (model, hardware, method) *groups* (:func:`plan_grid`), takes
the groups an interrupted run already measured from its checkpoint (:func:`resume`), and
runs every other group: its engine is loaded once and measures every workload
(:func:`measure_group`), by default in a worker process of its own
(``python -m provider_agent.bench.worker``): peak memory, thread pools and compilation
caches then belong to that method alone, and vLLM, which reads its threading from the
environment at import time and cannot change it later, always needs one.
After all groups, the quality guard compares every cell's greedy tokens with its method's
reference cell, each cell becomes a canonical report stored under its hash, and the cells
become rows of the long-format performance table (:func:`store_reports`).
"""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from protocol.blobstore import BlobStore, open_blob_store
from protocol.canonical import content_id
from protocol.report import build_report, utc_now
from provider_agent.bench.cells import SKIPPED_BUDGET, Cell, GridResult, Key
from provider_agent.bench.grid import GridSpec
from provider_agent.bench.quality import QualityGuard
from provider_agent.bench.tables import cell_row
from provider_agent.bench.worker import run_in_worker
from provider_agent.engines import Engine, make_engine
from provider_agent.hardware import HardwareProfile, profile_by_name
from provider_agent.harness import BenchConfig, measure
from provider_agent.methods import MethodSpec, available_methods, get_method
from provider_agent.models import ModelInfo, model_info
from provider_agent.report import environment
from provider_agent.workloads import WorkloadSpec

OnCell = Callable[[Cell], None]


def _quiet(_: str) -> None:
    pass


# ---------------------------------------------------------------------- one engine load


def _max_model_len(workloads: Iterable[WorkloadSpec], config: BenchConfig) -> int:
    need = max(w.max_total_tokens for w in workloads) + 16
    return max(config.max_model_len, -(-need // 64) * 64)


def _measure_cell(
    engine: Engine,
    workload: WorkloadSpec,
    tok: Any,
    config: BenchConfig,
    load_s: float,
    env: dict[str, Any],
) -> Cell:
    """One workload on a loaded engine; a failure becomes a failed cell."""
    info, hw, method = engine.info, engine.hardware, engine.method
    try:
        load_before = os.getloadavg()[0]
        m = measure(engine, workload, workload.build(tok), config)
        # a busy neighbour distorts CPU timings: keep the evidence with the numbers
        cell_env = env | {
            "loadavg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset"),
        }
        return Cell(
            info.name,
            hw.name,
            workload.name,
            method.name,
            metrics=m.metrics(),
            samples=[s.to_dict() for s in m.samples],
            outputs=m.outputs,
            load_s=load_s,
            warmup_s=m.warmup_s,
            env=cell_env,
            measured_at=utc_now(),
        )
    except Exception as exc:
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return Cell.failed(info.name, hw.name, workload.name, method.name, detail)


def measure_group(
    model_spec: str,
    hardware: HardwareProfile,
    method: MethodSpec,
    workloads: list[WorkloadSpec],
    config: BenchConfig,
    on_cell: OnCell | None = None,
    deadline: float | None = None,
) -> list[Cell]:
    """Load one engine and measure every workload with it (failures become failed cells).

    ``deadline`` (a ``time.monotonic()`` value) stops it from starting further workloads.
    """
    from transformers import AutoTokenizer

    info = model_info(model_spec)
    cells: list[Cell] = []

    def emit(cell: Cell) -> None:
        cells.append(cell)
        if on_cell:
            on_cell(cell)

    t0 = time.perf_counter()
    engine = make_engine(info, method, hardware, max_model_len=_max_model_len(workloads, config))
    try:
        engine.load()
    except Exception as exc:  # any load failure is reported per cell, the grid goes on
        reason = f"load failed: {type(exc).__name__}: {exc}"
        for w in workloads:
            emit(Cell.failed(info.name, hardware.name, w.name, method.name, reason))
        return cells
    load_s = time.perf_counter() - t0
    tok = AutoTokenizer.from_pretrained(info.path, local_files_only=True)
    env = engine.environment()
    for w in workloads:
        if deadline is not None and time.monotonic() > deadline:
            emit(Cell.failed(info.name, hardware.name, w.name, method.name, SKIPPED_BUDGET))
        else:
            emit(_measure_cell(engine, w, tok, config, load_s, env))
    engine.close()
    return cells


# ------------------------------------------------------------------------------ planning


@dataclass(frozen=True)
class Group:
    """One (model, hardware, method): one engine load that measures every workload."""

    model: str  # the model spec as given (a directory, smollm2-135m, random:<size>)
    info: ModelInfo
    hardware: HardwareProfile
    method: MethodSpec
    workloads: tuple[WorkloadSpec, ...]  # this (model, hardware)'s tasks

    def key(self, workload: str) -> Key:
        return (self.info.name, self.hardware.name, workload, self.method.name)

    def failed(self, reason: str) -> list[Cell]:
        return [Cell.failed(*self.key(w.name), reason) for w in self.workloads]


@dataclass
class Plan:
    """The resolved grid: what runs where, what cannot run, and every descriptor."""

    workloads: list[WorkloadSpec]
    hardware: list[HardwareProfile]
    models: list[ModelInfo]
    methods: list[MethodSpec]  # requested methods and their references
    groups: list[Group]
    unavailable: list[dict[str, str]]

    @property
    def cells(self) -> int:
        return sum(len(g.workloads) for g in self.groups)

    def descriptors(self) -> dict[str, dict[str, Any]]:
        """role -> name -> descriptor, for the reports and the table."""
        return {
            "model": {i.name: i.descriptor for i in self.models},
            "hardware": {h.name: h.descriptor() for h in self.hardware},
            "workload": {w.name: w.descriptor() for w in self.workloads},
            "method": {s.name: s.descriptor() for s in self.methods},
        }


def with_references(names: Iterable[str]) -> list[MethodSpec]:
    """The methods, with each one's quality reference put first where it is missing."""
    wanted = [get_method(m) for m in names]
    for spec in list(wanted):
        ref = get_method(spec.reference)
        if ref not in wanted:
            wanted.insert(0, ref)
    return wanted


def plan_grid(grid: GridSpec, say: Callable[[str], None] = _quiet) -> Plan:
    """Resolve names; skip (and say) the methods a hardware profile cannot run."""
    workloads = grid.workload_specs()
    by_name = {w.name: w for w in workloads}
    hardware = {h: profile_by_name(h) for h in grid.hardware}
    infos = {m: model_info(m) for m in grid.models}
    wanted = with_references(grid.methods)
    groups: list[Group] = []
    unavailable: list[dict[str, str]] = []
    runnable: dict[str, list[MethodSpec]] = {}
    for h, hw in hardware.items():
        ok, no = available_methods(hw, [m.name for m in wanted])
        runnable[h] = ok
        for spec, reason in no:
            unavailable.append({"hardware": hw.name, "method": spec.name, "reason": reason})
            say(f"skip {spec.name} on {hw.name}: {reason}")
    for model in grid.models:  # a model's profiles one after the other: a budgeted run
        for h, hw in hardware.items():  # that stops early has whole rows on every profile
            mine = tuple(by_name[w] for w in grid.workload_names(model, h))
            if mine:
                groups.extend(Group(model, infos[model], hw, spec, mine) for spec in runnable[h])
    if grid.order == "method":
        rank = {spec.name: i for i, spec in enumerate(wanted)}
        groups.sort(key=lambda g: rank[g.method.name])  # stable: tasks keep their order
    used = {w.name for g in groups for w in g.workloads}
    return Plan(
        [w for w in workloads if w.name in used] or workloads,
        list(hardware.values()),
        list(infos.values()),
        wanted,
        groups,
        unavailable,
    )


# ---------------------------------------------------------------------------- checkpoint


def resume(checkpoint: Path | None, say: Callable[[str], None] = _quiet) -> dict[Key, Cell]:
    """The measured cells of an interrupted run (failures are measured again).

    The checkpoint's folder is made here, so that a run fails before measuring, not after
    its first cell, when the checkpoint cannot be written.
    """
    if checkpoint is None:
        return {}
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    if not checkpoint.exists():
        return {}
    done: dict[Key, Cell] = {}
    for line in checkpoint.read_text().splitlines():
        if line.strip():
            c = Cell.from_dict(json.loads(line))
            if not c.error:
                done[c.key] = c
    say(f"resuming: {len(done)} cells already measured in {checkpoint}")
    return done


def resumed_group(group: Group, done: dict[Key, Cell]) -> list[Cell] | None:
    """The group's cells from the checkpoint when all are there, else None."""
    kept = [done.get(group.key(w.name)) for w in group.workloads]
    return [c for c in kept if c is not None] if all(kept) else None


class Recorder:
    """Called with every new cell: appends it to the checkpoint, moves the progress bar,
    says which cells failed."""

    def __init__(
        self, total: int, progress: bool, checkpoint: Path | None, say: Callable[[str], None]
    ) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=total, desc="bench", unit="cell", disable=not progress, dynamic_ncols=True
        )
        self.checkpoint = checkpoint
        self.say = say

    def __call__(self, cell: Cell) -> None:
        if self.checkpoint is not None:
            with open(self.checkpoint, "a") as fh:
                fh.write(json.dumps(cell.to_dict()) + "\n")
        self.bar.update(1)
        tps = cell.metrics.get("output_tokens_per_s")
        self.bar.set_postfix_str(
            f"{cell.model[:14]}|{cell.hardware}|{cell.method}|{cell.workload}: "
            + (f"{tps:.1f} tok/s" if tps is not None else "FAILED")
        )
        if cell.error:
            where = f"{cell.model} {cell.hardware} {cell.method} {cell.workload}"
            self.say(f"FAILED {where}: {cell.error}")

    def skip(self, n: int) -> None:
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


# ---------------------------------------------------------------------------- execution


@dataclass(frozen=True)
class Execution:
    """How groups run: own worker processes (``isolate``; vLLM always), time limits, log."""

    config: BenchConfig
    isolate: bool = True
    worker_timeout_s: float = 3600.0
    deadline: float | None = None  # time.monotonic() after which no new work starts
    log: Path | None = None

    def run_group(self, group: Group, on_cell: OnCell) -> list[Cell]:
        """Measure one group in-process or in a worker; past the deadline, fail its cells."""
        workloads = list(group.workloads)
        left = self.deadline - time.monotonic() if self.deadline else self.worker_timeout_s
        if left <= 0:
            cells = group.failed(SKIPPED_BUDGET)
            for cell in cells:
                on_cell(cell)
            return cells
        if self.isolate or group.method.engine == "vllm":
            timeout_s = min(left, self.worker_timeout_s)
            args = (group.model, group.hardware, group.method, workloads, self.config)
            return run_in_worker(*args, on_cell=on_cell, timeout_s=timeout_s, log=self.log)
        return measure_group(
            group.model,
            group.hardware,
            group.method,
            workloads,
            self.config,
            on_cell,
            self.deadline,
        )


# ------------------------------------------------------------------------------ reports


def cell_report(
    cell: Cell, quality: dict[str, Any], descriptors: dict[str, dict[str, Any]], config: BenchConfig
) -> dict[str, Any]:
    """The canonical report of a measured cell (its hash is the cell's reportHash)."""
    return build_report(
        model=descriptors["model"][cell.model],
        hardware=descriptors["hardware"][cell.hardware],
        workload=descriptors["workload"][cell.workload],
        method=descriptors["method"][cell.method],
        metrics=cell.metrics,
        quality=quality,
        samples=cell.samples,
        env=environment(cell.env),
        config=config.to_dict()
        | {"load_s": round(cell.load_s, 3), "warmup_s": round(cell.warmup_s, 3)},
        measured_at=cell.measured_at,
        outputs_hash=content_id(cell.outputs),
    )


def store_reports(
    cells: list[Cell],
    descriptors: dict[str, dict[str, Any]],
    config: BenchConfig,
    store: BlobStore,
) -> tuple[list[dict[str, Any]], dict[Key, str]]:
    """Quality-check every measured cell, store its report; the table rows and report hashes."""
    guard = QualityGuard(cells)
    rows: list[dict[str, Any]] = []
    reports: dict[Key, str] = {}
    for cell in cells:
        if cell.error:
            continue
        quality = guard.check(cell)
        reports[cell.key] = store.put_json(cell_report(cell, quality, descriptors, config))
        rows.append(cell_row(cell, quality))
    return rows, reports


# ------------------------------------------------------------------------------ the grid


def run_grid(
    grid: GridSpec,
    store: BlobStore | None = None,
    progress: bool = True,
    worker_timeout_s: float = 3600.0,
    log: Path | None = None,
    echo: Callable[[str], None] | None = None,
    isolate: bool = True,
    budget_s: float | None = None,
    checkpoint: Path | None = None,
    skip: set[Key] | frozenset[Key] = frozenset(),
) -> GridResult:
    """Measure the grid; store one report per measured cell; return the table rows.

    With ``isolate`` (the default) every (model, hardware, method) group runs in a fresh
    worker process, so that peak memory, thread pools and compilation caches belong to
    that method alone; vLLM groups always do. With ``checkpoint`` every cell is appended to
    that JSON-lines file as it is measured, and a rerun with the same file skips the
    (model, hardware, method) groups whose cells are all there. With ``budget_s`` the grid
    stops starting work when the budget is spent: the cells it did not reach are failures
    saying so. Groups whose cells are all in ``skip`` (e.g. the rows of a committed table
    that this run updates) are not measured and not in the result.
    """
    start = time.perf_counter()
    # sleeping OpenMP waits (see bench.worker); effective when torch is not imported yet
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    say = echo or _quiet
    store = store or open_blob_store()
    plan = plan_grid(grid, say)
    done = resume(checkpoint, say)
    record = Recorder(plan.cells, progress, checkpoint, say)
    deadline = time.monotonic() + budget_s if budget_s else None
    execution = Execution(grid.config, isolate, worker_timeout_s, deadline, log)
    cells: list[Cell] = []
    resumed = 0
    for group in plan.groups:
        if all(group.key(w.name) in skip for w in group.workloads):
            record.skip(len(group.workloads))
            continue
        kept = resumed_group(group, done)
        if kept is not None:
            cells.extend(kept)
            record.skip(len(kept))
            resumed += len(kept)
        else:
            cells.extend(execution.run_group(group, record))
    record.close()
    descriptors = plan.descriptors()
    rows, reports = store_reports(cells, descriptors, grid.config, store)
    return GridResult(
        rows=rows,
        cells=cells,
        reports=reports,
        unavailable=plan.unavailable,
        descriptors=descriptors,
        elapsed_s=time.perf_counter() - start,
        resumed=resumed,
    )
