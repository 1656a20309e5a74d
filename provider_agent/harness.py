"""The measurement harness: warm-up, cold repetitions, latency statistics, peak memory.

Protocol for one cell (engine already loaded, one workload):

1. ``warmup`` runs of the whole workload, discarded (compilation, allocator, caches);
2. ``repetitions`` measured runs, each after ``engine.reset()`` so that no repetition is
   served from a cache filled by an earlier one;
3. per request: TTFT (first token - submit), TPOT ((last - first) / (n - 1)), every
   inter-token latency, end-to-end latency; per run: output tokens/s and peak memory
   (resident set of this process and its children, sampled every 5 ms; accelerator peak
   from the engine);
4. statistics: mean, p50, p90, p99 over all requests of all repetitions; throughput as
   the median over repetitions (robust to a noisy neighbour) with mean and spread.

The greedy output tokens of the last repetition are kept for the quality guard.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from provider_agent.engines.base import Engine, RequestResult
from provider_agent.workloads import Request, WorkloadSpec

PERCENTILES = (50, 90, 99)


@dataclass(frozen=True)
class BenchConfig:
    """How each cell is measured; validated once."""

    warmup: int = 1
    repetitions: int = 3
    max_model_len: int = 1024
    memory_interval_s: float = 0.005
    seed: int = 0

    def __post_init__(self) -> None:
        if self.warmup < 0:
            raise ValueError("warmup must be >= 0")
        if self.repetitions < 1:
            raise ValueError("repetitions must be >= 1 (the protocol asks for >= 3)")
        if self.max_model_len < 16:
            raise ValueError("max_model_len must be >= 16")
        if self.memory_interval_s <= 0:
            raise ValueError("memory_interval_s must be > 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class PeakMemory:
    """Samples RSS of this process and its children in a thread; ``peak`` in bytes."""

    def __init__(self, interval_s: float = 0.005) -> None:
        import psutil

        self._proc = psutil.Process()
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.peak = 0

    def _sample(self) -> None:
        import psutil

        total = self._proc.memory_info().rss
        try:
            for child in self._proc.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    total += child.memory_info().rss
        except psutil.Error:
            pass
        self.peak = max(self.peak, total)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self) -> PeakMemory:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), for q in [0, 100]."""
    if not values:
        return float("nan")
    xs = sorted(values)
    k = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summarize(values: Sequence[float]) -> dict[str, float]:
    """mean and p50/p90/p99 of ``values`` (empty -> no keys)."""
    if not values:
        return {}
    out = {"mean": statistics.fmean(values)}
    for q in PERCENTILES:
        out[f"p{q}"] = percentile(values, q)
    return out


@dataclass
class RunSample:
    """One measured repetition."""

    wall_s: float
    output_tokens: int
    peak_rss_bytes: int
    peak_device_bytes: int | None
    ttft_s: list[float]
    tpot_s: list[float]
    itl_s: list[float]
    e2e_s: list[float]

    @property
    def output_tokens_per_s(self) -> float:
        return self.output_tokens / self.wall_s

    @classmethod
    def from_results(
        cls, results: list[RequestResult], wall_s: float, peak_rss: int, peak_dev: int | None
    ) -> RunSample:
        ttft, tpot, itl, e2e = [], [], [], []
        for r in results:
            t = r.token_times
            ttft.append(t[0] - r.t_submit)
            e2e.append(t[-1] - r.t_submit)
            if len(t) > 1:
                tpot.append((t[-1] - t[0]) / (len(t) - 1))
                itl.extend(b - a for a, b in zip(t, t[1:], strict=False))
        return cls(
            wall_s=wall_s,
            output_tokens=sum(len(r.output_ids) for r in results),
            peak_rss_bytes=peak_rss,
            peak_device_bytes=peak_dev,
            ttft_s=ttft,
            tpot_s=tpot,
            itl_s=itl,
            e2e_s=e2e,
        )

    def to_dict(self, ndigits: int = 6) -> dict[str, Any]:
        def r(xs: list[float]) -> list[float]:
            return [round(x, ndigits) for x in xs]

        return {
            "wall_s": round(self.wall_s, ndigits),
            "output_tokens": self.output_tokens,
            "output_tokens_per_s": round(self.output_tokens_per_s, 3),
            "peak_rss_bytes": self.peak_rss_bytes,
            "peak_device_bytes": self.peak_device_bytes,
            "ttft_s": r(self.ttft_s),
            "tpot_s": r(self.tpot_s),
            "itl_s": r(self.itl_s),
            "e2e_s": r(self.e2e_s),
        }


@dataclass
class CellMeasurement:
    """All repetitions of one (engine, workload) cell, plus the greedy outputs."""

    samples: list[RunSample]
    outputs: list[list[int]]
    warmup_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    def metrics(self) -> dict[str, float]:
        """Flat metric dict: the performance-table columns (latencies in ms)."""
        tps = [s.output_tokens_per_s for s in self.samples]
        n_req = len(self.samples[0].e2e_s)
        m: dict[str, float] = {
            "output_tokens_per_s": statistics.median(tps),
            "output_tokens_per_s_mean": statistics.fmean(tps),
            "output_tokens_per_s_min": min(tps),
            "output_tokens_per_s_max": max(tps),
            "requests_per_s": statistics.median(n_req / s.wall_s for s in self.samples),
            "wall_s_median": statistics.median(s.wall_s for s in self.samples),
        }
        for label, attr in (
            ("ttft", "ttft_s"),
            ("tpot", "tpot_s"),
            ("itl", "itl_s"),
            ("e2e", "e2e_s"),
        ):
            pooled = [x for s in self.samples for x in getattr(s, attr)]
            for stat, value in summarize(pooled).items():
                m[f"{label}_{stat}_ms"] = value * 1000.0
        m["peak_rss_bytes"] = float(max(s.peak_rss_bytes for s in self.samples))
        dev = [s.peak_device_bytes for s in self.samples if s.peak_device_bytes is not None]
        if dev:
            m["peak_device_memory_bytes"] = float(max(dev))
        return m


def measure(
    engine: Engine,
    workload: WorkloadSpec,
    requests: list[Request],
    config: BenchConfig,
) -> CellMeasurement:
    """Run the protocol above for one loaded engine and one workload."""
    t0 = time.perf_counter()
    for _ in range(config.warmup):
        engine.reset()
        engine.run(requests, workload.concurrency)
    warmup_s = time.perf_counter() - t0
    samples: list[RunSample] = []
    results: list[RequestResult] = []
    for _ in range(config.repetitions):
        engine.reset()
        engine.reset_peak_memory()
        with PeakMemory(config.memory_interval_s) as mem:
            start = time.perf_counter()
            results = engine.run(requests, workload.concurrency)
            wall = time.perf_counter() - start
        samples.append(RunSample.from_results(results, wall, mem.peak, engine.peak_device_memory()))
    outputs = [r.output_ids for r in sorted(results, key=lambda r: r.index)]
    return CellMeasurement(samples=samples, outputs=outputs, warmup_s=warmup_s)


def agreement(outputs: list[list[int]], reference: list[list[int]]) -> dict[str, float]:
    """Quality guard: how closely greedy ``outputs`` follow the reference method's tokens.

    ``token_agreement``: fraction of positions with the same token; ``prefix_agreement``:
    fraction of tokens before the first divergence; ``exact_match_rate``: requests whose
    whole output is identical.
    """
    if len(outputs) != len(reference):
        raise ValueError(f"{len(outputs)} outputs vs {len(reference)} reference outputs")
    same = prefix = total = exact = 0
    for out, ref in zip(outputs, reference, strict=True):
        n = len(ref)
        total += n
        same += sum(a == b for a, b in zip(out, ref, strict=False))
        k = 0
        while k < min(len(out), n) and out[k] == ref[k]:
            k += 1
        prefix += k
        exact += int(out == ref)
    return {
        "token_agreement": same / total if total else 1.0,
        "prefix_agreement": prefix / total if total else 1.0,
        "exact_match_rate": exact / len(reference) if reference else 1.0,
    }
