"""Checking a finished job: is the delivered result what the job's spec and method produce?

The spec and the result are fetched by the hashes on chain (the store re-hashes what it
reads, so a result that is not the committed one never gets here). The result must name
this job, spec, provider and method, and carry one greedy output per prompt with the
pinned length. Then the auditor serves the spec again with the job's method through the
agent's facade (:func:`provider_agent.public.run_job_spec`):

* an *exact* method must reproduce the re-run token for token (and the same text);
* a *lossy* method is allowed only when the spec asked for a minimum token agreement; the
  delivered tokens are compared with the method's reference (re-run here too) and must
  agree on at least that fraction of positions, and each text must decode from its tokens.
"""

from __future__ import annotations

from typing import Any

from auditor.results import Finding, JobCheck
from protocol.jobspec import JobResult, JobSpec

RESULT = "result"  # the result document is malformed or names another job/spec/provider/method
LENGTH = "length"  # outputs missing, extra, or not of the pinned length
METHOD = "method"  # the job's method is lossy but the spec asked for exact outputs
OUTPUTS = "outputs"  # delivered tokens differ from the re-execution
AGREEMENT = "agreement"  # a lossy method's agreement with the reference is below the spec's
TEXT = "text"  # a delivered text is not the decoding of its tokens


def token_agreement(outputs: list[list[int]], reference: list[list[int]]) -> float:
    """Fraction of the reference's token positions where ``outputs`` has the same token."""
    total = sum(len(r) for r in reference)
    same = sum(
        sum(a == b for a, b in zip(out, ref, strict=False))
        for out, ref in zip(outputs, reference, strict=False)
    )
    return same / total if total else 1.0


def first_difference(outputs: list[list[int]], reference: list[list[int]]) -> str:
    for i, (out, ref) in enumerate(zip(outputs, reference, strict=False)):
        if out != ref:
            k = next((j for j, (a, b) in enumerate(zip(out, ref, strict=False)) if a != b), None)
            k = min(len(out), len(ref)) if k is None else k
            return f"prompt {i}, token {k}"
    return "output count"


def document_findings(job: Any, spec: JobSpec, result: JobResult) -> list[Finding]:
    """What is wrong with the result document itself (before re-running anything)."""
    out = []
    expected = {
        "job_id": (result.job_id, job.job_id),
        "spec_hash": (result.spec_hash, "0x" + job.spec_hash.hex()),
        "provider": (result.provider.lower(), job.provider.lower()),
        "method_id": (result.method_id, "0x" + job.method_id.hex()),
    }
    for name, (got, want) in expected.items():
        if got != want:
            out.append(Finding(RESULT, f"result names {name} {got}, the job has {want}"))
    if len(result.outputs) != len(spec.prompts):
        n, k = len(result.outputs), len(spec.prompts)
        out.append(Finding(LENGTH, f"{n} outputs for {k} prompts"))
    for i, o in enumerate(result.outputs):
        n = len(o.token_ids)
        if (spec.ignore_eos and n != spec.max_new_tokens) or n > spec.max_new_tokens:
            out.append(
                Finding(LENGTH, f"output {i} has {n} tokens, the spec pins {spec.max_new_tokens}")
            )
    return out


def compare_exact(delivered: list[Any], rerun: list[dict[str, Any]]) -> list[Finding]:
    got = [list(o.token_ids) for o in delivered]
    want = [list(o["token_ids"]) for o in rerun]
    out = []
    if got != want:
        out.append(
            Finding(
                OUTPUTS,
                f"delivered tokens differ from the re-execution at {first_difference(got, want)} "
                f"(agreement {token_agreement(got, want):.1%}); the method is exact",
            )
        )
    texts = [
        i for i, (o, r) in enumerate(zip(delivered, rerun, strict=False)) if o.text != r["text"]
    ]
    if texts:
        out.append(
            Finding(TEXT, f"delivered text differs from the re-execution for prompts {texts}")
        )
    return out


def compare_lossy(
    delivered: list[Any], reference: list[dict[str, Any]], minimum: float, decoded: list[str]
) -> tuple[float, list[Finding]]:
    got = [list(o.token_ids) for o in delivered]
    agreement = token_agreement(got, [list(o["token_ids"]) for o in reference])
    out = []
    if agreement < minimum:
        out.append(
            Finding(
                AGREEMENT,
                f"token agreement with the reference {agreement:.1%} is below the spec's {minimum:.1%}",
            )
        )
    texts = [i for i, (o, t) in enumerate(zip(delivered, decoded, strict=False)) if o.text != t]
    if texts:
        out.append(
            Finding(TEXT, f"delivered text is not the decoding of its tokens for prompts {texts}")
        )
    return agreement, out


def verdict(check: JobCheck) -> JobCheck:
    check.verdict = "mismatch" if check.codes() else "ok"
    return check
