"""Refuse deeply nested JSON before it is parsed.

``py_ecc`` (imported through eth-account) raises the process's recursion limit to
100,000 at import, so ``json.loads(b"[" * 100_000)`` no longer stops with a
``RecursionError``: it overflows the C stack and kills the process (a worker thread
dies from less). Every JSON document the API parses from a client, or from a blob a
client uploaded, is first checked here; no legitimate document nests deeper than
:data:`MAX_DEPTH`.
"""

from __future__ import annotations

import re

MAX_DEPTH = 64
# a string, escapes included; an unterminated one runs to the end, so the scan is linear
_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?')


def nesting_depth(data: bytes) -> int:
    """The deepest bracket nesting of ``data``, brackets inside strings not counted.

    Linear and vectorized (8 MB in well under a second, whatever the content)."""
    if data.count(b"[") + data.count(b"{") <= MAX_DEPTH:
        return min(MAX_DEPTH, data.count(b"[") + data.count(b"{"))  # an upper bound
    import numpy as np

    step = np.zeros(256, dtype=np.int32)
    step[list(b"[{")] = 1
    step[list(b"]}")] = -1
    bare = np.frombuffer(_STRINGS.sub(b"", data), dtype=np.uint8)
    return int(np.cumsum(step[bare]).max(initial=0))


def too_deep(data: bytes, limit: int = MAX_DEPTH) -> bool:
    return nesting_depth(data) > limit
