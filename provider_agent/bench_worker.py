"""Worker process for one (model, hardware, method) group: ``python -m provider_agent.bench_worker JOB``.

Used for engines that must own their process (vLLM reads its CPU binding from the
environment at import time). Prints one ``METAINF-CELL {json}`` line per measured cell on
stdout; everything else the engine prints is noise to the parent.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    # Before anything imports torch (its OpenMP runtime reads this once): waiting threads
    # sleep instead of spinning. On a shared host a spinning pool turns one busy neighbour
    # core into 10-30x slower multi-threaded kernels; see docs/provider.md.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    job = json.loads(Path(argv[0]).read_text())
    from provider_agent.bench import CELL_MARK, measure_group
    from provider_agent.engines.vllm import configure_env
    from provider_agent.hardware import profile_by_name
    from provider_agent.harness import BenchConfig
    from provider_agent.methods import get_method
    from provider_agent.workloads import WorkloadSpec

    hw = profile_by_name(job["hardware"])
    method = get_method(job["method"])
    if method.engine == "vllm":
        configure_env(hw.threads, hw.device)
    workloads = [
        WorkloadSpec(
            **{
                **w,
                "prompt_tokens": tuple(w["prompt_tokens"]),
                "output_tokens": tuple(w["output_tokens"]),
            }
        )
        for w in job["workloads"]
    ]
    # cells go to the real stdout; whatever the engine prints goes to stderr (the log)
    out = os.fdopen(os.dup(1), "w")
    sys.stdout.flush()
    os.dup2(2, 1)

    def emit(cell) -> None:  # type: ignore[no-untyped-def]
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
