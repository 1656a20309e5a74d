"""The backend's configuration, derived once from :class:`protocol.settings.Settings`.

Celery runs on Redis when ``METAINF_REDIS_URL`` is set; otherwise on an embedded
SQLite transport under the data dir (no server, still a real broker and a real worker
process). The database is ``METAINF_DATABASE_URL`` or SQLite under the data dir.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from protocol.settings import Settings


@dataclass(frozen=True)
class BackendConfig:
    database_url: str
    broker_url: str
    result_backend: str
    embedded: bool
    rpc_url: str
    deployments_dir: Path
    blob_location: str
    confirmations: int = 0
    index_interval_s: float = 2.0
    settle_interval_s: float = 10.0
    train_interval_s: float = 30.0
    train_min_new_cells: int = 8
    holdout_fraction: float = 0.2
    visibility_timeout_s: int = 300

    @property
    def code_version(self) -> str:
        """What a trained model depends on besides its data: our release and meta's format."""
        from importlib.metadata import PackageNotFoundError, version

        from meta.persistence import SCHEMA_VERSION

        try:
            release = version("metainf-market")
        except PackageNotFoundError:
            release = "source"
        return f"metainf-market {release}, meta schema {SCHEMA_VERSION}"

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> BackendConfig:
        s = settings or Settings()
        if s.redis_url:
            broker = backend = s.redis_url
        else:
            queue_dir = (s.data_dir / "celery").resolve()
            broker = f"sqla+sqlite:///{queue_dir / 'broker.db'}"
            backend = f"db+sqlite:///{queue_dir / 'results.db'}"
        return cls(
            database_url=s.database,
            broker_url=broker,
            result_backend=backend,
            embedded=s.redis_url is None,
            rpc_url=s.rpc_url,
            deployments_dir=s.deployments_dir,
            blob_location=s.blob_location,
            confirmations=s.confirmations,
            train_min_new_cells=s.train_min_new_cells,
            visibility_timeout_s=s.task_visibility_timeout_s,
        )
