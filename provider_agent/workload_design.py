"""Parametric workloads on a space-filling design: what a meta-data set samples.

A *design* maps the points of a scrambled Sobol sequence (scipy's quasi-Monte-Carlo) in
the unit cube onto five workload parameters, each on the scale where its effect on speed
is roughly even (lengths and concurrency log-uniform, fractions uniform):

* ``concurrency``: requests kept in flight, from one latency-bound stream to an offline
  batch (``num_requests`` = concurrency, and 2 for a single stream, one after the other);
* ``prompt_tokens``: mean prompt length, the shared prefix included;
* ``output_tokens``: mean output length;
* ``shared_prefix``: the part of every prompt that all requests share (prefix caching);
* ``restate``: the share of requests that ask to restate their document, so that the
  output repeats the input (n-gram speculation).

Each request's lengths vary by ``spread`` around the point's means (seeded). So that a
CPU can measure a whole data set in hours, a point whose total prompt or output tokens
would exceed ``max_prompt_total`` / ``max_output_total`` has its mean length scaled down to
the cap: offline batches come with short requests (docs/meta.md shows the design).

Workloads are named ``<design>-<index>`` (``qmc-07``); :func:`design_workload` makes the
same :class:`~provider_agent.workloads.WorkloadSpec` from the name on every host.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from provider_agent.workloads import WorkloadSpec

PARAMETERS = ("concurrency", "prompt_tokens", "output_tokens", "shared_prefix", "restate")


@dataclass(frozen=True)
class WorkloadDesign:
    """A seeded space-filling design over the workload parameters; validated once."""

    name: str
    n: int
    seed: int = 0
    concurrency: tuple[int, int] = (1, 32)
    prompt_tokens: tuple[int, int] = (16, 512)
    output_tokens: tuple[int, int] = (4, 128)
    shared_prefix: tuple[float, float] = (0.0, 0.9)
    restate: tuple[float, float] = (0.0, 1.0)
    spread: float = 0.25
    max_prompt_total: int = 1024
    max_output_total: int = 128

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9]*", self.name):
            raise ValueError(f"design name must be lowercase letters and digits, not {self.name!r}")
        if self.n < 1 or self.n & (self.n - 1):
            raise ValueError(f"n must be a power of two (Sobol balance), not {self.n}")
        for label in ("concurrency", "prompt_tokens", "output_tokens"):
            lo, hi = getattr(self, label)
            if not 1 <= lo <= hi:
                raise ValueError(f"{label} must be (min, max) with 1 <= min <= max")
        for label in ("shared_prefix", "restate"):
            lo, hi = getattr(self, label)
            if not 0.0 <= lo <= hi <= 1.0:
                raise ValueError(f"{label} must be (min, max) within [0, 1]")
        if self.shared_prefix[1] >= 1.0:
            raise ValueError("shared_prefix must stay below 1 (every prompt needs its own body)")
        if not 0.0 <= self.spread < 1.0:
            raise ValueError("spread must be in [0, 1)")
        if self.max_prompt_total < self.prompt_tokens[0] * 2:
            raise ValueError("max_prompt_total must fit two of the shortest prompts")
        if self.max_output_total < self.output_tokens[0] * 2:
            raise ValueError("max_output_total must fit two of the shortest outputs")

    def unit_points(self) -> Any:
        """The design's n x 5 points in [0, 1)^5 (scrambled Sobol, seeded)."""
        from scipy.stats import qmc

        return qmc.Sobol(d=len(PARAMETERS), scramble=True, seed=self.seed).random(self.n)

    def parameters(self, u: Any) -> dict[str, float | int]:
        """One unit point -> the parameters it stands for (before the caps)."""

        def log_scale(x: float, lo: float, hi: float) -> float:
            return math.exp(math.log(lo) + x * (math.log(hi) - math.log(lo)))

        def lin_scale(x: float, lo: float, hi: float) -> float:
            return lo + x * (hi - lo)

        return {
            "concurrency": round(log_scale(u[0], *self.concurrency)),
            "prompt_tokens": log_scale(u[1], *self.prompt_tokens),
            "output_tokens": log_scale(u[2], *self.output_tokens),
            "shared_prefix": lin_scale(u[3], *self.shared_prefix),
            "restate": lin_scale(u[4], *self.restate),
        }

    def workload(self, index: int, u: Any) -> WorkloadSpec:
        """The workload of point ``index`` (``u``: its unit point)."""
        p = self.parameters(u)
        concurrency = int(p["concurrency"])
        n = max(2, concurrency)
        prompt = min(float(p["prompt_tokens"]), self.max_prompt_total / n)
        output = min(float(p["output_tokens"]), self.max_output_total / n)
        shared = int(round(float(p["shared_prefix"]) * prompt))
        body = max(1.0, prompt - shared)
        return WorkloadSpec(
            name=f"{self.name}-{index:02d}",
            kind="generated",
            num_requests=n,
            concurrency=concurrency,
            prompt_tokens=_around(body, self.spread),
            output_tokens=_around(output, self.spread),
            shared_prefix_tokens=shared,
            seed=index,
            restate_percent=int(round(100 * float(p["restate"]))),
        )

    def workloads(self) -> list[WorkloadSpec]:
        return [self.workload(i, u) for i, u in enumerate(self.unit_points())]


def _around(mean: float, spread: float) -> tuple[int, int]:
    lo = max(1, int(round(mean * (1 - spread))))
    return lo, max(lo, int(round(mean * (1 + spread))))


# The designs the meta-data sets use. Changing one changes its workloads' ids: add a new
# design instead.
DESIGNS: dict[str, WorkloadDesign] = {d.name: d for d in (WorkloadDesign("qmc", n=32, seed=0),)}


@cache
def design_workloads(name: str) -> tuple[WorkloadSpec, ...]:
    """Every workload of design ``name``."""
    try:
        return tuple(DESIGNS[name].workloads())
    except KeyError:
        raise ValueError(f"unknown workload design {name!r} (have {', '.join(DESIGNS)})") from None


def design_workload(name: str) -> WorkloadSpec | None:
    """``<design>-<index>`` -> its workload; None when the name is not of that form."""
    m = re.fullmatch(r"([a-z][a-z0-9]*)-(\d+)", name)
    if not m or m.group(1) not in DESIGNS:
        return None
    specs = design_workloads(m.group(1))
    index = int(m.group(2))
    if index >= len(specs) or name != specs[index].name:
        return None
    return specs[index]
