"""`metainf backend ...`: run the backend's HTTP API, worker and beat, migrate its
database, benchmark it.

Configuration comes from the ``METAINF_*`` environment (:class:`protocol.settings.Settings`):
``METAINF_DATABASE_URL``, ``METAINF_BLOB_STORE``, ``METAINF_AUDITORS``, ...
Heavy imports happen inside the commands.
"""

from __future__ import annotations

import click


@click.group()
def backend() -> None:
    """Celery backend: indexer, trainer, matcher, API."""


@backend.command()
def migrate() -> None:
    """Create or upgrade the backend database schema (idempotent)."""
    from backend.config import BackendConfig
    from backend.migrate import current, upgrade

    config = BackendConfig.from_settings()
    try:
        upgrade(config.database_url)
    except Exception as exc:  # the database URL or server is wrong: say which
        raise click.ClickException(
            f"cannot migrate {_redacted(config.database_url)}: {exc}"
        ) from None
    click.echo(f"{_redacted(config.database_url)} at revision {current(config.database_url)}")


@backend.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
def api(host: str, port: int, log_level: str) -> None:
    """Serve the HTTP API (uvicorn). Run `metainf backend migrate` first.

    One process per invocation: run several behind a load balancer to scale out (they
    share the database, the replay seen-set included, and the blob folder)."""
    import uvicorn

    from backend.api.app import app_from_settings

    try:
        app = app_from_settings()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    uvicorn.run(app, host=host, port=port, log_level=log_level)


@backend.command()
@click.option("--concurrency", "-c", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--pool",
    default="prefork",
    show_default=True,
    type=click.Choice(["prefork", "threads", "solo"]),
)
@click.option("--log-level", default="INFO", show_default=True)
def worker(concurrency: int, pool: str, log_level: str) -> None:
    """Run a Celery worker (indexer, verifier, matcher, settlement, trainer tasks).

    Start as many as you like, on as many machines, against one broker (METAINF_REDIS_URL)
    and one database (METAINF_DATABASE_URL); without METAINF_REDIS_URL the broker is the
    embedded SQLite transport under METAINF_DATA_DIR (one machine)."""
    app = _app()
    app.worker_main(["worker", "-l", log_level, "-c", str(concurrency), "-P", pool])


@backend.command()
@click.option("--log-level", default="INFO", show_default=True)
def beat(log_level: str) -> None:
    """Run the Celery beat scheduler that drives the periodic tasks (run exactly one)."""
    from protocol.settings import Settings

    app = _app()
    schedule = Settings().data_dir / "celerybeat-schedule"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    app.start(["beat", "-l", log_level, "-s", str(schedule)])


@backend.command()
@click.option("--json", "json_out", type=click.Path(dir_okay=False), required=True)
@click.option("--md", "md_out", type=click.Path(dir_okay=False), help="Markdown table too.")
@click.option("--rpc", help="A JSON-RPC dev chain (default: start a hardhat node).")
@click.option("--parts", default="index,match,e2e", show_default=True)
@click.option("--batched", default=2048, show_default=True, help="Attestations in batches of 32.")
@click.option("--single", default=256, show_default=True, help="Attestations posted singly.")
@click.option("--repeats", default=3, show_default=True, type=click.IntRange(1, 100))
@click.option("--tasks", default=300, show_default=True, help="Synthetic tasks for MetaInf.")
@click.option("--match-jobs", default=300, show_default=True)
@click.option("--providers", default=100, show_default=True, type=click.IntRange(5, 10_000))
@click.option("--jobs", default=8, show_default=True, type=click.IntRange(1, 12))
@click.option("--profile", is_flag=True, help="Print where indexing and verification time goes.")
def bench(json_out: str, md_out: str | None, rpc: str | None, **options: object) -> None:
    """Measure indexing throughput (batched and single), matching latency (100 providers x
    10 methods) and the JobCreated -> assignJob delay with a real worker, side by side.

    The logic is bench/backend_bench.py of a source checkout (it posts attestations and
    starts a hardhat node, a worker and beat, as the backend tests do)."""
    argv = [
        "--json",
        json_out,
        *(["--md", md_out] if md_out else []),
        *(["--rpc", rpc] if rpc else []),
    ]
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value is not False:
            argv += [flag, str(value)]
    raise SystemExit(_bench_module().main(argv))


def _bench_module():  # noqa: ANN202 - the bench/backend_bench.py module
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "backend_bench.py"
    if not path.exists():
        raise click.ClickException(f"{path} not found: the backend bench runs from a checkout")
    spec = importlib.util.spec_from_file_location("metainf_backend_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _app():  # noqa: ANN202 - celery.Celery
    """The Celery app on a migrated database (workers never start on a stale schema)."""
    from backend.celery_app import make_app
    from backend.config import BackendConfig
    from backend.migrate import upgrade

    config = BackendConfig.from_settings()
    try:
        upgrade(config.database_url)
    except Exception as exc:
        raise click.ClickException(
            f"cannot migrate {_redacted(config.database_url)}: {exc}"
        ) from None
    return make_app(config)


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the database"
