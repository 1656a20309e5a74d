"""Signed HTTP requests: an account proves who sends a request, for a short time, once.

Scheme ``metainf-auth/1``. The client signs, with EIP-191 ``personal_sign``
(``encode_defunct``), this text (lines joined by ``\\n``, no trailing newline)::

    metainf-auth/1
    <METHOD>                 upper case, e.g. GET
    <path>                   the request path as sent, plus ``?<query>`` when there is one
    <address>                the signer, 0x + 40 lower-case hex
    <timestamp>              unix seconds, decimal
    <nonce>                  16 to 32 random bytes, lower-case hex
    <body hash>              keccak256 of the raw body (of b"" when there is none), 0x-hex

and sends four headers: ``X-MetaInf-Address``, ``X-MetaInf-Timestamp``,
``X-MetaInf-Nonce``, ``X-MetaInf-Signature`` (0x + 65 bytes hex).

The verifier rebuilds the text from the request it received, recovers the signer, and
accepts when (1) it is the claimed address, (2) the timestamp is within ``window_s``
(300 s) of its clock, and (3) the request was not seen before. Replays are recognised
by the keccak256 of the signed text, not by the signature bytes: an ECDSA signature has
several valid encodings (``v`` as 0/1 or 27/28, ``s`` or ``n - s``) that recover the
same address, so a seen-set keyed on signatures could be bypassed. The random nonce is
what lets one client send the same request twice within a second.

A seen entry only has to live until its timestamp leaves the window; after that the
clock check refuses it anyway. :class:`MemorySeenSet` is enough for one process; the
backend API keeps its seen-set in the database so that every API process behind a load
balancer refuses a replay seen by another.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Mapping
from typing import Protocol

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from protocol.canonical import keccak_hex

SCHEME = "metainf-auth/1"
WINDOW_S = 300
HEADER_ADDRESS = "X-MetaInf-Address"
HEADER_TIMESTAMP = "X-MetaInf-Timestamp"
HEADER_NONCE = "X-MetaInf-Nonce"
HEADER_SIGNATURE = "X-MetaInf-Signature"
HEADERS = (HEADER_ADDRESS, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)

_METHOD = re.compile(r"[A-Z]{1,16}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_NONCE = re.compile(r"[0-9a-f]{32,64}")
_SIGNATURE = re.compile(r"0x[0-9a-fA-F]{130}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class AuthError(ValueError):
    """A request's signature headers are missing, malformed, wrong, stale or replayed."""


class MissingAuth(AuthError):
    """The request carries none of the signature headers."""


class SeenSet(Protocol):
    """Remembers signed requests until they expire."""

    def add(self, key: str, expires_at: float) -> bool:
        """Record ``key`` until ``expires_at`` (unix seconds); False when already there."""
        ...


class MemorySeenSet:
    """A thread-safe in-process seen-set (one process; use a shared one for several)."""

    def __init__(self) -> None:
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()
        self._next_purge = 0.0

    def __len__(self) -> int:
        return len(self._expiry)

    def add(self, key: str, expires_at: float) -> bool:
        now = time.time()
        with self._lock:
            if now >= self._next_purge:
                self._expiry = {k: t for k, t in self._expiry.items() if t > now}
                self._next_purge = now + 10
            if self._expiry.get(key, 0.0) > now:
                return False
            self._expiry[key] = expires_at
            return True


def body_hash(body: bytes) -> str:
    return keccak_hex(bytes(body))


def canonical_request(
    method: str, path: str, address: str, timestamp: int, nonce: str, body_digest: str
) -> str:
    """The text that is signed (see the module docstring)."""
    method = method.upper()
    if not _METHOD.fullmatch(method):
        raise AuthError(f"not an HTTP method: {method!r}")
    if not path.startswith("/") or any(c in path for c in "\r\n"):
        raise AuthError("the signed path must start with '/' and be one line")
    lines = [SCHEME, method, path, address.lower(), str(int(timestamp)), nonce, body_digest]
    return "\n".join(lines)


def sign_request(
    account: LocalAccount,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four headers that authenticate one request by ``account``."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    nonce = nonce or secrets.token_hex(16)
    text = canonical_request(method, path, account.address, ts, nonce, body_hash(body))
    signed = account.sign_message(encode_defunct(text=text))
    return {
        HEADER_ADDRESS: account.address,
        HEADER_TIMESTAMP: str(ts),
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: "0x" + bytes(signed.signature).hex(),
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    return value.strip() if isinstance(value, str) else None


def has_auth(headers: Mapping[str, str]) -> bool:
    """Whether any of the signature headers is present."""
    return any(_header(headers, h) is not None for h in HEADERS)


def _parse(headers: Mapping[str, str]) -> tuple[str, int, str, str]:
    values = {h: _header(headers, h) for h in HEADERS}
    if all(v is None for v in values.values()):
        raise MissingAuth(f"this resource needs a signed request ({', '.join(HEADERS)})")
    missing = [h for h, v in values.items() if not v]
    if missing:
        raise AuthError(f"missing header(s): {', '.join(missing)}")
    checks = (
        (HEADER_ADDRESS, _ADDRESS, "an 0x-prefixed 20-byte hex address"),
        (HEADER_TIMESTAMP, _TIMESTAMP, "unix seconds"),
        (HEADER_NONCE, _NONCE, "16 to 32 bytes of lower-case hex"),
        (HEADER_SIGNATURE, _SIGNATURE, "0x + 65 bytes of hex"),
    )
    for name, pattern, what in checks:
        if not pattern.fullmatch(values[name]):
            raise AuthError(f"{name} must be {what}")
    return (
        values[HEADER_ADDRESS],
        int(values[HEADER_TIMESTAMP]),
        values[HEADER_NONCE],
        values[HEADER_SIGNATURE],
    )


def verify_request(
    headers: Mapping[str, str],
    method: str,
    path: str,
    body: bytes = b"",
    *,
    seen: SeenSet | None,
    now: float | None = None,
    window_s: int = WINDOW_S,
) -> str:
    """The checksummed address that signed this request, or :class:`AuthError`.

    ``seen`` records the request so that a second delivery is refused; ``None`` skips
    the replay check (only for callers that have their own).
    """
    address, ts, nonce, signature = _parse(headers)
    now = time.time() if now is None else now
    if abs(now - ts) > window_s:
        raise AuthError(
            f"{HEADER_TIMESTAMP} {ts} is {int(now - ts)} s from the server's clock "
            f"(allowed: ±{window_s} s); sign again with the current time"
        )
    text = canonical_request(method, path, address, ts, nonce, body_hash(body))
    try:
        signer = Account.recover_message(
            encode_defunct(text=text), signature=bytes.fromhex(signature[2:])
        )
    except Exception as exc:  # eth-keys raises several types for bad signatures
        raise AuthError(f"{HEADER_SIGNATURE} is not a valid signature: {exc}") from None
    if signer.lower() != address.lower():
        raise AuthError(
            "the signature does not match the request and address (signed another method, "
            "path, body, time or nonce, or by another key)"
        )
    if seen is not None and not seen.add(keccak_hex(text.encode()), ts + window_s + 1):
        raise AuthError("this signed request was already used (replay); sign a new one")
    return to_checksum_address(address)
