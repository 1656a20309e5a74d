"""Options and helpers shared by the role CLIs that talk to a deployed market.

Defaults come from :class:`protocol.settings.Settings` (``METAINF_*`` variables), so a
flag and its variable can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click


def settings():  # noqa: ANN201 - protocol.settings.Settings, imported lazily
    """The validated settings, or a usage error naming the bad variable."""
    from pydantic import ValidationError

    from protocol.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        raise click.UsageError(f"invalid METAINF_* environment: {exc}") from None


def market_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--rpc`` and ``--deployments``: where the chain is and where its addresses were written."""
    fn = click.option(
        "--deployments",
        "deployments_dir",
        default=lambda: str(settings().deployments_dir),
        show_default="$METAINF_DEPLOYMENTS_DIR or deployments",
        type=click.Path(file_okay=False, path_type=Path),
        help="Folder of <chainId>.json files.",
    )(fn)
    return click.option(
        "--rpc",
        "rpc_url",
        default=lambda: settings().rpc_url,
        show_default="$METAINF_RPC_URL or inprocess",
        help="JSON-RPC URL of the chain.",
    )(fn)


class EthAmount(click.ParamType):
    """An amount of ether ("2", "0.5") converted exactly to wei (no float rounding)."""

    name = "ETH"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        from decimal import Decimal, InvalidOperation

        from web3 import Web3

        if isinstance(value, int):
            return value
        try:
            amount = Decimal(str(value))
            wei = Web3.to_wei(amount, "ether")
        except (InvalidOperation, ValueError, TypeError):
            self.fail(f"{value!r} is not an amount of ether", param, ctx)
        if wei <= 0:
            self.fail(f"{value!r} must be positive", param, ctx)
        return wei


def blob_store_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--blob-store``: the folder (or URL) of the content-addressed blob store."""
    return click.option(
        "--blob-store",
        "blob_store",
        default=lambda: settings().blob_location,
        show_default="$METAINF_BLOB_STORE or $METAINF_DATA_DIR/blobs",
        help="Where reports, job specs and results are stored (a folder, or the backend URL).",
    )(fn)


def open_blob_store(location: str):  # noqa: ANN201 - protocol.blobstore.BlobStore
    from protocol.blobstore import BlobError
    from protocol.blobstore import open_blob_store as _open

    try:
        return _open(location)
    except BlobError as exc:
        raise click.UsageError(str(exc)) from None


def open_market(rpc_url: str, deployments_dir: Path):  # noqa: ANN201
    """Connect and bind the clients of the deployment recorded for that chain."""
    from chain.clients import Market
    from chain.connection import ChainConfigError, connect
    from chain.deploy import Deployment, DeploymentError
    from protocol.settings import IN_PROCESS

    if rpc_url == IN_PROCESS:
        raise click.UsageError(
            "this command needs a chain that outlives it: start one with `metainf chain up`, "
            "then pass --rpc http://127.0.0.1:8545 or set METAINF_RPC_URL"
        )
    try:
        w3 = connect(rpc_url)
        deployment = Deployment.load(deployments_dir, w3.eth.chain_id)
    except (ConnectionError, DeploymentError, ChainConfigError) as exc:
        raise click.ClickException(str(exc)) from exc
    return w3, Market.at(w3, deployment)


def role_account(w3, role: str, fund_on_dev_chain: bool = True):  # noqa: ANN001, ANN201
    """The key for ``role`` from the environment or key file; on a dev chain, a funded throwaway."""
    from chain.connection import fund, is_dev_chain
    from chain.deploy import ETHER
    from protocol.keys import KeyFileError, KeyNotFound, load_account, write_throwaway_keys

    config = settings()
    try:
        account = load_account(role, config)
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyNotFound as exc:
        if not is_dev_chain(w3):
            raise click.ClickException(str(exc)) from exc
        account = write_throwaway_keys(config.key_file, [role])[role]
        click.echo(f"throwaway {role} key written to {config.key_file}")
    if fund_on_dev_chain and is_dev_chain(w3) and w3.eth.get_balance(account.address) < ETHER:
        fund(w3, account.address, 100 * ETHER)
    return account
