"""The engine protocol shared by the transformers, ONNX Runtime and vLLM engines.

An engine is loaded once for a (model, method, hardware) and then serves many workloads:
``run(requests, concurrency)`` returns one :class:`RequestResult` per request, with the
wall-clock time at which each output token became available, so that TTFT, TPOT and ITL
are measured, not estimated. Engines without continuous batching serve a workload in
static batches of ``concurrency`` requests (:func:`run_static_batches`).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from provider_agent.hardware import HardwareProfile
    from provider_agent.methods import MethodSpec
    from provider_agent.models import ModelInfo
    from provider_agent.workloads import Request


class EngineError(RuntimeError):
    """An engine could not load or run a method (the message says why)."""


@dataclass
class RequestResult:
    """What happened to one request: submit time and one timestamp per output token."""

    index: int
    prompt_tokens: int
    output_ids: list[int]
    t_submit: float
    token_times: list[float] = field(default_factory=list)

    def check(self, expected_tokens: int) -> None:
        if len(self.output_ids) != expected_tokens or len(self.token_times) != expected_tokens:
            raise EngineError(
                f"request {self.index}: expected {expected_tokens} output tokens, got "
                f"{len(self.output_ids)} ids / {len(self.token_times)} timestamps"
            )


class Engine(ABC):
    """Load once with :meth:`load`, then :meth:`run` workloads; :meth:`reset` between repetitions."""

    name: str = "engine"

    def __init__(
        self,
        model: ModelInfo,
        method: MethodSpec,
        hardware: HardwareProfile,
        max_model_len: int = 2048,
    ) -> None:
        self.info = model
        self.method = method
        self.flags = method.flags  # validated flag dataclass of this engine (engines.flags)
        self.hardware = hardware
        self.max_model_len = max_model_len

    @abstractmethod
    def load(self) -> None:
        """Load weights and build whatever the method needs (may take long: compile, export)."""

    @abstractmethod
    def run(self, requests: Sequence[Request], concurrency: int) -> list[RequestResult]:
        """Serve ``requests`` with at most ``concurrency`` in flight, greedy, pinned lengths."""

    def reset(self) -> None:  # noqa: B027 - optional hook
        """Forget cross-request state (prefix caches) so the next repetition starts cold."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the model."""

    def environment(self) -> dict[str, Any]:
        """Engine versions and effective settings for the report."""
        return {}

    def peak_device_memory(self) -> int | None:
        """Peak accelerator memory since the last :meth:`reset_peak_memory` (None on CPU)."""
        return None

    def reset_peak_memory(self) -> None:  # noqa: B027 - optional hook
        pass


BatchFn = Callable[[list["Request"], float], list[tuple[list[int], list[float]]]]


def run_static_batches(
    requests: Sequence[Request], concurrency: int, batch_fn: BatchFn
) -> list[RequestResult]:
    """Serve requests in consecutive static batches of ``concurrency`` (closed loop).

    ``batch_fn(batch, t_submit)`` returns, per request, (output ids, token times); every
    request of a batch is submitted when the batch starts.
    """
    results: list[RequestResult] = []
    for start in range(0, len(requests), concurrency):
        batch = list(requests[start : start + concurrency])
        t_submit = time.perf_counter()
        outs = batch_fn(batch, t_submit)
        for req, (ids, times) in zip(batch, outs, strict=True):
            res = RequestResult(req.index, len(req.prompt_ids), ids, t_submit, times)
            res.check(req.max_new_tokens)
            results.append(res)
    return results
