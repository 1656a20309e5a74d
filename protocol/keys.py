"""Where signing keys come from: the environment or a local key file, never the repo.

Lookup order for a role (``admin``, ``matcher``, ``provider``, ``agent``, ``client``, ...):
``METAINF_<ROLE>_KEY`` (see :mod:`protocol.settings`), then the JSON key file
``METAINF_KEY_FILE`` (default ``~/.metainf/keys.json``, mode 0600). Dev chains and the
demo write throwaway keys into that file.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from protocol.settings import Settings


class KeyNotFound(LookupError):
    """No key is configured for a role."""


class KeyFileError(ValueError):
    """The key file exists but cannot be used (malformed, or readable by others)."""


def _read_key_file(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        keys = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise KeyFileError(f"key file {path} is not readable JSON: {exc}") from exc
    if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
        raise KeyFileError(f"key file {path} must be a JSON object of role -> 0x private key")
    return keys


def load_account(role: str, settings: Settings | None = None) -> LocalAccount:
    """The account of ``role``; raises :class:`KeyNotFound` saying how to configure one."""
    settings = settings or Settings()
    key = settings.role_key(role) or _read_key_file(settings.key_file).get(role)
    if key:
        try:
            return Account.from_key(key)
        except (ValueError, TypeError) as exc:
            raise KeyFileError(f"the key of role {role!r} is not a valid private key") from exc
    raise KeyNotFound(
        f"no key for role {role!r}: set METAINF_{role.upper()}_KEY or add {role!r} to "
        f"{settings.key_file} (on a dev chain the CLI writes a throwaway one)"
    )


def write_throwaway_keys(path: Path, roles: Iterable[str]) -> dict[str, LocalAccount]:
    """Create (or extend) a key file with fresh random keys for ``roles``; mode 0600."""
    keys = _read_key_file(path)
    for role in roles:
        keys.setdefault(role, Account.create().key.to_0x_hex())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as handle:
        json.dump(keys, handle, indent=2)
    return {role: Account.from_key(key) for role, key in keys.items()}
