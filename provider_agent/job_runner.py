"""Executing assigned jobs: watch ``JobAssigned`` for this provider, fetch and verify the
spec, run it with the assigned method, store the result, commit its hash on chain.

The agent accepts an offer (locking collateral from its stake) only after checking it can
serve it: a job it cannot run (unknown model, a method it does not offer or cannot run
here, another hardware profile, a missing or malformed spec) is refused with a reason,
never accepted and never crashes the loop; the client can cancel an unaccepted job and
gets its escrow back at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount

from chain.clients import JobStatus, Market
from chain.errors import ContractRevert
from protocol.blobstore import BlobError, BlobStore
from protocol.jobspec import JobResult, JobSpec, JobSpecError
from provider_agent.engines import Engine, make_engine
from provider_agent.hardware import HardwareProfile
from provider_agent.methods import MethodSpec, unmet
from provider_agent.models import ModelInfo
from provider_agent.workloads import Request

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivered:
    job_id: int
    result_hash: str
    method: str


@dataclass(frozen=True)
class Refused:
    job_id: int
    reason: str


Outcome = Delivered | Refused


@dataclass(frozen=True)
class RunnerConfig:
    """How the runner watches the chain."""

    poll_interval_s: float = 1.0
    confirmations: int = 0  # blocks an assignment must be buried under before it is run
    max_model_len: int = 2048

    def __post_init__(self) -> None:
        if self.poll_interval_s <= 0:
            raise ValueError("poll_interval_s must be positive")
        if self.confirmations < 0:
            raise ValueError("confirmations must be >= 0")


@dataclass
class JobRunner:
    market: Market
    provider: str  # registered owner address
    agent: LocalAccount  # hot key that submits results
    store: BlobStore
    hardware: HardwareProfile
    models: dict[str, ModelInfo]  # modelId -> model
    methods: dict[str, MethodSpec]  # methodId -> method
    config: RunnerConfig = field(default_factory=RunnerConfig)
    _engine_key: tuple[str, str] | None = None
    _engine: Engine | None = None
    _next_block: int = 0
    outcomes: list[Outcome] = field(default_factory=list)

    @classmethod
    def offering(
        cls,
        market: Market,
        provider: str,
        agent: LocalAccount,
        store: BlobStore,
        hardware: HardwareProfile,
        models: Iterable[ModelInfo],
        methods: Iterable[MethodSpec],
        config: RunnerConfig | None = None,
    ) -> JobRunner:
        return cls(
            market,
            provider,
            agent,
            store,
            hardware,
            {m.model_id: m for m in models},
            {m.method_id: m for m in methods},
            config or RunnerConfig(),
        )

    # ------------------------------------------------------------------ chain watching

    def assigned_job_ids(self) -> list[int]:
        """Assignments to this provider since the last poll, once confirmed."""
        head = self.market.jobs.w3.eth.block_number - self.config.confirmations
        if head < self._next_block:
            return []
        events = self.market.jobs.contract.events.JobAssigned().get_logs(
            argument_filters={"provider": self.provider}, from_block=self._next_block, to_block=head
        )
        self._next_block = head + 1
        return [e["args"]["jobId"] for e in events]

    def poll_once(self) -> list[Outcome]:
        outcomes = [self.run_job(job_id) for job_id in self.assigned_job_ids()]
        self.outcomes.extend(outcomes)
        return outcomes

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.poll_once()
            stop.wait(self.config.poll_interval_s)

    # ------------------------------------------------------------------ one job

    def run_job(self, job_id: int) -> Outcome:
        job = self.market.jobs.get_job(job_id)
        # Re-read the chain: the event may have been reorged away or already handled.
        if job.status is not JobStatus.ASSIGNED or job.provider != self.provider:
            return self._refuse(
                job_id, f"job is {job.status.name.lower()} for {job.provider}, not assigned to us"
            )
        spec_hash = "0x" + job.spec_hash.hex()
        try:
            spec = JobSpec.from_bytes(self.store.get(spec_hash))
        except BlobError as exc:
            return self._refuse(job_id, f"job spec {spec_hash} unavailable: {exc!r}")
        except JobSpecError as exc:
            return self._refuse(job_id, f"malformed job spec: {exc}")
        model = self.models.get(spec.model_id)
        if model is None:
            return self._refuse(
                job_id, f"unknown model {spec.model_id} ({spec.model_name or 'unnamed'})"
            )
        method_id = "0x" + job.method_id.hex()
        method = self.methods.get(method_id)
        if method is None:
            return self._refuse(job_id, f"method {method_id} is not offered by this provider")
        reason = unmet(method, self.hardware)
        if reason:
            return self._refuse(job_id, f"method {method.name} cannot run here: {reason}")
        hardware_id = "0x" + job.hardware_id.hex()
        if hardware_id != self.hardware.hardware_id:
            return self._refuse(job_id, f"offered on hardware {hardware_id}, not this host's")
        try:
            self.market.jobs.as_(self.agent).accept_job(job_id, hardware_id, method_id, job.price)
        except ContractRevert as exc:
            return self._refuse(job_id, f"acceptJob reverted: {exc}")
        try:
            result = self._execute(job_id, spec, model, method)
        except Exception as exc:  # an engine failure refuses this job, the agent lives on
            log.exception("job %s failed", job_id)
            return self._refuse(job_id, f"execution failed: {type(exc).__name__}: {exc}")
        result_hash = self.store.put_json(result.to_document())
        try:
            self.market.jobs.as_(self.agent).submit_result(job_id, result_hash)
        except ContractRevert as exc:
            return self._refuse(job_id, f"submitResult reverted: {exc}")
        log.info("job %s delivered with %s: %s", job_id, method.name, result_hash)
        return Delivered(job_id, result_hash, method.name)

    def _refuse(self, job_id: int, reason: str) -> Refused:
        log.warning("job %s refused: %s", job_id, reason)
        return Refused(job_id, reason)

    def _engine_for(self, model: ModelInfo, method: MethodSpec) -> Engine:
        key = (model.model_id, method.method_id)
        if self._engine_key != key:
            if self._engine is not None:
                self._engine.close()
                self._engine = None
            engine = make_engine(
                model, method, self.hardware, max_model_len=self.config.max_model_len
            )
            engine.load()
            self._engine, self._engine_key = engine, key
        assert self._engine is not None
        return self._engine

    def _execute(
        self, job_id: int, spec: JobSpec, model: ModelInfo, method: MethodSpec
    ) -> JobResult:
        engine = self._engine_for(model, method)
        outputs, metrics = run_spec(engine, spec, model)
        return JobResult(
            job_id=job_id,
            spec_hash=spec.spec_hash,
            provider=self.provider,
            method_id=method.method_id,
            outputs=outputs,
            metrics=metrics,
            environment={"method": method.descriptor(), "hardwareId": self.hardware.hardware_id},
        )


def run_spec(engine: Engine, spec: JobSpec, model: ModelInfo) -> tuple[list[dict], dict]:
    """Serve a job spec greedily on a loaded engine: (outputs, metrics).

    Outputs are ``{"text", "token_ids"}`` per prompt, in prompt order; metrics are the
    wall time from the first submission to the last token and the output tokens/s.
    """
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model.path, local_files_only=True)
    requests = [
        Request(i, tuple(tokenizer(p, add_special_tokens=False)["input_ids"]), spec.max_new_tokens)
        for i, p in enumerate(spec.prompts)
    ]
    engine.reset()
    concurrency = spec.concurrency or len(requests)
    results = sorted(engine.run(requests, concurrency), key=lambda r: r.index)
    outputs = []
    for r in results:
        ids = list(r.output_ids)
        if not spec.ignore_eos and tokenizer.eos_token_id in ids:
            ids = ids[: ids.index(tokenizer.eos_token_id)]
        outputs.append({"text": tokenizer.decode(ids, skip_special_tokens=True), "token_ids": ids})
    t0 = min(r.t_submit for r in results)
    t1 = max(r.token_times[-1] for r in results if r.token_times)
    n_out = sum(len(r.output_ids) for r in results)
    metrics = {
        "wall_s": round(t1 - t0, 6),
        "output_tokens": float(n_out),
        "output_tokens_per_s": round(n_out / (t1 - t0), 3) if t1 > t0 else 0.0,
    }
    return outputs, metrics
