"""`metainf provider register|attest|run`: the provider agent's on-chain side."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import click

from metainf_cli.options import market_options, open_market, role_account


@click.command()
@market_options
@click.option(
    "--hardware", "hw_name", default="cpu-2t", show_default=True, help="Hardware profile offered."
)
@click.option("--stake-eth", default=2.0, show_default=True, type=float)
@click.option("--price-wei-per-s", default=10**12, show_default=True, type=int)
@click.option("--metadata-uri", default="", help="Where clients can read about this provider.")
def register(
    rpc_url: str,
    deployments_dir: Path,
    hw_name: str,
    stake_eth: float,
    price_wei_per_s: int,
    metadata_uri: str,
) -> None:
    """Stake and register this provider with its agent (hot) key."""
    from chain.errors import ContractRevert
    from provider_agent.hardware import HardwareError, profile_by_name

    w3, market = open_market(rpc_url, deployments_dir)
    try:
        hw = profile_by_name(hw_name)
    except HardwareError as exc:
        raise click.ClickException(str(exc)) from exc
    owner, agent = role_account(w3, "provider"), role_account(w3, "agent")
    try:
        market.registry.as_(owner).register(
            agent=agent.address,
            hardware_id=hw.hardware_id,
            price_per_second=price_wei_per_s,
            metadata_uri=metadata_uri,
            stake_wei=int(stake_eth * 10**18),
        )
    except ContractRevert as exc:
        raise click.ClickException(f"registration reverted: {exc}") from exc
    click.echo(f"registered {owner.address} (agent {agent.address}) on {hw.name} {hw.hardware_id}")


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
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Blob store root (default $METAINF_DATA_DIR or .metainf).",
)
def attest(
    rpc_url: str, deployments_dir: Path, table_path: Path, batch_size: int, data_dir: Path | None
) -> None:
    """Sign the benchmark reports of a bench table and post them on chain."""
    from chain.errors import ContractRevert
    from provider_agent.attest import Attester
    from provider_agent.blobstore import BlobError, BlobStore

    table = json.loads(table_path.read_text())
    hashes = [row["reportHash"] for row in table.get("rows", []) if row.get("reportHash")]
    if not hashes:
        raise click.ClickException(f"{table_path} has no rows with a reportHash")
    w3, market = open_market(rpc_url, deployments_dir)
    store = BlobStore(data_dir / "blobs" if data_dir else None)
    attester = Attester(
        market, role_account(w3, "provider").address, role_account(w3, "agent"), store
    )
    try:
        posted = attester.post_reports(hashes, batch_size=batch_size)
    except (BlobError, ContractRevert) as exc:
        raise click.ClickException(str(exc)) from exc
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
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--poll-interval", default=1.0, show_default=True, type=float)
@click.option("--confirmations", default=0, show_default=True, type=int)
@click.option("--once", is_flag=True, help="Handle the pending assignments and exit.")
def run(
    rpc_url: str,
    deployments_dir: Path,
    models: tuple[str, ...],
    methods: tuple[str, ...],
    hw_name: str,
    data_dir: Path | None,
    poll_interval: float,
    confirmations: int,
    once: bool,
) -> None:
    """Watch JobAssigned events for this provider and execute the jobs."""
    from provider_agent.blobstore import BlobStore
    from provider_agent.hardware import profile_by_name
    from provider_agent.job_runner import Delivered, JobRunner, RunnerConfig
    from provider_agent.methods import available_methods
    from provider_agent.models import UnknownModelError, model_info

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    w3, market = open_market(rpc_url, deployments_dir)
    hw = profile_by_name(hw_name)
    hw.apply()
    try:
        infos = [model_info(m) for m in models]
    except UnknownModelError as exc:
        raise click.ClickException(str(exc)) from exc
    ok, no = available_methods(hw, list(methods) or None)
    for spec, reason in no:
        click.echo(f"not offering {spec.name}: {reason}")
    runner = JobRunner.offering(
        market,
        role_account(w3, "provider").address,
        role_account(w3, "agent"),
        BlobStore(data_dir / "blobs" if data_dir else None),
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
