"""The auditor: one object over a market and a blob store.

>>> auditor = Auditor(market, store, account=me, models=["./models/tiny"])
>>> report = auditor.verify_all(from_block=0)          # every attestation, checked
>>> [c.reasons for c in report.flagged]
>>> results = auditor.rebench(sample=3)                # re-measure a sample here
>>> auditor.check_job(7).verdict                       # "ok" | "mismatch" | "not checkable"
>>> case = auditor.challenge(tx_hash, 0, counter_report_hash=results[0].counter_report_hash)
>>> auditor.withdraw()                                 # after the ruling: bond + reward
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from auditor import challenge as challenges
from auditor import jobs
from auditor.challenge import AuditError
from auditor.rebench import TolerancePolicy, confirmed, judge, not_comparable, notes_on
from auditor.results import (
    REPORT_CORRUPT,
    REPORT_INVALID,
    REPORT_MISSING,
    AttestationCheck,
    ChallengeResult,
    Finding,
    JobCheck,
    RebenchResult,
    Ruling,
    VerifyReport,
    Withdrawal,
)
from auditor.verify import Verifier, event_measurement
from chain.clients import JobStatus, Market
from protocol.blobstore import BlobCorrupt, BlobError, BlobNotFound, BlobStore
from protocol.jobspec import JobResult, JobSpec, JobSpecError
from protocol.report import ReportError, check_descriptor_ids
from provider_agent import public

_UNREADABLE = {REPORT_MISSING, REPORT_CORRUPT, REPORT_INVALID}
_DONE = (JobStatus.SUBMITTED, JobStatus.DISPUTED, JobStatus.FINALIZED)
# the bench-config fields that decide a measurement (load and warm-up times do not)
_MEASURING = ("warmup", "repetitions", "max_model_len", "memory_interval_s", "seed")


class Auditor:
    """Verifies attestations and job results of one market; challenges false claims.

    ``account`` signs challenges and withdrawals (reading alone needs none). ``models``
    are local model directories or specs the auditor may re-run (random-weight models are
    also recreated from a report's descriptor). ``rounds`` independent measurements per
    re-benchmark (each in a fresh worker process when ``isolate``), judged with ``policy``;
    a re-measurement during which this host's 1-minute load average exceeded
    ``max_load_per_cpu`` per usable CPU judges nothing (None: no such check); with
    ``confirm`` an inconsistent claim is measured again before it is called inconsistent.
    """

    def __init__(
        self,
        market: Market,
        store: BlobStore,
        *,
        account: LocalAccount | None = None,
        models: Sequence[str | Path] = (),
        policy: TolerancePolicy | None = None,
        from_block: int = 0,
        rounds: int = 2,
        repetitions: int | None = None,
        isolate: bool = True,
        max_load_per_cpu: float | None = 1.0,
        confirm: bool = True,
    ) -> None:
        if rounds < 1:
            raise ValueError("rounds must be >= 1")
        self.market = market
        self.store = store
        self.account = account
        self.models = list(models)
        self.policy = policy or TolerancePolicy()
        self.from_block = from_block
        self.rounds = rounds
        self.repetitions = repetitions
        self.isolate = isolate
        self.max_load_per_cpu = max_load_per_cpu
        self.confirm = confirm
        self.verifier = Verifier(market, store)
        self.last_report: VerifyReport | None = None
        self._remeasured: dict[str, Any] = {}  # cell key -> Remeasurement (or the refusal)

    # ------------------------------------------------------------------------ verify

    def verify_all(
        self, from_block: int | None = None, to_block: int | None = None
    ) -> VerifyReport:
        """Check every attestation posted from ``from_block`` (default: the auditor's)."""
        start = self.from_block if from_block is None else from_block
        self.last_report = self.verifier.verify_range(start, to_block)
        return self.last_report

    def verify_transaction(
        self, tx_hash: str, tx_input: Any = None, block_number: int | None = None
    ) -> list[AttestationCheck]:
        """Check one attestation transaction: a posted one by hash, or (``tx_input`` and
        ``block_number`` given) calldata as if posted in that block."""
        w3 = self.market.attestations.w3
        events = None
        if tx_input is None:
            tx = w3.eth.get_transaction(tx_hash)
            tx_input, block_number = tx["input"], tx["blockNumber"]
            receipt = w3.eth.get_transaction_receipt(tx_hash)
            events = self.market.attestations._events("Attested", receipt)
        if block_number is None:
            raise ValueError("give the block number the input is checked at")
        return self.verifier.verify_transaction(tx_hash, tx_input, block_number, events)

    # ------------------------------------------------------------------------ rebench

    def rebench(
        self,
        claims: Iterable[tuple[str, int]] | None = None,
        *,
        sample: int | None = None,
        seed: int = 0,
        report: VerifyReport | None = None,
    ) -> list[RebenchResult]:
        """Re-measure attested cells here and judge each claim.

        ``claims``: (tx hash, item index) pairs; otherwise a random sample (``sample``
        items, ``seed``) of the attestations whose report is readable, from ``report`` or a
        fresh :meth:`verify_all`. A cell claimed several times is measured once.
        """
        checks = self._select(claims, sample, seed, report)
        return [self.rebench_check(c) for c in checks]

    def _select(
        self,
        claims: Iterable[tuple[str, int]] | None,
        sample: int | None,
        seed: int,
        report: VerifyReport | None,
    ) -> list[AttestationCheck]:
        if claims is not None:
            out = []
            for tx_hash, index in claims:
                items = self.verify_transaction(tx_hash)
                if not 0 <= index < len(items):
                    raise AuditError(f"{tx_hash} posted {len(items)} items, no item {index}")
                out.append(items[index])
            return out
        report = report or self.last_report or self.verify_all()
        candidates = [c for c in report.checks if not (c.codes() & _UNREADABLE)]
        if sample is None or sample >= len(candidates):
            return candidates
        return random.Random(seed).sample(candidates, sample)

    def rebench_check(self, check: AttestationCheck) -> RebenchResult:
        """Re-measure one checked attestation and judge it; with ``confirm``, an
        inconsistent verdict stands only if a second, later measurement agrees."""
        try:
            provider_report = self.verifier.fetch_report(check.report_hash)
            ids = check_descriptor_ids(provider_report)
        except (BlobError, ValueError) as exc:
            return not_comparable(check, f"the attested report is unusable: {exc}")
        if ids != check.ids:
            return not_comparable(check, "the report does not describe the attested cell")
        result = self._measure_and_judge(check, provider_report, fresh=False)
        if self.confirm and result.verdict == "inconsistent":
            again = self._measure_and_judge(check, provider_report, fresh=True)
            result = confirmed(result, again)
        return result

    def _measure_and_judge(
        self, check: AttestationCheck, provider_report: dict[str, Any], fresh: bool
    ) -> RebenchResult:
        measured = self._remeasure(provider_report, fresh)
        if isinstance(measured, str):
            return not_comparable(check, measured)
        busy = measured.load_per_cpu
        if self.max_load_per_cpu is not None and busy > self.max_load_per_cpu:
            return not_comparable(
                check,
                f"this host was busy while measuring (1-min load average {busy:.2f} per CPU, "
                f"limit {self.max_load_per_cpu:g}): measure again when it is quiet",
            )
        counter_hash = self.store.put_json(measured.report)
        result = judge(check, provider_report, measured.report, self.policy)
        result.counter_report_hash = counter_hash
        result.rounds = measured.rounds
        result.notes = notes_on(provider_report, measured.report, measured.outputs_match)
        return result

    def _remeasure(self, report: dict[str, Any], fresh: bool = False) -> Any:
        """The auditor's measurement of the report's cell (cached per cell and bench
        config; ``fresh`` measures again), or the reason it cannot be made here."""
        config = report.get("config") or {}
        key = repr((sorted(report["ids"].items()), [config.get(k) for k in _MEASURING]))
        if fresh or key not in self._remeasured:
            try:
                self._remeasured[key] = public.remeasure(
                    report,
                    models=self.models,
                    repetitions=self.repetitions,
                    rounds=self.rounds,
                    isolate=self.isolate,
                )
            except public.NotReproducible as exc:
                self._remeasured[key] = str(exc)
        return self._remeasured[key]

    # ------------------------------------------------------------------------ jobs

    def check_job(self, job_id: int) -> JobCheck:
        """Re-execute a finished job's spec with its method and compare with the result."""
        job = self.market.jobs.get_job(job_id)
        check = JobCheck(
            job_id=job_id,
            verdict="not checkable",
            status=job.status.name.lower(),
            provider=job.provider,
            spec_hash="0x" + job.spec_hash.hex(),
            result_hash="0x" + job.result_hash.hex(),
        )
        if job.status is JobStatus.NONE:
            check.reason = f"there is no job {job_id}"
            return check
        if job.status not in _DONE or not any(job.result_hash):
            check.reason = f"job is {check.status}: no delivered result"
            return check
        try:
            spec = JobSpec.from_bytes(self.store.get(check.spec_hash))
        except (BlobError, JobSpecError) as exc:
            check.reason = f"job spec unavailable or malformed: {exc}"
            return check
        check.required = spec.quality
        result = self._job_result(check)
        if result is None:
            return jobs.verdict(check)
        check.findings += jobs.document_findings(job, spec, result)
        try:
            self._rerun_job(check, spec, result)
        except public.NotReproducible as exc:
            check.reason = f"cannot re-execute here: {exc}"
            return check
        return jobs.verdict(check)

    def _job_result(self, check: JobCheck) -> JobResult | None:
        try:
            return JobResult.from_bytes(self.store.get(check.result_hash))
        except BlobNotFound:
            check.findings.append(Finding(jobs.RESULT, "the committed result is not retrievable"))
        except BlobCorrupt as exc:
            check.findings.append(Finding(jobs.RESULT, f"the stored result is corrupt: {exc}"))
        except BlobError as exc:
            check.reason = f"result unavailable to this auditor: {exc}"
            check.verdict = "not checkable"
        except JobSpecError as exc:
            check.findings.append(Finding(jobs.RESULT, str(exc)))
        return None

    def _rerun_job(self, check: JobCheck, spec: JobSpec, result: JobResult) -> None:
        descriptors = self.model_descriptors(spec.model_id)
        kw = {"models": self.models, "descriptors": descriptors}
        method_id = "0x" + self.market.jobs.get_job(check.job_id).method_id.hex()
        rerun = public.run_job_spec(spec, method_id, **kw)
        check.method, check.exact = rerun.method, rerun.exact
        delivered = [list(o.token_ids) for o in result.outputs]
        if rerun.exact:
            check.findings += jobs.compare_exact(list(result.outputs), rerun.outputs)
            check.token_agreement = jobs.token_agreement(
                delivered, [o["token_ids"] for o in rerun.outputs]
            )
            return
        if spec.quality == "exact":
            check.findings.append(
                Finding(jobs.METHOD, f"{rerun.method} is lossy but the spec asks for exact outputs")
            )
        reference = public.run_job_spec(spec, rerun.reference_id, **kw)
        decoded = public.decode_tokens(spec.model_id, delivered, **kw)
        minimum = 1.0 if spec.quality == "exact" else float(spec.quality)
        agreement, found = jobs.compare_lossy(
            list(result.outputs), reference.outputs, minimum, decoded
        )
        check.token_agreement = agreement
        check.findings += found

    def model_descriptors(self, model_id: str, limit: int = 8) -> list[dict[str, Any]]:
        """Descriptors of ``model_id`` from attested reports (so the model can be recreated)."""
        found = [
            r["model"] for r in self.verifier.reports.values() if r["ids"]["modelId"] == model_id
        ]
        if found:
            return found[:1]
        events = self.market.attestations.logs("Attested", self.from_block)
        for event in events:
            m = event_measurement(event)
            if "0x" + m.modelId.hex() != model_id:
                continue
            try:
                report = self.verifier.fetch_report("0x" + m.reportHash.hex())
                if check_descriptor_ids(report)["modelId"] == model_id:
                    return [report["model"]]
            except (BlobError, ValueError, ReportError):
                continue
            limit -= 1
            if limit <= 0:
                break
        return []

    # ------------------------------------------------------------------------ challenges

    def _writer(self) -> Market:
        if self.account is None:
            raise AuditError("this action sends transactions: give the Auditor an account")
        return self.market.as_(self.account)

    def challenge(
        self,
        tx_hash: str,
        index: int = 0,
        *,
        counter_report_hash: str,
        bond_wei: int | None = None,
    ) -> ChallengeResult:
        """Challenge item ``index`` of the attestation posted by ``tx_hash`` with a bond
        (default: the registry's minimum), naming the auditor's counter-report."""
        if not self.store.has(counter_report_hash):
            raise AuditError(f"counter-report {counter_report_hash} is not in {self.store!r}")
        return challenges.challenge_claim(
            self._writer(), tx_hash, index, counter_report_hash, bond_wei
        )

    def resolve_as_arbiter(
        self, challenge_id: int, arbiter: LocalAccount, upheld: bool = True
    ) -> Ruling:
        """Rule on a case with the arbiter's key (dev chains only)."""
        return challenges.resolve(self.market, arbiter, challenge_id, upheld)

    def settle(self) -> tuple[list[int], int]:
        """Settle every decided case this auditor joined: (case ids, wei credited), which
        then sit in the registry's ledger until :meth:`withdraw`."""
        market = self._writer()
        assert self.account is not None
        settled, credited, _ = challenges.settle_all(market, self.account.address, self.from_block)
        return settled, credited

    def withdrawable(self) -> int:
        """Wei this auditor may withdraw from the attestation registry now."""
        if self.account is None:
            return 0
        return self.market.attestations.withdrawable(self.account.address)

    def withdraw(self) -> Withdrawal:
        """Settle every decided case this auditor joined and withdraw bond + reward."""
        market = self._writer()
        assert self.account is not None
        return challenges.settle_and_withdraw(market, self.account.address, self.from_block)
