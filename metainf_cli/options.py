"""Options and helpers shared by the role CLIs that talk to a deployed market."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

DEFAULT_RPC = "http://127.0.0.1:8545"


def market_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--rpc`` and ``--deployments``: where the chain is and where its addresses were written."""
    fn = click.option(
        "--deployments",
        "deployments_dir",
        default="deployments",
        show_default=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="Folder of <chainId>.json files.",
    )(fn)
    return click.option(
        "--rpc",
        "rpc_url",
        default=lambda: os.environ.get("METAINF_RPC_URL", DEFAULT_RPC),
        show_default=f"$METAINF_RPC_URL or {DEFAULT_RPC}",
        help="JSON-RPC URL of the chain.",
    )(fn)


def open_market(rpc_url: str, deployments_dir: Path):
    """Connect and bind the clients of the deployment recorded for that chain."""
    from chain.clients import Market
    from chain.connection import ChainConfig, connect
    from chain.deploy import Deployment, DeploymentError

    if rpc_url == "inprocess":
        raise click.UsageError(
            "an in-process chain lives only inside one command; use `metainf demo` or --rpc URL"
        )
    try:
        w3 = connect(ChainConfig(rpc_url=rpc_url))
        deployment = Deployment.load(deployments_dir, w3.eth.chain_id)
    except (ConnectionError, DeploymentError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    return w3, Market.at(w3, deployment)


def role_account(w3, role: str, fund_on_dev_chain: bool = True):
    """The key for ``role`` from the environment or key file; on a dev chain, a funded throwaway."""
    from chain.connection import fund, is_dev_chain
    from chain.deploy import ETHER
    from chain.keys import KeyNotFound, key_file_path, load_account, write_throwaway_keys

    try:
        account = load_account(role)
    except KeyNotFound as exc:
        if not is_dev_chain(w3):
            raise click.ClickException(str(exc)) from exc
        account = write_throwaway_keys(key_file_path(), [role])[role]
        click.echo(f"throwaway {role} key written to {key_file_path()}")
    if fund_on_dev_chain and is_dev_chain(w3) and w3.eth.get_balance(account.address) < ETHER:
        fund(w3, account.address, 100 * ETHER)
    return account
