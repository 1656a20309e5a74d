"""Typed clients for the three contracts.

A client is bound to one contract address and, for writes, to one signing account
(:class:`~chain.tx.Transactor`); ``as_(account)`` gives the same client for another signer.
All reverts surface as :class:`~chain.errors.ContractRevert`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from enum import IntEnum
from typing import Any, Self

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract.contract import Contract, ContractFunction
from web3.types import TxReceipt

from chain.artifacts import load_artifact
from chain.deploy import Deployment
from chain.errors import ChainError
from chain.tx import Transactor, call
from protocol.eip712 import Attestation, BatchHeader, Domain, Measurement, as_bytes32


class ReadOnlyClient(ChainError):
    """A write was attempted on a client without a signing account."""


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def from_struct(cls: type, raw: Any, **extra: Any) -> Any:
    """A dataclass from a struct decoded with ``decode_tuples=True`` (fields by name)."""
    values = {_snake(k): v for k, v in raw._asdict().items()} | extra
    return cls(**{f.name: values[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class _Client:
    w3: Web3
    address: str
    signer: Transactor | None = None
    contract: Contract = field(init=False, repr=False, compare=False)

    contract_name = ""

    def __post_init__(self) -> None:
        abi = load_artifact(self.contract_name).abi
        contract = self.w3.eth.contract(address=self.address, abi=abi, decode_tuples=True)
        object.__setattr__(self, "contract", contract)

    def as_(self, account: LocalAccount) -> Self:
        return replace(self, signer=Transactor(self.w3, account))

    def _send(self, fn: ContractFunction, value: int = 0) -> TxReceipt:
        if self.signer is None:
            raise ReadOnlyClient(
                f"{self.contract_name} client has no signing account; use .as_(account)"
            )
        return self.signer.send(fn, value)

    def _events(self, name: str, receipt: TxReceipt) -> list[Any]:
        from web3.logs import DISCARD

        return list(getattr(self.contract.events, name)().process_receipt(receipt, errors=DISCARD))

    def logs(self, name: str, from_block: int, to_block: int | str = "latest") -> list[Any]:
        return list(
            getattr(self.contract.events, name)().get_logs(from_block=from_block, to_block=to_block)
        )


# --------------------------------------------------------------------------- ProviderRegistry


@dataclass(frozen=True)
class ProviderInfo:
    address: str
    agent: str
    unstake_ready_at: int
    registered: bool
    slashed: bool
    open_cases: int
    stake: int
    pending_unstake: int
    price_per_second: int
    hardware_id: bytes
    metadata_uri: str


class ProviderRegistryClient(_Client):
    contract_name = "ProviderRegistry"

    def register(
        self,
        *,
        agent: str,
        hardware_id: bytes | str,
        price_per_second: int,
        metadata_uri: str,
        stake_wei: int,
    ) -> TxReceipt:
        fn = self.contract.functions.register(
            agent, as_bytes32(hardware_id), price_per_second, metadata_uri
        )
        return self._send(fn, stake_wei)

    def add_stake(self, amount_wei: int) -> TxReceipt:
        return self._send(self.contract.functions.addStake(), amount_wei)

    def set_agent(self, agent: str) -> TxReceipt:
        return self._send(self.contract.functions.setAgent(agent))

    def set_price(self, price_per_second: int) -> TxReceipt:
        return self._send(self.contract.functions.setPrice(price_per_second))

    def request_unstake(self, amount_wei: int) -> TxReceipt:
        return self._send(self.contract.functions.requestUnstake(amount_wei))

    def complete_unstake(self) -> TxReceipt:
        return self._send(self.contract.functions.completeUnstake())

    def slash(self, provider: str, amount_wei: int, beneficiary: str) -> TxReceipt:
        return self._send(self.contract.functions.slash(provider, amount_wei, beneficiary))

    def withdraw(self) -> TxReceipt:
        return self._send(self.contract.functions.withdraw())

    def get_provider(self, provider: str) -> ProviderInfo:
        raw = call(self.contract.functions.getProvider(provider))
        return from_struct(ProviderInfo, raw, address=provider)

    def is_active(self, provider: str) -> bool:
        return call(self.contract.functions.isActive(provider))

    def withdrawable(self, account: str) -> int:
        return call(self.contract.functions.withdrawable(account))

    def min_stake(self) -> int:
        return call(self.contract.functions.minStake())


# --------------------------------------------------------------------------- AttestationRegistry


class ChallengeStatus(IntEnum):
    NONE = 0
    OPEN = 1
    UPHELD = 2
    REJECTED = 3


@dataclass(frozen=True)
class ChallengeInfo:
    challenge_id: int
    challenger: str
    provider: str
    opened_at: int
    status: ChallengeStatus
    bond: int
    claim_hash: bytes
    counter_report_hash: bytes


class AttestationRegistryClient(_Client):
    contract_name = "AttestationRegistry"

    def domain(self) -> Domain:
        return Domain(chain_id=self.w3.eth.chain_id, verifying_contract=self.address)

    def attest(self, attestation: Attestation, signature: bytes) -> TxReceipt:
        return self._send(self.contract.functions.attest(attestation.as_tuple(), signature))

    def attest_batch(
        self, header: BatchHeader, items: list[Measurement], signature: bytes
    ) -> TxReceipt:
        fn = self.contract.functions.attestBatch(
            header.header_tuple(), [m.as_tuple() for m in items], signature
        )
        return self._send(fn)

    def challenge_attestation(
        self,
        attestation: Attestation,
        signature: bytes,
        counter_report_hash: bytes | str,
        bond_wei: int,
    ) -> TxReceipt:
        fn = self.contract.functions.challengeAttestation(
            attestation.as_tuple(), signature, as_bytes32(counter_report_hash)
        )
        return self._send(fn, bond_wei)

    def challenge_batch_item(
        self,
        header: BatchHeader,
        leaves: list[bytes],
        index: int,
        item: Measurement,
        signature: bytes,
        counter_report_hash: bytes | str,
        bond_wei: int,
    ) -> TxReceipt:
        fn = self.contract.functions.challengeBatchItem(
            header.header_tuple(),
            leaves,
            index,
            item.as_tuple(),
            signature,
            as_bytes32(counter_report_hash),
        )
        return self._send(fn, bond_wei)

    def challenge_id(self, receipt: TxReceipt) -> int:
        """The id of the challenge a ``challenge_*`` receipt opened."""
        return self._events("ChallengeOpened", receipt)[0]["args"]["challengeId"]

    def resolve_challenge(self, challenge_id: int, upheld: bool) -> TxReceipt:
        return self._send(self.contract.functions.resolveChallenge(challenge_id, upheld))

    def withdraw(self) -> TxReceipt:
        return self._send(self.contract.functions.withdraw())

    def last_nonce(self, provider: str) -> int:
        return call(self.contract.functions.lastNonce(provider))

    def withdrawable(self, account: str) -> int:
        return call(self.contract.functions.withdrawable(account))

    def get_challenge(self, challenge_id: int) -> ChallengeInfo:
        raw = call(self.contract.functions.getChallenge(challenge_id))
        return from_struct(
            ChallengeInfo, raw, challenge_id=challenge_id, status=ChallengeStatus(raw.status)
        )


# --------------------------------------------------------------------------- JobMarket


class JobStatus(IntEnum):
    NONE = 0
    OPEN = 1
    ASSIGNED = 2
    SUBMITTED = 3
    DISPUTED = 4
    FINALIZED = 5
    REFUNDED = 6
    CANCELLED = 7


@dataclass(frozen=True)
class JobInfo:
    job_id: int
    client: str
    status: JobStatus
    deadline: int
    provider: str
    submitted_at: int
    escrow: int
    price: int
    spec_hash: bytes
    method_id: bytes
    result_hash: bytes


class JobMarketClient(_Client):
    contract_name = "JobMarket"

    def create_job(
        self,
        *,
        spec_hash: bytes | str,
        model_id: bytes | str,
        workload_id: bytes | str,
        deadline: int,
        escrow_wei: int,
    ) -> TxReceipt:
        fn = self.contract.functions.createJob(
            as_bytes32(spec_hash), as_bytes32(model_id), as_bytes32(workload_id), deadline
        )
        return self._send(fn, escrow_wei)

    def created_job_id(self, receipt: TxReceipt) -> int:
        """The id of the job a ``create_job`` receipt opened."""
        return self._events("JobCreated", receipt)[0]["args"]["jobId"]

    def assign_job(
        self, job_id: int, provider: str, method_id: bytes | str, price_wei: int
    ) -> TxReceipt:
        fn = self.contract.functions.assignJob(job_id, provider, as_bytes32(method_id), price_wei)
        return self._send(fn)

    def submit_result(self, job_id: int, result_hash: bytes | str) -> TxReceipt:
        return self._send(self.contract.functions.submitResult(job_id, as_bytes32(result_hash)))

    def finalize(self, job_id: int) -> TxReceipt:
        return self._send(self.contract.functions.finalize(job_id))

    def dispute(self, job_id: int) -> TxReceipt:
        return self._send(self.contract.functions.dispute(job_id))

    def resolve_dispute(self, job_id: int, provider_at_fault: bool) -> TxReceipt:
        return self._send(self.contract.functions.resolveDispute(job_id, provider_at_fault))

    def refund(self, job_id: int) -> TxReceipt:
        return self._send(self.contract.functions.refund(job_id))

    def cancel_job(self, job_id: int) -> TxReceipt:
        return self._send(self.contract.functions.cancelJob(job_id))

    def withdraw(self) -> TxReceipt:
        return self._send(self.contract.functions.withdraw())

    def get_job(self, job_id: int) -> JobInfo:
        raw = call(self.contract.functions.getJob(job_id))
        return from_struct(JobInfo, raw, job_id=job_id, status=JobStatus(raw.status))

    def withdrawable(self, account: str) -> int:
        return call(self.contract.functions.withdrawable(account))

    def job_count(self) -> int:
        return call(self.contract.functions.jobCount())


@dataclass(frozen=True)
class Market:
    """The three clients of one deployment, read-only until bound with ``as_``."""

    registry: ProviderRegistryClient
    attestations: AttestationRegistryClient
    jobs: JobMarketClient

    @classmethod
    def at(cls, w3: Web3, deployment: Deployment) -> Market:
        return cls(
            ProviderRegistryClient(w3, deployment.provider_registry),
            AttestationRegistryClient(w3, deployment.attestation_registry),
            JobMarketClient(w3, deployment.job_market),
        )

    def as_(self, account: LocalAccount) -> Market:
        return Market(
            self.registry.as_(account), self.attestations.as_(account), self.jobs.as_(account)
        )
