"""`challenge`: the auditor bonds a challenge against a false claim (a single attestation or
a batch item), the arbiter upholds it on a dev chain, the provider is slashed, and the
auditor gets its bond back plus its share of the slash (balances checked to the wei)."""

from __future__ import annotations

import pytest
from web3 import Web3

from auditor import AuditError, results
from chain.clients import ChallengeStatus
from chain.connection import connect
from chain.deploy import MarketParams
from protocol.eip712 import Measurement
from tests.auditor.conftest import STREAM, Measured, World, make_world

PARAMS = MarketParams()
SLASH = PARAMS.attestation_slash_wei
REWARD = SLASH * PARAMS.challenger_share_bps // 10_000
BOND = PARAMS.min_challenge_bond_wei


def _gas(w3: Web3, tx_hashes: list[str]) -> int:
    total = 0
    for h in tx_hashes:
        r = w3.eth.get_transaction_receipt(h)
        total += r["gasUsed"] * r["effectiveGasPrice"]
    return total


def _inflated(world: World) -> tuple[dict, Measurement]:
    honest = world.measured.report(STREAM)
    claim = Measurement.from_report(honest)
    return honest, claim.model_copy(update={"tokensPerSecX1000": 3 * claim.tokensPerSecX1000})


def _challenge_slash_and_pay(world: World, batch: bool) -> None:
    w3, market, cheat = world.w3, world.market, world.cheat
    honest, lie = _inflated(world)
    counter = world.store.put_json(honest)  # what the cell really measures
    items = (
        [Measurement.from_report(world.measured.report("decode-heavy")), lie] if batch else [lie]
    )
    posted = world.post_measurements(cheat, *items)
    index = len(items) - 1
    auditor = world.auditor()
    flagged = auditor.verify_all().find(posted.tx_hash, index)
    assert results.REPORT_MISMATCH in flagged.codes()

    stake_before = market.registry.get_provider(cheat.address).stake
    treasury_before = market.attestations.withdrawable(world.admin.address)
    balance_before = w3.eth.get_balance(world.auditor_account.address)
    case = auditor.challenge(posted.tx_hash, index, counter_report_hash=counter)
    assert case.claim_hash == flagged.claim_hash and case.status == "OPEN"
    assert (case.bond_wei, case.stake_locked_wei, case.provider) == (BOND, SLASH, cheat.address)
    assert market.attestations.get_challenge(case.challenge_id).status is ChallengeStatus.OPEN

    ruling = auditor.resolve_as_arbiter(case.challenge_id, world.admin, upheld=True)
    assert (ruling.status, ruling.slashed_wei, ruling.challenger_reward_wei) == (
        "UPHELD",
        SLASH,
        REWARD,
    )
    assert market.registry.get_provider(cheat.address).stake == stake_before - SLASH
    assert market.attestations.withdrawable(world.admin.address) == treasury_before + SLASH - REWARD

    paid = auditor.withdraw()
    assert paid.settled == [case.challenge_id]
    assert paid.credited_wei == paid.withdrawn_wei == BOND + REWARD
    gas = _gas(w3, [case.tx_hash, *paid.tx_hashes])
    assert w3.eth.get_balance(world.auditor_account.address) == balance_before + REWARD - gas
    assert market.attestations.withdrawable(world.auditor_account.address) == 0
    assert auditor.withdraw().settled == []  # nothing twice

    again = world.auditor().verify_all().find(posted.tx_hash, index)
    assert any("upheld" in r for r in again.reasons) and results.CHALLENGED in again.codes()


def test_a_false_single_attestation_is_challenged_slashed_and_the_auditor_paid(
    world: World,
) -> None:
    _challenge_slash_and_pay(world, batch=False)


def test_a_false_batch_item_is_challenged_slashed_and_the_auditor_paid(world: World) -> None:
    _challenge_slash_and_pay(world, batch=True)


@pytest.mark.slow
@pytest.mark.hardhat
def test_challenge_and_ruling_on_a_hardhat_node(hardhat_url: str, measured: Measured) -> None:
    _challenge_slash_and_pay(make_world(connect(hardhat_url), measured), batch=True)


def test_a_rejected_challenge_pays_the_bond_to_the_provider(world: World) -> None:
    honest = world.measured.report(STREAM)
    posted = world.post(world.honest, honest)
    auditor = world.auditor()
    case = auditor.challenge(posted.tx_hash, counter_report_hash=world.store.put_json(honest))
    ruling = auditor.resolve_as_arbiter(case.challenge_id, world.admin, upheld=False)
    assert (ruling.status, ruling.slashed_wei) == ("REJECTED", 0)
    assert world.market.attestations.withdrawable(world.honest.address) == BOND
    assert auditor.withdraw().settled == []


def test_challenges_need_a_stored_counter_report_and_an_attestation(world: World) -> None:
    auditor = world.auditor()
    posted = world.post(world.honest, world.measured.report(STREAM))
    with pytest.raises(AuditError, match="not in"):
        auditor.challenge(posted.tx_hash, counter_report_hash="0x" + "ab" * 32)
    counter = world.measured.reports[STREAM]
    with pytest.raises(AuditError, match="no item 3"):
        auditor.challenge(posted.tx_hash, 3, counter_report_hash=counter)
    register_tx = world.w3.eth.get_block(world.from_block + 1)["transactions"][0]
    with pytest.raises(AuditError, match="not an attestation transaction"):
        auditor.challenge(register_tx.to_0x_hex(), counter_report_hash=counter)
    with pytest.raises(AuditError, match="ARBITER_ROLE"):
        auditor.resolve_as_arbiter(1, world.auditor_account)
