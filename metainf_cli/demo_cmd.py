"""`metainf demo`: one marketplace round on the embedded default stack."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".metainf/demo"),
    show_default=True,
    help="Where the demo keeps its model, reports and results.",
)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path))
def demo(work_dir: Path, json_out: Path | None) -> None:
    """Benchmark, attest, and run a paid job end to end on an in-process chain."""
    from demo.marketplace import run_demo

    result = run_demo(work_dir, say=lambda msg: click.echo(f"* {msg}"))
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    click.echo(json.dumps(result.to_dict(), indent=2))
