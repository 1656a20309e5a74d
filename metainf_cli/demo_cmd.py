"""`metainf demo`: the whole marketplace, one run, on the embedded default stack."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click


@click.command()
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".metainf/demo"),
    show_default=True,
    help="Where the run keeps its chain-less state: models, blobs, database, report.",
)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--keep", is_flag=True, help="Do not clear the work dir of an earlier run.")
def demo(work_dir: Path, json_out: Path | None, keep: bool) -> None:
    """Providers benchmark and attest, the backend learns and matches, a client pays for a
    job, an auditor catches a false attestation; then a summary, a report and plots."""
    from demo.marketplace import run_demo
    from demo.report import markdown, plots, summary_rows

    if work_dir.exists() and not keep:
        shutil.rmtree(work_dir)  # a fresh chain each run: stale databases would disagree
    result = run_demo(work_dir, say=lambda msg: click.echo(f"* {msg}"))
    rows = summary_rows(result)
    width = max(len(k) for k, _ in rows)
    click.echo("")
    for key, value in rows:
        click.echo(f"{key:<{width}}  {value}")
    report_dir = work_dir / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "report.md").write_text(markdown(result))
    pngs = plots(result, report_dir)
    click.echo(f"\nreport: {report_dir / 'report.md'}; plots: {', '.join(str(p) for p in pngs)}")
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
        click.echo(f"json: {json_out}")
