"""Canonical JSON and the keccak256 ids derived from it.

Every id that goes on chain (hardwareId, modelId, workloadId, methodId, reportHash,
specHash, resultHash) is keccak256 over the canonical JSON encoding of a descriptor
or a document. Signers and verifiers must produce byte-identical encodings, so the
one encoding lives here and nowhere else.

Canonical form: UTF-8, keys sorted, no insignificant white space, no NaN/Infinity
(they have no JSON spelling), floats as Python's shortest round-trip repr.
"""

from __future__ import annotations

import json
import math
from typing import Any

from eth_utils import keccak


class CanonicalJSONError(ValueError):
    """The value cannot be encoded canonically (NaN, infinity, non-string keys, ...)."""


def _check(value: Any, path: str = "$") -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise CanonicalJSONError(f"{path}: {value!r} has no canonical JSON form")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalJSONError(f"{path}: key {key!r} is not a string")
            _check(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")


def canonical_json(value: Any) -> bytes:
    """Encode ``value`` as canonical JSON bytes."""
    _check(value)
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def keccak_hex(data: bytes) -> str:
    """keccak256 of ``data`` as a 0x-prefixed lowercase hex string."""
    return "0x" + keccak(data).hex()


def content_id(value: Any) -> str:
    """The bytes32 id (0x-hex) of a descriptor or document: keccak256(canonical_json(value))."""
    return keccak_hex(canonical_json(value))
