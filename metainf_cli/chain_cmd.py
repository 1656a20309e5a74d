"""`metainf chain ...`: local testnet and deployment."""

from __future__ import annotations

from pathlib import Path

import click

from metainf_cli.options import settings

STATE_DIR = Path(".metainf")
PID_FILE = STATE_DIR / "hardhat.pid"


# where the deployment file is written (the folder every other command reads)
deployments_out = click.option(
    "--deployments",
    "out_dir",
    default=lambda: settings().deployments_dir,
    show_default="$METAINF_DEPLOYMENTS_DIR or deployments",
    type=click.Path(path_type=Path),
)


@click.group()
def chain() -> None:
    """Local testnet and deployment."""


def _deploy_to(rpc_url: str, out_dir: Path) -> None:
    from chain.connection import ChainConfigError, connect
    from chain.deploy import deploy_market
    from metainf_cli.options import role_account

    try:
        w3 = connect(rpc_url)
    except (ChainConfigError, ConnectionError) as exc:
        raise click.ClickException(str(exc)) from exc
    admin = role_account(w3, "admin")
    # the backend signs assignments with the matcher key (METAINF_MATCHER_KEY or the key
    # file); the admin stays the arbiter and the treasury
    matcher = role_account(w3, "matcher")
    deployment = deploy_market(w3, admin, matcher=matcher.address)
    path = deployment.save(out_dir)
    click.echo(f"chain {deployment.chain_id} at block {deployment.block_number}")
    click.echo(f"  ProviderRegistry     {deployment.provider_registry}")
    click.echo(f"  AttestationRegistry  {deployment.attestation_registry}")
    click.echo(f"  JobMarket            {deployment.job_market}")
    click.echo(f"  matcher {matcher.address}, arbiter and treasury {admin.address}")
    click.echo(f"deployment written to {path}")


@chain.command()
@click.option("--port", default=8545, show_default=True)
@deployments_out
def up(port: int, out_dir: Path) -> None:
    """Start `hardhat node` on 127.0.0.1:PORT (unless one answers there) and deploy."""
    from chain.hardhat import HardhatNode, rpc_chain_id

    url = f"http://127.0.0.1:{port}"
    if rpc_chain_id(url) is None:
        STATE_DIR.mkdir(exist_ok=True)
        node = HardhatNode(port=port, log_path=STATE_DIR / "hardhat.log").start(detach=True)
        PID_FILE.write_text(str(node.process.pid))
        click.echo(
            f"hardhat node started at {url} (pid {node.process.pid}, log {STATE_DIR / 'hardhat.log'})"
        )
    else:
        click.echo(f"using the node already answering at {url}")
    _deploy_to(url, out_dir)


@chain.command()
def down() -> None:
    """Stop the hardhat node that `metainf chain up` started."""
    from chain.hardhat import stop_pid

    if not PID_FILE.exists():
        click.echo("no node started by `metainf chain up` is recorded; nothing to stop")
        return
    pid = int(PID_FILE.read_text())
    stopped = stop_pid(pid)
    PID_FILE.unlink()
    click.echo(f"stopped hardhat node (pid {pid})" if stopped else f"pid {pid} was already gone")


@chain.command()
@click.option("--rpc", "rpc_url", required=True, help="JSON-RPC URL, or 'inprocess'.")
@deployments_out
def deploy(rpc_url: str, out_dir: Path) -> None:
    """Deploy the contracts to any EVM JSON-RPC endpoint and write deployments/<chainId>.json."""
    _deploy_to(rpc_url, out_dir)
