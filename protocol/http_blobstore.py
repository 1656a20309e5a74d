"""The blob store over the backend's HTTP blob endpoint (``/blobs``).

``HttpBlobStore("http://backend:8000")`` implements :class:`~protocol.blobstore.BlobStore`:
``put`` uploads to ``PUT /blobs/{hash}`` (the server re-hashes and refuses a mismatch),
``get`` downloads ``GET /blobs/{hash}`` and re-hashes what it got (a wrong or tampered
answer raises :class:`~protocol.blobstore.BlobCorrupt`), ``has`` asks ``HEAD``. With an
``account`` every request is signed (:mod:`protocol.auth`), which reading a job result
needs; reports and specs are public.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import httpx
from eth_account.signers.local import LocalAccount

from protocol.auth import sign_request
from protocol.blobstore import (
    BlobError,
    BlobNotFound,
    BlobStore,
    BlobTooLarge,
    check_hash,
    check_size,
    verified,
)
from protocol.canonical import keccak_hex


class BlobAccessDenied(BlobError, PermissionError):
    """The server refused to serve a blob to this caller (a job result: 401/403)."""


class BlobServerError(BlobError):
    """The blob endpoint answered something other than the blob or a clear refusal."""


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail or response.text[:200] or response.reason_phrase)


class HttpBlobStore(BlobStore):
    """A remote content-addressed store; ``base_url`` is the backend API's root."""

    def __init__(
        self,
        base_url: str,
        account: LocalAccount | None = None,
        *,
        timeout: float = 30.0,
        client: httpx.Client | None = None,
    ) -> None:
        parsed = urlparse(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.base_url = base_url.rstrip("/").removesuffix("/blobs")
        self._prefix = urlparse(self.base_url).path.rstrip("/")
        self.account = account
        self._client = client or httpx.Client(timeout=timeout)
        self._owns_client = client is None

    def __repr__(self) -> str:
        signer = f", account={self.account.address}" if self.account else ""
        return f"HttpBlobStore({self.base_url!r}{signer})"

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> HttpBlobStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _request(self, method: str, path: str, body: bytes = b"") -> httpx.Response:
        headers = {"Content-Type": "application/octet-stream"} if body else {}
        if self.account is not None:
            headers |= sign_request(self.account, method, self._prefix + path, body)
        try:
            return self._client.request(method, self.base_url + path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise BlobServerError(f"{method} {self.base_url}{path}: {exc}") from exc

    def _raise_for(self, response: httpx.Response, h: str) -> None:
        code = response.status_code
        if code == 404:
            raise BlobNotFound(h, self.base_url)
        if code in (401, 403):
            raise BlobAccessDenied(f"{self.base_url} refused blob {h}: {_detail(response)}")
        if code == 413:
            raise BlobTooLarge(_detail(response))
        if code >= 400:
            raise BlobServerError(f"{self.base_url} answered {code} for {h}: {_detail(response)}")

    def put(self, data: bytes) -> str:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError("BlobStore.put takes bytes")
        data = check_size(bytes(data))
        h = keccak_hex(data)
        response = self._request("PUT", f"/blobs/{h}", data)
        self._raise_for(response, h)
        stored = response.json().get("hash")
        if stored != h:
            raise BlobServerError(f"{self.base_url} stored {stored!r}, expected {h}")
        return h

    def get(self, h: str) -> bytes:
        h = check_hash(h)
        response = self._request("GET", f"/blobs/{h}")
        self._raise_for(response, h)
        return verified(h, response.content)

    def has(self, h: str) -> bool:
        h = check_hash(h)
        response = self._request("HEAD", f"/blobs/{h}")
        if response.status_code == 404:
            return False
        self._raise_for(response, h)
        return True
