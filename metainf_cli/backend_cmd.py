"""`metainf backend ...`: run the backend's HTTP API, migrate its database.

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


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the database"
