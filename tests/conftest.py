"""Fixtures shared by every suite: real chains (in-process py-evm and a hardhat node) and a
private Redis."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def hardhat_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `hardhat node` started for this test session and stopped after it."""
    from chain.hardhat import HardhatNode

    log = tmp_path_factory.mktemp("hardhat") / "node.log"
    node = HardhatNode(port=free_port(), log_path=log).start()
    try:
        yield node.url
    finally:
        node.stop()


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A redis-server of the test's own (no persistence), stopped after it."""
    from tests.backend.processes import RedisServer

    if not RedisServer.available():
        pytest.skip("redis-server is not installed")
    with RedisServer(tmp_path / "redis") as server:
        yield server.url
