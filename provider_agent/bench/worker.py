"""One (model, hardware, method) group in a process of its own:
``python -m provider_agent.bench.worker JOB``.

Used for engines that must own their process (vLLM reads its CPU binding from the
environment at import time) and, by default, for every group, so that peak memory,
thread pools and compilation caches belong to one method.

The protocol: the parent (:func:`run_in_worker`) writes the job as JSON (model spec,
hardware profile and method names, the workloads in full, the bench config, the time
budget) and starts this module on it. The worker (:func:`main`) prints one
``METAINF-CELL {json}`` line per cell on stdout; everything else the engine prints goes to
stderr (the log). Cells the worker did not report (it crashed, or ran out of time) become
failed cells in the parent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from provider_agent.bench.cells import Cell
from provider_agent.hardware import HardwareProfile
from provider_agent.harness import BenchConfig
from provider_agent.methods import MethodSpec
from provider_agent.models import model_info
from provider_agent.workloads import WorkloadSpec

CELL_MARK = "METAINF-CELL "
MODULE = "provider_agent.bench.worker"  # python -m MODULE JOB

OnCell = Callable[[Cell], None]


# ------------------------------------------------------------------------------ the job


def encode_job(
    model_spec: str,
    hardware: HardwareProfile,
    method: MethodSpec,
    workloads: list[WorkloadSpec],
    config: BenchConfig,
    budget_s: float | None,
) -> dict[str, Any]:
    return {
        "model": model_spec,
        "hardware": hardware.name,
        "method": method.name,
        "workloads": [
            w.__dict__
            | {"prompt_tokens": list(w.prompt_tokens), "output_tokens": list(w.output_tokens)}
            for w in workloads
        ],
        "config": config.to_dict(),
        "budget_s": budget_s,
    }


def decode_workloads(items: list[dict[str, Any]]) -> list[WorkloadSpec]:
    return [
        WorkloadSpec(
            **{
                **w,
                "prompt_tokens": tuple(w["prompt_tokens"]),
                "output_tokens": tuple(w["output_tokens"]),
            }
        )
        for w in items
    ]


# ---------------------------------------------------------------------------- the parent


def _read_cells(proc: subprocess.Popen[str], deadline: float, on_cell: OnCell | None) -> list[Cell]:
    """Cells from the worker's stdout as they come; kills it at the deadline."""
    cells: list[Cell] = []
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
    return cells


def _run(
    job_file: Path, timeout_s: float, log: IO[str] | None, on_cell: OnCell | None
) -> tuple[list[Cell], int]:
    """Start the worker on ``job_file``: its cells and its exit status (-9 when killed)."""
    cmd = [sys.executable, "-m", MODULE, str(job_file)]
    err = log if log is not None else subprocess.DEVNULL
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=os.environ.copy()
    )
    deadline = time.monotonic() + timeout_s
    cells = _read_cells(proc, deadline, on_cell)
    try:
        rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = -9
    return cells, rc


def run_in_worker(
    model_spec: str,
    hardware: HardwareProfile,
    method: MethodSpec,
    workloads: list[WorkloadSpec],
    config: BenchConfig,
    *,
    on_cell: OnCell | None = None,
    timeout_s: float = 3600.0,
    log: Path | None = None,
) -> list[Cell]:
    """Measure one group in a worker process; a cell it did not report is a failed cell."""
    job = encode_job(model_spec, hardware, method, workloads, config, timeout_s)
    with tempfile.TemporaryDirectory(prefix="metainf-bench-") as tmp:
        job_file = Path(tmp) / "job.json"
        job_file.write_text(json.dumps(job))
        if log is None:
            cells, rc = _run(job_file, timeout_s, None, on_cell)
        else:
            with open(log, "a") as fh:
                cells, rc = _run(job_file, timeout_s, fh, on_cell)
    done = {c.workload for c in cells}
    reason = f"worker exited with status {rc} before measuring this cell"
    if log:
        reason += f" (see {log})"
    model = model_info(model_spec).name
    for w in workloads:
        if w.name not in done:
            cell = Cell.failed(model, hardware.name, w.name, method.name, reason)
            cells.append(cell)
            if on_cell:
                on_cell(cell)
    return cells


# ---------------------------------------------------------------------------- the worker


def main(argv: list[str]) -> int:
    # Before anything imports torch (its OpenMP runtime reads this once): waiting threads
    # sleep instead of spinning. On a shared host a spinning pool turns one busy neighbour
    # core into 10-30x slower multi-threaded kernels; see docs/provider.md.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if len(argv) != 1:
        print(f"usage: python -m {MODULE} JOB.json (written by run_in_worker)", file=sys.stderr)
        return 2
    job = json.loads(Path(argv[0]).read_text())
    from provider_agent.bench.runner import measure_group
    from provider_agent.engines.vllm import configure_env
    from provider_agent.hardware import profile_by_name
    from provider_agent.methods import get_method

    hw = profile_by_name(job["hardware"])
    method = get_method(job["method"])
    if method.engine == "vllm":
        configure_env(hw.threads, hw.device)
    workloads = decode_workloads(job["workloads"])
    # cells go to the real stdout; whatever the engine prints goes to stderr (the log)
    out = os.fdopen(os.dup(1), "w")
    sys.stdout.flush()
    os.dup2(2, 1)

    def emit(cell: Cell) -> None:
        out.write(CELL_MARK + json.dumps(cell.to_dict()) + "\n")
        out.flush()

    # stop starting workloads a little before the parent's timeout kills the worker
    budget = job.get("budget_s")
    deadline = time.monotonic() + 0.95 * budget if budget else None
    config = BenchConfig(**job["config"])
    measure_group(job["model"], hw, method, workloads, config, on_cell=emit, deadline=deadline)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
