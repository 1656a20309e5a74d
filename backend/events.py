"""Fetching and decoding the logs of one deployment's three contracts.

One ``eth_getLogs`` over the three addresses per block range; each log is decoded by
its first topic with the committed ABIs. Values become JSON-safe (bytes as 0x-hex, ints
kept) so that a decoded event can be stored as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import event_abi_to_log_topic, to_checksum_address
from eth_utils.abi import collapse_if_tuple
from web3 import Web3
from web3.providers import JSONBaseProvider
from web3.types import RPCEndpoint

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


@lru_cache(maxsize=4096)
def _checksum(address: str) -> str:
    return to_checksum_address(address)


def _abi_value(abi: Mapping[str, Any], value: Any) -> Any:
    """An ``eth_abi`` value as web3 decodes it: checksummed addresses, structs as dicts."""
    kind = abi["type"]
    if kind.startswith("tuple"):
        if kind != "tuple":  # an array of structs
            return [_abi_value({**abi, "type": kind[: kind.rindex("[")]}, v) for v in value]
        return {c["name"]: _abi_value(c, v) for c, v in zip(abi["components"], value, strict=True)}
    if kind == "address":
        return _checksum(value)
    if kind.startswith("address["):
        return [_checksum(v) for v in value]
    return value


_WORD = 32


def _word_value(kind: str, word: bytes) -> Any:
    """One 32-byte ABI word of a static elementary type."""
    if kind == "address":
        return _checksum("0x" + word[12:].hex())
    if kind == "bool":
        return word[-1] != 0
    if kind.startswith("uint"):
        return int.from_bytes(word, "big")
    if kind.startswith("int"):
        return int.from_bytes(word, "big", signed=True)
    return word[: int(kind.removeprefix("bytes"))]  # bytes1 .. bytes32


def _is_static(abi: Mapping[str, Any]) -> bool:
    """One word per elementary value, structs inline: no arrays, strings or bytes."""
    kind = abi["type"]
    if kind == "tuple":
        return all(_is_static(c) for c in abi["components"])
    return "[" not in kind and kind not in ("string", "bytes")


def _words(abi: Mapping[str, Any]) -> int:
    return sum(_words(c) for c in abi["components"]) if abi["type"] == "tuple" else 1


def _decode_static(abi: Mapping[str, Any], data: bytes, offset: int) -> tuple[Any, int]:
    if abi["type"] == "tuple":
        out = {}
        for c in abi["components"]:
            out[c["name"]], offset = _decode_static(c, data, offset)
        return out, offset
    return _word_value(abi["type"], data[offset : offset + _WORD]), offset + _WORD


@dataclass(frozen=True)
class _EventAbi:
    """How to decode one event: its indexed inputs from the topics, the others from data.

    Data of static types only (every event of the market but ``MetadataChanged`` and
    ``ProviderRegistered``) is read word by word; anything else goes through ``eth_abi``.
    """

    contract: str
    name: str
    inputs: tuple[Mapping[str, Any], ...]

    @cached_property
    def _data_inputs(self) -> list[Mapping[str, Any]]:
        return [i for i in self.inputs if not i.get("indexed")]

    @cached_property
    def _static_size(self) -> int | None:
        if all(_is_static(i) for i in self._data_inputs):
            return _WORD * sum(_words(i) for i in self._data_inputs)
        return None

    def _data_values(self, data: bytes) -> list[Any]:
        if self._static_size == len(data):
            values, offset = [], 0
            for item in self._data_inputs:
                value, offset = _decode_static(item, data, offset)
                values.append(value)
            return values
        types = [collapse_if_tuple(i) for i in self._data_inputs]
        decoded = abi_decode(types, data) if types else ()
        return [_abi_value(i, v) for i, v in zip(self._data_inputs, decoded, strict=True)]

    def decode(self, topics: list[bytes], data: bytes) -> dict[str, Any]:
        values = iter(self._data_values(data))
        indexed = iter(topics[1:])
        args = {}
        for item in self.inputs:
            if not item.get("indexed"):
                args[item["name"]] = next(values)
            elif _is_static(item) and item["type"] != "tuple":
                args[item["name"]] = _word_value(item["type"], next(indexed))
            else:  # a dynamic value is indexed by its hash: the topic is all there is
                args[item["name"]] = next(indexed)
        return args


@dataclass(frozen=True)
class _RawLog:
    address: str  # lower case
    topics: list[bytes]
    data: bytes
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int


def _raw_from_rpc(log: Mapping[str, Any]) -> _RawLog:
    return _RawLog(
        log["address"].lower(),
        [bytes.fromhex(t[2:]) for t in log["topics"]],
        bytes.fromhex(log["data"][2:]),
        int(log["blockNumber"], 16),
        log["blockHash"],
        log["transactionHash"],
        int(log["logIndex"], 16),
    )


def _raw_from_web3(log: Mapping[str, Any]) -> _RawLog:
    return _RawLog(
        log["address"].lower(),
        [bytes(t) for t in log["topics"]],
        bytes(log["data"]),
        log["blockNumber"],
        hex0x(log["blockHash"]),
        hex0x(log["transactionHash"]),
        log["logIndex"],
    )


@dataclass
class EventSource:
    """The logs of a market deployment, decoded.

    Over JSON-RPC the node's answer is read as it is (the in-process EVM goes through
    web3) and decoded from the committed ABIs by :class:`_EventAbi`: web3's result
    formatters and ``process_log`` cost several milliseconds per log, which capped
    indexing at a few hundred attestations per second. The values are the ones web3
    gives (checksummed addresses, structs as dicts, then JSON-safe); each event is named
    after the contract that emitted it (events several contracts share, such as
    ``RoleGranted``, were all named after the last contract before).
    """

    w3: Web3
    market: Market

    @cached_property
    def _clients(self) -> dict[str, Any]:
        clients = (self.market.registry, self.market.attestations, self.market.jobs)
        return {c.address.lower(): c for c in clients}

    @cached_property
    def _by_topic(self) -> dict[tuple[str, bytes], _EventAbi]:
        table: dict[tuple[str, bytes], _EventAbi] = {}
        for address, client in self._clients.items():
            for item in client.contract.abi:
                if item.get("type") == "event" and not item.get("anonymous"):
                    topic = bytes(event_abi_to_log_topic(item))
                    inputs = tuple(item["inputs"])
                    table[(address, topic)] = _EventAbi(client.contract_name, item["name"], inputs)
        return table

    def _logs(self, from_block: int, to_block: int) -> list[_RawLog]:
        addresses = [c.address for c in self._clients.values()]
        if isinstance(self.w3.provider, JSONBaseProvider) and not _is_tester(self.w3):
            params = {"address": addresses, "fromBlock": hex(from_block), "toBlock": hex(to_block)}
            response = self.w3.provider.make_request(RPCEndpoint("eth_getLogs"), [params])
            if "error" in response:
                raise ConnectionError(f"eth_getLogs failed: {response['error']}")
            return [_raw_from_rpc(log) for log in response["result"]]
        logs = self.w3.eth.get_logs(
            {"address": addresses, "fromBlock": from_block, "toBlock": to_block}
        )
        return [_raw_from_web3(log) for log in logs]

    def fetch(self, from_block: int, to_block: int) -> list[DecodedEvent]:
        out = []
        for log in self._logs(from_block, to_block):
            event = self._by_topic.get((log.address, log.topics[0])) if log.topics else None
            if event is None:
                continue
            out.append(
                DecodedEvent(
                    block_number=log.block_number,
                    block_hash=log.block_hash,
                    tx_hash=log.tx_hash,
                    log_index=log.log_index,
                    contract=event.contract,
                    name=event.name,
                    args=_json_safe(event.decode(log.topics, log.data)),
                )
            )
        return out

    def block_hash(self, number: int) -> str:
        return hex0x(self.w3.eth.get_block(number)["hash"])


def _is_tester(w3: Web3) -> bool:
    return getattr(w3.provider, "ethereum_tester", None) is not None
