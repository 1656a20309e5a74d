"""Reading attestations back from the chain: who signed what, and what a challenge names.

The backend's indexer and the auditor both re-verify every attestation from the
transaction that posted it, never from the provider's word: the input of ``attest`` /
``attestBatch`` is decoded, the EIP-712 signer recovered, and each item's claim hash
(what ``challengeAttestation`` / ``challengeBatchItem`` names) recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_utils import keccak

from chain.clients import Market
from protocol.eip712 import Attestation, BatchHeader, Measurement


@dataclass(frozen=True)
class SignedClaims:
    """What one attestation transaction carried."""

    signer: str
    provider: str
    measurements: list[Measurement]
    claim_hashes: list[str]  # per item: the attestation digest, or keccak(batchDigest, leaf)
    posted_digest: str  # what the registry's postedAt is keyed by
    attestation: Attestation | None = None  # a single attestation
    header: BatchHeader | None = None  # a batch

    @property
    def leaves(self) -> list[bytes]:
        return [m.struct_hash() for m in self.measurements]


def _plain(value: Any) -> Any:
    if hasattr(value, "_asdict"):
        value = value._asdict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def decode_attestation_tx(market: Market, tx_input: Any) -> SignedClaims:
    """The signer and items of an ``attest`` / ``attestBatch`` transaction input."""
    reg = market.attestations
    domain = reg.domain()
    fn, args = reg.contract.decode_function_input(tx_input)
    if fn.fn_name == "attest":
        a = Attestation.model_validate(_plain(args["a"]))
        digest = "0x" + domain.digest(a.struct_hash()).hex()
        signer = a.recover(domain, args["signature"])
        return SignedClaims(signer, a.provider, [a.measurement], [digest], digest, attestation=a)
    if fn.fn_name == "attestBatch":
        header = BatchHeader.model_validate(_plain(args["h"]))
        items = [Measurement.model_validate(_plain(i)) for i in args["items"]]
        signer = Account.recover_message(
            header.signable_for(items, domain), signature=args["signature"]
        )
        batch_digest = domain.digest(header.struct_hash_for(items))
        claims = ["0x" + keccak(batch_digest + m.struct_hash()).hex() for m in items]
        return SignedClaims(
            signer, header.provider, items, claims, "0x" + batch_digest.hex(), header=header
        )
    raise ValueError(f"transaction calls {fn.fn_name}, not an attestation function")


def signing_key_problem(market: Market, signer: str, provider: str, timestamp: int) -> str | None:
    """Why ``signer`` could not sign for ``provider`` at ``timestamp`` (None: it could):
    the key must have been bound to that provider before and not revoked since."""
    bound_to, bound_at, revoked_at = market.registry.agent_key(signer)
    if bound_to.lower() != provider.lower():
        return f"signer {signer} is not an agent key of {provider}"
    if bound_at > timestamp:
        return f"signer {signer} was bound only at {bound_at}, after the claim"
    if revoked_at and revoked_at <= timestamp:
        return f"signer {signer} was revoked at {revoked_at}, before the claim"
    return None
