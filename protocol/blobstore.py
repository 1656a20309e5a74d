"""Content-addressed blob stores: reports, job specs and job results, named by keccak256.

``put(data) -> hash`` and ``get(hash) -> data``. Hashes are 0x-prefixed lowercase
keccak256 hex, the same function as on chain, so ``put(canonical_json(report)) ==
content_id(report) == reportHash``. Every store re-hashes what it reads and refuses bytes
that do not match their name: a corrupted or tampered blob is never served.

:class:`LocalBlobStore` keeps files under a folder (the embedded default);
the backend's HTTP blob endpoint implements the same interface remotely.
:func:`open_blob_store` picks one from a location (a folder or an http(s) URL).
"""

from __future__ import annotations

import os
import re
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from protocol import jsonsafe
from protocol.canonical import canonical_json, keccak_hex

MAX_BLOB_BYTES = 8 * 1024 * 1024  # one report with raw samples is ~50 KB; specs far less
_HASH = re.compile(r"0x[0-9a-f]{64}")


class BlobError(Exception):
    """Base class of blob store errors."""


class BlobNotFound(BlobError, LookupError):
    """No blob with that hash in the store."""

    def __init__(self, h: str, where: str = "the blob store") -> None:
        self.hash = h
        super().__init__(f"blob {h} is not in {where}")


class BlobCorrupt(BlobError):
    """The stored bytes do not hash to their name."""


class BlobTooLarge(BlobError):
    """A blob is over :data:`MAX_BLOB_BYTES`."""


class InvalidHash(BlobError, ValueError):
    """Not a 0x-prefixed 32-byte hex hash."""


def check_hash(h: str) -> str:
    """``h`` in canonical form (lowercase), or :class:`InvalidHash`."""
    if not isinstance(h, str) or not _HASH.fullmatch(h.lower()):
        raise InvalidHash(f"not a 0x-prefixed 32-byte hex hash: {h!r}")
    return h.lower()


def verified(h: str, data: bytes) -> bytes:
    """``data`` if it hashes to ``h``; :class:`BlobCorrupt` otherwise."""
    actual = keccak_hex(data)
    if actual != check_hash(h):
        raise BlobCorrupt(f"blob {h} hashes to {actual}")
    return data


def check_size(data: bytes, limit: int = MAX_BLOB_BYTES) -> bytes:
    if len(data) > limit:
        raise BlobTooLarge(f"blob of {len(data)} bytes is over the {limit}-byte limit")
    return data


class BlobStore(ABC):
    """The interface every store implements; JSON helpers come with it."""

    @abstractmethod
    def put(self, data: bytes) -> str:
        """Store ``data`` (idempotent); returns its keccak256 hash."""

    @abstractmethod
    def get(self, h: str) -> bytes:
        """The bytes named ``h``, verified; :class:`BlobNotFound` when absent."""

    @abstractmethod
    def has(self, h: str) -> bool:
        """Whether a blob named ``h`` is stored."""

    def put_json(self, value: Any) -> str:
        """Store the canonical JSON encoding of ``value``; returns its content id."""
        return self.put(canonical_json(value))

    def get_json(self, h: str) -> Any:
        return jsonsafe.loads(self.get(h))


class LocalBlobStore(BlobStore):
    """Files under ``root`` named by their keccak256: ``<root>/<h[2:4]>/<h[4:6]>/<h[2:]>``.

    Writes are atomic (temp file + rename), so concurrent writers of one blob are harmless.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    def path(self, h: str) -> Path:
        h = check_hash(h)
        return self.root / h[2:4] / h[4:6] / h[2:]

    def put(self, data: bytes) -> str:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError("BlobStore.put takes bytes")
        data = check_size(bytes(data))
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
        try:
            data = self.path(h).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(h, str(self.root)) from None
        return verified(h, data)

    def has(self, h: str) -> bool:
        return self.path(h).exists()


def open_blob_store(location: str | Path | None = None, *, account: Any = None) -> BlobStore:
    """The store at ``location`` (a folder or an http(s) URL); default from the settings.

    An http(s) URL is the backend API (:class:`protocol.http_blobstore.HttpBlobStore`);
    ``account`` (a ``LocalAccount``) signs its requests, which reading a job result needs.
    """
    if location is None:
        from protocol.settings import Settings

        location = Settings().blob_location
    text = str(location)
    if text.startswith(("http://", "https://")):
        from protocol.http_blobstore import HttpBlobStore

        return HttpBlobStore(text, account=account)
    if "://" in text:
        raise BlobError(f"{text}: a blob store is a local folder or an http(s) URL")
    return LocalBlobStore(Path(text))
