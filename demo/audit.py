"""The demo's auditor pass: verify every attestation, re-measure the suspicious claim,
challenge it, rule on it as the demo chain's arbiter, and collect bond and reward.

The checks are the auditor role's own (``auditor.Auditor``, the same code as
``metainf audit``); this module runs them in the demo's order and records the money.
"""

from __future__ import annotations

from collections.abc import Callable

from auditor import Auditor
from auditor.results import RebenchResult
from demo.providers import DemoProvider
from demo.stack import Stack

Say = Callable[[str], None]


def _describe(result: RebenchResult) -> str:
    figures = ", ".join(
        f"{c.metric} claimed {c.claimed:.4g} vs measured {c.measured:.4g}"
        for c in result.comparisons
    )
    return f"{result.summary}: {figures}" if figures else result.summary


def run_audit(stack: Stack, providers: list[DemoProvider], fake: dict, say: Say) -> dict:
    """Audit the demo market; ``fake`` names the false attestation the demo posted, which
    the auditor has to find on its own (its verdicts decide the challenge)."""
    del providers  # the auditor knows only the chain and the blob store
    account = stack.account()
    auditor = Auditor(
        stack.market,
        stack.store,
        account=account,
        models=[str(stack.work_dir / "models" / "small")],
        from_block=stack.deployment.block_number,
        rounds=1,
        # the demo's own worker and API share this host: judge anyway, and say so
        max_load_per_cpu=None,
    )
    report = auditor.verify_all()
    summary = report.summary()
    say(
        f"auditor {account.address}: {len(report.ok)} of {len(report.checks)} attestations "
        f"verify (signer bound, posted, report hash, figures recomputed from raw samples)"
    )
    for check in report.flagged:
        say(f"  flagged {check.tx_hash[:12]}.. item {check.index}: {'; '.join(check.reasons)}")
    suspects = [(c.tx_hash, c.index) for c in report.flagged] or [(fake["tx_hash"], 0)]
    rebench = auditor.rebench(suspects, report=report)
    audit: dict = {
        "verified": len(report.ok),
        "checked": len(report.checks),
        "summary": summary,
        "flagged": [c.to_dict() for c in report.flagged],
        "rebench": [r.to_dict() for r in rebench],
        "auditor": account.address,
        "slashed": False,
        "auditor_reward_wei": 0,
        "treasury_share_wei": 0,
    }
    for result in rebench:
        say(f"auditor re-measured {result.tx_hash[:12]}.. here: {_describe(result)}")
    over_claims = [r for r in rebench if r.over_claim and r.counter_report_hash]
    if not over_claims:
        say("auditor: no claim measured as an over-claim; nothing challenged")
        return audit
    target = over_claims[0]
    case = auditor.challenge(
        target.tx_hash, target.index, counter_report_hash=target.counter_report_hash
    )
    say(
        f"auditor challenged it (case {case.challenge_id}, bond {case.bond_wei} wei, "
        f"{case.stake_locked_wei} wei of the provider's stake locked)"
    )
    ruling = auditor.resolve_as_arbiter(case.challenge_id, stack.admin, upheld=True)
    withdrawal = auditor.withdraw()
    reward = withdrawal.credited_wei - case.bond_wei
    say(
        f"arbiter upheld case {case.challenge_id}: {ruling.slashed_wei} wei slashed, "
        f"auditor withdrew bond + {reward} wei reward, treasury got "
        f"{ruling.slashed_wei - ruling.challenger_reward_wei} wei"
    )
    audit.update(
        slashed=ruling.status == "UPHELD" and ruling.slashed_wei > 0,
        challenge=case.to_dict(),
        ruling=ruling.to_dict(),
        slashed_wei=ruling.slashed_wei,
        auditor_reward_wei=reward,
        treasury_share_wei=ruling.slashed_wei - ruling.challenger_reward_wei,
        withdrawn_wei=withdrawal.withdrawn_wei,
    )
    return audit
