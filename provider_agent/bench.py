"""The grid runner: models x hardware profiles x methods x workloads -> table + reports.

Each (model, hardware, method) *group* loads its engine once and measures every workload
with it (:func:`measure_group`), by default in a worker process of its own
(``python -m provider_agent.bench_worker``): peak memory, thread pools and compilation
caches then belong to that method alone, and vLLM, which reads its threading from the
environment at import time and cannot change it later, always needs one.
After all groups, the quality guard compares every cell's greedy tokens with its method's
reference cell, each cell becomes a canonical report stored under its hash, and the cells
become rows of the long-format performance table (one row per model x hardware x
workload x method, one column per metric).
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protocol.blobstore import BlobStore, open_blob_store
from protocol.canonical import content_id
from protocol.report import build_report, utc_now
from provider_agent.engines import make_engine
from provider_agent.hardware import HardwareProfile, profile_by_name
from provider_agent.harness import BenchConfig, agreement, measure
from provider_agent.methods import MethodSpec, available_methods, get_method
from provider_agent.models import model_info
from provider_agent.report import environment
from provider_agent.workloads import WorkloadSpec, get_workload

KEY_COLUMNS = ("model", "hardware", "workload", "method")
QUALITY_COLUMNS = ("token_agreement", "prefix_agreement", "exact_match_rate")


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


@dataclass
class Cell:
    """One measured (or failed) cell, JSON-serializable for the worker protocol."""

    model: str
    hardware: str
    workload: str
    method: str
    metrics: dict[str, float] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[list[int]] = field(default_factory=list)
    load_s: float = 0.0
    warmup_s: float = 0.0
    env: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    # when it was measured, so a report rebuilt from a checkpoint keeps its hash
    measured_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Cell:
        return cls(**d)


def _max_model_len(workloads: Iterable[WorkloadSpec], config: BenchConfig) -> int:
    need = max(w.max_total_tokens for w in workloads) + 16
    return max(config.max_model_len, -(-need // 64) * 64)


def measure_group(
    model_spec: str,
    hardware: HardwareProfile,
    method: MethodSpec,
    workloads: list[WorkloadSpec],
    config: BenchConfig,
    on_cell: Callable[[Cell], None] | None = None,
    deadline: float | None = None,
) -> list[Cell]:
    """Load one engine and measure every workload with it (failures become error cells).

    ``deadline`` (a ``time.monotonic()`` value) stops it from starting further workloads.
    """
    from transformers import AutoTokenizer

    info = model_info(model_spec)
    cells: list[Cell] = []

    def emit(cell: Cell) -> None:
        cells.append(cell)
        if on_cell:
            on_cell(cell)

    def fail_all(msg: str) -> list[Cell]:
        for w in workloads:
            emit(Cell(info.name, hardware.name, w.name, method.name, error=msg))
        return cells

    t0 = time.perf_counter()
    engine = make_engine(info, method, hardware, max_model_len=_max_model_len(workloads, config))
    try:
        engine.load()
    except Exception as exc:  # any load failure is reported per cell, the grid goes on
        return fail_all(f"load failed: {type(exc).__name__}: {exc}")
    load_s = time.perf_counter() - t0
    tok = AutoTokenizer.from_pretrained(info.path, local_files_only=True)
    env = engine.environment()
    for w in workloads:
        if deadline is not None and time.monotonic() > deadline:
            emit(
                Cell(
                    info.name,
                    hardware.name,
                    w.name,
                    method.name,
                    error="skipped: time budget spent",
                )
            )
            continue
        try:
            load_before = os.getloadavg()[0]
            m = measure(engine, w, w.build(tok), config)
            # a busy neighbour distorts CPU timings: keep the evidence with the numbers
            cell_env = env | {
                "loadavg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset"),
            }
            emit(
                Cell(
                    info.name,
                    hardware.name,
                    w.name,
                    method.name,
                    metrics=m.metrics(),
                    samples=[s.to_dict() for s in m.samples],
                    outputs=m.outputs,
                    load_s=load_s,
                    warmup_s=m.warmup_s,
                    env=cell_env,
                    measured_at=utc_now(),
                )
            )
        except Exception as exc:
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            emit(Cell(info.name, hardware.name, w.name, method.name, error=detail))
    engine.close()
    return cells


# ------------------------------------------------------------------------ worker protocol

CELL_MARK = "METAINF-CELL "


def _run_group_in_worker(
    model_spec: str,
    hardware: HardwareProfile,
    method: MethodSpec,
    workloads: list[WorkloadSpec],
    config: BenchConfig,
    on_cell: Callable[[Cell], None] | None,
    timeout_s: float,
    log: Path | None,
) -> list[Cell]:
    job = {
        "model": model_spec,
        "hardware": hardware.name,
        "method": method.name,
        "workloads": [
            w.__dict__
            | {"prompt_tokens": list(w.prompt_tokens), "output_tokens": list(w.output_tokens)}
            for w in workloads
        ],
        "config": config.to_dict(),
        "budget_s": timeout_s,
    }
    cells: list[Cell] = []
    with tempfile.TemporaryDirectory(prefix="metainf-bench-") as tmp:
        job_file = Path(tmp) / "job.json"
        job_file.write_text(json.dumps(job))
        cmd = [sys.executable, "-m", "provider_agent.bench_worker", str(job_file)]
        err = open(log, "a") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
        try:
            proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=os.environ.copy()
            )
            deadline = time.monotonic() + timeout_s
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith(CELL_MARK):
                    cell = Cell.from_dict(json.loads(line[len(CELL_MARK) :]))
                    cells.append(cell)
                    if on_cell:
                        on_cell(cell)
                if time.monotonic() > deadline:
                    proc.kill()
                    break
            rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = -9
        finally:
            if log:
                err.close()
    done = {c.workload for c in cells}
    for w in workloads:
        if w.name not in done:
            msg = f"worker exited with status {rc} before measuring this cell"
            if log:
                msg += f" (see {log})"
            cell = Cell(model_info(model_spec).name, hardware.name, w.name, method.name, error=msg)
            cells.append(cell)
            if on_cell:
                on_cell(cell)
    return cells


# ------------------------------------------------------------------------------ the grid


@dataclass
class GridResult:
    rows: list[dict[str, Any]]
    cells: list[Cell]
    reports: dict[tuple[str, str, str, str], str]  # key -> report hash
    unavailable: list[dict[str, str]]
    descriptors: dict[str, dict[str, Any]]
    elapsed_s: float  # this run's wall time; cells taken from a checkpoint are not in it
    resumed: int = 0  # cells taken from the checkpoint instead of measured by this run

    def failures(self) -> list[Cell]:
        return [c for c in self.cells if c.error]


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
) -> GridResult:
    """Measure the grid; store one report per measured cell; return the table rows.

    With ``isolate`` (the default) every (model, hardware, method) group runs in a fresh
    worker process, so that peak memory, thread pools and compilation caches belong to
    that method alone; vLLM groups always do. With ``checkpoint`` every cell is appended to
    that JSON-lines file as it is measured, and a rerun with the same file skips the
    (model, hardware, method) groups whose cells are all there. With ``budget_s`` the grid stops starting
    work when the budget is spent: the cells it did not reach are failures saying so.
    """
    from tqdm import tqdm

    start = time.perf_counter()
    # sleeping OpenMP waits (see bench_worker); effective when torch is not imported yet
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    say = echo or (lambda s: None)
    store = store or open_blob_store()
    workloads = grid.workload_specs()
    hardware = [profile_by_name(h) for h in grid.hardware]
    infos = {m: model_info(m) for m in grid.models}
    # references come first so that they exist for the quality guard
    wanted = [get_method(m) for m in grid.methods]
    for spec in list(wanted):
        ref = get_method(spec.reference)
        if ref not in wanted:
            wanted.insert(0, ref)
    groups: list[tuple[str, HardwareProfile, MethodSpec]] = []
    unavailable: list[dict[str, str]] = []
    for hw in hardware:
        ok, no = available_methods(hw, [m.name for m in wanted])
        for spec, reason in no:
            unavailable.append({"hardware": hw.name, "method": spec.name, "reason": reason})
            say(f"skip {spec.name} on {hw.name}: {reason}")
        for model in grid.models:
            groups.extend((model, hw, spec) for spec in ok)
    total = len(groups) * len(workloads)
    bar = tqdm(total=total, desc="bench", unit="cell", disable=not progress, dynamic_ncols=True)
    cells: list[Cell] = []
    done: dict[tuple[str, str, str, str], Cell] = {}
    if checkpoint is not None:
        # fail before measuring, not after the first cell, if it cannot be written
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        if checkpoint.exists():
            # resume: measured cells of an interrupted run (failures are measured again)
            for line in checkpoint.read_text().splitlines():
                if line.strip():
                    c = Cell.from_dict(json.loads(line))
                    if not c.error:
                        done[(c.model, c.hardware, c.workload, c.method)] = c
            say(f"resuming: {len(done)} cells already measured in {checkpoint}")

    def on_cell(cell: Cell) -> None:
        if checkpoint is not None:
            with open(checkpoint, "a") as fh:
                fh.write(json.dumps(cell.to_dict()) + "\n")
        bar.update(1)
        tps = cell.metrics.get("output_tokens_per_s")
        bar.set_postfix_str(
            f"{cell.model[:14]}|{cell.hardware}|{cell.method}|{cell.workload}: "
            + (f"{tps:.1f} tok/s" if tps is not None else "FAILED")
        )
        if cell.error:
            say(f"FAILED {cell.model} {cell.hardware} {cell.method} {cell.workload}: {cell.error}")

    deadline = time.monotonic() + budget_s if budget_s else None
    resumed = 0
    for model, hw, spec in groups:
        names = infos[model].name, hw.name
        kept = [done.get((*names, w.name, spec.name)) for w in workloads]
        if all(kept):
            cells.extend(c for c in kept if c is not None)
            bar.update(len(kept))
            resumed += len(kept)
            continue
        left = deadline - time.monotonic() if deadline else worker_timeout_s
        if left <= 0:
            for w in workloads:
                cell = Cell(
                    infos[model].name,
                    hw.name,
                    w.name,
                    spec.name,
                    error="skipped: time budget spent",
                )
                cells.append(cell)
                on_cell(cell)
            continue
        if isolate or spec.engine == "vllm":
            got = _run_group_in_worker(
                model, hw, spec, workloads, grid.config, on_cell, min(left, worker_timeout_s), log
            )
        else:
            got = measure_group(model, hw, spec, workloads, grid.config, on_cell, deadline)
        cells.extend(got)
    bar.close()

    by_key = {(c.model, c.hardware, c.workload, c.method): c for c in cells}
    descriptors = {
        "model": {i.name: i.descriptor for i in infos.values()},
        "hardware": {h.name: h.descriptor() for h in hardware},
        "workload": {w.name: w.descriptor() for w in workloads},
        "method": {s.name: s.descriptor() for s in wanted},
    }
    rows, reports = [], {}
    for cell in cells:
        if cell.error:
            continue
        spec = get_method(cell.method)
        ref = by_key.get((cell.model, cell.hardware, cell.workload, spec.reference))
        quality: dict[str, Any] = {"reference": spec.reference, "exact": spec.exact}
        if ref is not None and not ref.error:
            quality.update(agreement(cell.outputs, ref.outputs))
            quality["ok"] = (quality["exact_match_rate"] == 1.0) if spec.exact else True
        else:
            quality["ok"] = None
        base = by_key.get((cell.model, cell.hardware, cell.workload, "hf-eager"))
        if spec.reference != "hf-eager" and base is not None and not base.error:
            # cross-engine check (e.g. vLLM bf16 vs transformers fp32), informational
            quality["vs_hf_eager"] = agreement(cell.outputs, base.outputs)
        hw_desc = descriptors["hardware"][cell.hardware]
        rep = build_report(
            model=descriptors["model"][cell.model],
            hardware=hw_desc,
            workload=descriptors["workload"][cell.workload],
            method=descriptors["method"][cell.method],
            metrics=cell.metrics,
            quality=quality,
            samples=cell.samples,
            env=environment(cell.env),
            config=grid.config.to_dict()
            | {"load_s": round(cell.load_s, 3), "warmup_s": round(cell.warmup_s, 3)},
            measured_at=cell.measured_at,
            outputs_hash=content_id(cell.outputs),
        )
        h = store.put_json(rep)
        key = (cell.model, cell.hardware, cell.workload, cell.method)
        reports[key] = h
        row: dict[str, Any] = dict(zip(KEY_COLUMNS, key, strict=True))
        row.update(cell.metrics)
        for q in QUALITY_COLUMNS:
            if q in quality:
                row[q] = quality[q]
        row["load_s"] = cell.load_s
        rows.append(row)
    return GridResult(
        rows=rows,
        cells=cells,
        reports=reports,
        unavailable=unavailable,
        descriptors=descriptors,
        elapsed_s=time.perf_counter() - start,
        resumed=resumed,
    )


# ---------------------------------------------------------------------------- outputs


def metric_columns(rows: list[dict[str, Any]]) -> list[str]:
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in KEY_COLUMNS and k not in cols:
                cols.append(k)
    return cols


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = [*KEY_COLUMNS, *metric_columns(rows)]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for r in sorted(rows, key=lambda r: tuple(r[k] for k in KEY_COLUMNS)):
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})


def descriptor_ids(descriptors: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """role -> name -> content id (modelId, hardwareId, ...) of its descriptor."""
    return {
        role: {n: content_id(d) for n, d in named.items()} for role, named in descriptors.items()
    }


def table_json(result: GridResult) -> dict[str, Any]:
    """The long-format table with ids and report hashes (``bench --json``)."""
    d = result.descriptors
    ids = descriptor_ids(d)
    rows = []
    for r in result.rows:
        key = tuple(r[k] for k in KEY_COLUMNS)
        rows.append(
            r
            | {f"{role}Id": ids[role][r[role]] for role in KEY_COLUMNS}
            | {"reportHash": result.reports[key]}
        )
    return {
        "schema": "metainf.performance-table/1",
        "key_columns": list(KEY_COLUMNS),
        "metric_columns": metric_columns(result.rows),
        "rows": rows,
        "unavailable": result.unavailable,
        "failures": [
            {k: getattr(c, k) for k in (*KEY_COLUMNS, "error")} for c in result.failures()
        ],
        "descriptors": d,
        "ids": ids,
        "elapsed_s": round(result.elapsed_s, 1),
    }


_ID_FIELDS = ("modelId", "hardwareId", "workloadId", "methodId", "reportHash")


def merge_results(previous: dict[str, Any], result: GridResult) -> GridResult:
    """``result`` measured on top of an earlier ``bench --json`` table.

    Cells measured in ``result`` (rows or failures) replace the earlier table's cells with
    the same (model, hardware, workload, method); everything else is kept, so a few cells
    can be re-measured without re-running the grid. Descriptors must agree where names meet.
    """
    prev_desc = previous.get("descriptors", {})
    descriptors: dict[str, dict[str, Any]] = {}
    for kind in KEY_COLUMNS:  # the descriptor roles are the key columns
        merged = dict(prev_desc.get(kind, {}))
        for name, desc in result.descriptors.get(kind, {}).items():
            if name in merged and merged[name] != desc:
                raise ValueError(f"{kind} {name!r} has a different descriptor than in the table")
            merged[name] = desc
        descriptors[kind] = merged
    fresh = {tuple(c.__dict__[k] for k in KEY_COLUMNS) for c in result.cells}
    rows = list(result.rows)
    reports = dict(result.reports)
    for r in previous.get("rows", []):
        key = tuple(r[k] for k in KEY_COLUMNS)
        if key in fresh:
            continue
        rows.append({k: v for k, v in r.items() if k not in _ID_FIELDS})
        reports[key] = r["reportHash"]
    cells = list(result.cells)
    for f in previous.get("failures", []):
        key = tuple(f[k] for k in KEY_COLUMNS)
        if key not in fresh:
            cells.append(Cell(*key, error=f["error"]))
    seen = {(u["hardware"], u["method"]) for u in result.unavailable}
    unavailable = list(result.unavailable) + [
        u for u in previous.get("unavailable", []) if (u["hardware"], u["method"]) not in seen
    ]
    return GridResult(
        rows=rows,
        cells=cells,
        reports=reports,
        unavailable=unavailable,
        descriptors=descriptors,
        elapsed_s=result.elapsed_s + float(previous.get("elapsed_s", 0.0)),
    )


def write_descriptors(result: GridResult, path: Path) -> None:
    """The sidecar `metainf meta eval --descriptors` reads: role -> name -> descriptor, + ids."""
    out = result.descriptors | {"ids": descriptor_ids(result.descriptors)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")


# ------------------------------------------------------------------ how much choice matters

OBJECTIVES = {"output_tokens_per_s": "max", "ttft_p50_ms": "min", "e2e_p90_ms": "min"}


def selection_summary(
    rows: list[dict[str, Any]], metric: str = "output_tokens_per_s"
) -> dict[str, Any]:
    """Per task (model x hardware x workload): best method; the single best solver (SBS).

    SBS is the method with the best mean normalized score over the tasks (score = value /
    best for maximized metrics, best / value for minimized ones), counted over tasks where
    it was measured. Reports how often the SBS is the per-task best (top-1) and the mean
    normalized score the SBS and the oracle (VBS, 1.0 by definition) reach.
    """
    sense = OBJECTIVES.get(metric, "max")
    tasks: dict[tuple[str, str, str], dict[str, float]] = defaultdict(dict)
    for r in rows:
        if metric in r and r[metric] == r[metric]:
            tasks[(r["model"], r["hardware"], r["workload"])][r["method"]] = float(r[metric])
    if not tasks:
        return {"metric": metric, "tasks": 0}
    norm: dict[str, list[float]] = defaultdict(list)
    best_of: dict[tuple[str, str, str], str] = {}
    for task, vals in tasks.items():
        best = max(vals, key=vals.get) if sense == "max" else min(vals, key=vals.get)
        best_of[task] = best
        for meth, v in vals.items():
            norm[meth].append(
                v / vals[best] if sense == "max" else vals[best] / v if v > 0 else 0.0
            )
    n_tasks = len(tasks)
    # a method must cover every task to be a fair single-best candidate
    full = {m: xs for m, xs in norm.items() if len(xs) == n_tasks} or norm
    sbs = max(full, key=lambda m: statistics.fmean(full[m]))
    wins = defaultdict(int)
    for b in best_of.values():
        wins[b] += 1
    per_workload: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (_, _, wl), b in best_of.items():
        per_workload[wl][b] += 1
    return {
        "metric": metric,
        "sense": sense,
        "tasks": n_tasks,
        "sbs": sbs,
        "sbs_top1": sum(b == sbs for b in best_of.values()) / n_tasks,
        "sbs_mean_normalized": statistics.fmean(full[sbs]),
        "distinct_winners": len(wins),
        "wins": dict(sorted(wins.items(), key=lambda kv: -kv[1])),
        "winners_by_workload": {wl: dict(v) for wl, v in sorted(per_workload.items())},
        "best_by_task": {"|".join(t): b for t, b in sorted(best_of.items())},
    }


def grid_summary(result: GridResult) -> dict[str, Any]:
    """Per objective, how much the choice of method matters: over every method, and over the
    exact ones only (lossy methods change the outputs, so a client may rule them out)."""
    exact_rows = [r for r in result.rows if get_method(r["method"]).exact]
    return {
        "elapsed_s": round(result.elapsed_s, 1),
        "cells": len(result.rows),
        "resumed_cells": result.resumed,
        "failures": len(result.failures()),
        "objectives": {m: selection_summary(result.rows, m) for m in OBJECTIVES},
        "objectives_exact_methods": {m: selection_summary(exact_rows, m) for m in OBJECTIVES},
    }


# ------------------------------------------------------------------------------ presets

# hf-compile and hf-sdpa stay out of the CPU grid: on this 2-core CPU torch.compile spends
# 35-50 s compiling each new shape and is then slower than eager (static 1024-slot cache),
# and SDPA is within noise of eager attention; both remain available by name.
_HF_CPU = ("hf-eager", "hf-int8", "hf-bf16", "hf-ngram")
_ORT = ("ort-fp32", "ort-int8")
_VLLM = ("vllm-baseline", "vllm-prefix", "vllm-chunked", "vllm-batch64", "vllm-ngram", "vllm-all")
_SIX = ("chat", "prefill-heavy", "decode-heavy", "shared-prefix", "summarize", "offline-64")

GRIDS: dict[str, dict[str, Any]] = {
    # the committed CPU meta-data set (data/metadataset/cpu.csv): every CPU method, 288
    # cells, ~45-60 min on an idle 2-core host
    "cpu": dict(
        models=("smollm2-135m", "random:48m"),
        hardware=("cpu-1t", "cpu-2t"),
        workloads=_SIX,
        methods=(*_HF_CPU, *_ORT, *_VLLM),
        reps=3,
        warmup=1,
    ),
    # the same tasks with the eight fastest-to-measure methods: ~20 min
    "cpu-quick": dict(
        models=("smollm2-135m", "random:48m"),
        hardware=("cpu-1t", "cpu-2t"),
        workloads=_SIX,
        methods=("hf-eager", "hf-int8", *_VLLM),
        reps=3,
        warmup=1,
    ),
    # seconds: the tiny random model, a few methods
    "smoke": dict(
        models=("random:tiny",),
        hardware=("cpu-1t",),
        workloads=("chat", "prefill-heavy", "shared-prefix", "summarize"),
        methods=("hf-eager", "hf-sdpa", "hf-int8", "hf-ngram", "ort-fp32"),
        reps=3,
        warmup=1,
    ),
    # GPU host (scripts/gpu_bench.sh): transformers on CUDA; vLLM / ORT-CUDA where installed
    "gpu": dict(
        models=("smollm2-135m", "random:360m"),
        hardware=("cuda0",),
        workloads=(*_SIX, "chat-stream"),
        methods=(
            "hf-eager",
            "hf-sdpa",
            "hf-fp16",
            "hf-bf16",
            "hf-fp16-compile",
            "hf-ngram",
            *_ORT,
            *_VLLM,
            "vllm-graphs",
        ),
        reps=3,
        warmup=1,
    ),
}


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
    base = dict(GRIDS[name or "smoke"])
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
