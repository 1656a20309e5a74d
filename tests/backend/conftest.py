"""Real databases for the backend suites: SQLite always, PostgreSQL when one answers.

PostgreSQL is found at ``METAINF_TEST_POSTGRES`` (default the local server on
127.0.0.1:5432, trust auth); each test gets a database of its own, created and dropped
around it. CI machines run one; where none answers the PostgreSQL cases are skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from backend.migrate import upgrade

POSTGRES = os.environ.get("METAINF_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")


def _postgres_answers() -> bool:
    engine = create_engine(f"{POSTGRES}/postgres", connect_args={"connect_timeout": 2})
    try:
        with engine.connect():
            return True
    except Exception:
        return False
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'backend.db'}"
        upgrade(url)
        yield url
        return
    if not _postgres_answers():
        pytest.skip(f"no PostgreSQL answers at {POSTGRES}")
    name = f"metainf_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{POSTGRES}/{name}"
    upgrade(url)
    try:
        yield url
    finally:
        from backend.db import engine_for

        engine_for(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
