"""The provider agent's public API for other roles: re-running what a provider claimed.

The auditor re-measures attested cells and re-executes finished jobs with exactly the
agent's own code (harness, engines, workloads, the job runner's spec execution), but it
never reaches into the agent's modules: this facade is the one module it may import
(``pyproject.toml``'s independence contract names it). Everything here starts from the
documents on chain and in the blob store (a report, a job spec, a method id), never from
the agent's configuration.

Nothing is assumed about the host: a report names its hardware, model, workload and
method by canonical descriptor, and :func:`remeasure` refuses with
:class:`NotReproducible` (the message says why) unless this host provides the same
hardware descriptor (CPU model, ISA flags, cores, RAM, threads, GPU), the same model
(same weights hash), and can run the method.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protocol.canonical import content_id
from protocol.jobspec import JobSpec
from protocol.report import build_report

__all__ = [
    "JobRun",
    "NotReproducible",
    "Remeasurement",
    "decode_tokens",
    "find_model",
    "local_hardware",
    "method_by_id",
    "method_from_descriptor",
    "model_for_id",
    "remeasure",
    "run_job_spec",
    "workload_from_descriptor",
]

DEFAULT_JOB_MAX_MODEL_LEN = 2048  # the job runner's default (RunnerConfig.max_model_len)


class NotReproducible(ValueError):
    """This host cannot re-run the claim as attested (other hardware, no such model, ...)."""


# ----------------------------------------------------------------------------- resolving


def _diff(here: dict[str, Any], there: dict[str, Any]) -> str:
    keys = sorted(set(here) | set(there))
    parts = [
        f"{k}: {there.get(k)!r} attested, {here.get(k)!r} here"
        for k in keys
        if here.get(k) != there.get(k)
    ]
    return "; ".join(parts)


def local_hardware(descriptor: dict[str, Any]) -> Any:
    """This host's hardware profile whose descriptor equals ``descriptor`` exactly
    (a ``provider_agent.hardware.HardwareProfile``); :class:`NotReproducible` otherwise."""
    from provider_agent.hardware import HardwareError, detect

    device, threads = descriptor.get("device"), descriptor.get("threads")
    if device not in ("cpu", "cuda") or not isinstance(threads, int):
        raise NotReproducible(f"not a hardware descriptor: {descriptor!r}")
    try:
        profiles = [
            p for p in detect(threads=[threads], gpu=device == "cuda") if p.device == device
        ]
    except HardwareError as exc:
        raise NotReproducible(f"this host cannot provide the attested profile: {exc}") from None
    if not profiles:
        raise NotReproducible(f"this host has no {device} device")
    for profile in profiles:
        if profile.descriptor() == descriptor:
            return profile
    closest = profiles[0].descriptor()
    raise NotReproducible(
        f"this host's hardware differs from the attested profile ({_diff(closest, descriptor)})"
    )


def _source_spec(descriptor: dict[str, Any]) -> str | None:
    """The model spec that recreates a model from its descriptor's provenance, if any."""
    from provider_agent.models import SMOLLM2_NAME

    source = descriptor.get("source") or {}
    if source.get("type") == "random":
        return f"random:{source.get('size')}:{source.get('seed', 0)}:{source.get('tokenizer', 'bytes')}"
    if descriptor.get("name") == SMOLLM2_NAME:
        return SMOLLM2_NAME
    return None


def _candidates(models: Iterable[str | Path]) -> list[Any]:
    from provider_agent.models import UnknownModelError, model_info

    out = []
    for spec in models:
        try:
            out.append(model_info(spec))
        except (UnknownModelError, OSError, ValueError):
            continue
    return out


def find_model(descriptor: dict[str, Any], models: Iterable[str | Path] = ()) -> Any:
    """The local model (``ModelInfo``) whose descriptor equals ``descriptor``: one of
    ``models`` (directories or model specs), or one recreated from the descriptor's
    provenance (random-weight models are made again from their seed and checked by
    weights hash); :class:`NotReproducible` otherwise."""
    for info in _candidates(models):
        if info.descriptor == descriptor:
            return info
    spec = _source_spec(descriptor)
    if spec is not None:
        for info in _candidates([spec]):
            if info.descriptor == descriptor:
                return info
    raise NotReproducible(
        f"model {descriptor.get('name')!r} ({content_id(descriptor)}) is not available here "
        "with the same weights: pass its directory"
    )


def model_for_id(
    model_id: str, models: Iterable[str | Path] = (), descriptors: Iterable[dict[str, Any]] = ()
) -> Any:
    """The local model with this ``modelId``: among ``models``, or recreated from one of
    ``descriptors`` (e.g. the model descriptors of attested reports)."""
    models = list(models)
    for info in _candidates(models):
        if info.model_id == model_id:
            return info
    for descriptor in descriptors:
        if content_id(descriptor) == model_id:
            return find_model(descriptor, models)
    raise NotReproducible(f"no local model has id {model_id}: pass its directory")


def method_from_descriptor(descriptor: dict[str, Any]) -> Any:
    """The agent's ``MethodSpec`` with exactly this descriptor."""
    from provider_agent.methods import METHODS

    spec = METHODS.get(descriptor.get("name", ""))
    if spec is None or spec.descriptor() != descriptor:
        raise NotReproducible(
            f"method {descriptor.get('name')!r} with these flags is not known to this agent version"
        )
    return spec


def method_by_id(method_id: str) -> Any:
    """The agent's ``MethodSpec`` whose ``methodId`` is ``method_id``."""
    from provider_agent.methods import METHODS

    for spec in METHODS.values():
        if spec.method_id == method_id:
            return spec
    raise NotReproducible(f"method {method_id} is not known to this agent version")


def workload_from_descriptor(descriptor: dict[str, Any]) -> Any:
    """The ``WorkloadSpec`` whose descriptor is ``descriptor`` (same seed, same requests)."""
    from provider_agent.workloads import WorkloadSpec

    try:
        spec = WorkloadSpec.from_descriptor(descriptor)
    except (KeyError, TypeError, ValueError) as exc:
        raise NotReproducible(f"not a workload descriptor this agent can generate: {exc}") from None
    if spec.descriptor() != descriptor:
        raise NotReproducible(
            f"workload generator v{descriptor.get('v')} differs from this agent's"
        )
    return spec


# --------------------------------------------------------------------------- re-measuring


@dataclass(frozen=True)
class Remeasurement:
    """The auditor's own measurement of an attested cell."""

    report: dict[str, Any]  # a canonical report (same descriptors), the counter-report
    rounds: int
    outputs_match: bool | None  # greedy outputs identical to the attested report's
    load: tuple[float, ...] = ()  # 1-min load average before and after each round
    cpus: int = 1  # CPUs this host may use

    @property
    def load_per_cpu(self) -> float:
        """The busiest load average seen while measuring, per usable CPU."""
        return max(self.load, default=0.0) / max(1, self.cpus)


def _bench_config(report: dict[str, Any], repetitions: int | None, warmup: int | None) -> Any:
    from provider_agent.harness import BenchConfig

    cfg = report.get("config") or {}
    fields = ("warmup", "repetitions", "max_model_len", "memory_interval_s", "seed")
    kwargs = {k: cfg[k] for k in fields if k in cfg}
    if repetitions is not None:
        kwargs["repetitions"] = repetitions
    if warmup is not None:
        kwargs["warmup"] = warmup
    kwargs["repetitions"] = max(3, kwargs.get("repetitions", 3))
    try:
        return BenchConfig(**kwargs)
    except (TypeError, ValueError) as exc:
        raise NotReproducible(f"the report's bench config cannot be reused: {exc}") from None


def _merge(cells: Sequence[Any]) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Metrics and samples of several rounds of one cell, as one measurement."""
    from provider_agent.harness import CellMeasurement, RunSample

    samples = [s for c in cells for s in c.samples]
    runs = [
        RunSample(**{k: v for k, v in s.items() if k != "output_tokens_per_s"}) for s in samples
    ]
    metrics = CellMeasurement(samples=runs, outputs=cells[-1].outputs, warmup_s=0.0).metrics()
    return metrics, samples


def _measure_rounds(
    model: Any,
    hw: Any,
    method: Any,
    workload: Any,
    config: Any,
    rounds: int,
    isolate: bool,
    timeout_s: float,
) -> list[Any]:
    from provider_agent.bench.runner import measure_group
    from provider_agent.bench.worker import run_in_worker

    cells = []
    for _ in range(rounds):
        if isolate:
            got = run_in_worker(
                str(model.path), hw, method, [workload], config, timeout_s=timeout_s
            )
        else:
            got = measure_group(str(model.path), hw, method, [workload], config)
        cell = got[0]
        if cell.error:
            raise NotReproducible(f"the re-measurement failed here: {cell.error}")
        cells.append(cell)
    return cells


def remeasure(
    report: dict[str, Any],
    *,
    models: Iterable[str | Path] = (),
    repetitions: int | None = None,
    warmup: int | None = None,
    rounds: int = 1,
    isolate: bool = True,
    timeout_s: float = 1800.0,
) -> Remeasurement:
    """Measure the cell of ``report`` again on this host, with the agent's harness.

    Same model (by descriptor, weights included), method, workload (same seed, same
    requests) and bench config (warm-up, repetitions, seed); this host must provide the
    same hardware descriptor. ``rounds`` independent measurements (each its own engine
    load; with ``isolate`` each in a fresh worker process, as the agent's grid runs) are
    pooled into one report, so that its repetition spread includes between-run drift.
    """
    from provider_agent.hardware import usable_cpus
    from provider_agent.methods import unmet
    from provider_agent.report import environment

    if rounds < 1:
        raise ValueError("rounds must be >= 1")
    hw = local_hardware(report.get("hardware") or {})
    method = method_from_descriptor(report.get("method") or {})
    reason = unmet(method, hw)
    if reason:
        raise NotReproducible(f"method {method.name} cannot run on this host: {reason}")
    workload = workload_from_descriptor(report.get("workload") or {})
    model = find_model(report.get("model") or {}, models)
    config = _bench_config(report, repetitions, warmup)
    cells = _measure_rounds(model, hw, method, workload, config, rounds, isolate, timeout_s)
    metrics, samples = _merge(cells)
    outputs_hash = content_id(cells[-1].outputs)
    attested_outputs = report.get("outputs_hash")
    counter = build_report(
        model=report["model"],
        hardware=report["hardware"],
        workload=report["workload"],
        method=report["method"],
        metrics=metrics,
        quality={"remeasured": content_id(report), "outputs_hash_attested": attested_outputs},
        samples=samples,
        env=environment(cells[-1].env),
        config=config.to_dict() | {"rounds": rounds, "isolate": isolate},
        outputs_hash=outputs_hash,
    )
    match = None if attested_outputs is None else attested_outputs == outputs_hash
    load = tuple(float(x) for c in cells for x in c.env.get("loadavg_1min", ()))
    return Remeasurement(
        report=counter, rounds=rounds, outputs_match=match, load=load, cpus=usable_cpus()
    )


# ------------------------------------------------------------------------------ jobs


@dataclass(frozen=True)
class JobRun:
    """A job spec served again on this host with the given method."""

    method: str
    method_id: str
    exact: bool  # the method must reproduce its reference's greedy tokens
    reference_id: str  # the method id of its quality reference
    outputs: list[dict[str, Any]]  # {"text", "token_ids"} per prompt, in prompt order
    metrics: dict[str, float] = field(default_factory=dict)


def _job_hardware(method: Any, hardware: dict[str, Any] | None) -> Any:
    from provider_agent.hardware import detect

    if hardware is not None:
        return local_hardware(hardware)
    cuda = "cuda" in method.requires
    profiles = [p for p in detect(gpu=cuda) if (p.device == "cuda") == cuda]
    if not profiles:
        raise NotReproducible(f"method {method.name} needs a CUDA GPU, this host has none")
    return profiles[0]


def run_job_spec(
    spec: JobSpec,
    method_id: str,
    *,
    models: Iterable[str | Path] = (),
    descriptors: Iterable[dict[str, Any]] = (),
    hardware: dict[str, Any] | None = None,
    max_model_len: int = DEFAULT_JOB_MAX_MODEL_LEN,
) -> JobRun:
    """Serve ``spec`` greedily with the method ``method_id``, exactly as the job runner does.

    The model is found by the spec's ``model_id`` among ``models`` or recreated from one of
    ``descriptors``; the hardware is the descriptor given, or this host's CPU (GPU for
    GPU-only methods).
    """
    from provider_agent.engines import make_engine
    from provider_agent.job_runner import run_spec
    from provider_agent.methods import get_method, unmet

    method = method_by_id(method_id)
    model = model_for_id(spec.model_id, models, descriptors)
    hw = _job_hardware(method, hardware)
    reason = unmet(method, hw)
    if reason:
        raise NotReproducible(f"method {method.name} cannot run on this host: {reason}")
    engine = make_engine(model, method, hw, max_model_len=max_model_len)
    engine.load()
    try:
        outputs, metrics = run_spec(engine, spec, model)
    finally:
        engine.close()
    return JobRun(
        method=method.name,
        method_id=method.method_id,
        exact=method.exact,
        reference_id=get_method(method.reference).method_id,
        outputs=outputs,
        metrics=metrics,
    )


def decode_tokens(
    model_id: str,
    token_ids: Sequence[Sequence[int]],
    *,
    models: Iterable[str | Path] = (),
    descriptors: Iterable[dict[str, Any]] = (),
) -> list[str]:
    """The text the job runner would deliver for these token ids (its tokenizer's decode)."""
    from transformers import AutoTokenizer

    model = model_for_id(model_id, models, descriptors)
    tokenizer = AutoTokenizer.from_pretrained(model.path, local_files_only=True)
    return [tokenizer.decode(list(ids), skip_special_tokens=True) for ids in token_ids]
