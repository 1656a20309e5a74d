"""The indexer stores every event once, resumes without gaps, and undoes reorgs.

Real chain (in-process py-evm; a hardhat node in the reorg test), real databases.
"""

from __future__ import annotations

import pytest
from eth_account import Account
from sqlalchemy import func, select

from backend.db import ChainEvent, IndexerCursor, ProviderRow, session_scope
from backend.events import EventSource
from backend.indexer import index_step
from chain.clients import Market
from chain.connection import connect, fund, revert_to, snapshot
from chain.deploy import ETHER, deploy_market


def _world(rpc: str = "inprocess"):
    w3 = connect(rpc)
    admin = Account.create()
    fund(w3, admin.address, 100 * ETHER)
    deployment = deploy_market(w3, admin)
    return w3, deployment, Market.at(w3, deployment), admin


def _register(w3, market: Market, hw: str = "0x" + "11" * 32) -> str:
    owner, agent = Account.create(), Account.create()
    fund(w3, owner.address, 10 * ETHER)
    market.registry.as_(owner).register(
        agent=agent, hardware_id=hw, price_per_second=1, metadata_uri="", stake_wei=ETHER
    )
    return owner.address


def _index_all(url: str, source: EventSource, start: int, **kw) -> list:
    steps = []
    while True:
        with session_scope(url) as s:
            step = index_step(s, source, start_block=start, **kw)
        steps.append(step)
        if step.to_block >= step.head - kw.get("confirmations", 0):
            return steps


def _count(url: str, name: str | None = None) -> int:
    with session_scope(url) as s:
        q = select(func.count()).select_from(ChainEvent)
        if name:
            q = q.where(ChainEvent.name == name)
        return s.scalar(q)


def test_events_are_stored_once_and_restarts_leave_no_gap(database_url: str) -> None:
    w3, deployment, market, _ = _world()
    source = EventSource(w3, market)
    for _ in range(3):
        _register(w3, market)
    _index_all(database_url, source, deployment.block_number, max_blocks=2)  # several steps
    assert _count(database_url, "ProviderRegistered") == 3
    before = _count(database_url)
    # a re-delivered task, and a cursor moved back as by a crash before its commit
    with session_scope(database_url) as s:
        s.get(IndexerCursor, w3.eth.chain_id).next_block = deployment.block_number
    _index_all(database_url, source, deployment.block_number)
    assert _count(database_url) == before
    _register(w3, market)
    steps = _index_all(database_url, source, deployment.block_number)
    assert _count(database_url, "ProviderRegistered") == 4
    assert steps[-1].lag_blocks == 0


def test_confirmation_depth_holds_back_the_newest_blocks(database_url: str) -> None:
    w3, deployment, market, _ = _world()
    source = EventSource(w3, market)
    _register(w3, market)
    with session_scope(database_url) as s:
        step = index_step(s, source, start_block=deployment.block_number, confirmations=3)
    assert step.to_block == w3.eth.block_number - 3
    assert _count(database_url, "ProviderRegistered") == 0  # the registration is 1 block deep


@pytest.mark.parametrize("rpc", ["inprocess", pytest.param("hardhat", marks=pytest.mark.hardhat)])
def test_a_reorg_rolls_back_to_the_fork_point_and_reindexes(
    database_url: str, rpc: str, request: pytest.FixtureRequest
) -> None:
    url = rpc if rpc == "inprocess" else request.getfixturevalue("hardhat_url")
    w3, deployment, market, _ = _world(url)
    source = EventSource(w3, market)
    kept = _register(w3, market)
    _index_all(database_url, source, deployment.block_number)
    fork = w3.eth.block_number
    snap = snapshot(w3)
    orphan = _register(w3, market)  # indexed, then reorged away
    _index_all(database_url, source, deployment.block_number)
    assert _count(database_url, "ProviderRegistered") == 2
    revert_to(w3, snap)
    replacement = _register(w3, market, hw="0x" + "22" * 32)
    _register(w3, market, hw="0x" + "33" * 32)  # the new branch is longer
    steps = _index_all(database_url, source, deployment.block_number)
    assert steps[0].rolled_back_to is not None and steps[0].rolled_back_to <= fork
    with session_scope(database_url) as s:
        providers = [
            e.args["provider"]
            for e in s.scalars(select(ChainEvent).where(ChainEvent.name == "ProviderRegistered"))
        ]
    assert kept in providers and replacement in providers and orphan not in providers
    assert len(providers) == 3
    with session_scope(database_url) as s:
        rows = {p.address: p for p in s.scalars(select(ProviderRow))}
    assert rows[kept].active and rows[replacement].active
    assert rows[replacement].hardware_ids == ["0x" + "22" * 32]
    assert orphan not in rows or not rows[orphan].active  # refreshed from the chain
