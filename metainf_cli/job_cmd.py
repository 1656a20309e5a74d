"""`metainf job ...`: the client's side — submit paid jobs, follow them, get the money back.

The chain comes from ``--rpc`` / ``METAINF_RPC_URL``, the backend from ``--backend`` /
``METAINF_BACKEND_URL``, the key from ``METAINF_CLIENT_KEY`` or the key file.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from metainf_cli.options import EthAmount, market_options, open_market, role_account


def _client(rpc_url: str, deployments_dir: Path, backend_url: str | None):  # noqa: ANN202
    from sdk import Client

    w3, market = open_market(rpc_url, deployments_dir)
    account = role_account(w3, "client")
    return Client(backend_url=backend_url, private_key=account.key, market=market)


def backend_option(fn):  # noqa: ANN001, ANN201
    return click.option(
        "--backend",
        "backend_url",
        default=None,
        help="The backend's HTTP API (default $METAINF_BACKEND_URL or http://127.0.0.1:8000).",
    )(fn)


@click.group()
def job() -> None:
    """Client side: submit paid jobs and fetch verified results."""


@job.command()
@market_options
@backend_option
@click.option(
    "--model", "model_id", required=True, help="The model's id (0x..., see `provider model-info`)."
)
@click.option("--prompt", "prompts", multiple=True, help="A prompt (repeat for several).")
@click.option(
    "--prompts-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A JSON list of prompts.",
)
@click.option("--max-new-tokens", default=32, show_default=True, type=click.IntRange(1, 4096))
@click.option("--budget", "budget_wei", required=True, type=EthAmount(), help="Escrow, in ether.")
@click.option("--workload", "workload_id", default=None, help="The workload's id, if known.")
@click.option(
    "--quality",
    default="exact",
    show_default=True,
    help='"exact", or the lowest token agreement (0-1) with the reference you accept.',
)
@click.option("--deadline-s", default=3600, show_default=True, type=click.IntRange(60))
@click.option("--wait/--no-wait", default=False, help="Follow the job to its end.")
def submit(rpc_url, deployments_dir, backend_url, model_id, prompts, prompts_file,
           max_new_tokens, budget_wei, workload_id, quality, deadline_s, wait) -> None:  # fmt: skip
    """Upload a job spec, escrow the budget, print the job id."""
    from sdk import SdkError

    texts = list(prompts) + (json.loads(prompts_file.read_text()) if prompts_file else [])
    if not texts:
        raise click.UsageError("give at least one --prompt or a --prompts-file")
    level = quality if quality == "exact" else _fraction(quality)
    client = _client(rpc_url, deployments_dir, backend_url)
    try:
        handle = client.submit_job(
            model_id, texts, max_new_tokens, budget_wei, workload=workload_id,
            quality=level, deadline_s=deadline_s,
        )  # fmt: skip
    except (SdkError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"job {handle.job_id} submitted: {budget_wei} wei escrowed")
    if wait:
        _echo_outcome(handle)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise click.BadParameter(
            f'--quality must be "exact" or a number in 0..1, not {text!r}'
        ) from None
    if not 0.0 <= value <= 1.0:
        raise click.BadParameter("--quality must be in 0..1")
    return value


def _echo_outcome(handle, timeout: float = 3600.0) -> None:  # noqa: ANN001
    from sdk import SdkError

    try:
        outcome = handle.wait(timeout=timeout)
    except (SdkError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(outcome.to_dict(), indent=2))


@job.command()
@market_options
@backend_option
@click.argument("job_id", type=int)
def status(rpc_url, deployments_dir, backend_url, job_id) -> None:  # noqa: ANN001
    """The job on chain and the backend's decision about it."""
    client = _client(rpc_url, deployments_dir, backend_url)
    info = client.job(job_id).status()
    click.echo(
        f"job {job_id}: {info.status.name.lower()}, escrow {info.escrow} wei, price {info.price} wei"
    )
    view = client.backend_view(job_id)
    if view and view.get("decision"):
        click.echo(json.dumps(view["decision"], indent=2))
    elif view and view.get("unmatched_reason"):
        click.echo(f"unmatched: {view['unmatched_reason']}")


@job.command("wait")
@market_options
@backend_option
@click.argument("job_id", type=int)
@click.option("--timeout", default=3600.0, show_default=True, type=float)
def wait_cmd(rpc_url, deployments_dir, backend_url, job_id, timeout) -> None:  # noqa: ANN001
    """Follow a job to its verified result and settlement."""
    _echo_outcome(_client(rpc_url, deployments_dir, backend_url).job(job_id), timeout)


@job.command()
@market_options
@backend_option
@click.argument("job_id", type=int)
@click.option("--reason", required=True, help="Why the result is wrong (for the arbiter).")
def dispute(rpc_url, deployments_dir, backend_url, job_id, reason) -> None:  # noqa: ANN001
    """Dispute a delivered result within its challenge window (posts the minimum bond)."""
    from sdk import SdkError

    try:
        tx = _client(rpc_url, deployments_dir, backend_url).job(job_id).dispute(reason)
    except SdkError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"job {job_id} disputed: tx {tx}")


@job.command()
@market_options
@backend_option
@click.argument("job_id", type=int)
def refund(rpc_url, deployments_dir, backend_url, job_id) -> None:  # noqa: ANN001
    """Cancel an unaccepted job, or refund one past its deadline, and withdraw."""
    from sdk import SdkError

    try:
        wei = _client(rpc_url, deployments_dir, backend_url).refund(job_id)
    except SdkError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"job {job_id}: {wei} wei withdrawn")
