"""The EIP-712 types of attestations, shared by signers (provider agents) and verifiers
(backend indexer, auditor), so both hash exactly what the contract hashes.

A single attestation is signed as ``Attestation(provider, Measurement measurement, nonce,
timestamp)``. A batch is signed once, as
``AttestationBatch(provider, root, count, nonce, timestamp)`` with
``root = keccak256(leaf_0 || ... || leaf_{n-1})`` and ``leaf_i`` the struct hash of the
i-th ``Measurement`` (see ``contracts/AttestationRegistry.sol``). Signing and recovery
both go through ``eth_account``'s ``encode_typed_data``; nothing is hashed by hand but
the batch root, which is not an EIP-712 construct.

The field lists below are the only place the Solidity struct layouts are spelled out in
Python; the pydantic models check at import time that they agree with them.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_utils import keccak, to_checksum_address
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict

from protocol.report import UINT64_MAX, ReportError, check_descriptor_ids, headline

DOMAIN_NAME = "MetaInfAttestationRegistry"
REGISTRY_DOMAIN_NAME = "MetaInfProviderRegistry"
DOMAIN_VERSION = "1"
MAX_BATCH = 256  # the contract's limit on items per batch

MEASUREMENT_FIELDS: list[tuple[str, str]] = [
    ("hardwareId", "bytes32"),
    ("modelId", "bytes32"),
    ("workloadId", "bytes32"),
    ("methodId", "bytes32"),
    ("tokensPerSecX1000", "uint64"),
    ("ttftP50Us", "uint64"),
    ("tpotP50Us", "uint64"),
    ("peakMemBytes", "uint64"),
    ("reportHash", "bytes32"),
]
ATTESTATION_FIELDS: list[tuple[str, str]] = [
    ("provider", "address"),
    ("measurement", "Measurement"),
    ("nonce", "uint64"),
    ("timestamp", "uint64"),
]
BATCH_FIELDS: list[tuple[str, str]] = [
    ("provider", "address"),
    ("root", "bytes32"),
    ("count", "uint64"),
    ("nonce", "uint64"),
    ("timestamp", "uint64"),
]
AGENT_BINDING_FIELDS: list[tuple[str, str]] = [
    ("provider", "address"),
    ("agent", "address"),
    ("deadline", "uint64"),
]


def as_bytes32(value: str | bytes) -> bytes:
    """32 raw bytes from 0x-hex or bytes; ValueError otherwise."""
    if isinstance(value, str):
        try:
            value = bytes.fromhex(value.removeprefix("0x"))
        except ValueError:
            raise ValueError("expected 0x-prefixed hex of 32 bytes") from None
    if not isinstance(value, bytes | bytearray) or len(value) != 32:
        raise ValueError(f"expected 32 bytes, got {len(value) if value else 0}")
    return bytes(value)


Bytes32 = Annotated[bytes, BeforeValidator(as_bytes32)]
Uint64 = Annotated[int, Strict(), Field(ge=0, le=UINT64_MAX)]
Address = Annotated[str, Strict(), AfterValidator(to_checksum_address)]


class _Struct(BaseModel):
    """A frozen, strictly validated EIP-712 struct."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    TYPE: ClassVar[str]
    FIELDS: ClassVar[list[tuple[str, str]]]
    NESTED: ClassVar[dict[str, list[tuple[str, str]]]] = {}

    def message(self) -> dict[str, Any]:
        """The EIP-712 message (nested structs as dicts)."""
        return {name: _message_value(getattr(self, name)) for name, _ in self.FIELDS}

    def as_tuple(self) -> tuple[Any, ...]:
        """The struct as the contract's ABI tuple (nested structs as tuples)."""
        return tuple(_tuple_value(getattr(self, name)) for name, _ in self.FIELDS)

    def signable(self, domain: Domain | None) -> SignableMessage:
        types = {self.TYPE: self.FIELDS, **self.NESTED}
        return _signable(domain, self.TYPE, types, self.message())

    def struct_hash(self) -> bytes:
        return self.signable(None).body

    def sign(self, domain: Domain, private_key: bytes | str) -> bytes:
        return bytes(Account.sign_message(self.signable(domain), private_key).signature)

    def recover(self, domain: Domain, signature: bytes) -> str:
        """The address that signed this struct under ``domain`` (verify before trusting it)."""
        return Account.recover_message(self.signable(domain), signature=signature)


def _message_value(value: Any) -> Any:
    return value.message() if isinstance(value, _Struct) else value


def _tuple_value(value: Any) -> Any:
    return value.as_tuple() if isinstance(value, _Struct) else value


class Measurement(_Struct):
    """Headline figures of one (hardware, model, workload, method) cell, as integers."""

    TYPE: ClassVar[str] = "Measurement"
    FIELDS: ClassVar[list[tuple[str, str]]] = MEASUREMENT_FIELDS

    hardwareId: Bytes32
    modelId: Bytes32
    workloadId: Bytes32
    methodId: Bytes32
    tokensPerSecX1000: Uint64
    ttftP50Us: Uint64
    tpotP50Us: Uint64
    peakMemBytes: Uint64
    reportHash: Bytes32

    @classmethod
    def from_report(cls, report: dict[str, Any]) -> Measurement:
        """The measurement a report supports: its descriptor ids, its headline, its hash."""
        from protocol.canonical import content_id

        ids = check_descriptor_ids(report)
        return cls(**ids, **headline(report).model_dump(), reportHash=content_id(report))

    def check_supported_by(self, report: dict[str, Any]) -> None:
        """Raise :class:`ReportError` unless ``report`` recomputes to exactly this claim."""
        expected = Measurement.from_report(report)
        diffs = [n for n, _ in MEASUREMENT_FIELDS if getattr(expected, n) != getattr(self, n)]
        if diffs:
            raise ReportError(f"attested fields disagree with the report: {', '.join(diffs)}")


class Attestation(_Struct):
    """A singly posted, signed measurement."""

    TYPE: ClassVar[str] = "Attestation"
    FIELDS: ClassVar[list[tuple[str, str]]] = ATTESTATION_FIELDS
    NESTED: ClassVar[dict[str, list[tuple[str, str]]]] = {"Measurement": MEASUREMENT_FIELDS}

    provider: Address
    measurement: Measurement
    nonce: Uint64
    timestamp: Uint64


class BatchHeader(_Struct):
    """What is signed for a batch besides its root."""

    TYPE: ClassVar[str] = "AttestationBatch"
    FIELDS: ClassVar[list[tuple[str, str]]] = BATCH_FIELDS

    provider: Address
    count: Uint64
    nonce: Uint64
    timestamp: Uint64

    def message_for(self, measurements: list[Measurement]) -> dict[str, Any]:
        if self.count != len(measurements):
            raise ValueError(f"header.count={self.count} but {len(measurements)} items")
        return {
            "provider": self.provider,
            "root": batch_root(measurements)[0],
            "count": self.count,
            "nonce": self.nonce,
            "timestamp": self.timestamp,
        }

    def signable_for(
        self, measurements: list[Measurement], domain: Domain | None
    ) -> SignableMessage:
        message = self.message_for(measurements)
        return _signable(domain, self.TYPE, {self.TYPE: self.FIELDS}, message)

    def struct_hash_for(self, measurements: list[Measurement]) -> bytes:
        return self.signable_for(measurements, None).body

    def header_tuple(self) -> tuple[Any, ...]:
        """The contract's ABI tuple of the header (provider, count, nonce, timestamp)."""
        return (self.provider, self.count, self.nonce, self.timestamp)


class Domain(BaseModel):
    """The EIP-712 domain: binds a signature to one chain and one registry contract."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    chain_id: Annotated[int, Strict(), Field(ge=1)]
    verifying_contract: Address
    name: str = DOMAIN_NAME
    version: str = DOMAIN_VERSION

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }

    def separator(self) -> bytes:
        types = {Measurement.TYPE: MEASUREMENT_FIELDS}
        return _signable(self, Measurement.TYPE, types, _ZERO_MEASUREMENT).header

    def digest(self, struct_hash: bytes) -> bytes:
        """keccak256(0x1901 || domainSeparator || structHash): what the contract recovers."""
        return keccak(b"\x19\x01" + self.separator() + struct_hash)


_ANY_DOMAIN = Domain(chain_id=1, verifying_contract="0x" + "00" * 20)
_ZERO_MEASUREMENT = {n: (0 if t == "uint64" else b"\0" * 32) for n, t in MEASUREMENT_FIELDS}


def _signable(
    domain: Domain | None,
    primary: str,
    types: dict[str, list[tuple[str, str]]],
    message: dict[str, Any],
) -> SignableMessage:
    # EIP-191 version 0x01 is EIP-712: header = domain separator, body = hashStruct(message)
    return encode_typed_data(
        domain_data=(domain or _ANY_DOMAIN).as_dict(),
        message_types={
            name: [{"name": n, "type": t} for n, t in fields] for name, fields in types.items()
        },
        message_data=message,
    )


def batch_root(measurements: list[Measurement]) -> tuple[bytes, list[bytes]]:
    """The batch root and its leaves."""
    leaves = [m.struct_hash() for m in measurements]
    return keccak(b"".join(leaves)), leaves


def sign_attestation(attestation: Attestation, domain: Domain, private_key: bytes | str) -> bytes:
    return attestation.sign(domain, private_key)


def sign_batch(
    header: BatchHeader, measurements: list[Measurement], domain: Domain, private_key: bytes | str
) -> bytes:
    signable = header.signable_for(measurements, domain)
    return bytes(Account.sign_message(signable, private_key).signature)


def recover_attestation_signer(attestation: Attestation, domain: Domain, signature: bytes) -> str:
    """The address that signed ``attestation`` under ``domain`` (verify before trusting it)."""
    return attestation.recover(domain, signature)


def recover_batch_signer(
    header: BatchHeader, measurements: list[Measurement], domain: Domain, signature: bytes
) -> str:
    signable = header.signable_for(measurements, domain)
    return Account.recover_message(signable, signature=signature)


class AgentBinding(_Struct):
    """An agent (hot) key's consent to sign for ``provider`` until ``deadline``; signed by
    the agent under the ProviderRegistry's domain, so no one binds a key they do not hold."""

    TYPE: ClassVar[str] = "AgentBinding"
    FIELDS: ClassVar[list[tuple[str, str]]] = AGENT_BINDING_FIELDS

    provider: Address
    agent: Address
    deadline: Uint64
