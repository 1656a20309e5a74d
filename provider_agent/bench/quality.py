"""The quality guard: does a method still produce its reference's greedy tokens?

Every measured cell is compared with its method's reference cell (same model, hardware
and workload): ``hf-eager`` for transformers and ORT methods, ``vllm-baseline`` for vLLM
ones (vLLM runs bf16, so it has its own reference). Exact methods must reproduce every
request (``ok``); lossy ones report their agreement and are not judged. Methods whose
reference is not ``hf-eager`` are also compared with ``hf-eager`` where it was measured
(``vs_hf_eager``: a cross-engine check, informational).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from provider_agent.bench.cells import Cell, Key
from provider_agent.harness import agreement
from provider_agent.methods import get_method

BASELINE = "hf-eager"  # the transformers fp32 baseline every engine can be held to


class QualityGuard:
    """The quality block of a cell's report, from the other cells of the same run."""

    def __init__(self, cells: Iterable[Cell]) -> None:
        self._by_key: dict[Key, Cell] = {c.key: c for c in cells}

    def _measured(self, cell: Cell, method: str) -> Cell | None:
        other = self._by_key.get((cell.model, cell.hardware, cell.workload, method))
        return other if other is not None and not other.error else None

    def check(self, cell: Cell) -> dict[str, Any]:
        spec = get_method(cell.method)
        quality: dict[str, Any] = {"reference": spec.reference, "exact": spec.exact}
        ref = self._measured(cell, spec.reference)
        if ref is not None:
            quality.update(agreement(cell.outputs, ref.outputs))
            quality["ok"] = (quality["exact_match_rate"] == 1.0) if spec.exact else True
        else:
            quality["ok"] = None  # no reference measured: nothing to judge against
        base = self._measured(cell, BASELINE)
        if spec.reference != BASELINE and base is not None:
            quality["vs_hf_eager"] = agreement(cell.outputs, base.outputs)
        return quality
