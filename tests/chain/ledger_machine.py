"""What the money-path state machines share: a model ledger of what each account is owed,
outcome checking that tolerates time boundaries, and withdrawals checked to the wei."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine
from web3 import Web3

from chain.errors import ContractRevert

MARGIN_S = 3  # seconds around a time boundary where either outcome is accepted
SETTINGS = settings(
    max_examples=12,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


class LedgerMachine(RuleBasedStateMachine):
    w3: Web3

    def reset_ledger(self, accounts: Iterable[Any]) -> None:
        self.owed = {a.address: 0 for a in accounts}
        self.withdrawn = {a.address: 0 for a in accounts}

    def due(self, address: str) -> int:
        return self.owed[address] - self.withdrawn[address]

    def now(self) -> int:
        return self.w3.eth.get_block("latest")["timestamp"]

    def expect_before(
        self, expected: bool, boundary: int, *, inclusive: bool = True
    ) -> bool | None:
        """``expected`` if now is (at or) before ``boundary``; None when too close to call."""
        if not expected:
            return False
        now = self.now()
        if abs(now - boundary) <= MARGIN_S:
            return None
        return now <= boundary if inclusive else now < boundary

    def expect_after(self, expected: bool, boundary: int) -> bool | None:
        """``expected`` if now is at or after ``boundary``; None when too close to call."""
        if not expected:
            return False
        now = self.now()
        if abs(now - boundary) <= MARGIN_S:
            return None
        return now >= boundary

    @staticmethod
    def attempt(expected: bool | None, fn: Callable[[], object]) -> bool:
        """Run ``fn``; a revert must match ``expected`` (None: either outcome is fine)."""
        try:
            fn()
            ok = True
        except ContractRevert:
            ok = False
        if expected is not None:
            assert ok == expected, f"expected {'success' if expected else 'revert'}"
        return ok

    def withdraw_and_check(self, client: Any, account: Any) -> None:
        """Withdraw through ``client`` as ``account``; it must receive exactly what it is owed."""
        due = self.due(account.address)
        before = self.w3.eth.get_balance(account.address)
        try:
            receipt = client.as_(account).withdraw()
        except ContractRevert as exc:
            assert due == 0 and exc.name == "NothingToWithdraw", f"owed {due} but {exc}"
            return
        gas_cost = receipt["gasUsed"] * receipt["effectiveGasPrice"]
        received = self.w3.eth.get_balance(account.address) - before + gas_cost
        assert received == due, f"withdrew {received}, was owed {due}"
        self.withdrawn[account.address] += received
