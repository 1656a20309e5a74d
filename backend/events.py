"""Fetching and decoding the logs of one deployment's three contracts.

One ``eth_getLogs`` over the three addresses per block range; each log is decoded by
its first topic with the committed ABIs. Values become JSON-safe (bytes as 0x-hex, ints
kept) so that a decoded event can be stored as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from eth_utils import event_abi_to_log_topic
from web3 import Web3

from chain.clients import Market


@dataclass(frozen=True)
class DecodedEvent:
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    contract: str
    name: str
    args: dict[str, Any]


def _json_safe(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, Mapping):  # web3's AttributeDict is a Mapping, not a dict
        return {k: _json_safe(v) for k, v in value.items()}
    return value


def hex0x(value: bytes | str) -> str:
    if isinstance(value, str):
        return value if value.startswith("0x") else "0x" + value
    return "0x" + bytes(value).hex()


@dataclass
class EventSource:
    """The logs of a market deployment, decoded."""

    w3: Web3
    market: Market

    @cached_property
    def _clients(self) -> dict[str, Any]:
        clients = (self.market.registry, self.market.attestations, self.market.jobs)
        return {c.address.lower(): c for c in clients}

    @cached_property
    def _by_topic(self) -> dict[bytes, tuple[Any, str]]:
        table: dict[bytes, tuple[Any, str]] = {}
        for client in self._clients.values():
            for item in client.contract.abi:
                if item.get("type") == "event" and not item.get("anonymous"):
                    table[bytes(event_abi_to_log_topic(item))] = (client, item["name"])
        return table

    def fetch(self, from_block: int, to_block: int) -> list[DecodedEvent]:
        logs = self.w3.eth.get_logs(
            {
                "address": [c.address for c in self._clients.values()],
                "fromBlock": from_block,
                "toBlock": to_block,
            }
        )
        out = []
        for log in logs:
            known = self._by_topic.get(bytes(log["topics"][0])) if log["topics"] else None
            if known is None:
                continue
            client, name = known
            decoded = getattr(client.contract.events, name)().process_log(log)
            out.append(
                DecodedEvent(
                    block_number=log["blockNumber"],
                    block_hash=hex0x(log["blockHash"]),
                    tx_hash=hex0x(log["transactionHash"]),
                    log_index=log["logIndex"],
                    contract=client.contract_name,
                    name=name,
                    args=_json_safe(dict(decoded["args"])),
                )
            )
        return out

    def block_hash(self, number: int) -> str:
        return hex0x(self.w3.eth.get_block(number)["hash"])
