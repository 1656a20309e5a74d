"""What a selector decided for one task, and why: the record ``Selector.explain`` returns.

The CLI prints it (``metainf meta recommend``) and the backend's matcher reads it, so it
is plain data: numbers in the table's own units, ``None`` where the selector cannot say.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


def _finite_or_none(x: float | None) -> float | None:
    """JSON has no NaN or infinity: an unknown prediction is ``None``."""
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass(frozen=True)
class CandidateExplanation:
    """One available method of the task, as the selector sees it.

    ``rank`` is the 1-based position in the selector's ranking. The predictions are
    ``None`` for selectors that only rank (not cost-aware) and where a cost-aware one has
    none; ``predicted_cost`` is ``None`` without a price (infinite for a method the price
    mapping lacks), ``fits_budget`` is ``None`` without a budget.
    """

    method: str
    rank: int
    predicted_metric: float | None = None  # in the table's metric unit (tokens/s, s, ...)
    predicted_runtime_s: float | None = None  # work / predicted performance
    predicted_cost: float | None = None  # runtime x price per second
    fits_budget: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("predicted_metric", "predicted_runtime_s", "predicted_cost"):
            out[key] = _finite_or_none(out[key])
        return out


@dataclass(frozen=True)
class Explanation:
    """The ranking of a task's available methods, their predicted metric, runtime and
    cost, and the method chosen (``selected``; ``None`` when no method is available or,
    with a budget, none is predicted to fit), with the reason in words."""

    selector: str
    metric: str
    lower_is_better: bool
    candidates: tuple[CandidateExplanation, ...]
    selected: str | None
    reason: str
    work: float = 1.0
    budget: float | None = None

    @property
    def ranking(self) -> list[str]:
        """Available methods, best first."""
        return [c.method for c in self.candidates]

    def candidate(self, method: str) -> CandidateExplanation:
        return next(c for c in self.candidates if c.method == method)

    def to_dict(self) -> dict[str, Any]:
        return {
            "selected": self.selected,
            "reason": self.reason,
            "ranking": self.ranking,
            "candidates": [c.to_dict() for c in self.candidates],
            "selector": self.selector,
            "metric": self.metric,
            "lower_is_better": self.lower_is_better,
            "work": self.work,
            "budget": self.budget,
        }
