"""One revert type for every backend.

eth-tester raises ``TransactionFailed`` whose message holds the raw revert bytes; JSON-RPC
nodes raise ``ContractLogicError`` with hex ``data``. Callers should not care which chain
they talk to, so both become :class:`ContractRevert` naming the Solidity custom error and
its decoded arguments.
"""

from __future__ import annotations

import ast
from functools import cache
from typing import Any

from eth_abi import decode
from eth_utils import keccak

from chain.artifacts import CONTRACT_NAMES, load_artifact

_ERROR_STRING = bytes.fromhex("08c379a0")  # Error(string)
_PANIC = bytes.fromhex("4e487b71")  # Panic(uint256)


class ChainError(Exception):
    """Base class of the chain layer's errors."""


class ContractRevert(ChainError):
    """A call or transaction reverted. ``name`` is the custom error (or ``Error``/``Panic``)."""

    def __init__(self, name: str, args: tuple[Any, ...] = (), data: bytes = b"") -> None:
        self.name = name
        self.error_args = args
        self.data = data
        rendered = ", ".join(_render(a) for a in args)
        super().__init__(f"{name}({rendered})")


def _render(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return repr(value)


def _type_string(param: dict[str, Any]) -> str:
    if param["type"].startswith("tuple"):
        inner = ",".join(_type_string(c) for c in param["components"])
        return f"({inner}){param['type'][5:]}"
    return param["type"]


@cache
def _error_table() -> dict[bytes, tuple[str, list[str]]]:
    table: dict[bytes, tuple[str, list[str]]] = {}
    for contract in CONTRACT_NAMES:
        for item in load_artifact(contract).abi:
            if item.get("type") != "error":
                continue
            types = [_type_string(p) for p in item["inputs"]]
            selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
            table[selector] = (item["name"], types)
    return table


def decode_revert(data: bytes) -> ContractRevert:
    """Turn raw revert data into a :class:`ContractRevert`."""
    selector, body = data[:4], data[4:]
    if selector == _ERROR_STRING:
        return ContractRevert("Error", tuple(decode(["string"], body)), data)
    if selector == _PANIC:
        return ContractRevert("Panic", tuple(decode(["uint256"], body)), data)
    known = _error_table().get(selector)
    if known is None:
        return ContractRevert("UnknownRevert", (data,), data)
    name, types = known
    return ContractRevert(name, tuple(decode(types, body)), data)


def _revert_bytes(exc: BaseException) -> bytes | None:
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        return bytes.fromhex(data[2:])
    if isinstance(data, bytes):
        return data
    for arg in exc.args:
        if (
            isinstance(arg, dict)
            and isinstance(arg.get("data"), str)
            and arg["data"].startswith("0x")
        ):
            return bytes.fromhex(arg["data"][2:])
        if isinstance(arg, bytes):
            return arg
        if isinstance(arg, str):
            marker = "execution reverted: "
            if arg.startswith(marker + "b'") or arg.startswith(marker + 'b"'):
                return ast.literal_eval(arg[len(marker) :])
            if arg.startswith(marker + "0x"):
                return bytes.fromhex(arg[len(marker) + 2 :])
            if arg in ("execution reverted", marker.strip()):
                return b""
    return None


def as_contract_revert(exc: BaseException) -> ContractRevert | None:
    """The :class:`ContractRevert` behind ``exc``, or None if ``exc`` is not a revert."""
    if isinstance(exc, ContractRevert):
        return exc
    from eth_tester.exceptions import TransactionFailed
    from web3.exceptions import ContractCustomError, ContractLogicError

    if not isinstance(exc, TransactionFailed | ContractLogicError | ContractCustomError):
        return None
    data = _revert_bytes(exc)
    if data is None:
        return ContractRevert("Reverted", (str(exc),))
    if not data:
        return ContractRevert("Reverted", ())
    return decode_revert(data)
