"""`metainf provider register|attest|run`: the provider agent's on-chain side."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import click

from metainf_cli.options import (
    EthAmount,
    blob_store_option,
    market_options,
    open_blob_store,
    open_market,
    role_account,
)


@click.command()
@market_options
@click.option(
    "--hardware", "hw_name", default="cpu-2t", show_default=True, help="Hardware profile offered."
)
@click.option(
    "--stake",
    "stake_wei",
    default="2",
    show_default=True,
    type=EthAmount(),
    help="Stake to lock, in ether.",
)
@click.option("--price-wei-per-s", default=10**12, show_default=True, type=int)
@click.option("--metadata-uri", default="", help="Where clients can read about this provider.")
def register(
    rpc_url: str,
    deployments_dir: Path,
    hw_name: str,
    stake_wei: int,
    price_wei_per_s: int,
    metadata_uri: str,
) -> None:
    """Stake and register this provider, its first hardware profile and its agent (hot) key.

    The agent key signs its consent to the binding (both keys are local to this machine)."""
    from chain.errors import ContractRevert

    hw = _hardware(hw_name)
    w3, market = open_market(rpc_url, deployments_dir)
    owner, agent = role_account(w3, "provider"), role_account(w3, "agent")
    try:
        market.registry.as_(owner).register(
            agent=agent,
            hardware_id=hw.hardware_id,
            price_per_second=price_wei_per_s,
            metadata_uri=metadata_uri,
            stake_wei=stake_wei,
        )
    except ContractRevert as exc:
        raise click.ClickException(f"registration reverted: {exc}") from exc
    click.echo(f"registered {owner.address} (agent {agent.address}) on {hw.name} {hw.hardware_id}")


def _hardware(name: str):  # noqa: ANN202 - provider_agent.hardware.HardwareProfile
    from provider_agent.hardware import HardwareError, profile_by_name

    try:
        return profile_by_name(name)
    except HardwareError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("add-hardware")
@market_options
@click.option("--hardware", "hw_name", required=True, help="Hardware profile to offer too.")
@click.option("--price-wei-per-s", default=10**12, show_default=True, type=int)
def add_hardware(rpc_url: str, deployments_dir: Path, hw_name: str, price_wei_per_s: int) -> None:
    """Offer another hardware profile of this host, at its own price per second."""
    from chain.errors import ContractRevert

    hw = _hardware(hw_name)
    w3, market = open_market(rpc_url, deployments_dir)
    owner = role_account(w3, "provider")
    try:
        market.registry.as_(owner).add_hardware(hw.hardware_id, price_wei_per_s)
    except ContractRevert as exc:
        raise click.ClickException(f"adding {hw.name} reverted: {exc}") from exc
    click.echo(f"{owner.address} now offers {hw.name} {hw.hardware_id} at {price_wei_per_s} wei/s")


def _report_hashes(table_path: Path) -> list[str]:
    """The report hashes of a `metainf provider bench --json` table, or a clear error."""
    try:
        table = json.loads(table_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{table_path} is not a readable JSON table: {exc}") from exc
    rows = table.get("rows") if isinstance(table, dict) else None
    hashes = [r["reportHash"] for r in rows or [] if isinstance(r, dict) and r.get("reportHash")]
    if not hashes:
        raise click.ClickException(
            f"{table_path} has no rows with a reportHash: pass the JSON written by "
            "`metainf provider bench --json` (not the CSV or the descriptor sidecar)"
        )
    return hashes


@click.command()
@market_options
@click.option(
    "--table",
    "table_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The JSON written by `metainf provider bench --json`.",
)
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1, 256))
@blob_store_option
def attest(
    rpc_url: str, deployments_dir: Path, table_path: Path, batch_size: int, blob_store: str
) -> None:
    """Sign the benchmark reports of a bench table and post them on chain."""
    from chain.errors import ContractRevert
    from protocol.blobstore import BlobError
    from protocol.report import ReportError
    from provider_agent.attest import Attester

    hashes = _report_hashes(table_path)
    store = open_blob_store(blob_store)
    missing = [h for h in hashes if not store.has(h)]
    if missing:
        raise click.ClickException(
            f"{len(missing)} of the {len(hashes)} reports of {table_path} are not in the blob "
            f"store {blob_store} (first: {missing[0]}). Attest the table on the machine that "
            "measured it, with --blob-store (or METAINF_BLOB_STORE) naming the store that "
            "`metainf provider bench` wrote to."
        )
    w3, market = open_market(rpc_url, deployments_dir)
    attester = Attester(
        market, role_account(w3, "provider").address, role_account(w3, "agent"), store
    )
    try:
        posted = attester.post_reports(hashes, batch_size=batch_size)
    except (BlobError, ReportError) as exc:
        raise click.ClickException(f"a report cannot be attested: {exc}") from exc
    except ContractRevert as exc:
        raise click.ClickException(
            f"the registry refused the attestation: {exc}. Is this provider registered "
            "(`metainf provider register`) with this agent key and hardware?"
        ) from exc
    for p in posted:
        click.echo(
            f"nonce {p.nonce}: {len(p.measurements)} attestation(s), {p.gas_used:,} gas, tx {p.tx_hash}"
        )


@click.command()
@market_options
@click.option(
    "--model", "models", multiple=True, required=True, help="Model directory or name served."
)
@click.option(
    "--method", "methods", multiple=True, help="Methods offered (default: all this host can run)."
)
@click.option("--hardware", "hw_name", default="cpu-2t", show_default=True)
@blob_store_option
@click.option("--poll-interval", default=1.0, show_default=True, type=float)
@click.option("--confirmations", default=0, show_default=True, type=int)
@click.option("--once", is_flag=True, help="Handle the pending assignments and exit.")
def run(
    rpc_url: str,
    deployments_dir: Path,
    models: tuple[str, ...],
    methods: tuple[str, ...],
    hw_name: str,
    blob_store: str,
    poll_interval: float,
    confirmations: int,
    once: bool,
) -> None:
    """Watch JobAssigned events for this provider and execute the jobs."""
    from provider_agent.hardware import HardwareError, profile_by_name
    from provider_agent.job_runner import Delivered, JobRunner, RunnerConfig
    from provider_agent.methods import UnknownMethodError, available_methods
    from provider_agent.models import UnknownModelError, model_info

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        hw = profile_by_name(hw_name)
        infos = [model_info(m) for m in models]
        ok, no = available_methods(hw, list(methods) or None)
    except (HardwareError, UnknownModelError, UnknownMethodError) as exc:
        raise click.ClickException(str(exc)) from exc
    if not ok:
        raise click.ClickException(f"none of the requested methods can run on {hw.name}")
    w3, market = open_market(rpc_url, deployments_dir)
    hw.apply()
    for spec, reason in no:
        click.echo(f"not offering {spec.name}: {reason}")
    runner = JobRunner.offering(
        market,
        role_account(w3, "provider").address,
        role_account(w3, "agent"),
        open_blob_store(blob_store),
        hw,
        infos,
        ok,
        RunnerConfig(poll_interval_s=poll_interval, confirmations=confirmations),
    )
    click.echo(
        f"serving {', '.join(i.name for i in infos)} with {', '.join(s.name for s in ok)} on {hw.name}"
    )
    if once:
        for outcome in runner.poll_once():
            verdict = (
                f"delivered {outcome.result_hash}"
                if isinstance(outcome, Delivered)
                else f"refused: {outcome.reason}"
            )
            click.echo(f"job {outcome.job_id}: {verdict}")
        return
    stop = threading.Event()
    try:
        runner.run_forever(stop)
    except KeyboardInterrupt:
        stop.set()
