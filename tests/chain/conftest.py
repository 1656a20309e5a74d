"""A freshly deployed market on each chain backend, with funded throwaway accounts."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from chain.clients import Market
from chain.connection import connect, fund
from chain.deploy import ETHER, Deployment, MarketParams, deploy_market
from protocol.canonical import content_id

PARAMS = MarketParams(
    admin_delay_s=3600,
    min_stake_wei=ETHER,
    unstake_cooldown_s=6000,
    attestation_slash_wei=ETHER // 2,
    ban_threshold_wei=ETHER,
    max_clock_skew_s=600,
    attestation_challenge_window_s=5000,
    attestation_ruling_period_s=2000,
    min_challenge_bond_wei=ETHER // 10,
    challenger_share_bps=5000,
    protocol_fee_bps=200,
    job_challenge_window_s=100,
    dispute_ruling_period_s=500,
    min_dispute_bond_wei=ETHER // 100,
    collateral_bps=10_000,
    client_compensation_bps=5_000,
)
HARDWARE_ID = content_id({"kind": "hardware", "name": "test-cpu"})


@dataclass
class Env:
    w3: Web3
    deployment: Deployment
    market: Market
    admin: LocalAccount
    provider: LocalAccount
    agent: LocalAccount
    client: LocalAccount
    outsider: LocalAccount

    def now(self) -> int:
        return self.w3.eth.get_block("latest")["timestamp"]

    def new_account(self, ether: int = 50) -> LocalAccount:
        account = Account.create()
        fund(self.w3, account.address, ether * ETHER)
        return account

    def register(self, owner: LocalAccount, agent: LocalAccount, stake: int = 2 * ETHER) -> None:
        self.market.registry.as_(owner).register(
            agent=agent,
            hardware_id=HARDWARE_ID,
            price_per_second=10**9,
            metadata_uri="metainf://test",
            stake_wei=stake,
        )


@pytest.fixture(params=["inprocess", pytest.param("hardhat", marks=pytest.mark.hardhat)])
def env(request: pytest.FixtureRequest) -> Env:
    url = "inprocess" if request.param == "inprocess" else request.getfixturevalue("hardhat_url")
    w3 = connect(url)
    accounts = [Account.create() for _ in range(5)]
    for account in accounts:
        fund(w3, account.address, 50 * ETHER)
    admin, provider, agent, client, outsider = accounts
    deployment = deploy_market(w3, admin, params=PARAMS)
    e = Env(w3, deployment, Market.at(w3, deployment), admin, provider, agent, client, outsider)
    e.register(provider, agent)
    return e
