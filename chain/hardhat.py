"""Starting and stopping a local ``hardhat node`` (the real-deployment stand-in)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


class HardhatError(RuntimeError):
    """hardhat node could not be started or stopped."""


def rpc_chain_id(url: str, timeout_s: float = 1.0) -> int | None:
    """The chainId answered at ``url``, or None when nothing answers there."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return int(json.loads(response.read())["result"], 16)
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        return None


@dataclass
class HardhatNode:
    """A ``hardhat node`` child process on 127.0.0.1:``port``."""

    port: int = 8545
    repo_root: Path = REPO_ROOT
    log_path: Path | None = None
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0, detach: bool = False) -> HardhatNode:
        binary = self.repo_root / "node_modules" / ".bin" / "hardhat"
        if not binary.exists():
            raise HardhatError(f"{binary} not found; run `make setup` first")
        if rpc_chain_id(self.url) is not None:
            raise HardhatError(f"something already answers at {self.url}")
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        # `node` directly (not npx) so there is exactly one PID to stop.
        self.process = subprocess.Popen(
            ["node", str(binary), "node", "--hostname", "127.0.0.1", "--port", str(self.port)],
            cwd=self.repo_root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=detach,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HardhatError(f"hardhat node exited with {self.process.returncode}")
            if rpc_chain_id(self.url) is not None:
                return self
            time.sleep(0.2)
        self.stop()
        raise HardhatError(f"hardhat node did not answer on {self.url} within {timeout_s:.0f}s")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> HardhatNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_pid(pid: int) -> bool:
    """Stop a detached node started by ``metainf chain up``; False if it was already gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return True
