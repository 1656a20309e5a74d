"""Model-based property test of ProviderRegistry's stake paths (stake, unstake, slash).

Random sequences of register/addStake/requestUnstake/completeUnstake/slash/withdraw and
time travel; the contract's balance must always equal active + cooling-down stake plus
unwithdrawn balances, slashing never takes more than the provider has, and nobody
withdraws more than a plain-Python model says they are owed.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule

from chain.clients import Market
from chain.connection import advance_time, connect, fund, revert_to, snapshot
from chain.deploy import ETHER, MarketParams, deploy_market
from chain.tx import Transactor
from tests.chain.ledger_machine import SETTINGS, LedgerMachine

PARAMS = MarketParams(min_stake_wei=ETHER, unstake_cooldown_s=200)

W3 = connect()
ADMIN = Account.create()
SLASHER = Account.create()
PROVIDERS = [Account.create() for _ in range(3)]
BENEFICIARY = Account.create()
for _a in (ADMIN, SLASHER, BENEFICIARY, *PROVIDERS):
    fund(W3, _a.address, 1000 * ETHER)
DEPLOYMENT = deploy_market(W3, ADMIN, params=PARAMS)
MARKET = Market.at(W3, DEPLOYMENT)
_registry = MARKET.registry.contract.functions
Transactor(W3, ADMIN).send(_registry.grantRole(_registry.SLASHER_ROLE().call(), SLASHER.address))
BASE = snapshot(W3)
ACCOUNTS = [*PROVIDERS, BENEFICIARY]
amounts = st.integers(1, 3 * ETHER)


@dataclass
class ModelProvider:
    stake: int = 0
    pending: int = 0
    ready_at: int = 0
    slashed: bool = False


class RegistryMachine(LedgerMachine):
    w3 = W3

    @initialize()
    def fresh_chain(self) -> None:
        revert_to(W3, BASE)
        self.providers: dict[str, ModelProvider] = {}
        self.reset_ledger(ACCOUNTS)

    @rule(p=st.sampled_from(PROVIDERS), stake=amounts)
    def register(self, p, stake: int) -> None:
        expected = p.address not in self.providers and stake >= PARAMS.min_stake_wei
        ok = self.attempt(
            expected,
            lambda: MARKET.registry.as_(p).register(
                agent=p.address,
                hardware_id=b"\x01" * 32,
                price_per_second=1,
                metadata_uri="",
                stake_wei=stake,
            ),
        )
        if ok:
            self.providers[p.address] = ModelProvider(stake=stake)

    @rule(p=st.sampled_from(PROVIDERS), amount=amounts)
    def add_stake(self, p, amount: int) -> None:
        if self.attempt(
            p.address in self.providers, lambda: MARKET.registry.as_(p).add_stake(amount)
        ):
            self.providers[p.address].stake += amount

    @rule(p=st.sampled_from(PROVIDERS), amount=amounts)
    def request_unstake(self, p, amount: int) -> None:
        m = self.providers.get(p.address)
        expected = m is not None and m.pending == 0 and amount <= m.stake
        if self.attempt(expected, lambda: MARKET.registry.as_(p).request_unstake(amount)):
            m.stake -= amount
            m.pending = amount
            m.ready_at = MARKET.registry.get_provider(p.address).unstake_ready_at

    @rule(p=st.sampled_from(PROVIDERS))
    def complete_unstake(self, p) -> None:
        m = self.providers.get(p.address)
        expected = self.expect_after(m is not None and m.pending > 0, m.ready_at if m else 0)
        if self.attempt(expected, lambda: MARKET.registry.as_(p).complete_unstake()):
            self.owed[p.address] += m.pending
            m.pending = 0

    @rule(p=st.sampled_from(PROVIDERS), amount=st.integers(0, 5 * ETHER))
    def slash(self, p, amount: int) -> None:
        m = self.providers.get(p.address)
        before = self.owed[BENEFICIARY.address]
        if not self.attempt(
            m is not None,
            lambda: MARKET.registry.as_(SLASHER).slash(p.address, amount, BENEFICIARY.address),
        ):
            return
        from_stake = min(amount, m.stake)
        from_pending = min(amount - from_stake, m.pending)
        m.stake -= from_stake
        m.pending -= from_pending
        m.slashed = True
        self.owed[BENEFICIARY.address] = before + from_stake + from_pending

    @rule(account=st.sampled_from(ACCOUNTS))
    def withdraw(self, account) -> None:
        self.withdraw_and_check(MARKET.registry, account)

    @rule(seconds=st.integers(1, 150))
    def wait(self, seconds: int) -> None:
        advance_time(W3, seconds)

    @invariant()
    def matches_model_and_balance(self) -> None:
        if not hasattr(self, "providers"):
            return
        held = 0
        for address, m in self.providers.items():
            info = MARKET.registry.get_provider(address)
            assert (info.stake, info.pending_unstake, info.slashed) == (
                m.stake,
                m.pending,
                m.slashed,
            )
            assert MARKET.registry.is_active(address) == (
                not m.slashed and m.stake >= PARAMS.min_stake_wei
            )
            held += m.stake + m.pending
        unwithdrawn = sum(self.owed[a] - self.withdrawn[a] for a in self.owed)
        for account in ACCOUNTS:
            assert (
                MARKET.registry.withdrawable(account.address)
                == self.owed[account.address] - self.withdrawn[account.address]
            )
        assert W3.eth.get_balance(DEPLOYMENT.provider_registry) == held + unwithdrawn


RegistryMachine.TestCase.settings = SETTINGS
TestProviderRegistryProperties = RegistryMachine.TestCase
