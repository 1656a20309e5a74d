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
from protocol.eip712 import (
    REGISTRY_DOMAIN_NAME,
    AgentBinding,
    Attestation,
    BatchHeader,
    Domain,
    Measurement,
    as_bytes32,
)


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

    def _signer(self) -> Transactor:
        if self.signer is None:
            raise ReadOnlyClient(
                f"{self.contract_name} client has no signing account; use .as_(account)"
            )
        return self.signer

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
    reserved: int
    stake: int
    attest_nonce: int
    exposure_until: int
    registered: bool
    banned: bool
    pending_unstake: int
    unstake_ready_at: int
    slashed_total: int
    metadata_uri: str


@dataclass(frozen=True)
class LockInfo:
    lock_id: int
    provider: str
    open: bool
    owner: str
    amount: int


class ProviderRegistryClient(_Client):
    contract_name = "ProviderRegistry"

    def domain(self) -> Domain:
        """The EIP-712 domain agent keys sign their binding under."""
        return Domain(
            chain_id=self.w3.eth.chain_id,
            verifying_contract=self.address,
            name=REGISTRY_DOMAIN_NAME,
        )

    def agent_consent(
        self, provider: str, agent: LocalAccount, valid_for_s: int = 3600
    ) -> tuple[int, bytes]:
        """(deadline, signature): ``agent`` consents to sign for ``provider`` until deadline."""
        deadline = self.w3.eth.get_block("latest")["timestamp"] + valid_for_s
        binding = AgentBinding(provider=provider, agent=agent.address, deadline=deadline)
        return deadline, binding.sign(self.domain(), agent.key)

    def register(
        self,
        *,
        agent: LocalAccount | str,
        hardware_id: bytes | str,
        price_per_second: int,
        metadata_uri: str,
        stake_wei: int,
        consent: tuple[int, bytes] | None = None,
    ) -> TxReceipt:
        """Stake and register with a first hardware profile. The agent key consents by
        signing (pass the account, or a ``consent`` made by :meth:`agent_consent`)."""
        me = self._signer().address
        agent_address, deadline, signature = self._consent(me, agent, consent)
        fn = self.contract.functions.register(
            as_bytes32(hardware_id),
            price_per_second,
            metadata_uri,
            agent_address,
            deadline,
            signature,
        )
        return self._send(fn, stake_wei)

    def _consent(
        self, provider: str, agent: LocalAccount | str, consent: tuple[int, bytes] | None
    ) -> tuple[str, int, bytes]:
        if consent is not None:
            address = agent if isinstance(agent, str) else agent.address
            return address, *consent
        if isinstance(agent, str):
            if agent.lower() != provider.lower():
                raise ValueError("an agent other than the provider must sign its consent")
            return agent, 0, b""
        deadline, signature = self.agent_consent(provider, agent)
        return agent.address, deadline, signature

    def set_agent(
        self, agent: LocalAccount | str, consent: tuple[int, bytes] | None = None
    ) -> TxReceipt:
        address, deadline, signature = self._consent(self._signer().address, agent, consent)
        return self._send(self.contract.functions.setAgent(address, deadline, signature))

    def add_hardware(self, hardware_id: bytes | str, price_per_second: int) -> TxReceipt:
        fn = self.contract.functions.addHardware(as_bytes32(hardware_id), price_per_second)
        return self._send(fn)

    def remove_hardware(self, hardware_id: bytes | str) -> TxReceipt:
        return self._send(self.contract.functions.removeHardware(as_bytes32(hardware_id)))

    def set_price(self, hardware_id: bytes | str, price_per_second: int) -> TxReceipt:
        fn = self.contract.functions.setPrice(as_bytes32(hardware_id), price_per_second)
        return self._send(fn)

    def set_metadata(self, metadata_uri: str) -> TxReceipt:
        return self._send(self.contract.functions.setMetadata(metadata_uri))

    def add_stake(self, amount_wei: int) -> TxReceipt:
        return self._send(self.contract.functions.addStake(), amount_wei)

    def request_unstake(self, amount_wei: int) -> TxReceipt:
        return self._send(self.contract.functions.requestUnstake(amount_wei))

    def complete_unstake(self) -> TxReceipt:
        return self._send(self.contract.functions.completeUnstake())

    def pause(self) -> TxReceipt:
        return self._send(self.contract.functions.pause())

    def unpause(self) -> TxReceipt:
        return self._send(self.contract.functions.unpause())

    def withdraw(self) -> TxReceipt:
        return self._send(self.contract.functions.withdraw())

    def withdraw_to(self, to: str) -> TxReceipt:
        return self._send(self.contract.functions.withdrawTo(to))

    def get_provider(self, provider: str) -> ProviderInfo:
        raw = call(self.contract.functions.getProvider(provider))
        return from_struct(ProviderInfo, raw, address=provider)

    def hardware_profile(self, provider: str, hardware_id: bytes | str) -> tuple[bool, int]:
        """(registered, price per second) of one of ``provider``'s hardware profiles."""
        raw = call(self.contract.functions.hardwareProfile(provider, as_bytes32(hardware_id)))
        return bool(raw[0]), int(raw[1])

    def get_lock(self, lock_id: int) -> LockInfo:
        raw = call(self.contract.functions.getLock(lock_id))
        return from_struct(LockInfo, raw, lock_id=lock_id)

    def is_active(self, provider: str) -> bool:
        return call(self.contract.functions.isActive(provider))

    def free_stake(self, provider: str) -> int:
        return call(self.contract.functions.freeStake(provider))

    def locked_stake(self, provider: str) -> int:
        return call(self.contract.functions.lockedStake(provider))

    def withdrawable(self, account: str) -> int:
        return call(self.contract.functions.withdrawable(account))

    def min_stake(self) -> int:
        return call(self.contract.functions.minStake())

    def agent_key(self, agent: str) -> tuple[str, int, int]:
        """(provider, bound at, revoked at) of an agent key (zeros when never bound)."""
        return tuple(call(self.contract.functions.agentKey(agent)))

    def paused(self) -> bool:
        return call(self.contract.functions.paused())


# --------------------------------------------------------------------------- AttestationRegistry


class ChallengeStatus(IntEnum):
    NONE = 0
    OPEN = 1
    UPHELD = 2
    REJECTED = 3
    EXPIRED = 4


@dataclass(frozen=True)
class ChallengeInfo:
    challenge_id: int
    provider: str
    opened_at: int
    status: ChallengeStatus
    total_bond: int
    reward: int
    settled_bond: int
    paid_reward: int
    stake_locked: int
    lock_id: int
    claim_hash: bytes


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
        self, attestation: Attestation, counter_report_hash: bytes | str, bond_wei: int
    ) -> TxReceipt:
        fn = self.contract.functions.challengeAttestation(
            attestation.as_tuple(), as_bytes32(counter_report_hash)
        )
        return self._send(fn, bond_wei)

    def challenge_batch_item(
        self,
        header: BatchHeader,
        leaves: list[bytes],
        index: int,
        item: Measurement,
        counter_report_hash: bytes | str,
        bond_wei: int,
    ) -> TxReceipt:
        fn = self.contract.functions.challengeBatchItem(
            header.header_tuple(), leaves, index, item.as_tuple(), as_bytes32(counter_report_hash)
        )
        return self._send(fn, bond_wei)

    def challenge_id(self, receipt: TxReceipt) -> int:
        """The id of the case a ``challenge_*`` receipt opened or joined."""
        return self._events("ChallengerJoined", receipt)[0]["args"]["challengeId"]

    def resolve_challenge(self, challenge_id: int, upheld: bool) -> TxReceipt:
        return self._send(self.contract.functions.resolveChallenge(challenge_id, upheld))

    def settle_expired_challenge(self, challenge_id: int) -> TxReceipt:
        return self._send(self.contract.functions.settleExpiredChallenge(challenge_id))

    def settle_challenger(self, challenge_id: int, challenger: str) -> TxReceipt:
        return self._send(self.contract.functions.settleChallenger(challenge_id, challenger))

    def withdraw(self) -> TxReceipt:
        return self._send(self.contract.functions.withdraw())

    def withdraw_to(self, to: str) -> TxReceipt:
        return self._send(self.contract.functions.withdrawTo(to))

    def last_nonce(self, provider: str) -> int:
        return call(self.contract.functions.lastNonce(provider))

    def posted_at(self, digest: bytes | str) -> int:
        """When the claim with this digest was posted (0: never)."""
        return call(self.contract.functions.postedAt(as_bytes32(digest)))

    def withdrawable(self, account: str) -> int:
        return call(self.contract.functions.withdrawable(account))

    def bond_of(self, challenge_id: int, challenger: str) -> int:
        return call(self.contract.functions.bondOf(challenge_id, challenger))

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
    ACCEPTED = 3
    SUBMITTED = 4
    DISPUTED = 5
    FINALIZED = 6
    REFUNDED = 7
    CANCELLED = 8


@dataclass(frozen=True)
class JobInfo:
    job_id: int
    client: str
    status: JobStatus
    deadline: int
    provider: str
    max_runtime: int
    allowed_provider: str
    submitted_at: int
    escrow: int
    price: int
    collateral: int
    dispute_bond: int
    disputed_at: int
    lock_id: int
    spec_hash: bytes
    hardware_id: bytes
    method_id: bytes
    result_hash: bytes


NO_PROVIDER = "0x0000000000000000000000000000000000000000"


class JobMarketClient(_Client):
    contract_name = "JobMarket"

    def create_job(
        self,
        *,
        spec_hash: bytes | str,
        model_id: bytes | str,
        workload_id: bytes | str,
        max_runtime_s: int,
        deadline: int,
        escrow_wei: int,
        allowed_provider: str = NO_PROVIDER,
    ) -> TxReceipt:
        """Escrow the client's maximum price for a job; ``max_runtime_s`` bounds what a
        provider may charge (its price per second x this runtime)."""
        fn = self.contract.functions.createJob(
            as_bytes32(spec_hash),
            as_bytes32(model_id),
            as_bytes32(workload_id),
            max_runtime_s,
            allowed_provider,
            deadline,
        )
        return self._send(fn, escrow_wei)

    def created_job_id(self, receipt: TxReceipt) -> int:
        """The id of the job a ``create_job`` receipt opened."""
        return self._events("JobCreated", receipt)[0]["args"]["jobId"]

    def assign_job(
        self,
        job_id: int,
        provider: str,
        hardware_id: bytes | str,
        method_id: bytes | str,
        price_wei: int,
    ) -> TxReceipt:
        fn = self.contract.functions.assignJob(
            job_id, provider, as_bytes32(hardware_id), as_bytes32(method_id), price_wei
        )
        return self._send(fn)

    def accept_job(
        self, job_id: int, hardware_id: bytes | str, method_id: bytes | str, price_wei: int
    ) -> TxReceipt:
        """The provider (or its agent) accepts exactly the offered terms; locks collateral."""
        fn = self.contract.functions.acceptJob(
            job_id, as_bytes32(hardware_id), as_bytes32(method_id), price_wei
        )
        return self._send(fn)

    def submit_result(self, job_id: int, result_hash: bytes | str) -> TxReceipt:
        return self._send(self.contract.functions.submitResult(job_id, as_bytes32(result_hash)))

    def finalize(self, job_id: int) -> TxReceipt:
        return self._send(self.contract.functions.finalize(job_id))

    def dispute(self, job_id: int, bond_wei: int) -> TxReceipt:
        return self._send(self.contract.functions.dispute(job_id), bond_wei)

    def resolve_dispute(self, job_id: int, provider_at_fault: bool) -> TxReceipt:
        return self._send(self.contract.functions.resolveDispute(job_id, provider_at_fault))

    def settle_expired_dispute(self, job_id: int) -> TxReceipt:
        return self._send(self.contract.functions.settleExpiredDispute(job_id))

    def refund(self, job_id: int) -> TxReceipt:
        return self._send(self.contract.functions.refund(job_id))

    def cancel_job(self, job_id: int) -> TxReceipt:
        return self._send(self.contract.functions.cancelJob(job_id))

    def withdraw(self) -> TxReceipt:
        return self._send(self.contract.functions.withdraw())

    def withdraw_to(self, to: str) -> TxReceipt:
        return self._send(self.contract.functions.withdrawTo(to))

    def get_job(self, job_id: int) -> JobInfo:
        raw = call(self.contract.functions.getJob(job_id))
        return from_struct(JobInfo, raw, job_id=job_id, status=JobStatus(raw.status))

    def fee_of(self, price_wei: int) -> int:
        return call(self.contract.functions.feeOf(price_wei))

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
