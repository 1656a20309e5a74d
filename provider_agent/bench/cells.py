"""What a grid run produces: one :class:`Cell` per (model, hardware, workload, method) and
the :class:`GridResult` around them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KEY_COLUMNS = ("model", "hardware", "workload", "method")
Key = tuple[str, str, str, str]  # (model, hardware, workload, method), KEY_COLUMNS order

# the reason of a cell the grid did not reach because --budget-s was spent
SKIPPED_BUDGET = "skipped: time budget spent"


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

    @classmethod
    def failed(cls, model: str, hardware: str, workload: str, method: str, reason: str) -> Cell:
        """A cell that was not measured, and why (the table lists it under failures)."""
        if not reason:
            raise ValueError("a failed cell needs a reason")
        return cls(model, hardware, workload, method, error=reason)

    @property
    def key(self) -> Key:
        return (self.model, self.hardware, self.workload, self.method)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Cell:
        return cls(**d)


def row_key(row: dict[str, Any]) -> Key:
    """The (model, hardware, workload, method) of a table row or failure entry."""
    model, hardware, workload, method = (row[k] for k in KEY_COLUMNS)
    return (model, hardware, workload, method)


@dataclass
class GridResult:
    rows: list[dict[str, Any]]
    cells: list[Cell]
    reports: dict[Key, str]  # key -> report hash
    unavailable: list[dict[str, str]]
    descriptors: dict[str, dict[str, Any]]
    elapsed_s: float  # this run's wall time; cells taken from a checkpoint are not in it
    resumed: int = 0  # cells taken from the checkpoint instead of measured by this run

    def failures(self) -> list[Cell]:
        return [c for c in self.cells if c.error]
