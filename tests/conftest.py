"""Fixtures shared by every suite: real chains (in-process py-evm and a hardhat node)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

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
