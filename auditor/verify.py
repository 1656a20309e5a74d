"""Verifying every attestation on a chain, from the chain and the blob store alone.

For each transaction that emitted ``Attested`` events (the registry's log is the list of
everything ever posted), the verifier

1. decodes the transaction input (``attest`` / ``attestBatch``), recovers the EIP-712
   signer and recomputes each item's claim hash (:mod:`chain.claims`);
2. checks the signer was the provider's agent key at the time of the block (bound before,
   not revoked), the claim is posted (``postedAt``), each event is the signed item, and the
   signed timestamp is within the registry's clock skew of the block;
3. checks the provider: registered, not banned, staked at least the minimum;
4. fetches the report under the attested hash (the store re-hashes what it reads),
   recomputes every attested field from it, and checks that its figures are plausible
   (:mod:`auditor.plausibility`);
5. notes any challenge against the claim (an upheld one is an error: the claim was false).

Nothing the backend indexed is trusted; nothing here writes to the chain.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from auditor import plausibility
from auditor.results import (
    CHALLENGED,
    CLOCK_SKEW,
    EVENT_MISMATCH,
    NOT_POSTED,
    PROVIDER,
    REPORT_CORRUPT,
    REPORT_INVALID,
    REPORT_MISMATCH,
    REPORT_MISSING,
    SIGNATURE,
    UNDECODABLE,
    AttestationCheck,
    Finding,
    VerifyReport,
)
from chain.claims import SignedClaims, decode_attestation_tx, signing_key_problem
from chain.clients import ChallengeStatus, Market
from protocol.blobstore import BlobCorrupt, BlobError, BlobNotFound, BlobStore
from protocol.eip712 import Measurement
from protocol.report import ReportError

HEADLINE = ("tokensPerSecX1000", "ttftP50Us", "tpotP50Us", "peakMemBytes")
ID_FIELDS = ("hardwareId", "modelId", "workloadId", "methodId")


def hex32(value: bytes | str) -> str:
    return value.lower() if isinstance(value, str) else "0x" + bytes(value).hex()


def _plain(value: Any) -> Any:
    if hasattr(value, "_asdict"):
        value = value._asdict()
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    return value


def event_measurement(event: Any) -> Measurement:
    return Measurement.model_validate(_plain(event["args"]["measurement"]))


class Verifier:
    """Checks attestations of one market against one blob store (caches chain reads)."""

    def __init__(self, market: Market, store: BlobStore) -> None:
        self.market = market
        self.store = store
        self.w3 = market.attestations.w3
        self._providers: dict[str, list[Finding]] = {}
        self._challenges: dict[str, list[int]] | None = None
        self._max_skew: int | None = None
        self.reports: dict[str, dict[str, Any]] = {}  # report hash -> report (well-formed ones)

    # ------------------------------------------------------------------------ the range

    def verify_range(self, from_block: int = 0, to_block: int | None = None) -> VerifyReport:
        head = self.w3.eth.block_number if to_block is None else to_block
        events = self.market.attestations.logs("Attested", from_block, head)
        by_tx: OrderedDict[str, list[Any]] = OrderedDict()
        for e in sorted(events, key=lambda e: (e["blockNumber"], e["logIndex"])):
            by_tx.setdefault(hex32(e["transactionHash"]), []).append(e)
        self._challenges = self._challenge_index(from_block, head)
        checks: list[AttestationCheck] = []
        for tx_hash, tx_events in by_tx.items():
            tx = self.w3.eth.get_transaction(tx_hash)
            checks.extend(
                self.verify_transaction(tx_hash, tx["input"], tx["blockNumber"], tx_events)
            )
        return VerifyReport(self.w3.eth.chain_id, from_block, head, checks)

    def _challenge_index(self, from_block: int, to_block: int) -> dict[str, list[int]]:
        index: dict[str, list[int]] = {}
        for e in self.market.attestations.logs("ChallengeOpened", from_block, to_block):
            index.setdefault(hex32(e["args"]["claimHash"]), []).append(
                int(e["args"]["challengeId"])
            )
        return index

    # ------------------------------------------------------------------ one transaction

    def verify_transaction(
        self,
        tx_hash: str,
        tx_input: Any,
        block_number: int,
        events: list[Any] | None = None,
    ) -> list[AttestationCheck]:
        """Check the items of one attestation transaction (``events``: its ``Attested``
        logs; None for an input that is checked without them)."""
        block_time = self.w3.eth.get_block(block_number)["timestamp"]
        try:
            claims = decode_attestation_tx(self.market, tx_input)
        except Exception as exc:  # not an attest call (a relaying contract), bad signature, ...
            return self._undecodable(tx_hash, block_number, events or [], exc)
        kind = "single" if claims.attestation is not None else "batch"
        shared = self._transaction_findings(claims, block_time)
        if events is not None:
            shared += self._event_findings(claims, events)
        shared += self._provider_findings(claims.provider)
        checks = []
        for i, m in enumerate(claims.measurements):
            check = self._new_check(tx_hash, i, block_number, claims.provider, kind, m)
            check.claim_hash = claims.claim_hashes[i]
            check.signer = claims.signer
            check.findings.extend(shared)
            self._check_report(check, m)
            self._check_challenges(check)
            checks.append(check)
        return checks

    def _new_check(
        self, tx_hash: str, index: int, block: int, provider: str, kind: str, m: Measurement
    ) -> AttestationCheck:
        return AttestationCheck(
            tx_hash=tx_hash,
            index=index,
            claim_hash=None,
            block_number=block,
            provider=provider,
            kind=kind,
            report_hash=hex32(m.reportHash),
            ids={f: hex32(getattr(m, f)) for f in ID_FIELDS},
            headline={f: int(getattr(m, f)) for f in HEADLINE},
        )

    def _undecodable(
        self, tx_hash: str, block: int, events: list[Any], exc: Exception
    ) -> list[AttestationCheck]:
        checks = []
        for i, event in enumerate(events):
            m = event_measurement(event)
            check = self._new_check(tx_hash, i, block, event["args"]["provider"], "unknown", m)
            check.flag(UNDECODABLE, f"cannot recover the signer from the transaction: {exc}")
            check.findings.extend(self._provider_findings(check.provider))
            self._check_report(check, m)
            checks.append(check)
        if not checks:
            placeholder = AttestationCheck(tx_hash, 0, None, block, "", "unknown")
            placeholder.flag(UNDECODABLE, f"not an attestation transaction: {exc}")
            checks.append(placeholder)
        return checks

    def _transaction_findings(self, claims: SignedClaims, block_time: int) -> list[Finding]:
        out = []
        problem = signing_key_problem(self.market, claims.signer, claims.provider, block_time)
        if problem:
            out.append(Finding(SIGNATURE, problem))
        if self.market.attestations.posted_at(claims.posted_digest) == 0:
            out.append(Finding(NOT_POSTED, f"digest {claims.posted_digest} was never posted"))
        signed = claims.attestation or claims.header
        skew = abs(int(signed.timestamp) - int(block_time)) if signed is not None else 0
        if self._max_skew is None:
            self._max_skew = self.market.attestations.contract.functions.maxClockSkew().call()
        if skew > self._max_skew:
            out.append(
                Finding(CLOCK_SKEW, f"signed timestamp is {skew} s from the block time", "warning")
            )
        return out

    def _event_findings(self, claims: SignedClaims, events: list[Any]) -> list[Finding]:
        if len(events) != len(claims.measurements):
            n, k = len(events), len(claims.measurements)
            return [Finding(EVENT_MISMATCH, f"{n} Attested events but {k} signed items")]
        for i, (event, m) in enumerate(zip(events, claims.measurements, strict=True)):
            if event["args"]["provider"].lower() != claims.provider.lower():
                return [Finding(EVENT_MISMATCH, f"event {i} names another provider")]
            if event_measurement(event) != m:
                return [Finding(EVENT_MISMATCH, f"event {i} differs from the signed item")]
        return []

    def _provider_findings(self, provider: str) -> list[Finding]:
        key = provider.lower()
        if key not in self._providers:
            self._providers[key] = self._read_provider(provider)
        return list(self._providers[key])

    def _read_provider(self, provider: str) -> list[Finding]:
        info = self.market.registry.get_provider(provider)
        if not info.registered:
            return [Finding(PROVIDER, f"provider {provider} is not registered")]
        out = []
        if info.banned:
            out.append(
                Finding(
                    PROVIDER, f"provider is banned (slashed {info.slashed_total} wei)", "warning"
                )
            )
        min_stake = self.market.registry.min_stake()
        if info.stake < min_stake:
            out.append(
                Finding(
                    PROVIDER,
                    f"provider stake {info.stake} wei is below the minimum {min_stake} wei now",
                    "warning",
                )
            )
        return out

    # ------------------------------------------------------------------------ the report

    def fetch_report(self, report_hash: str) -> dict[str, Any]:
        """The report under ``report_hash`` (BlobError / ValueError when unavailable or bad)."""
        if report_hash not in self.reports:
            report = self.store.get_json(report_hash)
            if not isinstance(report, dict):
                raise ValueError("the blob is not a JSON object")
            self.reports[report_hash] = report
        return self.reports[report_hash]

    def _check_report(self, check: AttestationCheck, m: Measurement) -> None:
        h = check.report_hash
        try:
            report = self.fetch_report(h)
        except BlobNotFound:
            check.flag(REPORT_MISSING, f"no report {h} in {self.store!r}")
            return
        except BlobCorrupt as exc:
            check.flag(REPORT_CORRUPT, str(exc))
            return
        except BlobError as exc:
            check.flag(REPORT_MISSING, f"report {h} unavailable: {exc}")
            return
        except ValueError as exc:
            check.flag(REPORT_INVALID, f"report {h} is not JSON: {exc}")
            return
        check.names = {
            role: str(report[role].get("name", ""))
            for role in ("model", "hardware", "workload", "method")
            if isinstance(report.get(role), dict)
        }
        try:
            m.check_supported_by(report)
        except ReportError as exc:
            code = REPORT_MISMATCH if "disagree" in str(exc) else REPORT_INVALID
            check.flag(code, str(exc))
            if code == REPORT_INVALID:
                return
        check.findings.extend(plausibility.check_report(report))

    # ------------------------------------------------------------------------ challenges

    def _check_challenges(self, check: AttestationCheck) -> None:
        if self._challenges is None or check.claim_hash is None:
            return
        for challenge_id in self._challenges.get(check.claim_hash, []):
            status = self.market.attestations.get_challenge(challenge_id).status
            severity = "error" if status is ChallengeStatus.UPHELD else "info"
            check.flag(CHALLENGED, f"challenge #{challenge_id} {status.name.lower()}", severity)
