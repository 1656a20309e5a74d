"""Is a benchmark report physically possible and internally consistent?

A report whose hash matches its attestation can still be made up. These checks recompute
what a report's raw samples imply and compare it with what the report (and so the
attestation) says, with the agent's own definitions (``provider_agent/harness.py``),
re-implemented here so that the check does not trust the code it checks:

* every figure finite and non-negative; throughput and peak memory positive;
* percentiles ordered (p50 <= p90 <= p99) for TTFT, TPOT, ITL and end-to-end latency, and
  TTFT never above end-to-end latency at the same percentile (per request TTFT <= E2E);
* at least 3 measured repetitions (the measurement protocol), as many as the config says;
* per repetition: throughput = output tokens / wall time; every request finished within the
  wall time; the output token count fits the workload's pinned lengths, the number of
  inter-token gaps (tokens - requests), and the per-token latency
  (tokens of a request = 1 + (E2E - TTFT) / TPOT);
* headline throughput = median over repetitions (and its mean/min/max); every latency
  percentile = the percentile of the pooled raw samples.

Raw samples are stored rounded (seconds to 6 decimals, throughput to 3), so comparisons
allow that rounding and nothing more.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from auditor.results import (
    LATENCY,
    MEMORY,
    NEGATIVE,
    PERCENTILES,
    SAMPLES,
    THROUGHPUT,
    Finding,
)

MIN_SAMPLES = 3
LATENCIES = {"ttft": "ttft_s", "tpot": "tpot_s", "itl": "itl_s", "e2e": "e2e_s"}
QUANTILES = (50, 90, 99)
SECONDS_ROUNDING = 1e-6  # raw samples are stored to 6 decimals


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), q in [0, 100]."""
    xs = sorted(values)
    k = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def _close(a: float, b: float, abs_tol: float, rel_tol: float = 1e-6) -> bool:
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def check_metrics(metrics: Any) -> list[Finding]:
    """Figures that cannot be: negative, NaN, missing; zero throughput or memory; disorder."""
    if not isinstance(metrics, dict):
        return [Finding(NEGATIVE, "the report has no metrics")]
    out = [
        Finding(NEGATIVE, f"{k} = {v!r} is not a non-negative number")
        for k, v in sorted(metrics.items())
        if not _number(v) or v < 0
    ]
    if out:
        return out
    if metrics.get("output_tokens_per_s", 0) <= 0:
        out.append(Finding(THROUGHPUT, "output_tokens_per_s is missing or not positive"))
    for key in ("peak_rss_bytes", "peak_device_memory_bytes"):
        if key in metrics and metrics[key] <= 0:
            out.append(Finding(MEMORY, f"{key} = {metrics[key]} is not positive"))
    if "peak_rss_bytes" not in metrics and "peak_device_memory_bytes" not in metrics:
        out.append(Finding(MEMORY, "the report has no peak memory"))
    for label in LATENCIES:
        vals = [metrics.get(f"{label}_p{q}_ms") for q in QUANTILES]
        if None in vals:
            continue
        if not vals[0] <= vals[1] <= vals[2]:
            out.append(
                Finding(PERCENTILES, f"{label} percentiles out of order: p50/p90/p99 = {vals} ms")
            )
    for q in QUANTILES:
        ttft, e2e = metrics.get(f"ttft_p{q}_ms"), metrics.get(f"e2e_p{q}_ms")
        if ttft is not None and e2e is not None and ttft > e2e + 1e-3:
            out.append(
                Finding(PERCENTILES, f"TTFT p{q} {ttft} ms exceeds end-to-end p{q} {e2e} ms")
            )
    return out


def _sample_problems(i: int, s: Any, workload: dict[str, Any]) -> list[str]:
    """What is impossible about one repetition's raw sample."""
    if not isinstance(s, dict):
        return [f"sample {i} is not an object"]
    lists = {k: s.get(k) for k in LATENCIES.values()}
    wall, tokens, tps = s.get("wall_s"), s.get("output_tokens"), s.get("output_tokens_per_s")
    if not (_number(wall) and wall > 0 and isinstance(tokens, int) and tokens > 0 and _number(tps)):
        return [f"sample {i}: wall_s/output_tokens/output_tokens_per_s missing or not positive"]
    if not all(
        isinstance(v, list) and all(_number(x) and x >= 0 for x in v) for v in lists.values()
    ):
        return [f"sample {i}: latency lists missing or with negative values"]
    problems = []
    if not _close(tps, tokens / wall, abs_tol=2e-3, rel_tol=2 * SECONDS_ROUNDING / wall + 1e-6):
        problems.append(f"sample {i}: {tps} tokens/s but {tokens} tokens in {wall} s")
    ttft, e2e, tpot, itl = lists["ttft_s"], lists["e2e_s"], lists["tpot_s"], lists["itl_s"]
    n_req = workload.get("num_requests")
    if len(ttft) != len(e2e) or (isinstance(n_req, int) and len(e2e) != n_req):
        problems.append(f"sample {i}: {len(ttft)} TTFTs, {len(e2e)} latencies, {n_req} requests")
        return problems
    if any(e > wall + 2 * SECONDS_ROUNDING for e in e2e):
        problems.append(f"sample {i}: a request took longer than the whole run ({wall} s)")
    if any(t > e + 2 * SECONDS_ROUNDING for t, e in zip(ttft, e2e, strict=True)):
        problems.append(f"sample {i}: a request's first token came after its last")
    lo, hi = (workload.get("output_tokens") or [None, None])[:2]
    if isinstance(lo, int) and isinstance(hi, int) and not lo * len(e2e) <= tokens <= hi * len(e2e):
        problems.append(
            f"sample {i}: {tokens} output tokens, but {len(e2e)} requests of {lo}-{hi} tokens"
        )
    if len(itl) != tokens - len(e2e):
        problems.append(
            f"sample {i}: {tokens} tokens over {len(e2e)} requests need {tokens - len(e2e)} "
            f"inter-token gaps, the sample has {len(itl)}"
        )
    if len(tpot) == len(e2e) and all(x > 0 for x in tpot):
        implied = sum(1 + (e - t) / p for t, e, p in zip(ttft, e2e, tpot, strict=True))
        slack = 0.5 * len(e2e) + 0.01 * tokens
        if abs(implied - tokens) > slack:
            problems.append(
                f"sample {i}: per-token latencies imply {implied:.1f} output tokens, "
                f"the sample says {tokens}"
            )
    return problems


def check_samples(report: dict[str, Any]) -> list[Finding]:
    """The raw samples: enough of them, and each one possible."""
    samples = report.get("samples")
    if not isinstance(samples, list) or len(samples) < MIN_SAMPLES:
        n = len(samples) if isinstance(samples, list) else 0
        return [Finding(SAMPLES, f"{n} measured repetitions, the protocol needs >= {MIN_SAMPLES}")]
    out = []
    config = report.get("config") or {}
    reps = config.get("repetitions")
    if isinstance(reps, int) and len(samples) != reps * int(config.get("rounds", 1)):
        out.append(
            Finding(SAMPLES, f"{len(samples)} samples, but the config ran {reps} repetitions")
        )
    workload = report.get("workload") if isinstance(report.get("workload"), dict) else {}
    for i, s in enumerate(samples):
        out.extend(Finding(SAMPLES, p) for p in _sample_problems(i, s, workload))
    return out


def check_figures_against_samples(report: dict[str, Any]) -> list[Finding]:
    """Headline figures recomputed from the raw samples (call after :func:`check_samples`)."""
    m, samples = report["metrics"], report["samples"]
    tps = [s["output_tokens_per_s"] for s in samples]
    out = []
    # sample throughput is rounded to 3 decimals, so a median/mean/min/max may be off by that
    for key, value in (
        ("output_tokens_per_s", statistics.median(tps)),
        ("output_tokens_per_s_mean", statistics.fmean(tps)),
        ("output_tokens_per_s_min", min(tps)),
        ("output_tokens_per_s_max", max(tps)),
    ):
        if key in m and not _close(m[key], value, abs_tol=2e-3, rel_tol=1e-5):
            ratio = m[key] / value if value else float("inf")
            out.append(
                Finding(
                    THROUGHPUT,
                    f"{key} = {m[key]:.3f}, but the raw samples give {value:.3f} ({ratio:.2f}x)",
                )
            )
    walls = [s["wall_s"] for s in samples]
    if "wall_s_median" in m and not _close(m["wall_s_median"], statistics.median(walls), 2e-6):
        out.append(
            Finding(THROUGHPUT, "wall_s_median is not the median of the samples' wall times")
        )
    for label, attr in LATENCIES.items():
        pooled = [x for s in samples for x in s[attr]]
        if not pooled:
            continue
        for q in QUANTILES:
            key = f"{label}_p{q}_ms"
            if key not in m:
                continue
            expected = percentile(pooled, q) * 1000.0
            if not _close(m[key], expected, abs_tol=2e-3, rel_tol=1e-5):
                out.append(
                    Finding(
                        LATENCY, f"{key} = {m[key]:.3f}, but the raw samples give {expected:.3f}"
                    )
                )
    return out


def check_report(report: dict[str, Any]) -> list[Finding]:
    """Every plausibility finding of a report (empty when it is plausible)."""
    out = check_metrics(report.get("metrics"))
    sample_findings = check_samples(report)
    out.extend(sample_findings)
    if not out or all(f.code == PERCENTILES for f in out):
        out.extend(check_figures_against_samples(report))
    return out
