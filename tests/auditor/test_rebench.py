"""`rebench`: the auditor measures attested cells again on its own (same-profile) hardware.

An honest claim is consistent; a provider that attested 4x what it measured, with a report
doctored to match (so that `verify` cannot tell), is inconsistent; a cell this host cannot
reproduce (other hardware, a model it does not have) is "not comparable", with the reason.
"""

from __future__ import annotations

import copy
import math

import pytest

from auditor import TolerancePolicy, results
from auditor.plausibility import check_report
from auditor.rebench import compare, confirmed, judge
from protocol.canonical import content_id
from protocol.eip712 import Measurement
from provider_agent.public import NotReproducible, local_hardware, remeasure
from tests.auditor.conftest import STREAM, Measured, World, bench
from tests.auditor.forgery import scaled_report

# With the 2x throughput floor of the tolerance, both the honest claim and a 4x lie are
# misjudged only if the host drifts by more than 2x between the two measurements.
INFLATION = 4.0


@pytest.mark.slow
@pytest.mark.serial
def test_an_honest_claim_is_consistent_and_a_4x_inflated_one_is_not(world: World) -> None:
    """The provider measures the cell, then the auditor measures it right after, each
    alone: on one 2-core host two measurements side by side contend for the cores unevenly
    (one may finish its warm-up while the other loads), which is what a shared host does
    to separate machines of one profile, only worse (docs/auditor.md has the drift)."""
    honest = world.store.get_json(
        bench(world.measured.model, world.measured.blobs, (STREAM,))[STREAM]
    )
    good = world.post(world.honest, honest)
    bad = world.post(world.cheat, scaled_report(honest, INFLATION))
    # No load limit: the 1-minute load average still counts the suites that ran before.
    # No confirming second measurement, so that one measurement judges both claims (the
    # confirmation rule has its own test below).
    auditor = world.auditor(rounds=2, max_load_per_cpu=None, confirm=False)
    assert auditor.verify_all().find(bad.tx_hash).ok  # consistent lie: only re-measuring tells

    fair, inflated = auditor.rebench([(good.tx_hash, 0), (bad.tx_hash, 0)])

    assert fair.verdict == "consistent", fair.to_dict()["comparisons"]
    assert not fair.over_claim and fair.summary == "consistent"
    assert inflated.verdict == "inconsistent", inflated.to_dict()["comparisons"]
    assert inflated.over_claim and inflated.summary.startswith("inconsistent (by +")
    tps = inflated.comparisons[0]
    assert tps.metric == "output_tokens_per_s" and not tps.within and tps.advantage > 0
    n_auditor = 3 * auditor.rounds  # the rounds are pooled
    u = 1.2533 * math.hypot(tps.cv_provider / math.sqrt(3), tps.cv_auditor / math.sqrt(n_auditor))
    assert (tps.n_provider, tps.n_auditor) == (3, n_auditor)
    assert tps.tolerance == pytest.approx(max(1.0, 3 * u), abs=1e-4)
    # a cell claimed twice is measured once; that measurement is stored, plausible, and
    # says what it re-ran
    assert fair.counter_report_hash == inflated.counter_report_hash
    counter = world.store.get_json(fair.counter_report_hash)
    assert counter["ids"] == honest["ids"] and len(counter["samples"]) == n_auditor
    assert check_report(counter) == []
    assert counter["quality"]["remeasured"] == content_id(honest)
    auditor.max_load_per_cpu = 0.0  # with any load at all, the measurement judges nothing
    (busy,) = auditor.rebench([(good.tx_hash, 0)])
    assert busy.verdict == "not comparable" and "busy while measuring" in busy.reason


def test_the_tolerance_follows_the_noise(measured: Measured) -> None:
    """tolerance = max(floor, k * combined uncertainty of the two medians); the advantage
    is symmetric in log space."""
    report = measured.report(STREAM)
    claim = Measurement.from_report(report)
    headline = {k: getattr(claim, k) for k in ("tokensPerSecX1000", "ttftP50Us")}
    policy = TolerancePolicy(floor=0.1, ttft_floor=0.1, k=3.0)

    quiet = copy.deepcopy(report)
    for s in quiet["samples"]:
        s["output_tokens_per_s"] = report["metrics"]["output_tokens_per_s"]
    slower = copy.deepcopy(quiet)
    slower["metrics"]["output_tokens_per_s"] = report["metrics"]["output_tokens_per_s"] / 1.2
    tps = compare(headline, quiet, slower, policy)[0]
    assert (tps.cv_provider, tps.cv_auditor, tps.tolerance) == (0.0, 0.0, 0.1)
    assert not tps.within and math.isclose(tps.advantage, 0.2, rel_tol=1e-4)

    noisy = copy.deepcopy(quiet)  # repetitions 30 % apart: the same 1.2x is within noise
    base = report["metrics"]["output_tokens_per_s"]
    for s, f in zip(noisy["samples"], (0.7, 1.0, 1.3), strict=True):
        s["output_tokens_per_s"] = base * f
    tps = compare(headline, noisy, slower, policy)[0]
    assert math.isclose(tps.cv_provider, 0.3, rel_tol=1e-6) and tps.within
    assert math.isclose(tps.tolerance, 3 * 1.2533 * 0.3 / math.sqrt(3), rel_tol=1e-4)

    faster = copy.deepcopy(quiet)  # under-claiming by 1.2x is judged like over-claiming
    faster["metrics"]["output_tokens_per_s"] = base * 1.2
    tps = compare(headline, quiet, faster, policy)[0]
    assert not tps.within and tps.advantage < 0


def test_a_cell_this_host_cannot_reproduce_is_not_comparable(world: World) -> None:
    honest = world.measured.report(STREAM)
    elsewhere = copy.deepcopy(honest)
    elsewhere["hardware"]["cpu_model"] = "Imaginary CPU 9000"
    elsewhere["ids"]["hardwareId"] = content_id(elsewhere["hardware"])
    with pytest.raises(NotReproducible, match="cpu_model: 'Imaginary CPU 9000' attested"):
        local_hardware(elsewhere["hardware"])
    many = {**honest["hardware"], "threads": 4096}
    with pytest.raises(NotReproducible, match="4096 threads"):
        local_hardware(many)

    other_model = copy.deepcopy(honest)
    other_model["model"]["weights_sha256"] = "0" * 64
    other_model["ids"]["modelId"] = content_id(other_model["model"])
    with pytest.raises(NotReproducible, match="not available here"):
        remeasure(other_model)

    world.market.registry.as_(world.cheat.owner).add_hardware(elsewhere["ids"]["hardwareId"], 10**9)
    posted = [world.post(world.cheat, r) for r in (elsewhere, other_model)]
    verdicts = world.auditor().rebench([(p.tx_hash, 0) for p in posted])
    assert [v.verdict for v in verdicts] == ["not comparable"] * 2
    assert "hardware differs" in verdicts[0].summary and "cpu_model" in verdicts[0].reason
    assert "not available here" in verdicts[1].summary
    assert verdicts[0].to_dict()["summary"].startswith("not comparable (")
    assert results.RebenchResult is type(verdicts[0])


def test_an_inconsistent_verdict_needs_a_second_measurement(measured: Measured) -> None:
    report = measured.report(STREAM)
    m = Measurement.from_report(report)
    check = results.AttestationCheck("0x" + "aa" * 32, 0, None, 1, "0x" + "00" * 20, "single")
    check.headline = {"tokensPerSecX1000": m.tokensPerSecX1000, "ttftP50Us": m.ttftP50Us}
    policy = TolerancePolicy()
    same = judge(check, report, report, policy)
    slow = judge(check, report, scaled_report(report, 1 / 3), policy)  # a 3x slower re-run
    slower = judge(check, report, scaled_report(report, 1 / 4), policy)
    assert same.verdict == "consistent" and slow.verdict == slower.verdict == "inconsistent"
    kept = confirmed(slower, slow)  # both inconsistent: the one closer to the claim is kept
    assert kept is slow and kept.notes[-1].startswith("confirmed by a second measurement")
    cleared = confirmed(copy.deepcopy(slow), copy.deepcopy(same))
    assert cleared.verdict == "consistent" and "did not confirm" in cleared.notes[-1]
