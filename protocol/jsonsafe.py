"""Parsing JSON from strangers without letting them crash the process.

``py_ecc`` (imported through eth-account) raises the interpreter's recursion limit to
100,000, so ``json.loads(b"[" * 100_000)`` no longer stops with a ``RecursionError``: it
overflows the C stack and kills the process. Every document that comes from another party
(an uploaded blob, a report, a job spec, a request body) is parsed with :func:`loads`,
which measures the bracket nesting first, in linear time, and refuses anything deeper
than :data:`MAX_DEPTH`; no legitimate document of the market nests deeper than a dozen.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

MAX_DEPTH = 64
# a JSON string, escapes included; an unterminated one runs to the end: the scan is linear
_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SIGNED = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


class JSONTooDeep(ValueError):
    """A document nests deeper than the limit."""


def nesting_depth(data: bytes) -> int:
    """The deepest bracket nesting of ``data``; brackets inside strings do not count."""
    brackets = _STRINGS.sub(b"", data).translate(None, _NOT_BRACKETS)
    if len(brackets) <= MAX_DEPTH:
        return len(brackets)  # an upper bound, enough to accept
    steps = memoryview(brackets.translate(_SIGNED)).cast("b")  # +1 / -1, summed in C
    return max(accumulate(steps), default=0)


def too_deep(data: bytes, limit: int = MAX_DEPTH) -> bool:
    return nesting_depth(data) > limit


def loads(data: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that refuses documents nested deeper than ``max_depth``."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    depth = nesting_depth(raw)
    if depth > max_depth:
        raise JSONTooDeep(f"JSON nested {depth} levels deep (at most {max_depth} accepted)")
    return json.loads(raw)
