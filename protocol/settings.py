"""One settings object for every ``METAINF_*`` environment variable and its default.

Every role reads its configuration from here (or from explicit arguments a caller got
from here), so a default lives in exactly one place and a deployment is switched from
the embedded default to real parts by environment alone:

==========================  ======================================  ======================
variable                    meaning                                 default
==========================  ======================================  ======================
``METAINF_RPC_URL``         chain: ``inprocess`` or a JSON-RPC URL  ``inprocess`` (py-evm)
``METAINF_RPC_TIMEOUT_S``   JSON-RPC request timeout                30
``METAINF_DEPLOYMENTS_DIR`` folder of ``<chainId>.json`` files      ``deployments``
``METAINF_KEY_FILE``        JSON key file (mode 0600), role -> key  ``~/.metainf/keys.json``
``METAINF_<ROLE>_KEY``      a role's private key (wins over file)   unset
``METAINF_DATA_DIR``        local state (blobs, SQLite, Celery)     ``.metainf``
``METAINF_BLOB_STORE``      blob store: a folder or an http(s) URL  ``<data dir>/blobs``
``METAINF_CACHE_DIR``       made/converted models, embeddings       ``~/.cache/metainf``
``METAINF_REDIS_URL``       Celery broker + result backend          unset: embedded
``METAINF_DATABASE_URL``    SQLAlchemy URL of the backend database  SQLite in data dir
``METAINF_BACKEND_URL``     the backend's HTTP API (SDK, agents)    ``http://127.0.0.1:8000``
``METAINF_THREADS``         BLAS/OpenMP threads of meta (0: no cap) 1
``METAINF_AUDITORS``        auditor addresses, comma-separated:     none
                            they may read every job's result
``METAINF_AUTH_WINDOW_S``   accepted clock skew of signed requests  300
``METAINF_API_PAGE_LIMIT``  most rows one API list page returns     500
``METAINF_CONFIRMATIONS``   blocks an event must be buried under    0
                            before the backend indexes it
``METAINF_TRAIN_MIN_NEW_CELLS`` new data set cells that trigger       8
                            retraining MetaInf
``METAINF_TASK_VISIBILITY_TIMEOUT_S`` when a task a dead worker held   300
                            is delivered again (Redis)
==========================  ======================================  ======================
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated
from urllib.parse import urlparse

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

IN_PROCESS = "inprocess"
ROLES = ("admin", "matcher", "arbiter", "provider", "agent", "client", "auditor")


def _home() -> Path:
    return Path.home()


class Settings(BaseSettings):
    """Validated once, when constructed; immutable afterwards."""

    model_config = SettingsConfigDict(env_prefix="METAINF_", frozen=True, extra="ignore")

    rpc_url: str = IN_PROCESS
    rpc_timeout_s: float = Field(30.0, gt=0)
    deployments_dir: Path = Path("deployments")
    key_file: Path = Field(default_factory=lambda: _home() / ".metainf" / "keys.json")
    data_dir: Path = Path(".metainf")
    blob_store: str | None = None
    cache_dir: Path = Field(default_factory=lambda: _home() / ".cache" / "metainf")
    redis_url: str | None = None
    database_url: str | None = None
    backend_url: str = "http://127.0.0.1:8000"
    threads: int = Field(1, ge=0, le=1024)  # 0: no limit
    auditors: Annotated[tuple[str, ...], NoDecode] = ()
    auth_window_s: int = Field(300, ge=10, le=3600)
    api_page_limit: int = Field(500, ge=1, le=10_000)
    confirmations: int = Field(0, ge=0, le=1000)
    train_min_new_cells: int = Field(8, ge=1)
    task_visibility_timeout_s: int = Field(300, ge=1)

    admin_key: SecretStr | None = None
    matcher_key: SecretStr | None = None
    arbiter_key: SecretStr | None = None
    provider_key: SecretStr | None = None
    agent_key: SecretStr | None = None
    client_key: SecretStr | None = None
    auditor_key: SecretStr | None = None

    @field_validator("rpc_url")
    @classmethod
    def _rpc_url(cls, value: str) -> str:
        if value != IN_PROCESS:
            parsed = urlparse(value)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ValueError(f"must be {IN_PROCESS!r} or an http(s) URL, got {value!r}")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value and urlparse(value).scheme not in ("redis", "rediss"):
            raise ValueError(f"must be a redis:// or rediss:// URL, got {value!r}")
        return value or None

    @field_validator("auditors", mode="before")
    @classmethod
    def _auditors(cls, value: object) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else list(value or ())
        out = []
        for item in (str(i).strip() for i in items):
            if not item:
                continue
            if not re.fullmatch(r"0x[0-9a-fA-F]{40}", item):
                raise ValueError(f"not an 0x-prefixed 20-byte hex address: {item!r}")
            out.append(item.lower())
        return tuple(dict.fromkeys(out))

    @field_validator("backend_url")
    @classmethod
    def _backend_url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    @property
    def in_process_chain(self) -> bool:
        return self.rpc_url == IN_PROCESS

    @property
    def blob_location(self) -> str:
        """A folder path or an http(s) URL."""
        return self.blob_store or str(self.data_dir / "blobs")

    @property
    def database(self) -> str:
        """The backend database URL (SQLite under the data dir unless configured)."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'backend.db').resolve()}"

    def role_key(self, role: str) -> str | None:
        """``METAINF_<ROLE>_KEY`` for one of :data:`ROLES` (None when unset)."""
        if role not in ROLES:
            return None
        secret = getattr(self, f"{role}_key")
        return secret.get_secret_value() if secret is not None else None
