"""Connecting to a chain: the in-process EVM (embedded default) or any JSON-RPC endpoint."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlparse

from web3 import Web3

IN_PROCESS = "inprocess"


class ChainConfigError(ValueError):
    """The chain configuration is invalid."""


@dataclass(frozen=True)
class ChainConfig:
    """Where the chain is. ``rpc_url`` is ``"inprocess"`` (py-evm in this process) or an
    ``http(s)://`` JSON-RPC endpoint such as ``hardhat node`` or a testnet."""

    rpc_url: str = IN_PROCESS
    request_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.rpc_url != IN_PROCESS:
            parsed = urlparse(self.rpc_url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ChainConfigError(
                    f"rpc_url must be {IN_PROCESS!r} or an http(s) URL, got {self.rpc_url!r}"
                )
        if self.request_timeout_s <= 0:
            raise ChainConfigError("request_timeout_s must be positive")

    @property
    def in_process(self) -> bool:
        return self.rpc_url == IN_PROCESS

    @classmethod
    def from_env(cls) -> ChainConfig:
        """``METAINF_RPC_URL`` selects the chain; unset means the in-process EVM."""
        return cls(rpc_url=os.environ.get("METAINF_RPC_URL", IN_PROCESS))


def connect(config: ChainConfig | None = None) -> Web3:
    config = config or ChainConfig.from_env()
    if config.in_process:
        from web3 import EthereumTesterProvider

        return Web3(EthereumTesterProvider())
    w3 = Web3(
        Web3.HTTPProvider(config.rpc_url, request_kwargs={"timeout": config.request_timeout_s})
    )
    if not w3.is_connected():
        raise ConnectionError(f"no JSON-RPC node answers at {config.rpc_url}")
    return w3


def is_dev_chain(w3: Web3) -> bool:
    """True on chains with unlocked, pre-funded accounts (in-process EVM, hardhat, anvil)."""
    try:
        return len(w3.eth.accounts) > 0
    except Exception:
        return False


def fund(w3: Web3, to: str, amount_wei: int) -> None:
    """Send native currency from the dev chain's first unlocked account (dev chains only)."""
    if not is_dev_chain(w3):
        raise ChainConfigError("fund() needs a dev chain with unlocked accounts")
    tx = w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": to, "value": amount_wei})
    w3.eth.wait_for_transaction_receipt(tx)


def advance_time(w3: Web3, seconds: int) -> int:
    """Move the dev chain's clock forward and mine a block; returns the new block timestamp."""
    provider = w3.provider
    tester = getattr(provider, "ethereum_tester", None)
    if tester is not None:
        # eth-tester's pending block may already be ahead of the latest one.
        pending = tester.get_block_by_number("pending")["timestamp"]
        latest = w3.eth.get_block("latest")["timestamp"]
        tester.time_travel(max(pending, latest) + seconds)
    else:
        provider.make_request("evm_increaseTime", [seconds])
        provider.make_request("evm_mine", [])
    return w3.eth.get_block("latest")["timestamp"]


def snapshot(w3: Web3) -> object:
    """Take a dev-chain snapshot (for reorg simulation and test isolation)."""
    tester = getattr(w3.provider, "ethereum_tester", None)
    if tester is not None:
        return tester.take_snapshot()
    return w3.provider.make_request("evm_snapshot", [])["result"]


def revert_to(w3: Web3, snapshot_id: object) -> None:
    tester = getattr(w3.provider, "ethereum_tester", None)
    if tester is not None:
        tester.revert_to_snapshot(snapshot_id)
    else:
        w3.provider.make_request("evm_revert", [snapshot_id])
