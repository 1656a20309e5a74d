"""Every METAINF_* variable has one default, and a bad value is refused when read."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from eth_account import Account
from pydantic import ValidationError

from protocol.keys import KeyFileError, KeyNotFound, load_account, write_throwaway_keys
from protocol.settings import IN_PROCESS, Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for var in [v for v in os.environ if v.startswith("METAINF_")]:
        monkeypatch.delenv(var)


def test_defaults_are_the_embedded_stack() -> None:
    s = Settings()
    assert s.rpc_url == IN_PROCESS and s.in_process_chain
    assert s.redis_url is None and s.database.startswith("sqlite:///")
    assert s.blob_location == str(Path(".metainf") / "blobs")
    assert s.key_file == Path.home() / ".metainf" / "keys.json"


def test_environment_switches_to_real_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METAINF_RPC_URL", "http://127.0.0.1:8545")
    monkeypatch.setenv("METAINF_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("METAINF_DATABASE_URL", "postgresql+psycopg://localhost/test")
    monkeypatch.setenv("METAINF_DATA_DIR", "/srv/metainf")
    s = Settings()
    assert not s.in_process_chain
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert s.database == "postgresql+psycopg://localhost/test"
    assert s.blob_location == "/srv/metainf/blobs"


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("METAINF_RPC_URL", "ftp://nowhere"),
        ("METAINF_REDIS_URL", "http://localhost:6379"),
        ("METAINF_BACKEND_URL", "localhost:8000"),
        ("METAINF_THREADS", "-1"),
        ("METAINF_RPC_TIMEOUT_S", "-1"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str
) -> None:
    monkeypatch.setenv(var, value)
    field = var.removeprefix("METAINF_").lower()
    with pytest.raises(ValidationError, match=field):
        Settings()


def test_keys_come_from_the_environment_before_the_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "keys.json"
    monkeypatch.setenv("METAINF_KEY_FILE", str(key_file))
    with pytest.raises(KeyNotFound, match="METAINF_CLIENT_KEY"):
        load_account("client")
    written = write_throwaway_keys(key_file, ["client", "provider2"])
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_account("client").address == written["client"].address
    assert load_account("provider2").address == written["provider2"].address  # file-only role
    env_key = Account.create()
    monkeypatch.setenv("METAINF_CLIENT_KEY", env_key.key.to_0x_hex())
    assert load_account("client").address == env_key.address
    assert write_throwaway_keys(key_file, ["client"])["client"] == written["client"]  # kept


def test_a_malformed_key_file_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    key_file = tmp_path / "keys.json"
    monkeypatch.setenv("METAINF_KEY_FILE", str(key_file))
    key_file.write_text("{not json")
    with pytest.raises(KeyFileError, match="not readable JSON"):
        load_account("client")
    key_file.write_text(json.dumps({"client": "0x1234"}))
    with pytest.raises(KeyFileError, match="not a valid private key"):
        load_account("client")
