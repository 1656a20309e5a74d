"""Turning stored benchmark reports into signed on-chain attestations.

The report (full figures, raw samples, environment) stays off chain under its hash; the
attestation carries the ids, the headline integers and that hash, signed with the
provider's agent key. Reports are posted singly or in batches (one signature per batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from chain.clients import Market
from protocol.blobstore import BlobStore
from protocol.eip712 import (
    MAX_BATCH,
    Attestation,
    BatchHeader,
    Measurement,
    batch_root,
    sign_attestation,
    sign_batch,
)


@dataclass(frozen=True)
class Posted:
    """One posted attestation (or batch): what was signed and where it landed."""

    nonce: int
    measurements: tuple[Measurement, ...]
    signature: bytes
    tx_hash: str
    gas_used: int
    header: BatchHeader | None = None  # None for a single attestation
    timestamp: int = 0

    @property
    def leaves(self) -> list[bytes]:
        return batch_root(list(self.measurements))[1]


@dataclass
class Attester:
    """Signs with the agent key and posts for ``provider`` (the registered owner address)."""

    market: Market
    provider: str
    agent: LocalAccount
    store: BlobStore

    def post_reports(self, report_hashes: Sequence[str], batch_size: int = 32) -> list[Posted]:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be in 1..{MAX_BATCH}")
        measurements = [Measurement.from_report(self.store.get_json(h)) for h in report_hashes]
        by_hardware: dict[bytes, list[Measurement]] = {}
        for m in measurements:  # a batch is about one hardware profile
            by_hardware.setdefault(m.hardwareId, []).append(m)
        return [
            self.post(group[i : i + batch_size])
            for group in by_hardware.values()
            for i in range(0, len(group), batch_size)
        ]

    def post(self, measurements: Sequence[Measurement]) -> Posted:
        """Post one attestation, or one batch when given several measurements."""
        if not measurements:
            raise ValueError("nothing to post")
        w3 = self.market.attestations.w3
        nonce = self.market.attestations.last_nonce(self.provider) + 1
        timestamp = w3.eth.get_block("latest")["timestamp"]
        domain = self.market.attestations.domain()
        client = self.market.attestations.as_(self.agent)
        if len(measurements) == 1:
            a = Attestation(
                provider=self.provider,
                measurement=measurements[0],
                nonce=nonce,
                timestamp=timestamp,
            )
            sig = sign_attestation(a, domain, self.agent.key)
            receipt = client.attest(a, sig)
            header = None
        else:
            header = BatchHeader(
                provider=self.provider, count=len(measurements), nonce=nonce, timestamp=timestamp
            )
            sig = sign_batch(header, list(measurements), domain, self.agent.key)
            receipt = client.attest_batch(header, list(measurements), sig)
        return Posted(
            nonce,
            tuple(measurements),
            sig,
            receipt["transactionHash"].to_0x_hex(),
            receipt["gasUsed"],
            header,
            timestamp,
        )
