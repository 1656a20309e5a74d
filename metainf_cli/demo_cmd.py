"""`metainf demo`: the main job on the embedded default stack."""

from __future__ import annotations

import click


@click.command()
@click.option(
    "--rpc",
    "rpc_url",
    default="inprocess",
    show_default=True,
    help="'inprocess' or a JSON-RPC URL.",
)
def demo(rpc_url: str) -> None:
    """Deploy the market, post signed attestations and run a paid job from escrow to payout."""
    from chain.connection import ChainConfig, connect
    from chain.round_trip import run_round_trip

    w3 = connect(ChainConfig(rpc_url=rpc_url))
    result = run_round_trip(w3, say=lambda msg: click.echo(f"* {msg}"))
    click.echo("gas used: " + ", ".join(f"{k}={v:,}" for k, v in result.gas.items()))
