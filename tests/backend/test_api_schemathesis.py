"""Schemathesis over the OpenAPI schema: no input the schema allows (or breaks) gets a 5xx.

In-process ASGI calls against a seeded database (SQLite always, PostgreSQL when one
answers: its stricter types are where a 500 would hide), with a trained model so that
POST /recommend exercises the predictor. A bounded number of examples per operation
keeps the run under a minute.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance
from sqlalchemy import create_engine, text

from backend.api import create_app
from backend.db import MatchDecision, session_scope
from backend.migrate import upgrade
from backend.trainer import train_if_due
from protocol.blobstore import LocalBlobStore
from protocol.settings import Settings
from tests.backend.conftest import POSTGRES, _postgres_answers
from tests.backend.test_api import AUDITOR, CLIENT, add_job, make_config
from tests.backend.test_dataset import (
    EAGER,
    INT8,
    PROVIDER,
    add_provider,
    ensure_tables,
    model_desc,
    seed,
    workload_desc,
)

EXAMPLES = 30


def _tps(model, workload, method) -> float:
    big = model["params"] > 1e8
    return {"hf-eager": 10.0, "hf-int8": 20.0 if big else 5.0}[method["name"]] * (
        1 + workload["concurrency"] / 100
    )


def _seed(url: str, root: Path) -> None:
    ensure_tables(url)
    store = LocalBlobStore(root / "blobs")
    models = [model_desc(f"m{i}", p) for i, p in enumerate([5e7, 8e7, 3e8, 6e8])]
    seed(
        url, store, models, [workload_desc("chat"), workload_desc("batch", 32)], [EAGER, INT8], _tps
    )
    with session_scope(url) as s:
        outcome = train_if_due(s, store, min_new_cells=1, holdout_fraction=0.25, code_version="st")
    assert outcome.promoted, outcome
    add_provider(url, PROVIDER)
    add_job(url, 1, CLIENT.address, result_hash="0x" + "ab" * 32, status="submitted")
    add_job(url, 2, CLIENT.address, status="unmatched", unmatched_reason="no provider fits")
    with session_scope(url) as s:
        s.add(MatchDecision(chain_id=31337, job_id=1, model_version=1, candidates=[{"a": 1}]))


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def seeded_url(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp(f"schemathesis-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'backend.db'}"
        upgrade(url)
        _seed(url, root)
        yield url, root
        return
    if not _postgres_answers():
        pytest.skip(f"no PostgreSQL answers at {POSTGRES}")
    name = f"metainf_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{POSTGRES}/{name}"
    try:
        upgrade(url)
        _seed(url, root)
        yield url, root
    finally:
        from backend.db import engine_for

        engine_for(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def api_schema(seeded_url):
    url, root = seeded_url
    app = create_app(make_config(url, root), Settings(auditors=(AUDITOR.address,)))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_server_error(api_schema) -> None:
    """Every operation, ``EXAMPLES`` valid and ``EXAMPLES`` invalid cases each, every check
    of schemathesis but "schema-valid input is accepted" (some valid-looking input is
    refused on purpose: a body that does not hash to its name, a budget without a price)."""
    failures = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 13
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case) -> None:
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        try:
            run()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # no parameter that could be invalid
        except Exception as exc:  # collect every operation's failure, then report all
            failures[f"{operation.label} ({mode.value})"] = exc
    report = "\n\n".join(f"=== {label}\n{exc}" for label, exc in failures.items())
    assert not failures, f"{len(failures)} operation(s) failed:\n{report}"
