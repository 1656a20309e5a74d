"""The client SDK: submit paid jobs, follow them, get verified results.

Example::

    from sdk import Client

    client = Client(rpc_url="http://127.0.0.1:8545", backend_url="http://127.0.0.1:8000",
                    private_key=os.environ["METAINF_CLIENT_KEY"])
    job = client.submit_job(model=model_id, prompts=["Hello!"], max_new_tokens=32,
                            budget_wei=10**16)
    outcome = job.wait(timeout=600)
    print(outcome.outputs[0], outcome.method_name, outcome.cost_wei)

The escrow (``budget_wei``) is the most the job can cost; the backend offers it to the
fastest (provider, method) whose predicted cost fits. Results are only returned after
they are checked against the hash the provider committed on chain.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount

from chain.clients import NO_PROVIDER, JobInfo, JobStatus, Market
from chain.errors import ContractRevert
from protocol.blobstore import BlobError
from protocol.canonical import canonical_json, content_id
from protocol.http_blobstore import HttpBlobStore
from protocol.jobspec import JobResult, JobSpec, JobSpecError
from sdk.errors import (
    BackendUnavailable,
    DeadlinePassed,
    InsufficientFunds,
    JobFailed,
    NoProviderMatched,
    ResultHashMismatch,
)

GAS_RESERVE_WEI = 10**15  # what creating a job may cost in gas, kept free beside the escrow
DONE = (JobStatus.FINALIZED,)
FAILED = (JobStatus.REFUNDED, JobStatus.CANCELLED)


@dataclass
class JobOutcome:
    """A finished job, its result verified against the on-chain hash."""

    job_id: int
    state: str
    outputs: list[str]
    token_ids: list[list[int]]
    provider: str
    method_id: str
    method_name: str | None
    predicted_runtime_s: float | None
    measured_runtime_s: float | None
    cost_wei: int
    refund_wei: int
    result_hash: str
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


class Client:
    """A client of the market: one account, one chain, one backend."""

    def __init__(
        self,
        rpc_url: str | None = None,
        backend_url: str | None = None,
        private_key: str | bytes | None = None,
        *,
        deployments_dir: str | Path | None = None,
        market: Market | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        from protocol.settings import Settings

        settings = Settings()
        self.account: LocalAccount = (
            Account.from_key(private_key) if private_key else _settings_account(settings)
        )
        self.market = market or _open_market(
            rpc_url or settings.rpc_url, Path(deployments_dir or settings.deployments_dir)
        )
        self.backend_url = (backend_url or settings.backend_url).rstrip("/")
        self.http = httpx.Client(base_url=self.backend_url, timeout=timeout_s)
        self.blobs = HttpBlobStore(self.backend_url, account=self.account, timeout=timeout_s)

    # ------------------------------------------------------------------ submitting

    def submit_job(
        self,
        model: str | dict[str, Any],
        prompts: list[str],
        max_new_tokens: int,
        budget_wei: int,
        *,
        workload: str | dict[str, Any] | None = None,
        quality: str | float = "exact",
        deadline_s: int = 3600,
        max_runtime_s: int | None = None,
        allowed_provider: str | None = None,
    ) -> JobHandle:
        """Upload the spec, escrow ``budget_wei`` on chain, and return a handle.

        ``model`` / ``workload``: an id (0x...) or a descriptor (its content id is used).
        ``quality``: "exact" (outputs identical to the reference method) or the lowest
        token agreement with it that the client accepts (lossy methods allowed)."""
        spec = JobSpec(
            model_id=_id_of(model),
            prompts=list(prompts),
            max_new_tokens=max_new_tokens,
            workload_id=_id_of(workload)
            if workload is not None
            else _adhoc(prompts, max_new_tokens),
            model_name=model.get("name", "") if isinstance(model, dict) else "",
            quality=quality,
        )
        uploaded = self._post_spec(spec)
        if uploaded != spec.spec_hash:
            raise BackendUnavailable(
                f"the backend stored the spec as {uploaded}, not {spec.spec_hash}"
            )
        self._check_funds(budget_wei)
        w3 = self.market.jobs.w3
        receipt = self._jobs().create_job(
            spec_hash=spec.spec_hash,
            model_id=spec.model_id,
            workload_id=spec.workload_id,
            max_runtime_s=max_runtime_s or deadline_s,
            deadline=w3.eth.get_block("latest")["timestamp"] + deadline_s,
            escrow_wei=budget_wei,
            allowed_provider=allowed_provider or NO_PROVIDER,
        )
        return JobHandle(self, self.market.jobs.created_job_id(receipt), spec)

    def _post_spec(self, spec: JobSpec) -> str:
        try:
            r = self.http.post("/specs", content=canonical_json(spec.to_document()))
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"backend {self.backend_url} unreachable: {exc}") from exc
        if r.status_code != 200:
            raise BackendUnavailable(f"backend refused the job spec ({r.status_code}): {r.text}")
        return r.json()["hash"]

    def _check_funds(self, budget_wei: int) -> None:
        if budget_wei <= 0:
            raise ValueError("budget_wei must be positive")
        balance = self.market.jobs.w3.eth.get_balance(self.account.address)
        if balance < budget_wei + GAS_RESERVE_WEI:
            raise InsufficientFunds(
                f"{self.account.address} holds {balance} wei; the escrow needs {budget_wei} "
                f"plus about {GAS_RESERVE_WEI} for gas"
            )

    def _jobs(self):  # noqa: ANN202 - JobMarketClient bound to this account
        return self.market.jobs.as_(self.account)

    # ------------------------------------------------------------------ following

    def job(self, job_id: int) -> JobHandle:
        return JobHandle(self, job_id, None)

    def jobs(self) -> list[dict[str, Any]]:
        """This account's jobs as the backend indexed them (status, decision, ...)."""
        r = self._get("/jobs", params={"client": self.account.address, "limit": 500})
        return r.json()["items"]

    def backend_view(self, job_id: int) -> dict[str, Any] | None:
        r = self.http.get(f"/jobs/{job_id}", params={"chain_id": self.market.jobs.w3.eth.chain_id})
        if r.status_code == 404:
            return None  # not indexed yet
        if r.status_code != 200:
            raise BackendUnavailable(f"GET /jobs/{job_id}: {r.status_code} {r.text}")
        return r.json()

    def _get(self, path: str, **kw: Any) -> httpx.Response:
        try:
            r = self.http.get(path, **kw)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"backend {self.backend_url} unreachable: {exc}") from exc
        if r.status_code != 200:
            raise BackendUnavailable(f"GET {path}: {r.status_code} {r.text}")
        return r

    # ------------------------------------------------------------------ money back

    def refund(self, job_id: int) -> int:
        """Get the escrow back: cancels a job no provider accepted, or refunds one whose
        deadline passed; then withdraws. Returns the wei withdrawn."""
        job = self.market.jobs.get_job(job_id)
        try:
            if job.status in (JobStatus.OPEN, JobStatus.ASSIGNED):
                self._jobs().cancel_job(job_id)
            elif job.status is JobStatus.ACCEPTED:
                self._jobs().refund(job_id)
        except ContractRevert as exc:
            raise JobFailed(f"job {job_id} cannot be refunded now: {exc}") from exc
        return self.withdraw()

    def withdraw(self) -> int:
        owed = self.market.jobs.withdrawable(self.account.address)
        if owed:
            self._jobs().withdraw()
        return owed


class JobHandle:
    """One submitted job; ``wait`` follows it to the end."""

    def __init__(self, client: Client, job_id: int, spec: JobSpec | None) -> None:
        self.client, self.job_id, self.spec = client, job_id, spec
        self.result: JobResult | None = None

    def __repr__(self) -> str:
        return f"JobHandle(job_id={self.job_id})"

    def status(self) -> JobInfo:
        return self.client.market.jobs.get_job(self.job_id)

    def wait(self, timeout: float = 600.0, poll_s: float = 0.5, until: str = "final") -> JobOutcome:
        """Follow the job through matching, assignment, result and settlement.

        ``until="result"`` returns as soon as the result is delivered and verified
        (the provider is paid later, after the challenge window)."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.status()
            outcome = self._step(job, until)
            if outcome is not None:
                return outcome
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"job {self.job_id} still {job.status.name.lower()} after {timeout} s"
                )
            time.sleep(poll_s)

    def _step(self, job: JobInfo, until: str) -> JobOutcome | None:
        if job.status in FAILED:
            raise JobFailed(f"job {self.job_id} was {job.status.name.lower()}")
        now = self.client.market.jobs.w3.eth.get_block("latest")["timestamp"]
        if job.status in (JobStatus.OPEN, JobStatus.ASSIGNED, JobStatus.ACCEPTED):
            if now > job.deadline:
                raise DeadlinePassed(f"job {self.job_id} passed its deadline; `refund` it")
            if job.status is JobStatus.OPEN:
                self._raise_if_unmatched()
            return None
        if self.result is None:
            self.result = self.verify_result(job)
        if job.status in DONE or until == "result":
            return self._outcome(job)
        return None

    def _raise_if_unmatched(self) -> None:
        view = self.client.backend_view(self.job_id)
        if view and view.get("unmatched_reason"):
            decision = view.get("decision") or {}
            raise NoProviderMatched(
                self.job_id, view["unmatched_reason"], decision.get("candidates")
            )

    def verify_result(self, job: JobInfo | None = None) -> JobResult:
        """Fetch the delivered result and check it is what the provider committed to."""
        job = job or self.status()
        h = _hex(job.result_hash)
        try:
            data = self.client.blobs.get(h)  # re-hashed on download
        except BlobError as exc:
            raise ResultHashMismatch(f"result {h} of job {self.job_id} unavailable: {exc}") from exc
        try:
            result = JobResult.from_bytes(data)
        except JobSpecError as exc:
            raise ResultHashMismatch(f"result {h} is not a job result: {exc}") from exc
        expected = {
            "job_id": self.job_id,
            "spec_hash": _hex(job.spec_hash),
            "method_id": _hex(job.method_id),
            "provider": job.provider.lower(),
        }
        got = {**{k: getattr(result, k) for k in expected}, "provider": result.provider.lower()}
        wrong = [k for k in expected if expected[k] != got[k]]
        if wrong:
            raise ResultHashMismatch(f"result {h} answers another {', '.join(wrong)}: dispute it")
        return result

    def _outcome(self, job: JobInfo) -> JobOutcome:
        result = self.result
        assert result is not None
        view = self.client.backend_view(self.job_id) or {}
        cands = (view.get("decision") or {}).get("candidates") or []
        chosen = next((c for c in cands if c.get("method_id") == _hex(job.method_id)), {})
        method = (result.environment or {}).get("method", {})
        return JobOutcome(
            job_id=self.job_id,
            state=job.status.name.lower(),
            outputs=[o.text for o in result.outputs],
            token_ids=[list(o.token_ids) for o in result.outputs],
            provider=job.provider,
            method_id=_hex(job.method_id),
            method_name=method.get("name") if isinstance(method, dict) else None,
            predicted_runtime_s=chosen.get("predicted_runtime_s"),
            measured_runtime_s=result.metrics.get("wall_s"),
            cost_wei=job.price,
            refund_wei=job.escrow - job.price,
            result_hash=_hex(job.result_hash),
            metrics=dict(result.metrics),
        )

    def dispute(self, reason: str, bond_wei: int | None = None) -> str:
        """Dispute a delivered result within the challenge window, with a bond (the
        contract's minimum by default). Returns the transaction hash; ``reason`` goes to
        the log (the arbiter reads the result and the spec)."""
        jobs = self.client._jobs()
        bond = bond_wei or jobs.contract.functions.minDisputeBond().call()
        try:
            receipt = jobs.dispute(self.job_id, bond)
        except ContractRevert as exc:
            raise JobFailed(f"job {self.job_id} cannot be disputed ({reason}): {exc}") from exc
        return receipt["transactionHash"].to_0x_hex()


def _id_of(value: str | dict[str, Any]) -> str:
    if isinstance(value, dict):
        return content_id(value)
    if isinstance(value, str) and value.startswith("0x") and len(value) == 66:
        return value.lower()
    raise ValueError(f"expected a 0x-prefixed 32-byte id or a descriptor, got {value!r}")


def _adhoc(prompts: list[str], max_new_tokens: int) -> str:
    """A workload id describing the request itself, when the client names none."""
    return content_id(
        {
            "kind": "workload",
            "type": "adhoc",
            "num_requests": len(prompts),
            "output_tokens": [max_new_tokens, max_new_tokens],
        }  # fmt: skip
    )


def _settings_account(settings: Any) -> LocalAccount:
    from protocol.keys import load_account

    return load_account("client", settings)


def _open_market(rpc_url: str, deployments_dir: Path) -> Market:
    from chain.connection import connect
    from chain.deploy import Deployment

    w3 = connect(rpc_url)
    return Market.at(w3, Deployment.load(deployments_dir, w3.eth.chain_id))
