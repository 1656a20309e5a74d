"""Re-benchmarking attested cells and judging the claim against the auditor's own run.

The auditor measures the attested cell again (same model by weights hash, method,
workload with its seed, bench config, and the *same hardware descriptor*: CPU model, ISA
flags, cores, RAM, threads, GPU) through the agent's public facade
(:func:`provider_agent.public.remeasure`), and compares the attested throughput and TTFT
with its own medians.

Tolerance (docs/auditor.md has the measurements behind the defaults)::

    cv_p, n_p = stdev / mean of the per-repetition figure in the provider's report, and
                how many repetitions it has
    cv_a, n_a = the same over the auditor's repetitions (all rounds pooled, so it
                includes the auditor's own run-to-run drift)
    u         = sqrt((1.2533 * cv_p)**2 / n_p + (1.2533 * cv_a)**2 / n_a)
    tolerance = max(floor, k * u)

``u`` is the combined relative uncertainty of the two medians being compared (the standard
error of a sample median is about 1.2533 sigma / sqrt(n)). A claim is within the tolerance
when ``|ln(1 + advantage)| <= ln(1 + tolerance)``: an advantage of +x (throughput claimed x
above the measurement, or TTFT claimed that much below it) and a shortfall of x / (1 + x)
are treated alike. ``k = 3`` (three standard errors); the floor covers run-to-run drift that
neither run's repetitions show (neighbours on a shared host, frequency scaling).
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

    def tolerance(
        self, provider: tuple[float, int], auditor: tuple[float, int], floor: float
    ) -> float:
        """``max(floor, k * u)`` for (cv, repetitions) of the provider's and the auditor's run."""
        return max(floor, self.k * median_uncertainty(provider, auditor))

    def to_dict(self) -> dict[str, float]:
        return {"floor": self.floor, "ttft_floor": self.ttft_floor, "k": self.k}


def cv(values: list[float]) -> float:
    """Coefficient of variation (sample stdev / mean); 0 for fewer than two values."""
    if len(values) < 2:
        return 0.0
    mean = statistics.fmean(values)
    return statistics.stdev(values) / mean if mean > 0 else 0.0


MEDIAN_SE = math.sqrt(math.pi / 2)  # 1.2533: standard error of a median / (sigma / sqrt(n))


def median_uncertainty(*spreads: tuple[float, int]) -> float:
    """Combined relative standard error of the medians of runs given as (cv, repetitions)."""
    return math.sqrt(sum((MEDIAN_SE * c) ** 2 / n for c, n in spreads if n > 0))


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
    spreads: tuple[list[float], list[float]],
    policy: TolerancePolicy,
    floor: float,
) -> MetricComparison:
    theirs, mine = (cv(spreads[0]), len(spreads[0])), (cv(spreads[1]), len(spreads[1]))
    tolerance = policy.tolerance(theirs, mine, floor)
    within = advantage > -1 and abs(math.log1p(advantage)) <= math.log1p(tolerance)
    return MetricComparison(
        metric=metric,
        claimed=round(claimed, 6),
        measured=round(measured, 6),
        advantage=round(advantage, 6) if math.isfinite(advantage) else advantage,
        tolerance=round(tolerance, 6),
        cv_provider=round(theirs[0], 6),
        cv_auditor=round(mine[0], 6),
        n_provider=theirs[1],
        n_auditor=mine[1],
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
    key = "output_tokens_per_s"
    claimed = headline["tokensPerSecX1000"] / 1000.0
    measured = float(metrics[key])
    advantage = claimed / measured - 1.0 if measured > 0 else math.inf
    spreads = (theirs[key], mine[key])
    out = [_comparison(key, claimed, measured, advantage, spreads, policy, policy.floor)]
    key = "ttft_p50_ms"
    claimed = headline["ttftP50Us"] / 1000.0
    measured = float(metrics.get(key, 0.0))
    if measured > 0:
        advantage = measured / claimed - 1.0 if claimed > 0 else math.inf
        spreads = (theirs[key], mine[key])
        out.append(
            _comparison(key, claimed, measured, advantage, spreads, policy, policy.ttft_floor)
        )
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


def _excess(result: RebenchResult) -> float:
    """How far the worst figure is outside its tolerance (log scale; <= 0: within)."""

    def excess(c: MetricComparison) -> float:
        if c.advantage <= -1 or not math.isfinite(c.advantage):
            return math.inf
        return abs(math.log1p(c.advantage)) - math.log1p(c.tolerance)

    return max((excess(c) for c in result.comparisons), default=0.0)


def confirmed(first: RebenchResult, second: RebenchResult) -> RebenchResult:
    """The verdict after a second measurement of an inconsistent claim: it stays
    inconsistent only if the second measurement says so too (the closer of the two is
    reported); otherwise the second verdict stands, with a note on the first."""
    if second.verdict != "inconsistent":
        second.notes.append(
            f"a first measurement said {first.summary}; this one did not confirm it"
        )
        return second
    kept, other = (first, second) if _excess(first) <= _excess(second) else (second, first)
    kept.notes.append(f"confirmed by a second measurement: {other.summary}")
    return kept
