"""`metainf audit ...`: the auditor — verify attestations and job results, re-benchmark,
challenge false claims, collect bond and reward.

The chain comes from ``--rpc`` / ``METAINF_RPC_URL`` (a node that outlives the command),
the blob store from ``--blob-store`` (a folder or the backend URL), the key from
``METAINF_AUDITOR_KEY`` or the key file (a throwaway one on dev chains).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from metainf_cli.options import (
    EthAmount,
    blob_store_option,
    market_options,
    open_market,
    role_account,
    settings,
)


class _Ctx:
    """The market, store and auditor of one command."""

    def __init__(self, rpc_url: str, deployments_dir: Path, blob_store: str, sign: bool) -> None:
        from chain.deploy import Deployment

        self.w3, self.market = open_market(rpc_url, deployments_dir)
        self.deployment = Deployment.load(deployments_dir, self.w3.eth.chain_id)
        self.account = role_account(self.w3, "auditor") if sign else None
        self.store = _store(blob_store, self.account)

    def auditor(self, **kwargs: Any):  # noqa: ANN201 - auditor.Auditor
        from auditor import Auditor

        return Auditor(
            self.market,
            self.store,
            account=self.account,
            from_block=self.deployment.block_number,
            **kwargs,
        )


def _store(location: str, account: Any):  # noqa: ANN202 - protocol.blobstore.BlobStore
    from protocol.blobstore import BlobError, open_blob_store

    try:
        return open_blob_store(location, account=account)
    except (BlobError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None


def _write_json(path: Path | None, doc: Any) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2) + "\n")
        click.echo(f"wrote {path}")


def _short(h: str | None, n: int = 6) -> str:
    return f"{h[: n + 2]}…{h[-4:]}" if h else "-"


def json_option(fn):  # noqa: ANN001, ANN201
    return click.option(
        "--json",
        "json_out",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Also write the results as JSON to this file.",
    )(fn)


def models_option(fn):  # noqa: ANN001, ANN201
    return click.option(
        "--model",
        "models",
        multiple=True,
        help="A local model directory or spec the auditor may re-run (repeat); random-weight "
        "models are recreated from the attested descriptor.",
    )(fn)


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


@click.group()
def audit() -> None:
    """Auditor: verify attestations and results, challenge cheaters."""


# ----------------------------------------------------------------------------- verify


def _verify_table(report: Any) -> list[str]:
    head = f"{'tx':<15} {'item':>4} {'provider':<15} {'model':<22} {'method':<14} {'workload':<14} {'tok/s':>9}  status"
    lines = [head, "-" * len(head)]
    for c in report.checks:
        names = c.names
        tps = c.headline.get("tokensPerSecX1000", 0) / 1000
        lines.append(
            f"{_short(c.tx_hash):<15} {c.index:>4} {_short(c.provider):<15} "
            f"{names.get('model', '?')[:22]:<22} {names.get('method', '?')[:14]:<14} "
            f"{names.get('workload', '?')[:14]:<14} {tps:>9.1f}  {c.status}"
        )
        for f in c.findings:
            if f.severity != "info" or f.code == "challenged":
                lines.append(f"{'':<21}{f.severity}: {f}")
    s = report.summary()
    lines.append(
        f"{s['attestations']} attestations in blocks {report.from_block}-{report.to_block}: "
        f"{s['ok']} ok, {s['flagged']} flagged"
    )
    return lines


@audit.command()
@market_options
@blob_store_option
@click.option("--from-block", type=click.IntRange(0), help="Default: the deployment's block.")
@click.option("--to-block", type=click.IntRange(0), help="Default: the latest block.")
@json_option
@click.option("--strict", is_flag=True, help="Exit with status 1 when anything is flagged.")
def verify(rpc_url, deployments_dir, blob_store, from_block, to_block, json_out, strict) -> None:  # fmt: skip
    """Check every attestation: signer, provider, report hash, figures, plausibility."""
    ctx = _Ctx(rpc_url, deployments_dir, blob_store, sign=False)
    report = ctx.auditor().verify_all(from_block, to_block)
    for line in _verify_table(report):
        click.echo(line)
    _write_json(json_out, report.to_dict())
    if strict and report.flagged:
        raise SystemExit(1)


# ----------------------------------------------------------------------------- rebench


def _claims(items: tuple[str, ...]) -> list[tuple[str, int]] | None:
    out = []
    for item in items:
        tx_hash, _, index = item.partition(":")
        try:
            out.append((tx_hash, int(index or 0)))
        except ValueError:
            raise click.BadParameter(f"{item!r}: expected TX_HASH or TX_HASH:INDEX") from None
    return out or None


def _rebench_lines(r: Any) -> list[str]:
    names = r.names
    what = f"{names.get('model', '?')} / {names.get('method', '?')} / {names.get('workload', '?')}"
    lines = [f"{_short(r.tx_hash)}:{r.index}  {what}: {r.summary}"]
    for c in r.comparisons:
        lines.append(
            f"    {c.metric:<20} claimed {c.claimed:>10.3f}  measured {c.measured:>10.3f}  "
            f"{c.advantage:+8.1%} (tolerance ±{c.tolerance:.0%}; CV provider {c.cv_provider:.1%}"
            f" of {c.n_provider}, auditor {c.cv_auditor:.1%} of {c.n_auditor})"
        )
    lines += [f"    note: {n}" for n in r.notes]
    if r.counter_report_hash:
        lines.append(f"    counter-report {r.counter_report_hash}")
    return lines


@audit.command()
@market_options
@blob_store_option
@click.option("--tx", "txs", multiple=True, help="TX_HASH[:INDEX] of an attestation (repeat).")
@click.option(
    "--sample",
    type=click.IntRange(1),
    default=3,
    show_default=True,
    help="Random attestations to re-run when no --tx is given.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample.")
@models_option
@click.option(
    "--rounds",
    type=click.IntRange(1),
    default=2,
    show_default=True,
    help="Independent measurements per cell (fresh worker each).",
)
@click.option(
    "--repetitions",
    type=click.IntRange(3),
    help="Measured repetitions per round (default: the report's).",
)
@click.option(
    "--floor",
    type=click.FloatRange(0),
    default=1.0,
    show_default=True,
    help="Smallest throughput tolerance.",
)
@click.option(
    "--ttft-floor",
    type=click.FloatRange(0),
    default=1.0,
    show_default=True,
    help="Smallest TTFT tolerance.",
)
@click.option(
    "--k",
    type=click.FloatRange(0),
    default=3.0,
    show_default=True,
    help="Tolerance = max(floor, k x combined relative standard error of the two medians).",
)
@click.option(
    "--max-load-per-cpu",
    type=click.FloatRange(0),
    default=1.0,
    show_default=True,
    help="Judge nothing when this host's 1-min load average per CPU exceeded this while measuring.",
)
@click.option("--ignore-load", is_flag=True, help="Judge whatever the host's load was.")
@click.option(
    "--confirm/--no-confirm",
    default=True,
    show_default=True,
    help="Measure an inconsistent claim again before calling it inconsistent.",
)
@json_option
@click.option("--strict", is_flag=True, help="Exit with status 1 when a claim is inconsistent.")
def rebench(rpc_url, deployments_dir, blob_store, txs, sample, seed, models, rounds, repetitions,
            floor, ttft_floor, k, max_load_per_cpu, ignore_load, confirm, json_out,
            strict) -> None:  # fmt: skip
    """Re-measure attested cells on this host's same-profile hardware and judge the claims."""
    from auditor import AuditError, TolerancePolicy

    ctx = _Ctx(rpc_url, deployments_dir, blob_store, sign=True)
    policy = TolerancePolicy(floor=floor, ttft_floor=ttft_floor, k=k)
    auditor = ctx.auditor(
        models=models,
        policy=policy,
        rounds=rounds,
        repetitions=repetitions,
        max_load_per_cpu=None if ignore_load else max_load_per_cpu,
        confirm=confirm,
    )
    click.echo(
        f"tolerance = max({floor:.0%}, {k:g} x combined uncertainty of the medians) for "
        f"throughput, max({ttft_floor:.0%}, ...) for TTFT; {rounds} round(s)"
    )
    try:
        results = auditor.rebench(_claims(txs), sample=sample, seed=seed)
    except AuditError as exc:
        raise _fail(exc) from exc
    for r in results:
        for line in _rebench_lines(r):
            click.echo(line)
    _write_json(json_out, {"policy": policy.to_dict(), "results": [r.to_dict() for r in results]})
    if strict and any(r.verdict == "inconsistent" for r in results):
        raise SystemExit(1)


# ----------------------------------------------------------------------------- job


@audit.command()
@market_options
@blob_store_option
@click.argument("job_id", type=click.IntRange(1))
@models_option
@json_option
@click.option("--strict", is_flag=True, help="Exit with status 1 on a mismatch.")
def job(rpc_url, deployments_dir, blob_store, job_id, models, json_out, strict) -> None:  # fmt: skip
    """Re-execute a finished job's spec (greedy, the job's method) and compare the result."""
    ctx = _Ctx(rpc_url, deployments_dir, blob_store, sign=True)
    check = ctx.auditor(models=models).check_job(job_id)
    agreement = "-" if check.token_agreement is None else f"{check.token_agreement:.1%}"
    kind = {True: "exact", False: "lossy", None: "?"}[check.exact]
    click.echo(
        f"job {job_id} ({check.status}, {check.method or '?'} [{kind}], provider "
        f"{_short(check.provider)}): {check.verdict}"
        + (f" ({check.reason})" if check.reason else "")
    )
    click.echo(f"    quality required: {check.required}; token agreement: {agreement}")
    for f in check.findings:
        click.echo(f"    {f.severity}: {f}")
    _write_json(json_out, check.to_dict())
    if strict and check.verdict == "mismatch":
        raise SystemExit(1)


# ----------------------------------------------------------------------------- challenge


def _arbiter(w3, market):  # noqa: ANN001, ANN202
    """A configured key holding ARBITER_ROLE (the arbiter's, else the admin's)."""
    from protocol.keys import KeyFileError, KeyNotFound, load_account

    role = market.attestations.contract.functions.ARBITER_ROLE().call()
    for name in ("arbiter", "admin"):
        try:
            account = load_account(name, settings())
        except (KeyNotFound, KeyFileError):
            continue
        if market.attestations.contract.functions.hasRole(role, account.address).call():
            return account
    raise click.ClickException(
        "no configured key holds ARBITER_ROLE: set METAINF_ARBITER_KEY "
        "(on a chain deployed with `metainf chain deploy` the admin key is the arbiter)"
    )


def _counter_report(auditor: Any, tx_hash: str, index: int, counter: str | None) -> str:
    if counter:
        return counter
    (result,) = auditor.rebench([(tx_hash, index)])
    for line in _rebench_lines(result):
        click.echo(line)
    if not result.over_claim:
        raise click.ClickException(
            f"the re-measurement does not support a challenge: {result.summary}"
        )
    return result.counter_report_hash


@audit.command()
@market_options
@blob_store_option
@click.option("--tx", "tx_hash", required=True, help="The transaction that posted the claim.")
@click.option(
    "--index", type=click.IntRange(0), default=0, show_default=True, help="Item of a batch."
)
@click.option(
    "--counter-report", "counter", help="Hash of the auditor's counter-report in the blob store."
)
@click.option(
    "--rebench",
    "do_rebench",
    is_flag=True,
    help="Measure the cell now and use that counter-report (only an over-claim is challenged).",
)
@models_option
@click.option(
    "--bond", "bond_wei", type=EthAmount(), help="Bond in ether (default: the registry's minimum)."
)
@click.option(
    "--resolve-as-arbiter",
    is_flag=True,
    help="Dev chains: uphold it with the arbiter key and settle.",
)
@json_option
def challenge(rpc_url, deployments_dir, blob_store, tx_hash, index, counter, do_rebench, models,
              bond_wei, resolve_as_arbiter, json_out) -> None:  # fmt: skip
    """Post a challenge with its bond against a claim, naming a counter-report."""
    from auditor import AuditError
    from chain.errors import ContractRevert

    if bool(counter) == do_rebench:
        raise click.UsageError("give exactly one of --counter-report HASH and --rebench")
    ctx = _Ctx(rpc_url, deployments_dir, blob_store, sign=True)
    auditor = ctx.auditor(models=models)
    doc: dict[str, Any] = {}
    try:
        counter = _counter_report(auditor, tx_hash, index, counter)
        case = auditor.challenge(tx_hash, index, counter_report_hash=counter, bond_wei=bond_wei)
        doc["challenge"] = case.to_dict()
        click.echo(
            f"challenge #{case.challenge_id} opened against claim {case.claim_hash} of "
            f"{case.provider}: bond {case.bond_wei} wei, stake locked {case.stake_locked_wei} wei"
        )
        if resolve_as_arbiter:
            ruling = auditor.resolve_as_arbiter(case.challenge_id, _arbiter(ctx.w3, ctx.market))
            settled, credited = auditor.settle()
            doc |= {"ruling": ruling.to_dict(), "settled": settled, "credited_wei": credited}
            click.echo(
                f"ruling: {ruling.status.lower()}; provider slashed {ruling.slashed_wei} wei, "
                f"challengers' reward {ruling.challenger_reward_wei} wei"
            )
            click.echo(
                f"withdrawable by the auditor: {auditor.withdrawable()} wei (metainf audit withdraw)"
            )
    except (AuditError, ContractRevert) as exc:
        raise _fail(exc) from exc
    _write_json(json_out, doc)


@audit.command()
@market_options
@blob_store_option
@json_option
def withdraw(rpc_url, deployments_dir, blob_store, json_out) -> None:  # fmt: skip
    """Settle every decided challenge of this auditor and withdraw bond + reward."""
    from chain.errors import ContractRevert

    ctx = _Ctx(rpc_url, deployments_dir, blob_store, sign=True)
    try:
        paid = ctx.auditor().withdraw()
    except ContractRevert as exc:
        raise _fail(exc) from exc
    cases = ", ".join(f"#{i}" for i in paid.settled) or "none"
    click.echo(
        f"settled challenges: {cases} (credited {paid.credited_wei} wei); "
        f"withdrew {paid.withdrawn_wei} wei to {ctx.account.address}"
    )
    _write_json(json_out, paid.to_dict())
