from __future__ import annotations

import numpy as np
import pytest

from provider_agent.engines.base import Engine, RequestResult
from provider_agent.harness import BenchConfig, RunSample, agreement, measure, percentile
from provider_agent.workloads import Request, get_workload


@pytest.mark.parametrize("q", [0, 37, 50, 90, 99, 100])
def test_percentile_matches_numpy(q):
    xs = list(np.random.default_rng(0).random(37))
    assert percentile(xs, q) == pytest.approx(float(np.percentile(xs, q)))


def test_run_sample_latencies():
    r = RequestResult(0, 5, [1, 2, 3], t_submit=10.0, token_times=[10.5, 10.7, 11.1])
    s = RunSample.from_results([r], wall_s=2.0, peak_rss=1, peak_dev=None)
    assert s.ttft_s == [pytest.approx(0.5)]
    assert s.tpot_s == [pytest.approx(0.3)]
    assert s.itl_s == [pytest.approx(0.2), pytest.approx(0.4)]
    assert s.e2e_s == [pytest.approx(1.1)]
    assert s.output_tokens_per_s == 1.5


def test_agreement():
    ref = [[1, 2, 3, 4], [5, 6]]
    assert agreement(ref, ref) == {
        "token_agreement": 1.0,
        "prefix_agreement": 1.0,
        "exact_match_rate": 1.0,
    }
    a = agreement([[1, 9, 3, 4], [5, 6]], ref)
    assert a["token_agreement"] == pytest.approx(5 / 6)
    assert a["prefix_agreement"] == pytest.approx(3 / 6)
    assert a["exact_match_rate"] == 0.5


class FakeEngine(Engine):
    """Deterministic engine that counts resets: each repetition must start cold."""

    def __init__(self):
        self.resets = 0
        self.runs = 0

    def load(self):
        pass

    def reset(self):
        self.resets += 1

    def run(self, requests, concurrency):
        self.runs += 1
        out = []
        for r in requests:
            t = 1.0 + 0.001 * np.arange(r.max_new_tokens)
            out.append(
                RequestResult(
                    r.index, len(r.prompt_ids), [7] * r.max_new_tokens, 1.0, list(t + 0.01)
                )
            )
        return out


def test_measure_protocol():
    eng = FakeEngine()
    wl = get_workload("chat")
    reqs = [Request(i, (1, 2, 3), 4) for i in range(wl.num_requests)]
    m = measure(eng, wl, reqs, BenchConfig(warmup=2, repetitions=3))
    assert eng.runs == 5 and eng.resets == 5
    assert len(m.samples) == 3 and m.outputs == [[7] * 4] * wl.num_requests
    metrics = m.metrics()
    for key in (
        "output_tokens_per_s",
        "ttft_p50_ms",
        "ttft_p99_ms",
        "tpot_mean_ms",
        "itl_p90_ms",
        "e2e_p99_ms",
        "peak_rss_bytes",
    ):
        assert key in metrics
    assert metrics["ttft_p50_ms"] == pytest.approx(10.0)


def test_config_validation():
    with pytest.raises(ValueError):
        BenchConfig(repetitions=0)
    with pytest.raises(ValueError):
        BenchConfig(warmup=-1)
