"""Connecting to a chain: the in-process EVM (embedded default) or any JSON-RPC endpoint."""

from __future__ import annotations

import threading
from contextlib import nullcontext

from web3 import EthereumTesterProvider, Web3

from protocol.settings import IN_PROCESS, Settings


class InProcessProvider(EthereumTesterProvider):
    """py-evm in this process, safe to share between threads (the embedded demo runs a
    backend worker and an API beside the main thread): one request at a time."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.RLock()

    def make_request(self, method, params):  # noqa: ANN001, ANN201 - web3's signature
        with self.lock:
            return super().make_request(method, params)


class ChainConfigError(ValueError):
    """The chain configuration is invalid."""


def connect(rpc_url: str | None = None, timeout_s: float | None = None) -> Web3:
    """``inprocess`` (py-evm in this process) or an http(s) JSON-RPC endpoint such as
    ``hardhat node`` or a testnet; defaults from :class:`~protocol.settings.Settings`."""
    from pydantic import ValidationError

    try:
        settings = Settings() if rpc_url is None else Settings(rpc_url=rpc_url)
    except ValidationError as exc:
        raise ChainConfigError(f"invalid chain settings: {exc}") from None
    if settings.rpc_url == IN_PROCESS:
        return Web3(InProcessProvider())
    timeout = timeout_s if timeout_s is not None else settings.rpc_timeout_s
    w3 = Web3(Web3.HTTPProvider(settings.rpc_url, request_kwargs={"timeout": timeout}))
    if not w3.is_connected():
        raise ConnectionError(
            f"no JSON-RPC node answers at {settings.rpc_url}; start one with `metainf chain up`"
        )
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
        with getattr(provider, "lock", nullcontext()):
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
