"""Sending transactions signed by a local key, with reverts normalized."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from chain.errors import ChainError, as_contract_revert


class TransactionFailed(ChainError):
    """Mined but with status 0 and no revert data to explain it."""


@dataclass
class Transactor:
    """Signs and sends contract calls from one local account.

    Gas is estimated per call (which is also where reverts surface on JSON-RPC nodes),
    so a failing call raises :class:`~chain.errors.ContractRevert` before spending gas.
    """

    w3: Web3
    account: LocalAccount
    gas_margin: float = 1.2

    @property
    def address(self) -> str:
        return self.account.address

    def send(self, fn: ContractFunction, value: int = 0) -> TxReceipt:
        try:
            tx = fn.build_transaction(
                {
                    "from": self.account.address,
                    "value": value,
                    "nonce": self.w3.eth.get_transaction_count(self.account.address, "pending"),
                    "chainId": self.w3.eth.chain_id,
                }
            )
            tx["gas"] = int(tx["gas"] * self.gas_margin)
            signed = self.account.sign_transaction(tx)
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except Exception as exc:
            revert = as_contract_revert(exc)
            if revert is None:
                raise
            raise revert from exc
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
        if receipt["status"] != 1:
            raise TransactionFailed(f"transaction {tx_hash.hex()} reverted on chain")
        return receipt


def call(fn: ContractFunction, **tx: Any) -> Any:
    """``fn.call()`` with reverts normalized to :class:`~chain.errors.ContractRevert`."""
    try:
        return fn.call(tx or None)
    except Exception as exc:
        revert = as_contract_revert(exc)
        if revert is None:
            raise
        raise revert from exc
