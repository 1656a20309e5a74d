"""What every route of one app shares: configuration, blob store, caches, limits."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from backend.api.auth import DatabaseSeenSet
from backend.config import BackendConfig
from backend.dataset import Dataset, DatasetCache
from backend.db import session_scope
from protocol.blobstore import LocalBlobStore
from protocol.settings import Settings

SMALL_BODY_BYTES = 64 * 1024  # JSON requests other than uploads (POST /recommend)


@dataclass
class ApiState:
    config: BackendConfig
    store: LocalBlobStore
    seen: DatabaseSeenSet
    auditors: frozenset[str]  # lower-case addresses
    window_s: int
    page_limit: int
    datasets: DatasetCache = field(default_factory=DatasetCache)
    dataset_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, config: BackendConfig, settings: Settings) -> ApiState:
        if "://" in config.blob_location:
            raise ValueError(
                f"the API serves a local blob store; METAINF_BLOB_STORE is "
                f"{config.blob_location!r} (set it to a folder on this machine)"
            )
        return cls(
            config=config,
            store=LocalBlobStore(Path(config.blob_location)),
            seen=DatabaseSeenSet(config.database_url),
            auditors=frozenset(a.lower() for a in settings.auditors),
            window_s=settings.auth_window_s,
            page_limit=settings.api_page_limit,
        )

    @property
    def database_url(self) -> str:
        return self.config.database_url

    def dataset(self) -> Dataset:
        """The current data set, rebuilt only when the database changed."""
        with self.dataset_lock, session_scope(self.database_url) as session:
            return self.datasets.get(session)
