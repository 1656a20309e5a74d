"""``metainf provider``: hardware, methods, models, workloads and the benchmark.

Heavy imports (torch, transformers, vLLM) happen inside the commands, so ``metainf
provider --help`` stays fast. Commands that sign or talk to the chain (register, attest,
run) are added to the same group by their own section below.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from metainf_cli.options import blob_store_option, open_blob_store
from provider_agent.bench.presets import DEFAULT_GRID, GRID_NAMES


def _csv_list(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = tuple(v.strip() for v in value.split(",") if v.strip())
    return items or None


def _die(msg: str) -> None:
    raise click.ClickException(msg)


@click.group()
def provider() -> None:
    """Provider agent: benchmark acceleration methods on this host and serve jobs."""


# ------------------------------------------------------------------------- inspection


@provider.command()
@click.option(
    "--threads",
    default=None,
    help="CPU thread counts to offer, e.g. 1,2 (default: all usable CPUs).",
)
@click.option("--json", "as_json", is_flag=True, help="Print descriptors and ids as JSON.")
def hardware(threads: str | None, as_json: bool) -> None:
    """Detect this host's hardware profiles (one per CPU thread count, one per GPU)."""
    from provider_agent.hardware import HardwareError, detect

    try:
        counts = [int(t) for t in _csv_list(threads) or ()] or None
        profiles = detect(counts)
    except (HardwareError, ValueError) as exc:
        _die(str(exc))
    if as_json:
        click.echo(
            json.dumps(
                [
                    {"name": p.name, "hardwareId": p.hardware_id, "descriptor": p.descriptor()}
                    for p in profiles
                ],
                indent=1,
            )
        )
        return
    for p in profiles:
        d = p.descriptor()
        gpu = (
            f", GPU {d['gpu']['name']} ({d['gpu']['memory_bytes'] >> 20} MiB, cc {d['gpu']['compute_capability']})"
            if "gpu" in d
            else ""
        )
        click.echo(
            f"{p.name:8s} {p.hardware_id}  {d['cpu_model']}, {p.threads} thread(s), {d['ram_bytes'] >> 30} GiB{gpu}"
        )


@provider.command()
@click.option(
    "--hardware",
    "hw_name",
    default="cpu-1t",
    show_default=True,
    help="Hardware profile to check against.",
)
@click.option("--json", "as_json", is_flag=True)
def methods(hw_name: str, as_json: bool) -> None:
    """List the acceleration methods this host can run, and why the others cannot."""
    from provider_agent.hardware import HardwareError, profile_by_name
    from provider_agent.methods import available_methods

    try:
        hw = profile_by_name(hw_name)
    except HardwareError as exc:
        _die(str(exc))
    ok, no = available_methods(hw)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "hardware": hw.name,
                    "available": [
                        {"name": m.name, "methodId": m.method_id, "descriptor": m.descriptor()}
                        for m in ok
                    ],
                    "unavailable": [{"name": m.name, "reason": r} for m, r in no],
                },
                indent=1,
            )
        )
        return
    click.echo(f"available on {hw.name}:")
    for m in ok:
        click.echo(f"  {m.name:16s} {'exact' if m.exact else 'lossy'}  {m.description}")
    if no:
        click.echo("unavailable:")
        for m, reason in no:
            click.echo(f"  {m.name:16s} {reason}")


@provider.command()
@click.option("--json", "as_json", is_flag=True)
def workloads(as_json: bool) -> None:
    """List the workload presets (seeded generators) and their ids."""
    from provider_agent.workloads import WORKLOADS

    if as_json:
        click.echo(
            json.dumps(
                {
                    n: {"workloadId": w.workload_id, "descriptor": w.descriptor()}
                    for n, w in WORKLOADS.items()
                },
                indent=1,
            )
        )
        return
    for n, w in WORKLOADS.items():
        shared = f" +{w.shared_prefix_tokens} shared" if w.shared_prefix_tokens else ""
        click.echo(
            f"{n:14s} {w.kind:14s} {w.num_requests:3d} req  concurrency {w.concurrency:3d}  "
            f"prompt {w.prompt_tokens[0]}-{w.prompt_tokens[1]}{shared}  output {w.output_tokens[0]}-{w.output_tokens[1]}"
        )


@provider.command("make-model")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--size", default="tiny", show_default=True, help="tiny, small, 48m or 360m.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option(
    "--tokenizer", type=click.Choice(["bytes", "smollm2"]), default="bytes", show_default=True
)
@click.option("--overwrite", is_flag=True)
def make_model(out_dir: Path, size: str, seed: int, tokenizer: str, overwrite: bool) -> None:
    """Write a random-weight Llama model (config, safetensors, tokenizer) to OUT_DIR."""
    from provider_agent.models import UnknownModelError, make_random_llama, model_info

    try:
        path = make_random_llama(
            out_dir, size=size, seed=seed, tokenizer=tokenizer, overwrite=overwrite
        )
    except (UnknownModelError, ValueError) as exc:
        _die(str(exc))
    info = model_info(path)
    click.echo(
        f"{path}  {info.name}  {info.descriptor['params'] / 1e6:.1f}M params  modelId {info.model_id}"
    )


@provider.command("model-info")
@click.argument("model")
def model_info_cmd(model: str) -> None:
    """Show a model's descriptor and modelId (a directory, smollm2-135m or random:<size>)."""
    from provider_agent.models import UnknownModelError, model_info

    try:
        info = model_info(model)
    except UnknownModelError as exc:
        _die(str(exc))
    click.echo(
        json.dumps(
            {"path": str(info.path), "modelId": info.model_id, "descriptor": info.descriptor},
            indent=1,
        )
    )


# -------------------------------------------------------------------------- benchmark


@provider.command()
@click.option(
    "--grid",
    "grid_name",
    type=click.Choice(GRID_NAMES),
    default=None,
    help=f"A preset grid (default {DEFAULT_GRID}); options below override it.",
)
@click.option(
    "--models",
    default=None,
    help="Comma-separated model specs (dirs, smollm2-135m, random:<size>).",
)
@click.option(
    "--hardware",
    "hw_names",
    default=None,
    help="Comma-separated profiles, e.g. cpu-1t,cpu-2t,cuda0.",
)
@click.option(
    "--only-models",
    default=None,
    help="Measure only these models' part of the grid's task design (comma-separated).",
)
@click.option("--workloads", "wl_names", default=None, help="Comma-separated workload presets.")
@click.option(
    "--order",
    type=click.Choice(["task", "method"]),
    default=None,
    help="Model-major (task) or method-major measuring order; default: the grid's.",
)
@click.option(
    "--methods",
    "method_names",
    default=None,
    help="Comma-separated methods (see `provider methods`).",
)
@click.option(
    "--reps", default=None, type=int, help="Measured repetitions per cell (>= 3 for attestations)."
)
@click.option("--warmup", default=None, type=int, help="Discarded warm-up runs per cell.")
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the table (with ids and report hashes) as JSON.",
)
@click.option(
    "--csv",
    "csv_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the long-format table as CSV.",
)
@click.option(
    "--descriptors",
    "desc_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write name -> descriptor for every model/hardware/workload/method.",
)
@click.option(
    "--summary",
    "summary_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the per-task winners / single-best summary as JSON.",
)
@blob_store_option
@click.option(
    "--log",
    "log_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where worker processes (vLLM) write their logs.",
)
@click.option(
    "--strict", is_flag=True, help="Fail if any requested method is unavailable or any cell fails."
)
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append every measured cell to this JSON-lines file; rerunning with it resumes.",
)
@click.option(
    "--update",
    "update_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An earlier --json table: the cells measured now replace its cells, the rest are kept.",
)
@click.option(
    "--skip-measured",
    is_flag=True,
    help="With --update: do not measure again the (model, hardware, method) groups whose "
    "cells are all in that table (a run resumed from a committed table).",
)
@click.option(
    "--budget-s",
    type=float,
    default=None,
    help="Stop starting new cells after this many seconds (unreached cells are reported).",
)
@click.option(
    "--in-process",
    is_flag=True,
    help="Measure transformers/ORT methods in this process (vLLM always gets a worker).",
)
@click.option("--no-progress", is_flag=True)
def bench(
    grid_name: str | None,
    models: str | None,
    hw_names: str | None,
    only_models: str | None,
    wl_names: str | None,
    order: str | None,
    method_names: str | None,
    reps: int | None,
    warmup: int | None,
    json_out: Path | None,
    csv_out: Path | None,
    desc_out: Path | None,
    summary_out: Path | None,
    blob_store: str,
    log_file: Path | None,
    strict: bool,
    checkpoint: Path | None,
    update_path: Path | None,
    skip_measured: bool,
    budget_s: float | None,
    in_process: bool,
    no_progress: bool,
) -> None:
    """Measure methods x workloads on this host's hardware; write the performance table."""
    from meta.summary import describe
    from provider_agent.bench import grid as g
    from provider_agent.bench import runner, tables
    from provider_agent.hardware import HardwareError
    from provider_agent.methods import UnknownMethodError
    from provider_agent.models import UnknownModelError

    if skip_measured and not update_path:
        _die("--skip-measured needs --update TABLE.json (the table whose cells count as measured)")
    previous = _read_table(update_path) if update_path else None
    skip = {tables.row_key(r) for r in previous["rows"]} if previous and skip_measured else set()
    try:
        grid = g.grid_from_options(
            grid_name,
            models=_csv_list(models),
            hardware=_csv_list(hw_names),
            workloads=_csv_list(wl_names),
            methods=_csv_list(method_names),
            reps=reps,
            warmup=warmup,
            only_models=_csv_list(only_models),
            order=order,
        )
        store = open_blob_store(blob_store)
        result = runner.run_grid(
            grid,
            store=store,
            progress=not no_progress,
            isolate=not in_process,
            budget_s=budget_s,
            checkpoint=checkpoint,
            log=log_file,
            echo=lambda s: click.echo(s, err=True),
            skip=skip,
        )
    except (UnknownMethodError, UnknownModelError, HardwareError, ValueError) as exc:
        _die(str(exc))
    if previous is not None:
        try:
            result = tables.merge_results(previous, result)
        except (ValueError, KeyError) as exc:
            _die(f"cannot merge into {update_path}: {exc}")
    summary = _write_outputs(result, json_out, csv_out, desc_out, summary_out)
    click.echo(
        f"{len(result.rows)} cells ({result.resumed} from the checkpoint), "
        f"{len(result.failures())} failed, {len(result.unavailable)} method/hardware pairs "
        f"unavailable, {result.elapsed_s / 60:.1f} min",
        err=True,
    )
    for scope, key in (
        ("all methods", "objectives"),
        ("exact methods", "objectives_exact_methods"),
    ):
        for s in summary[key].values():
            if line := describe(s, scope):
                click.echo(line, err=True)
    if not (json_out or csv_out):
        json.dump(result.rows, sys.stdout, indent=1)
        click.echo()
    if strict and (result.failures() or result.unavailable):
        _die(
            f"{len(result.failures())} cells failed, {len(result.unavailable)} methods unavailable (--strict)"
        )


def _read_table(path: Path) -> dict:
    try:
        table = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        _die(f"{path}: not a `bench --json` table ({exc})")
    if not isinstance(table, dict) or not isinstance(table.get("rows"), list):
        _die(f"{path}: not a `bench --json` table (no rows)")
    return table


@provider.command("merge")
@click.argument(
    "tables_in",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--descriptors", "desc_out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--summary", "summary_out", type=click.Path(dir_okay=False, path_type=Path))
def merge(
    tables_in: tuple[Path, ...],
    json_out: Path,
    csv_out: Path | None,
    desc_out: Path | None,
    summary_out: Path | None,
) -> None:
    """Merge `bench --json` tables of several hosts into one (later tables win a cell).

    Hardware names that do not name their host (cpu-1t) become cpu-1t@<host tag> (from
    their descriptors), so that one host's cpu-1t is not confused with another's.
    """
    from provider_agent.bench import tables

    merged = None
    for path in tables_in:
        result = tables.qualify_hardware(tables.result_from_table(_read_table(path)))
        if merged is None:
            merged = result
            continue
        try:
            merged = tables.merge_results(tables.table_json(merged), result)
        except (ValueError, KeyError) as exc:
            _die(f"cannot merge {path}: {exc}")
    summary = _write_outputs(merged, json_out, csv_out, desc_out, summary_out)
    thr = summary["objectives"]["output_tokens_per_s"]
    click.echo(
        f"{len(merged.rows)} cells, {thr['tasks']} tasks from {len(tables_in)} tables", err=True
    )


def _write_outputs(result, json_out, csv_out, desc_out, summary_out) -> dict:  # noqa: ANN001
    """Write the requested files of a bench run; returns its summary."""
    from provider_agent.bench import tables

    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(tables.table_json(result), indent=1) + "\n")
    if csv_out:
        tables.write_csv(result.rows, csv_out)
    if desc_out:
        tables.write_descriptors(result, desc_out)
    summary = tables.grid_summary(result)
    if summary_out:
        summary_out.parent.mkdir(parents=True, exist_ok=True)
        summary_out.write_text(json.dumps(summary, indent=1) + "\n")
    return summary


# The on-chain side of the agent (register, attest, run) lives in its own module.
def _add_chain_commands() -> None:
    from metainf_cli.provider_chain import add_hardware, attest, register, run

    for command in (register, add_hardware, attest, run):
        provider.add_command(command)


_add_chain_commands()
