"""Signed requests: who signed, when, what, and only once."""

from __future__ import annotations

import pytest
from eth_account import Account

from protocol.auth import (
    HEADER_ADDRESS,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    WINDOW_S,
    AuthError,
    MemorySeenSet,
    MissingAuth,
    canonical_request,
    has_auth,
    sign_request,
    verify_request,
)

ALICE = Account.from_key("0x" + "11" * 32)
MALLORY = Account.from_key("0x" + "22" * 32)
NOW = 1_800_000_000
PATH = "/blobs/0x" + "ab" * 32


def _verify(headers, method="GET", path=PATH, body=b"", seen=None, now=NOW):
    return verify_request(headers, method, path, body, seen=seen, now=now)


def test_a_signed_request_names_its_signer() -> None:
    headers = sign_request(ALICE, "get", PATH, timestamp=NOW)
    assert _verify(headers) == ALICE.address
    # header names are case-insensitive on the wire
    assert _verify({k.lower(): v for k, v in headers.items()}) == ALICE.address
    assert has_auth(headers) and not has_auth({"accept": "*/*"})


def test_the_signed_text_is_fixed() -> None:
    text = canonical_request("put", "/x?a=1", ALICE.address, NOW, "00" * 16, "0x" + "ee" * 32)
    assert text.split("\n") == [
        "metainf-auth/1",
        "PUT",
        "/x?a=1",
        ALICE.address.lower(),
        str(NOW),
        "00" * 16,
        "0x" + "ee" * 32,
    ]
    with pytest.raises(AuthError):
        canonical_request("GET", "no-slash", ALICE.address, NOW, "00" * 16, "0x")
    with pytest.raises(AuthError):
        canonical_request("GET", "/a\nb", ALICE.address, NOW, "00" * 16, "0x")


@pytest.mark.parametrize(
    "change",
    [
        {"method": "PUT"},
        {"path": "/blobs/0x" + "cd" * 32},
        {"body": b"tampered"},
    ],
)
def test_a_signature_covers_method_path_and_body(change) -> None:
    headers = sign_request(ALICE, "GET", PATH, b"", timestamp=NOW)
    with pytest.raises(AuthError, match="does not match"):
        _verify(headers, **change)


def test_another_key_or_a_borrowed_address_is_refused() -> None:
    headers = sign_request(MALLORY, "GET", PATH, timestamp=NOW)
    headers[HEADER_ADDRESS] = ALICE.address  # claims to be Alice
    with pytest.raises(AuthError, match="does not match"):
        _verify(headers)
    headers = sign_request(ALICE, "GET", PATH, timestamp=NOW)
    headers[HEADER_SIGNATURE] = "0x" + "00" * 65
    with pytest.raises(AuthError, match="not a valid signature|does not match"):
        _verify(headers)


@pytest.mark.parametrize("skew", [WINDOW_S + 1, -(WINDOW_S + 1), 10**6])
def test_stale_and_future_timestamps_are_refused(skew: int) -> None:
    headers = sign_request(ALICE, "GET", PATH, timestamp=NOW - skew)
    with pytest.raises(AuthError, match="server's clock"):
        _verify(headers)


def test_edges_of_the_window_are_accepted() -> None:
    for skew in (WINDOW_S, -WINDOW_S):
        assert _verify(sign_request(ALICE, "GET", PATH, timestamp=NOW - skew))


def test_a_replay_is_refused_even_with_a_re_encoded_signature() -> None:
    seen = MemorySeenSet()
    headers = sign_request(ALICE, "GET", PATH)
    assert verify_request(headers, "GET", PATH, seen=seen) == ALICE.address
    with pytest.raises(AuthError, match="replay"):
        verify_request(headers, "GET", PATH, seen=seen)
    # the same signature with v as 0/1 instead of 27/28 still recovers Alice: still a replay
    sig = bytearray(bytes.fromhex(headers[HEADER_SIGNATURE][2:]))
    sig[64] -= 27
    other = {**headers, HEADER_SIGNATURE: "0x" + sig.hex()}
    with pytest.raises(AuthError, match="replay"):
        verify_request(other, "GET", PATH, seen=seen)
    # the same request signed again (a fresh nonce) is a new request
    assert verify_request(sign_request(ALICE, "GET", PATH), "GET", PATH, seen=seen)
    assert len(seen) == 2


def test_seen_entries_expire() -> None:
    seen = MemorySeenSet()
    assert seen.add("k", expires_at=0.0)  # already expired: a later add is new again
    assert seen.add("k", expires_at=2e9)
    assert not seen.add("k", expires_at=2e9)


def test_missing_and_malformed_headers_say_what_is_wrong() -> None:
    with pytest.raises(MissingAuth):
        _verify({})
    good = sign_request(ALICE, "GET", PATH, timestamp=NOW)
    for header, bad in [
        (HEADER_TIMESTAMP, "yesterday"),
        (HEADER_NONCE, "short"),
        (HEADER_ADDRESS, "alice"),
        (HEADER_SIGNATURE, "0x1234"),
    ]:
        with pytest.raises(AuthError, match=header):
            _verify({**good, header: bad})
    partial = {k: v for k, v in good.items() if k != HEADER_NONCE}
    with pytest.raises(AuthError, match="missing header"):
        _verify(partial)
