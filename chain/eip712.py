"""The EIP-712 schema of attestations, shared by signers (provider agent) and verifiers
(backend indexer, auditor) so both hash exactly what the contract hashes.

A single attestation is signed as ``Attestation``. A batch is signed once, as
``AttestationBatch(provider, root, count, nonce, timestamp)`` with
``root = keccak256(leaf_0 || ... || leaf_{n-1})`` and ``leaf_i`` the struct hash of the i-th
``Measurement``; see ``contracts/AttestationRegistry.sol``.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields
from typing import Any

from eth_abi import encode
from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_utils import keccak, to_checksum_address

DOMAIN_NAME = "MetaInfAttestationRegistry"
DOMAIN_VERSION = "1"
UINT64_MAX = 2**64 - 1

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
ATTESTATION_FIELDS: list[tuple[str, str]] = (
    [("provider", "address")] + MEASUREMENT_FIELDS + [("nonce", "uint64"), ("timestamp", "uint64")]
)
BATCH_FIELDS: list[tuple[str, str]] = [
    ("provider", "address"),
    ("root", "bytes32"),
    ("count", "uint64"),
    ("nonce", "uint64"),
    ("timestamp", "uint64"),
]
DOMAIN_FIELDS: list[tuple[str, str]] = [
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
]


class AttestationSchemaError(ValueError):
    """A field is out of range for its Solidity type."""


def _type_string(name: str, spec: list[tuple[str, str]]) -> str:
    return f"{name}({','.join(f'{t} {n}' for n, t in spec)})"


ATTESTATION_TYPEHASH = keccak(text=_type_string("Attestation", ATTESTATION_FIELDS))
MEASUREMENT_TYPEHASH = keccak(text=_type_string("Measurement", MEASUREMENT_FIELDS))
BATCH_TYPEHASH = keccak(text=_type_string("AttestationBatch", BATCH_FIELDS))
DOMAIN_TYPEHASH = keccak(text=_type_string("EIP712Domain", DOMAIN_FIELDS))


def as_bytes32(value: str | bytes) -> bytes:
    raw = (
        bytes.fromhex(value[2:] if value.startswith("0x") else value)
        if isinstance(value, str)
        else value
    )
    if len(raw) != 32:
        raise AttestationSchemaError(f"expected 32 bytes, got {len(raw)}")
    return raw


def _check_uint64(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= UINT64_MAX:
        raise AttestationSchemaError(f"{name}={value!r} does not fit uint64")


@dataclass(frozen=True)
class Measurement:
    """Headline metrics of one (hardware, model, workload, method) cell, as integers."""

    hardwareId: bytes
    modelId: bytes
    workloadId: bytes
    methodId: bytes
    tokensPerSecX1000: int
    ttftP50Us: int
    tpotP50Us: int
    peakMemBytes: int
    reportHash: bytes

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("Id") or f.name == "reportHash":
                object.__setattr__(self, f.name, as_bytes32(value))
            else:
                _check_uint64(f.name, value)

    @classmethod
    def from_metrics(
        cls,
        *,
        hardware_id: str | bytes,
        model_id: str | bytes,
        workload_id: str | bytes,
        method_id: str | bytes,
        output_tokens_per_s: float,
        ttft_p50_s: float,
        tpot_p50_s: float,
        peak_mem_bytes: int,
        report_hash: str | bytes,
    ) -> Measurement:
        """Scale float metrics to the on-chain integer units (tokens/s ×1000, µs, bytes)."""
        return cls(
            as_bytes32(hardware_id),
            as_bytes32(model_id),
            as_bytes32(workload_id),
            as_bytes32(method_id),
            round(output_tokens_per_s * 1000),
            round(ttft_p50_s * 1e6),
            round(tpot_p50_s * 1e6),
            int(peak_mem_bytes),
            as_bytes32(report_hash),
        )

    def struct_hash(self) -> bytes:
        return _hash_struct(MEASUREMENT_TYPEHASH, MEASUREMENT_FIELDS, astuple(self))

    def as_tuple(self) -> tuple[Any, ...]:
        return astuple(self)


@dataclass(frozen=True)
class Attestation:
    """A singly posted, signed measurement."""

    provider: str
    measurement: Measurement
    nonce: int
    timestamp: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "provider", to_checksum_address(self.provider))
        _check_uint64("nonce", self.nonce)
        _check_uint64("timestamp", self.timestamp)

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.provider, *self.measurement.as_tuple(), self.nonce, self.timestamp)

    def message(self) -> dict[str, Any]:
        return dict(zip([n for n, _ in ATTESTATION_FIELDS], self.as_tuple(), strict=True))

    def struct_hash(self) -> bytes:
        return _hash_struct(ATTESTATION_TYPEHASH, ATTESTATION_FIELDS, self.as_tuple())


@dataclass(frozen=True)
class BatchHeader:
    provider: str
    count: int
    nonce: int
    timestamp: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "provider", to_checksum_address(self.provider))
        for name in ("count", "nonce", "timestamp"):
            _check_uint64(name, getattr(self, name))

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.provider, self.count, self.nonce, self.timestamp)

    def message(self, root: bytes) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "root": root,
            "count": self.count,
            "nonce": self.nonce,
            "timestamp": self.timestamp,
        }

    def struct_hash(self, root: bytes) -> bytes:
        values = (self.provider, root, self.count, self.nonce, self.timestamp)
        return _hash_struct(BATCH_TYPEHASH, BATCH_FIELDS, values)


@dataclass(frozen=True)
class Domain:
    """The EIP-712 domain: binds a signature to one chain and one registry contract."""

    chain_id: int
    verifying_contract: str
    name: str = DOMAIN_NAME
    version: str = DOMAIN_VERSION

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": to_checksum_address(self.verifying_contract),
        }

    def separator(self) -> bytes:
        return keccak(
            encode(
                ["bytes32", "bytes32", "bytes32", "uint256", "address"],
                [
                    DOMAIN_TYPEHASH,
                    keccak(text=self.name),
                    keccak(text=self.version),
                    self.chain_id,
                    to_checksum_address(self.verifying_contract),
                ],
            )
        )

    def digest(self, struct_hash: bytes) -> bytes:
        return keccak(b"\x19\x01" + self.separator() + struct_hash)


def _hash_struct(typehash: bytes, spec: list[tuple[str, str]], values: tuple[Any, ...]) -> bytes:
    return keccak(encode(["bytes32"] + [t for _, t in spec], [typehash, *values]))


def batch_root(measurements: list[Measurement]) -> tuple[bytes, list[bytes]]:
    """The batch root and its leaves."""
    leaves = [m.struct_hash() for m in measurements]
    return keccak(b"".join(leaves)), leaves


def _types(primary: str, spec: list[tuple[str, str]]) -> dict[str, list[dict[str, str]]]:
    return {primary: [{"name": n, "type": t} for n, t in spec]}


def sign_attestation(attestation: Attestation, domain: Domain, private_key: bytes | str) -> bytes:
    signable = encode_typed_data(
        domain.as_dict(), _types("Attestation", ATTESTATION_FIELDS), attestation.message()
    )
    return bytes(Account.sign_message(signable, private_key).signature)


def sign_batch(
    header: BatchHeader, measurements: list[Measurement], domain: Domain, private_key: bytes | str
) -> bytes:
    if header.count != len(measurements):
        raise AttestationSchemaError(f"header.count={header.count} but {len(measurements)} items")
    root, _ = batch_root(measurements)
    signable = encode_typed_data(
        domain.as_dict(), _types("AttestationBatch", BATCH_FIELDS), header.message(root)
    )
    return bytes(Account.sign_message(signable, private_key).signature)


def recover_attestation_signer(attestation: Attestation, domain: Domain, signature: bytes) -> str:
    """The address that signed ``attestation`` under ``domain`` (verify before trusting it)."""
    return _recover(domain, attestation.struct_hash(), signature)


def recover_batch_signer(
    header: BatchHeader, measurements: list[Measurement], domain: Domain, signature: bytes
) -> str:
    root, _ = batch_root(measurements)
    return _recover(domain, header.struct_hash(root), signature)


def _recover(domain: Domain, struct_hash: bytes, signature: bytes) -> str:
    # EIP-191 version 0x01 is exactly EIP-712: 0x1901 || domainSeparator || structHash.
    signable = SignableMessage(b"\x01", domain.separator(), struct_hash)
    return Account.recover_message(signable, signature=signature)
