"""How a cheating provider lies: doctored reports and attestations, made from real ones.

Every forgery starts from a report the agent really measured, so the only thing wrong
with it is the lie under test.
"""

from __future__ import annotations

import copy
from typing import Any

from eth_account.signers.local import LocalAccount

from chain.clients import Market
from protocol.eip712 import Attestation, Measurement, sign_attestation
from provider_agent.harness import CellMeasurement, RunSample

TIME_LISTS = ("ttft_s", "tpot_s", "itl_s", "e2e_s")


def inflate_metrics(report: dict[str, Any], factor: float) -> dict[str, Any]:
    """Headline throughput multiplied, raw samples left as measured (a careless lie)."""
    out = copy.deepcopy(report)
    for key in list(out["metrics"]):
        if key.startswith("output_tokens_per_s"):
            out["metrics"][key] = round(out["metrics"][key] * factor, 6)
    return out


def disorder_percentiles(report: dict[str, Any]) -> dict[str, Any]:
    """TTFT p90 below p50 (the headline p50 untouched)."""
    out = copy.deepcopy(report)
    m = out["metrics"]
    m["ttft_p90_ms"] = round(m["ttft_p50_ms"] / 2, 6)
    return out


def scaled_report(report: dict[str, Any], factor: float) -> dict[str, Any]:
    """Every time divided by ``factor``, metrics recomputed the agent's way: a report that
    is internally consistent and claims ``factor`` x the measured throughput."""
    out = copy.deepcopy(report)
    runs = []
    for s in out["samples"]:
        for key in TIME_LISTS:
            s[key] = [round(x / factor, 6) for x in s[key]]
        s["wall_s"] = round(s["wall_s"] / factor, 6)
        s["output_tokens_per_s"] = round(s["output_tokens"] / s["wall_s"], 3)
        runs.append(RunSample(**{k: v for k, v in s.items() if k != "output_tokens_per_s"}))
    metrics = CellMeasurement(samples=runs, outputs=[], warmup_s=0.0).metrics()
    out["metrics"] = {k: round(v, 6) for k, v in sorted(metrics.items())}
    return out


def forged_attest_input(
    market: Market, signer: LocalAccount, provider: str, m: Measurement, nonce: int, timestamp: int
) -> str:
    """The calldata of an ``attest`` call signed by ``signer`` (the contract would refuse to
    post it when the signer is not the provider's current key: it is checked unposted)."""
    a = Attestation(provider=provider, measurement=m, nonce=nonce, timestamp=timestamp)
    signature = sign_attestation(a, market.attestations.domain(), signer.key)
    return market.attestations.contract.encode_abi("attest", args=[a.as_tuple(), signature])
