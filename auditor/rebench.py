"""Re-benchmarking attested cells and judging the claim against the auditor's own run.

The auditor measures the attested cell again (same model by weights hash, method,
workload with its seed, bench config, and the *same hardware descriptor*: CPU model, ISA
flags, cores, RAM, threads, GPU) through the agent's public facade
(:func:`provider_agent.public.remeasure`), and compares the attested throughput and TTFT
with its own medians.

Tolerance (docs/auditor.md has the measurements behind the defaults)::

    cv_p = stdev / mean of the per-repetition figure in the provider's report
    cv_a = the same over the auditor's repetitions (all rounds pooled, so it includes
           the auditor's own between-run drift)
    tolerance = max(floor, k * sqrt(cv_p**2 + cv_a**2))

and a claim is within it when ``|ln(claimed advantage)| <= ln(1 + tolerance)``: an
advantage of +x (throughput claimed x above the measurement, or TTFT claimed that much
below it) and a shortfall of x / (1 + x) are treated alike. ``k = 3`` (three standard
deviations of the difference); the floor covers run-to-run drift that neither run's
repetitions show (neighbours on a shared host, frequency scaling).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

from auditor.results import AttestationCheck, MetricComparison, RebenchResult


@dataclass(frozen=True)
class TolerancePolicy:
    """How far a claim may be from the auditor's measurement."""

    floor: float = 1.0  # throughput: a factor 2 (drift measured on a shared 2-core host)
    ttft_floor: float = 1.0  # a small model's TTFT is a few ms of Python and scheduling
    k: float = 3.0

    def __post_init__(self) -> None:
        if self.floor < 0 or self.ttft_floor < 0 or self.k < 0:
            raise ValueError("tolerance floors and k must be >= 0")

    def tolerance(self, cv_provider: float, cv_auditor: float, floor: float) -> float:
        return max(floor, self.k * math.hypot(cv_provider, cv_auditor))

    def to_dict(self) -> dict[str, float]:
        return {"floor": self.floor, "ttft_floor": self.ttft_floor, "k": self.k}


def cv(values: list[float]) -> float:
    """Coefficient of variation (sample stdev / mean); 0 for fewer than two values."""
    if len(values) < 2:
        return 0.0
    mean = statistics.fmean(values)
    return statistics.stdev(values) / mean if mean > 0 else 0.0


def per_repetition(report: dict[str, Any] | None) -> dict[str, list[float]]:
    """Per-repetition throughput and median TTFT (ms) from a report's raw samples."""
    out: dict[str, list[float]] = {"output_tokens_per_s": [], "ttft_p50_ms": []}
    for s in (report or {}).get("samples") or []:
        try:
            out["output_tokens_per_s"].append(float(s["output_tokens_per_s"]))
            if s["ttft_s"]:
                out["ttft_p50_ms"].append(1000.0 * statistics.median(s["ttft_s"]))
        except (KeyError, TypeError, ValueError):
            continue
    return out


def _comparison(
    metric: str,
    claimed: float,
    measured: float,
    advantage: float,
    cvs: tuple[float, float],
    tolerance: float,
) -> MetricComparison:
    within = advantage > -1 and abs(math.log1p(advantage)) <= math.log1p(tolerance)
    return MetricComparison(
        metric=metric,
        claimed=round(claimed, 6),
        measured=round(measured, 6),
        advantage=round(advantage, 6) if math.isfinite(advantage) else advantage,
        tolerance=round(tolerance, 6),
        cv_provider=round(cvs[0], 6),
        cv_auditor=round(cvs[1], 6),
        within=within,
    )


def compare(
    headline: dict[str, int],
    provider_report: dict[str, Any] | None,
    auditor_report: dict[str, Any],
    policy: TolerancePolicy,
) -> list[MetricComparison]:
    """The attested throughput and TTFT against the auditor's report, each with its tolerance."""
    mine, theirs = per_repetition(auditor_report), per_repetition(provider_report)
    metrics = auditor_report["metrics"]
    out = []
    claimed = headline["tokensPerSecX1000"] / 1000.0
    measured = float(metrics["output_tokens_per_s"])
    cvs = (cv(theirs["output_tokens_per_s"]), cv(mine["output_tokens_per_s"]))
    tol = policy.tolerance(*cvs, policy.floor)
    advantage = claimed / measured - 1.0 if measured > 0 else math.inf
    out.append(_comparison("output_tokens_per_s", claimed, measured, advantage, cvs, tol))
    claimed_ttft = headline["ttftP50Us"] / 1000.0
    measured_ttft = float(metrics.get("ttft_p50_ms", 0.0))
    if measured_ttft > 0:
        cvs = (cv(theirs["ttft_p50_ms"]), cv(mine["ttft_p50_ms"]))
        tol = policy.tolerance(*cvs, policy.ttft_floor)
        advantage = measured_ttft / claimed_ttft - 1.0 if claimed_ttft > 0 else math.inf
        out.append(_comparison("ttft_p50_ms", claimed_ttft, measured_ttft, advantage, cvs, tol))
    return out


def _versions(report: dict[str, Any] | None) -> dict[str, str]:
    env = (report or {}).get("environment") or {}
    packages = env.get("packages") if isinstance(env, dict) else None
    return dict(packages) if isinstance(packages, dict) else {}


def notes_on(
    provider_report: dict[str, Any] | None,
    auditor_report: dict[str, Any],
    outputs_match: bool | None,
) -> list[str]:
    """What else a reader of the verdict should know (versions, greedy outputs)."""
    notes = []
    theirs, mine = _versions(provider_report), _versions(auditor_report)
    differ = sorted(k for k in set(theirs) & set(mine) if theirs[k] != mine[k])
    if differ:
        notes.append(
            "package versions differ: "
            + ", ".join(f"{k} {theirs[k]} (provider) vs {mine[k]} (auditor)" for k in differ)
        )
    if outputs_match is False:
        notes.append(
            "the auditor's greedy outputs differ from the attested ones "
            "(another model or method may have been run)"
        )
    engine = (auditor_report.get("environment") or {}).get("engine") or {}
    load = engine.get("loadavg_1min") if isinstance(engine, dict) else None
    if load:
        notes.append(f"auditor host load average (1 min) before/after: {load}")
    return notes


def judge(
    check: AttestationCheck,
    provider_report: dict[str, Any] | None,
    auditor_report: dict[str, Any],
    policy: TolerancePolicy,
) -> RebenchResult:
    """The verdict on one attestation, given the auditor's report of the same cell."""
    comparisons = compare(check.headline, provider_report, auditor_report, policy)
    verdict = "consistent" if all(c.within for c in comparisons) else "inconsistent"
    return RebenchResult(
        tx_hash=check.tx_hash,
        index=check.index,
        claim_hash=check.claim_hash,
        verdict=verdict,
        comparisons=comparisons,
        names=dict(check.names),
    )


def not_comparable(check: AttestationCheck, reason: str) -> RebenchResult:
    return RebenchResult(
        tx_hash=check.tx_hash,
        index=check.index,
        claim_hash=check.claim_hash,
        verdict="not comparable",
        reason=reason,
        names=dict(check.names),
    )
