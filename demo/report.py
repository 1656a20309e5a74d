"""The demo's outputs: a summary table, a markdown report and two plots."""

from __future__ import annotations

import json
from pathlib import Path

from web3 import Web3

from demo.marketplace import DemoResult


def _eth(wei: int) -> str:
    return f"{Web3.from_wei(wei, 'ether'):.6f} ETH"


def summary_rows(r: DemoResult) -> list[tuple[str, str]]:
    d = r.details
    return [
        (
            "attestations posted / verified clean",
            f"{r.attestations_posted} / {r.attestations_verified}",
        ),
        ("false attestation slashed", "yes" if r.false_attestation_slashed else "NO"),
        ("job", f"#{d.get('job_id')} {r.job_state}"),
        ("served by", f"{r.provider} on {d.get('hardware')} with {r.method}"),
        ("predictor", d.get("decision_reason") or ""),
        ("predicted best / measured best", f"{r.predicted_best_method} / {r.measured_best_method}"),
        ("chosen vs best measured throughput", f"{r.chosen_vs_best_throughput:.3f}"),
        ("speed-up vs the no-acceleration baseline", f"{r.speedup_vs_baseline:.3f}x"),
        ("price paid", _eth(d.get("price_wei", 0))),
        (
            "provider paid / client refunded",
            f"{_eth(r.provider_paid_wei)} / {_eth(r.client_refund_wei)}",
        ),
    ]


def markdown(r: DemoResult) -> str:
    lines = ["# MetaInf Market demo", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in summary_rows(r)]
    lines += ["", "## Candidates the backend considered (chosen hardware)", ""]
    lines += [
        "| method | predicted tok/s | predicted runtime s | predicted cost | measured tok/s |",
        "|---|---:|---:|---:|---:|",
    ]
    measured = r.details.get("measured_tokens_per_s", {})
    for c in r.details.get("candidates", []):
        name = c.get("method_name") or c["method_id"][:10]
        lines.append(
            f"| {name} | {c.get('predicted_tokens_per_s')} | {c.get('predicted_runtime_s')} | "
            f"{c.get('predicted_cost_wei')} | {measured.get(name, '')} |"
        )
    audit = r.details.get("audit", {})
    lines += ["", "## Audit", "", "```json", json.dumps(audit, indent=2, default=str), "```", ""]
    return "\n".join(lines)


def plots(r: DemoResult, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    measured = r.details.get("measured_tokens_per_s", {})
    cands = {
        (c.get("method_name") or c["method_id"][:10]): c for c in r.details.get("candidates", [])
    }
    names = sorted(set(measured) | set(cands))
    fig, ax = plt.subplots(figsize=(7, 4))
    xs = range(len(names))
    pred = [cands.get(n, {}).get("predicted_tokens_per_s") or 0 for n in names]
    meas = [measured.get(n, 0) for n in names]
    ax.bar([x - 0.2 for x in xs], pred, width=0.4, label="predicted (backend)")
    ax.bar([x + 0.2 for x in xs], meas, width=0.4, label="measured (re-run of the job)")
    ax.set_xticks(list(xs), names)
    ax.set_ylabel("output tokens/s")
    ax.set_title(f"job {r.details.get('job_id')}: chosen {r.method}")
    ax.legend()
    fig.tight_layout()
    written.append(out_dir / "predicted_vs_measured.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4))
    money = {
        "provider payout": r.provider_paid_wei,
        "protocol fee": r.details.get("price_wei", 0) - r.provider_paid_wei,
        "client refund": r.client_refund_wei,
        "slash: auditor reward": r.details.get("audit", {}).get("auditor_reward_wei", 0),
        "slash: treasury": r.details.get("audit", {}).get("treasury_share_wei", 0),
    }
    ax.barh(list(money), [Web3.from_wei(v, "ether") for v in money.values()])
    ax.set_xlabel("ETH")
    ax.set_title("where the money went")
    fig.tight_layout()
    written.append(out_dir / "money.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)
    return written
