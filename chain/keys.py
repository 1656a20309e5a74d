"""Where signing keys come from: the environment or a local key file, never the repo.

Lookup order for a role (``admin``, ``matcher``, ``provider``, ``agent``, ``client``, ...):
``METAINF_<ROLE>_KEY`` in the environment, then the JSON key file named by
``METAINF_KEY_FILE`` (default ``~/.metainf/keys.json``, mode 0600). The demo writes a key
file of throwaway keys.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

DEFAULT_KEY_FILE = Path.home() / ".metainf" / "keys.json"


class KeyNotFound(LookupError):
    """No key is configured for a role."""


def key_file_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("METAINF_KEY_FILE", DEFAULT_KEY_FILE))


def load_account(role: str, env: Mapping[str, str] | None = None) -> LocalAccount:
    env = os.environ if env is None else env
    var = f"METAINF_{role.upper()}_KEY"
    if env.get(var):
        return Account.from_key(env[var])
    path = key_file_path(env)
    if path.exists():
        keys = json.loads(path.read_text())
        if role in keys:
            return Account.from_key(keys[role])
    raise KeyNotFound(
        f"no key for role {role!r}: set {var} or add it to {path} (`metainf chain keys --new {role}`)"
    )


def write_throwaway_keys(path: Path, roles: Iterable[str]) -> dict[str, LocalAccount]:
    """Create (or extend) a key file with fresh random keys for ``roles``; mode 0600."""
    keys: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    for role in roles:
        keys.setdefault(role, "0x" + Account.create().key.hex().removeprefix("0x"))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as handle:
        json.dump(keys, handle, indent=2)
    return {role: Account.from_key(key) for role, key in keys.items()}
