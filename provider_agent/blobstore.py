"""Content-addressed blob store: files under a data dir, named by keccak256 of their bytes.

``put(data) -> hash`` and ``get(hash) -> data``; ``get`` re-hashes what it reads and
refuses bytes that do not match their name, so a corrupted or tampered file is never
served. Hashes are 0x-prefixed lowercase keccak256 hex (the same function as on chain:
``put(canonical_json(report)) == content_id(report) == reportHash``). The layout is
``<root>/<h[2:4]>/<h[4:6]>/<h[2:]>``; writes are atomic (temp file + rename), so
concurrent writers of the same blob are harmless.

The backend and the SDK reuse this class; an S3/IPFS-style backend would implement the
same two methods.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from chain.canonical import canonical_json, keccak_hex

_HASH = re.compile(r"0x[0-9a-f]{64}")


class BlobError(Exception):
    """Base class of blob store errors."""


class BlobNotFound(BlobError, KeyError):
    """No blob with that hash in the store."""


class BlobCorrupt(BlobError):
    """The stored bytes do not hash to their name."""


def default_data_dir() -> Path:
    """``$METAINF_DATA_DIR`` or ``./.metainf``."""
    return Path(os.environ.get("METAINF_DATA_DIR", ".metainf"))


def _check_hash(h: str) -> str:
    h = h.lower()
    if not _HASH.fullmatch(h):
        raise ValueError(f"not a 0x-prefixed 32-byte hex hash: {h!r}")
    return h


class BlobStore:
    """Files under ``root`` named by their keccak256."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_data_dir() / "blobs"

    def path(self, h: str) -> Path:
        h = _check_hash(h)
        return self.root / h[2:4] / h[4:6] / h[2:]

    def put(self, data: bytes) -> str:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError("BlobStore.put takes bytes")
        data = bytes(data)
        h = keccak_hex(data)
        target = self.path(h)
        if target.exists():
            return h
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return h

    def get(self, h: str) -> bytes:
        target = self.path(h)
        try:
            data = target.read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(h) from None
        actual = keccak_hex(data)
        if actual != h.lower():
            raise BlobCorrupt(f"blob {h} hashes to {actual}")
        return data

    def has(self, h: str) -> bool:
        return self.path(h).exists()

    def put_json(self, value: Any) -> str:
        """Store the canonical JSON encoding of ``value``; returns its content id."""
        return self.put(canonical_json(value))

    def get_json(self, h: str) -> Any:
        import json

        return json.loads(self.get(h))
