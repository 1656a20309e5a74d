"""What the money-path state machines share.

- :class:`StakeModel`: what ``ProviderRegistry`` should hold for one provider (active and
  cooling-down stake, reserved stake, exposure, lifetime slashes, ban), with the registry's
  own arithmetic for locks, slashes and unstaking (docs/contracts.md, "Stake").
- :class:`LedgerMachine`: one ledger per contract of what each account is owed, every wei paid
  into the market, expectations that name the custom error a call must revert with (or accept
  either outcome when a time boundary is too close to call), and withdrawals checked to the
  wei. At the end of every run (``teardown``) a machine settles everything through the
  permissionless default paths, everybody withdraws everything, and what came out must equal
  what went in, with every contract left empty.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis.stateful import RuleBasedStateMachine
from web3 import Web3
from web3.types import TxReceipt

from chain.clients import ProviderInfo
from chain.connection import advance_time
from chain.errors import ContractRevert
from chain.tx import TransactionFailed

MARGIN_S = 3  # seconds around a time boundary where either outcome is accepted
SETTINGS = settings(
    max_examples=8,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
OK = ""  # the expectation of a call that must succeed
Expectation = str | None  # OK, the custom error it must revert with, or None: either


def run_once_gas_estimates(w3: Web3) -> Web3:
    """Make the in-process EVM estimate gas with one run of the call instead of py-evm's
    binary search (about 13 runs): the call runs once at the block gas limit, reverts exactly
    as before, and otherwise gets twice the gas it used before refunds (ample for the 63/64
    rule and refunds; unused gas is not charged). Only for the property tests' own chain."""
    from eth.vm.spoof import SpoofTransaction

    def estimate(state: Any, transaction: Any) -> int:
        trial = SpoofTransaction(transaction, gas=state.gas_limit, gas_price=0)
        snapshot = state.snapshot()
        try:
            computation = state.apply_transaction(trial)
        finally:
            state.revert(snapshot)
        if computation.is_error:
            raise computation.error
        return min(state.gas_limit, 2 * computation.get_gas_used() + 21_000)

    w3.provider.ethereum_tester.backend.chain.gas_estimator = estimate
    return w3


_SIGNED: dict[tuple[int, str, str], Any] = {}


def signed(client: Any, account: Any) -> Any:
    """``client.as_(account)``, built once per (contract, account): building a client parses
    its ABI, which would otherwise dominate a step."""
    key = (id(client.w3), client.address, account.address)
    if key not in _SIGNED:
        _SIGNED[key] = client.as_(account)
    return _SIGNED[key]


def run_ahead_of_the_clock(w3: Web3, seconds: int = 6 * 3600) -> None:
    """Move the in-process chain ``seconds`` ahead of the wall clock. Its next block is then
    always one second after the latest one, so runs started from one snapshot see the same
    timestamps however long earlier runs took (and a failing run replays the same)."""
    advance_time(w3, seconds)


def first_failure(*checks: tuple[bool | None, str]) -> Expectation:
    """The error of the first failing check, in the contract's order; OK when all pass;
    None when a check before the first failure is too close to call."""
    for ok, error in checks:
        if ok is None:
            return None
        if not ok:
            return error
    return OK


def either(*outcomes: bool) -> bool | None:
    """One outcome when every possibility agrees, None otherwise."""
    return outcomes[0] if len(set(outcomes)) == 1 else None


@dataclass
class StakeModel:
    """One provider's stake as the registry keeps it, in wei."""

    stake: int
    pending: int = 0
    ready_at: int = 0
    reserved: int = 0
    exposure_until: int = 0
    slashed_total: int = 0
    banned: bool = False
    nonce: int = 0

    def locked(self, exposed: bool, attestation_slash: int) -> int:
        return self.reserved + (attestation_slash if exposed else 0)

    def free(self, exposed: bool, attestation_slash: int) -> int:
        return max(0, self.stake - self.locked(exposed, attestation_slash))

    def unreserved(self) -> int:
        """What a challenge's lock can still take (active and cooling-down stake)."""
        return self.stake + self.pending - self.reserved

    def active(self, min_stake: int) -> bool:
        return not self.banned and self.stake >= min_stake

    def shortfall(self, exposed: bool, attestation_slash: int) -> int:
        """Stake in cooldown that the locks still need."""
        return max(0, self.locked(exposed, attestation_slash) - self.stake)

    def complete_unstake(self, exposed: bool, attestation_slash: int) -> int:
        """Complete the cooldown; returns the wei released (the rest stays pending)."""
        keep = self.shortfall(exposed, attestation_slash)
        released = self.pending - keep
        self.pending = keep
        if keep == 0:
            self.ready_at = 0
        return released

    def slash_lock(self, lock_amount: int, amount: int, ban_threshold: int) -> None:
        """Close a lock taking ``amount`` of it: active stake first, then the cooldown."""
        self.reserved -= lock_amount
        from_stake = min(amount, self.stake)
        self.stake -= from_stake
        self.pending -= amount - from_stake
        self.slashed_total += amount
        if self.slashed_total >= ban_threshold:
            self.banned = True

    @classmethod
    def from_chain(cls, info: ProviderInfo) -> StakeModel:
        """A run's starting point, read from the snapshot it starts from."""
        return cls(
            stake=info.stake,
            pending=info.pending_unstake,
            ready_at=info.unstake_ready_at,
            reserved=info.reserved,
            exposure_until=info.exposure_until,
            slashed_total=info.slashed_total,
            banned=info.banned,
            nonce=info.attest_nonce,
        )

    def assert_matches(self, info: ProviderInfo) -> None:
        on_chain = (
            info.stake,
            info.pending_unstake,
            info.unstake_ready_at,
            info.reserved,
            info.exposure_until,
            info.slashed_total,
            info.banned,
            info.attest_nonce,
        )
        model = (
            self.stake,
            self.pending,
            self.ready_at,
            self.reserved,
            self.exposure_until,
            self.slashed_total,
            self.banned,
            self.nonce,
        )
        assert on_chain == model, f"{info.address}: chain {on_chain} != model {model}"


@dataclass(frozen=True)
class Opening:
    """The ledgers of a snapshot: what each account may withdraw from each contract, and
    every wei paid in so far (nothing was withdrawn yet, so all the contracts hold)."""

    clients: tuple[Any, ...]
    accounts: tuple[Any, ...]
    owed: dict[tuple[str, str], int]
    paid_in: int

    @classmethod
    def read(cls, w3: Web3, clients: Iterable[Any], accounts: Iterable[Any]) -> Opening:
        clients, accounts = tuple(clients), tuple(accounts)
        owed = {
            (c.address, a.address): c.withdrawable(a.address) for c in clients for a in accounts
        }
        paid_in = sum(w3.eth.get_balance(c.address) for c in clients)
        return cls(clients, accounts, owed, paid_in)


class LedgerMachine(RuleBasedStateMachine):
    """Per-contract ledgers of what each account is owed, and checked calls."""

    w3: Web3

    def reset_ledger(self, opening: Opening) -> None:
        """Start from the ledgers of the snapshot the run starts from."""
        self.clients = {c.address: c for c in opening.clients}
        self.accounts = list(opening.accounts)
        self.owed = dict(opening.owed)
        self.withdrawn = dict.fromkeys(self.owed, 0)
        self.dirty = set(self.owed)  # (ledger, account) pairs to compare with the chain
        self.paid_in = opening.paid_in
        self.paid_out = 0

    def credit(self, book: str, address: str, amount: int) -> None:
        self.owed[(book, address)] += amount
        self.dirty.add((book, address))

    def due(self, book: str, address: str) -> int:
        return self.owed[(book, address)] - self.withdrawn[(book, address)]

    def total_due(self, book: str) -> int:
        return sum(self.due(book, a.address) for a in self.accounts)

    # -- time

    def now(self) -> int:
        """The time of the next block (the pending one: after a revert to an old snapshot the
        latest block lags the clock)."""
        return self.w3.eth.get_block("pending")["timestamp"]

    def block_time(self, receipt: TxReceipt) -> int:
        return self.w3.eth.get_block(receipt["blockNumber"])["timestamp"]

    def before(self, boundary: int, *, inclusive: bool = True) -> bool | None:
        """Whether the next block is (at or) before ``boundary``; None when too close."""
        now = self.now()
        if abs(now - boundary) <= MARGIN_S:
            return None
        return now <= boundary if inclusive else now < boundary

    def after(self, boundary: int, *, inclusive: bool = True) -> bool | None:
        """Whether the next block is (at or) after ``boundary``; None when too close."""
        early = self.before(boundary, inclusive=not inclusive)
        return None if early is None else not early

    # -- calls

    def attempt(
        self, expected: Expectation, fn: Callable[[], TxReceipt], value: int = 0
    ) -> TxReceipt | None:
        """Run ``fn`` (which sends ``value``): it must succeed (OK) or revert with the
        expected custom error; None accepts either. Returns the receipt on success."""
        rule_name = sys._getframe(1).f_code.co_name  # for --hypothesis-show-statistics
        try:
            receipt = fn()
        except ContractRevert as exc:
            event(f"{rule_name}: {exc.name}")
            assert expected != OK, f"expected success, got {exc}"
            assert expected is None or exc.name == expected, f"expected {expected}, got {exc}"
            return None
        except TransactionFailed:  # estimated at one time, mined a second later
            assert expected is None, f"expected {expected!r}, but it failed on chain"
            return None
        assert expected in (OK, None), f"expected {expected}, but the call succeeded"
        event(f"{rule_name}: ok")
        self.paid_in += value
        return receipt

    def withdraw_and_check(self, client: Any, account: Any) -> None:
        """Withdraw through ``client`` as ``account``; it must receive exactly what it is owed."""
        book = client.address
        due = self.due(book, account.address)
        before = self.w3.eth.get_balance(account.address)
        try:
            receipt = signed(client, account).withdraw()
        except ContractRevert as exc:
            assert due == 0 and exc.name == "NothingToWithdraw", f"owed {due} but {exc}"
            return
        gas_cost = receipt["gasUsed"] * receipt["effectiveGasPrice"]
        received = self.w3.eth.get_balance(account.address) - before + gas_cost
        assert received == due, f"withdrew {received}, was owed {due}"
        self.withdrawn[(book, account.address)] += received
        self.paid_out += received
        self.dirty.add((book, account.address))

    # -- checks

    def check_withdrawable(self, everyone: bool = False) -> None:
        """The withdrawable balance of every account the last step credited or paid (or of
        everyone) equals the model's. A credit to anyone else leaves the contract's balance
        as it was, and shows when everybody withdraws everything at the end."""
        pairs = self.owed if everyone else self.dirty
        for book, address in pairs:
            client = self.clients[book]
            on_chain, due = client.withdrawable(address), self.due(book, address)
            assert on_chain == due, (
                f"{client.contract_name}: {address} may withdraw {on_chain}, model says {due}"
            )
        self.dirty = set()

    def assert_balance(self, book: str, held: int) -> None:
        """The contract holds exactly ``held`` for open business plus every unwithdrawn wei."""
        balance = self.w3.eth.get_balance(book)
        expected = held + self.total_due(book)
        name = self.clients[book].contract_name
        assert balance == expected, f"{name} holds {balance}, model says {expected}"

    def withdraw_everything(self) -> None:
        """Everybody withdraws everything from every contract; all must end empty and what
        came out must equal what went in."""
        for client in self.clients.values():
            for account in self.accounts:
                if self.due(client.address, account.address):
                    self.withdraw_and_check(client, account)
        self.check_withdrawable(everyone=True)
        for book in self.clients:
            assert self.w3.eth.get_balance(book) == 0, f"{self.clients[book].contract_name}"
        assert self.paid_out == self.paid_in, f"paid out {self.paid_out}, in {self.paid_in}"

    # -- end of a run

    def settle_everything(self) -> None:  # pragma: no cover - each machine defines it
        raise NotImplementedError

    def teardown(self) -> None:
        """Settle and withdraw everything, unless the run already failed (its error is the
        one to report) or never started."""
        if sys.exc_info()[0] is not None or not hasattr(self, "clients"):
            return
        self.settle_everything()
        self.withdraw_everything()
