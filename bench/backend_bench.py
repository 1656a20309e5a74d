"""Backend benchmark: indexing throughput, matching latency, job-to-assignment delay.

    metainf backend bench --json OUT.json [--md OUT.md]
    .venv/bin/python bench/backend_bench.py --json OUT.json [--md OUT.md]

Side by side in one run, medians over ``--repeats`` repetitions:

(a) **indexing**: N signed attestations of real (synthetic-figure) reports are posted on a
    local chain first (a `hardhat node` this run starts, or ``--rpc URL``), as batches of
    32 and as single attestations, each set on a deployment of its own. Then, on a fresh
    SQLite database per repetition, ``index_step`` to head (what ``backend.index_chain``
    runs), the verification of every attestation transaction (signer and report:
    ``verify_transaction`` + ``check_report``, what ``backend.verify_attestations`` runs)
    and both together are timed: attestations per second.
(b) **matching**: ``backend.matcher.rank_candidates`` for 100 providers x 10 methods (each
    provider its own hardware profile), with a MetaInf selector fitted by the backend's own
    recipe (:func:`backend.trainer.make_selector`) on a synthetic data set of that shape
    (:func:`meta.synthetic.make_random_table`, 100 hardware profiles), real
    ``ProviderOffer``s and jobs over the data set's (model, workload) pairs: p50/p99.
(c) **end to end**: a real ``metainf backend worker`` and ``beat`` on the embedded SQLite
    transport against the node; the delay from ``createJob`` mined to ``assignJob`` mined
    (wall clock, the chain polled every 10 ms). Beat indexes every 2 s, so about 1 s of it
    is the wait for the next indexing run.

Goals (issue 10): at least 2,000 attestations/s indexed; match p99 at most 10 ms.
``--profile`` prints where the indexing and verification time goes (cProfile).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import math
import platform
import pstats
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

GOALS = {"index_attestations_per_s": 2000.0, "match_p99_ms": 10.0}
BATCH = 32
N_METHODS = 10


def _median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def _percentile(xs: list[float], q: float) -> float:
    ordered = sorted(xs)
    k = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return float(ordered[k])


def _profile_text(fn: Callable[[], Any], top: int = 25) -> str:
    profiler = cProfile.Profile()
    profiler.runcall(fn)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


# --------------------------------------------------------------------- (a) indexing


def _post_set(rpc_url: str, root: Path, n: int, batch: int):  # noqa: ANN202
    """A deployment whose one provider posted ``n`` attestations in transactions of
    ``batch``; returns it and the last block before the first attestation."""
    from tests.backend.processes import SyntheticMarket

    market = SyntheticMarket.create(rpc_url, root, n_providers=1)
    setup_block = market.w3.eth.block_number
    market.post(market.providers[0], n, batch_size=batch)
    return market, setup_block


def _index_all(url: str, market, until: int | None = None) -> int:  # noqa: ANN001
    """Index from the deployment to head (or to block ``until``); returns the events."""
    from backend.db import session_scope
    from backend.events import EventSource
    from backend.indexer import index_step

    source, events = EventSource(market.w3, market.market), 0
    depth = 0 if until is None else market.w3.eth.block_number - until
    while True:
        with session_scope(url) as session:
            step = index_step(
                session, source, start_block=market.deployment.block_number, confirmations=depth
            )
            events += len(step.new_events)
        if step.to_block >= step.head - depth:
            return events


def _verify_all(url: str, market) -> int:  # noqa: ANN001
    from sqlalchemy import select

    from backend.db import AttestationRow, ChainEvent, session_scope
    from backend.verify import check_report, verify_transaction

    chain_id = market.deployment.chain_id
    with session_scope(url) as session:
        txs = sorted(
            set(session.scalars(select(ChainEvent.tx_hash).where(ChainEvent.name == "Attested")))
        )
    ok = 0
    for tx in txs:  # one transaction per task, as backend.verify_attestations does
        with session_scope(url) as session:
            verify_transaction(session, market.market, chain_id, tx)
            rows = session.scalars(
                select(AttestationRow)
                .join(ChainEvent, AttestationRow.event_id == ChainEvent.id)
                .where(ChainEvent.chain_id == chain_id, ChainEvent.tx_hash == tx)
            ).all()
            ok += sum(
                bool(r.signature_ok) and check_report(session, market.store, r) is True
                for r in rows
            )
    return ok


def _fresh_db(root: Path, name: str) -> str:
    from backend.migrate import upgrade

    path = root / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    upgrade(url)
    return url


class _Stopwatch:
    """Wall-clock and CPU seconds (this process) of each call: on a shared machine the
    wall clock also counts the time other processes held the CPU, the CPU time does not
    (nor the chain node's work, which runs in its own process)."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def __call__(self, fn: Callable[[], Any]) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        self.wall.append(time.perf_counter() - wall)
        self.cpu.append(time.process_time() - cpu)
        return out


def _time_set(root: Path, market, setup: int, n: int, batch: int, repeats: int) -> dict:  # noqa: ANN001
    """Medians over ``repeats`` fresh databases, each holding the deployment and the
    provider's registration already (indexed untimed): only the attestations are timed.
    The heap is settled before each timing as a worker's is after its first task
    (``backend.celery_app.settle_process_heap``): the bench's own objects (the posted
    attestations, the signing accounts) are no part of an indexer's heap."""
    index, verify, both = _Stopwatch(), _Stopwatch(), _Stopwatch()
    for r in range(repeats):
        url = _fresh_db(root, f"split-{r}")
        _index_all(url, market, until=setup)
        gc.freeze()  # as a worker after its first task; the bench's own objects too
        index(lambda url=url: _index_all(url, market))
        verified = verify(lambda url=url: _verify_all(url, market))
        if verified != n:
            raise RuntimeError(f"{verified} of {n} attestations verified")
        url = _fresh_db(root, f"both-{r}")
        _index_all(url, market, until=setup)
        gc.freeze()
        both(lambda url=url: (_index_all(url, market), _verify_all(url, market)))
    out: dict[str, Any] = {"attestations": n, "transactions": math.ceil(n / batch)}
    for name, watch in (("index", index), ("verify", verify), ("together", both)):
        out[f"{name}_s"] = round(_median(watch.wall), 4)
        out[f"{name}_per_s"] = round(n / _median(watch.wall), 1)
        out[f"{name}_per_cpu_s"] = round(n / _median(watch.cpu), 1)
    return out


def bench_indexing(
    rpc_url: str, root: Path, n_batched: int, n_single: int, repeats: int, profile: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {"database": "sqlite", "chain": rpc_url, "batch_size": BATCH}
    for name, n, batch in (("batched", n_batched, BATCH), ("single", n_single, 1)):
        t0 = time.perf_counter()
        market, setup = _post_set(rpc_url, root / name, n, batch)
        print(f"indexing: posted {n} {name} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        out[name] = _time_set(root / name, market, setup, n, batch, repeats)
        print(f"indexing: {name} {out[name]}", file=sys.stderr)
        if profile:
            url = _fresh_db(root / name, "profile")
            _index_all(url, market, until=setup)
            print(_profile_text(lambda: _index_all(url, market)), file=sys.stderr)  # noqa: B023
            print(_profile_text(lambda: _verify_all(url, market)), file=sys.stderr)  # noqa: B023
    return out


# --------------------------------------------------------------------- (b) matching

JOB_MODELS = 2  # models every provider attested with all 10 methods on its hardware


def _hardware_profiles(n: int) -> list[dict[str, Any]]:
    """``n`` distinct profiles: the synthetic memory classes x 1..n/5 devices."""
    from meta.synthetic import HARDWARE_MEM_GB

    if n < len(HARDWARE_MEM_GB):
        raise ValueError(f"at least {len(HARDWARE_MEM_GB)} providers (one per memory class)")
    per_class = math.ceil(n / len(HARDWARE_MEM_GB))
    return [
        {"kind": "hardware", "name": f"GPU-{mem}GB", "memory_gb": mem, "devices": d}
        for mem in HARDWARE_MEM_GB
        for d in range(1, per_class + 1)
    ][:n]


class _Cells:
    """Rows of the backend's data set, with the descriptors behind their content ids."""

    def __init__(self) -> None:
        from backend.dataset import ROLES

        self.rows: list[dict[str, Any]] = []
        self.descriptors: dict[str, dict[str, dict]] = {r: {} for r in ROLES}

    def cid(self, role: str, desc: dict[str, Any]) -> str:
        from protocol.canonical import content_id

        key = content_id(desc)
        self.descriptors[role][key] = desc
        return key

    def add(self, task: Any, hardware: dict[str, Any], lossy: set[str]) -> None:
        """One synthetic (task, method) measurement, on one hardware profile."""
        size = float(re.search(r"synth-([\d.]+)b", task.model).group(1))
        workload = {
            "kind": "workload",
            "batch_size": int(task.batch_size),
            "input_len": int(task.input_len),
            "output_len": int(task.output_len),
            "prefix_share": float(task.prefix_share),
        }
        tps = float(task.throughput) * hardware["devices"] ** 0.8
        exact = task.method not in lossy
        self.rows.append(
            {
                "model": self.cid(
                    "model", {"kind": "model", "name": task.model, "params": size * 1e9}
                ),
                "hardware": self.cid("hardware", hardware),
                "workload": self.cid("workload", workload),
                "method": self.cid("method", {"kind": "method", "name": task.method}),
                "output_tokens_per_s": tps,
                "ttft_p50_ms": 50.0,
                "tpot_p50_ms": 1000.0 / tps,
                "peak_mem_bytes": 2.0**30,
                "requests_per_s": tps / 64,
                "e2e_p50_ms": 1000.0,
                "exact_match_rate": 1.0 if exact else 0.8,
                "token_agreement": 1.0 if exact else 0.95,
                "method_exact": exact,
                "n_repeats": 1,
                "source": "synthetic",
                "providers": [],
                "report_hashes": [],
                "attestation_ids": [len(self.rows) + 1],
                "external_ids": [],
            }
        )


def synthetic_dataset(n_tasks: int, seed: int, n_providers: int = 100):  # noqa: ANN201
    """A data set of the synthetic table's shape: 10 methods (3 of them lossy), history on
    ``n_providers`` hardware profiles (at least 5), and the market: for ``JOB_MODELS`` models, every profile
    measured with every method (what each provider attested; the offers list them)."""
    import numpy as np

    from backend.dataset import Dataset, data_hash
    from meta.synthetic import make_random_table

    synth = make_random_table(n_tasks, N_METHODS, missing=0.0, random_state=seed)
    rng = np.random.default_rng(seed)
    profiles = _hardware_profiles(n_providers)
    by_class: dict[str, list[dict]] = {}
    for p in profiles:
        by_class.setdefault(p["name"], []).append(p)
    lossy = {f"method-{j:02d}" for j in range(N_METHODS - 3, N_METHODS)}
    cells = _Cells()
    frame = synth.frame
    for task in frame.itertuples(index=False):  # history: each task on one profile
        cells.add(task, by_class[task.hardware][rng.integers(len(by_class[task.hardware]))], lossy)
    full = [m for m, g in frame.groupby("model") if g["hardware"].nunique() == len(by_class)]
    market_models = full[:JOB_MODELS]
    for model in market_models:  # the market: every profile x every method, one workload each
        for p in profiles:
            group = frame[(frame["model"] == model) & (frame["hardware"] == p["name"])]
            keys = group[synth.task_cols].drop_duplicates()
            pick = keys.iloc[rng.integers(len(keys))]
            chosen = group[(group[synth.task_cols] == pick).all(axis=1)]
            for task in chosen.itertuples(index=False):
                cells.add(task, p, lossy)
    rows = sorted(cells.rows, key=lambda r: (r["model"], r["hardware"], r["workload"], r["method"]))
    watermark = {"attestation_id": len(rows), "external_id": 0}
    dataset = Dataset(rows, cells.descriptors, data_hash(rows), watermark)
    model_ids = [
        cells.cid("model", {"kind": "model", "name": m, "params": _params(m)})
        for m in market_models
    ]
    return dataset, [cells.cid("hardware", p) for p in profiles], model_ids


def _params(model: str) -> float:
    return float(re.search(r"synth-([\d.]+)b", model).group(1)) * 1e9


def _offers(dataset, hardware_ids: list[str], model_id: str, seed: int) -> list:  # noqa: ANN001
    """The providers' offers for a job on ``model_id``, as ``market_offers`` builds them:
    each provider's hardware profile with the methods it attested on that model there."""
    import numpy as np

    from backend.matcher import ProviderOffer

    served: dict[str, set[str]] = {}
    for r in dataset.rows:
        if r["model"] == model_id:
            served.setdefault(r["hardware"], set()).add(r["method"])
    rng = np.random.default_rng(seed)
    return [
        ProviderOffer(
            provider="0x" + f"{i + 1:040x}",
            hardware_id=hw,
            price_per_second_wei=int(rng.integers(10**9, 10**11)),
            methods=frozenset(served.get(hw, ())),
            open_jobs=int(rng.integers(0, 4)),
        )
        for i, hw in enumerate(hardware_ids)
    ]


def _jobs(model_ids: list[str], n: int, seed: int) -> list:
    """``n`` jobs on the market's models, each on a workload never seen before (so nothing
    about it is cached: the cold path)."""
    import numpy as np

    from backend.matcher import JobRequest
    from protocol.canonical import content_id

    rng = np.random.default_rng(seed)
    jobs = []
    for k in range(n):
        workload = {
            "kind": "workload",
            "batch_size": int(rng.choice([1, 4, 16, 64])),
            "input_len": int(rng.integers(16, 4096)),
            "output_len": int(rng.choice([64, 256, 1024])),
            "prefix_share": float(rng.choice([0.0, 0.25, 0.5, 0.9])),
            "job": k,
        }
        jobs.append(
            JobRequest(
                job_id=k,
                model_id=model_ids[k % len(model_ids)],
                workload_id=content_id(workload),
                work_tokens=int(rng.integers(256, 8192)),
                escrow_wei=int(10 ** rng.uniform(13, 17)),  # some budgets exclude candidates
                max_runtime_s=3600,
                quality=0.9,  # lossy methods allowed: every provider x method is a candidate
            )
        )
    return jobs


def _time_calls(
    jobs: list, call: Callable[[Any], Any], keep: Callable[[Any], None] | None = None
) -> _Stopwatch:
    """Time ``call`` per job; ``keep`` sees each result outside the timing (the results
    themselves are not kept: a heap grown by them would make every collection slower)."""
    watch = _Stopwatch()
    for job in jobs:
        out = watch(lambda job=job: call(job))
        if keep is not None:
            keep(out)
    return watch


def _ms(xs: list[float], q: float) -> float:
    return round(_percentile(xs, q) * 1000, 3)


def bench_matching(n_tasks: int, n_jobs: int, seed: int, n_providers: int = 100) -> dict:
    from backend.matcher import (
        keep_out_of_gc,
        predicted_throughput,
        quality_table,
        rank_candidates,
    )
    from backend.trainer import make_featurizer, make_selector

    t0 = time.perf_counter()
    dataset, hardware_ids, model_ids = synthetic_dataset(n_tasks, seed, n_providers)
    table = dataset.to_table()
    selector = make_selector(int(table.available.sum()), seed).fit(table, make_featurizer(dataset))
    fit_s = time.perf_counter() - t0
    offers = {m: _offers(dataset, hardware_ids, m, seed) for m in model_ids}
    keep_out_of_gc(dataset.data_hash, "fitted")  # what decide() does on a new data set or model
    for job in _jobs(model_ids, 3, seed + 1):  # first featurization, numpy and torch set-up
        rank_candidates(job, offers[job.model_id], dataset, selector)
    jobs, cold_ranked, warm_ranked = _jobs(model_ids, n_jobs, seed + 2), [], []

    def rank(job) -> list:  # noqa: ANN001
        return rank_candidates(job, offers[job.model_id], dataset, selector)

    def summary(into: list) -> Callable[[list], None]:
        return lambda ranked: into.append(
            (len(ranked), sum(c.feasible for c in ranked), hash(tuple(ranked)))
        )

    cold = _time_calls(jobs, rank, summary(cold_ranked))  # each job a new (model, workload)
    warm = _time_calls(jobs, rank, summary(warm_ranked))  # the same tasks: predictions cached
    if warm_ranked != cold_ranked:
        raise RuntimeError("cached predictions ranked the candidates differently")
    fresh = _jobs(model_ids, n_jobs, seed + 3)
    quality = _time_calls(fresh, lambda j: quality_table(dataset, j.model_id, j.workload_id))
    pairs = {(o.hardware_id, m) for o in offers[model_ids[0]] for m in o.methods}
    predict = _time_calls(fresh, lambda j: predicted_throughput(selector, j, pairs, dataset))
    return {
        "providers": len(hardware_ids),
        "methods": len({r["method"] for r in dataset.rows}),
        "hardware_profiles": len(set(hardware_ids)),
        "data_set_cells": dataset.n_cells,
        "selector": type(selector).__name__,
        "fit_s": round(fit_s, 2),
        "jobs": len(cold.wall),
        "candidates_median": _median([n for n, _, _ in cold_ranked]),
        "feasible_median": _median([f for _, f, _ in cold_ranked]),
        "p50_ms": _ms(cold.wall, 50),
        "p99_ms": _ms(cold.wall, 99),
        "max_ms": _ms(cold.wall, 100),
        "p50_cpu_ms": _ms(cold.cpu, 50),
        "p99_cpu_ms": _ms(cold.cpu, 99),
        "warm_p50_ms": _ms(warm.wall, 50),
        "warm_p99_ms": _ms(warm.wall, 99),
        "warm_p99_cpu_ms": _ms(warm.cpu, 99),
        "cold_quality_table_p50_ms": _ms(quality.wall, 50),
        "cold_predict_p50_ms": _ms(predict.wall, 50),
    }


# ------------------------------------------------------------------ (c) end to end


def bench_end_to_end(rpc_url: str, root: Path, n_jobs: int) -> dict[str, Any]:
    from chain.clients import JobStatus
    from tests.backend.processes import (
        SyntheticMarket,
        attested_on_chain,
        backend_env,
        backend_state,
        start_beat,
        start_worker,
        wait_for,
    )

    market = SyntheticMarket.create(rpc_url, root, n_providers=3)  # 4 open jobs each
    for provider in market.providers:
        market.post(provider, 3)
    url = _fresh_db(root, "backend")
    env = backend_env(root, rpc_url=rpc_url, database_url=url, matcher_key=market.matcher_key)
    worker = start_worker(env, root / "worker.log", wait=False)
    beat = start_beat(env, root / "beat.log", wait=False)
    delays = []
    try:
        worker.wait_log(" ready.", timeout_s=120)
        n = attested_on_chain(market)
        wait_for(lambda: backend_state(url).verified == n, 120, "the attestations verified")
        jobs = market.market.jobs
        for k in range(n_jobs):
            job_id = market.create_job(seed=k)  # returns once createJob is mined
            t0 = time.perf_counter()
            wait_for(
                lambda: jobs.get_job(job_id).status is JobStatus.ASSIGNED,  # noqa: B023
                120,
                f"job {job_id} assigned",
                interval_s=0.01,
            )
            delays.append(time.perf_counter() - t0)
        log = worker.log()
    finally:
        beat.stop()
        worker.stop()
    match_s = [
        float(x) for x in re.findall(r"backend\.match_job\[[^\]]+\] succeeded in ([0-9.]+)s", log)
    ]
    return {
        "transport": "embedded (sqla+sqlite)",
        "database": "sqlite",
        "jobs": len(delays),
        "index_interval_s": 2.0,
        "delay_p50_s": round(_percentile(delays, 50), 3),
        "delay_p90_s": round(_percentile(delays, 90), 3),
        "delay_max_s": round(max(delays), 3),
        "match_task_p50_s": round(_median(match_s), 3) if match_s else None,
    }


# ---------------------------------------------------------------------------- report


def markdown(res: dict[str, Any]) -> str:
    idx, match, e2e = res.get("indexing"), res.get("matching"), res.get("end_to_end")
    lines = ["| measurement | value | goal |", "|---|---:|---:|"]
    goal = f"≥ {GOALS['index_attestations_per_s']:,.0f}/s"
    for name in ("batched", "single") if idx else ():
        s = idx[name]
        n = f"{s['attestations']:,} att. in {s['transactions']:,} tx"
        lines += [
            f"| index, {name} ({n}) | {_rate(s, 'index')} | {goal} |",
            f"| verify (signer + report), {name} | {_rate(s, 'verify')} | |",
            f"| index + verify, {name} | {_rate(s, 'together')} | |",
        ]
    if match:
        shape = f"{match['providers']} providers x {match['methods']} methods"
        lines += [
            f"| match p50, new task ({shape}) | {match['p50_ms']:.2f} ms (CPU {match['p50_cpu_ms']:.2f}) | |",
            f"| match p99, new task | {match['p99_ms']:.2f} ms (CPU {match['p99_cpu_ms']:.2f}) | ≤ {GOALS['match_p99_ms']:g} ms |",
            f"| match p50, task seen before (predictions cached) | {match['warm_p50_ms']:.2f} ms | |",
            f"| match p99, task seen before | {match['warm_p99_ms']:.2f} ms (CPU {match['warm_p99_cpu_ms']:.2f}) | |",
        ]
    if e2e:
        lines += [
            f"| JobCreated → assignJob mined, p50 ({e2e['jobs']} jobs) | {e2e['delay_p50_s']:.2f} s | |",
            f"| JobCreated → assignJob mined, p90 | {e2e['delay_p90_s']:.2f} s | |",
        ]
    return "\n".join(lines) + "\n"


def _rate(figures: dict[str, Any], name: str) -> str:
    wall, cpu = figures[f"{name}_per_s"], figures[f"{name}_per_cpu_s"]
    return f"{wall:,.0f} att/s ({cpu:,.0f} per CPU s)"


def goals_missed(res: dict[str, Any]) -> list[str]:
    missed = []
    for name in ("batched", "single") if res.get("indexing") else ():
        rate = res["indexing"][name]["index_per_s"]
        if rate < GOALS["index_attestations_per_s"]:
            missed.append(f"indexing {name}: {rate:,.0f} att/s")
    if res.get("matching") and res["matching"]["p99_ms"] > GOALS["match_p99_ms"]:
        missed.append(f"match p99: {res['matching']['p99_ms']:.2f} ms")
    return missed


def _chain(rpc: str | None, root: Path):  # noqa: ANN202 - (url, node or None)
    if rpc:
        return rpc, None
    from chain.hardhat import HardhatNode
    from tests.backend.processes import free_port

    node = HardhatNode(port=free_port(), log_path=root / "hardhat.log").start()
    return node.url, node


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    return {p: version(p) for p in ("celery", "kombu", "sqlalchemy", "web3", "eth-abi")} | {
        "python": platform.python_version()
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    parts = set(args.parts.split(","))
    res: dict[str, Any] = {"goals": GOALS, "repeats": args.repeats, "versions": _versions()}
    with tempfile.TemporaryDirectory(prefix="metainf-backend-bench-") as tmp:
        root = Path(tmp)
        rpc, node = _chain(args.rpc, root) if parts & {"index", "e2e"} else (None, None)
        try:
            if "index" in parts:
                res["indexing"] = bench_indexing(
                    rpc, root / "index", args.batched, args.single, args.repeats, args.profile
                )
            if "match" in parts:
                res["matching"] = bench_matching(
                    args.tasks, args.match_jobs, args.seed, args.providers
                )
                print(f"matching: {res['matching']}", file=sys.stderr)
            if "e2e" in parts:
                res["end_to_end"] = bench_end_to_end(rpc, root / "e2e", args.jobs)
                print(f"end to end: {res['end_to_end']}", file=sys.stderr)
        finally:
            if node is not None:
                node.stop()
    res["goals_missed"] = goals_missed(res)
    return res


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", type=Path, required=True)
    p.add_argument("--md", type=Path, default=None)
    p.add_argument("--rpc", default=None, help="a JSON-RPC dev chain (default: start hardhat)")
    p.add_argument("--parts", default="index,match,e2e", help="comma-separated subset")
    p.add_argument("--batched", type=int, default=2048, help="attestations posted in batches")
    p.add_argument("--single", type=int, default=256, help="attestations posted singly")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--tasks", type=int, default=300, help="synthetic tasks (x 10 methods)")
    p.add_argument("--match-jobs", type=int, default=300)
    p.add_argument("--providers", type=int, default=100, help="matching: one profile each")
    p.add_argument("--jobs", type=int, default=8, help="end-to-end jobs (at most 12)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile", action="store_true", help="print cProfile of index/verify")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        res = run(args)
    finally:
        gc.unfreeze()  # the collection at exit finalizes everything
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=2) + "\n")
    table = markdown(res)
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text(table)
    print(table, end="")
    if res["goals_missed"]:
        print("goals missed: " + "; ".join(res["goals_missed"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
