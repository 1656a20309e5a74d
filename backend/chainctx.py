"""What a backend task needs to talk to the market: one connection per process.

Celery prefork children each build their own (web3 clients are not fork-safe);
:func:`market_context` caches it by configuration. A process that hosts the chain itself
(the embedded demo: an in-process EVM and a worker thread beside it) installs its
context with :func:`use_context` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from eth_account.signers.local import LocalAccount
from web3 import Web3

from backend.config import BackendConfig
from chain.clients import Market
from chain.connection import connect
from chain.deploy import Deployment
from protocol.blobstore import BlobStore, open_blob_store
from protocol.keys import load_account


@dataclass(frozen=True)
class MarketContext:
    config: BackendConfig
    w3: Web3
    deployment: Deployment
    market: Market
    store: BlobStore
    operator: LocalAccount  # the matcher key: assigns jobs and pays gas for settlement

    @property
    def chain_id(self) -> int:
        return self.deployment.chain_id

    @property
    def signed(self) -> Market:
        return self.market.as_(self.operator)


_installed: MarketContext | None = None


def use_context(ctx: MarketContext | None) -> None:
    """Make every task in this process use ``ctx`` (None: back to the configuration)."""
    global _installed
    _installed = ctx


def market_context(config: BackendConfig) -> MarketContext:
    return _installed if _installed is not None else _connect(config)


@cache
def _connect(config: BackendConfig) -> MarketContext:
    w3 = connect(config.rpc_url)
    deployment = Deployment.load(config.deployments_dir, w3.eth.chain_id)
    return MarketContext(
        config,
        w3,
        deployment,
        Market.at(w3, deployment),
        open_blob_store(config.blob_location),
        load_account("matcher"),
    )
