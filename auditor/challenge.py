"""Challenging a posted claim, ruling on it on a dev chain, and collecting bond and reward.

The claim material is decoded from the transaction that posted it (a single attestation,
or the batch header, every leaf and the item), so the challenge names exactly what was
signed; the counter-report hash names the auditor's own measurement in the blob store.
The money follows docs/contracts.md: the bond (at least ``minChallengeBond``) is held by
the attestation registry; an upheld ruling slashes the provider's locked stake and
credits the challengers' share; ``settleChallenger`` credits bond + reward; ``withdraw``
pays it out.
"""

from __future__ import annotations

from eth_account.signers.local import LocalAccount

from auditor.results import ChallengeResult, Ruling, Withdrawal
from chain.claims import decode_attestation_tx
from chain.clients import ChallengeStatus, Market
from chain.connection import is_dev_chain
from protocol.eip712 import as_bytes32


class AuditError(Exception):
    """An auditor action cannot be carried out (the message says why)."""


def _tx_hex(receipt: dict) -> str:
    return receipt["transactionHash"].to_0x_hex()


def min_bond(market: Market) -> int:
    return market.attestations.contract.functions.minChallengeBond().call()


def challenge_claim(
    market: Market, tx_hash: str, index: int, counter_report_hash: str, bond_wei: int | None
) -> ChallengeResult:
    """Challenge item ``index`` of the attestation posted by ``tx_hash`` (market bound to
    the challenger's account)."""
    w3 = market.attestations.w3
    try:
        tx = w3.eth.get_transaction(tx_hash)
    except Exception as exc:  # TransactionNotFound and friends
        raise AuditError(f"no transaction {tx_hash} on this chain: {exc}") from None
    try:
        claims = decode_attestation_tx(market, tx["input"])
    except ValueError as exc:
        raise AuditError(f"{tx_hash} is not an attestation transaction: {exc}") from None
    if not 0 <= index < len(claims.measurements):
        raise AuditError(f"{tx_hash} posted {len(claims.measurements)} items, no item {index}")
    counter = "0x" + as_bytes32(counter_report_hash).hex()
    bond = min_bond(market) if bond_wei is None else bond_wei
    reg = market.attestations
    if claims.attestation is not None:
        receipt = reg.challenge_attestation(claims.attestation, counter, bond)
    else:
        assert claims.header is not None
        item = claims.measurements[index]
        receipt = reg.challenge_batch_item(claims.header, claims.leaves, index, item, counter, bond)
    challenge_id = reg.challenge_id(receipt)
    info = reg.get_challenge(challenge_id)
    return ChallengeResult(
        challenge_id=challenge_id,
        claim_hash=claims.claim_hashes[index],
        provider=claims.provider,
        tx_hash=_tx_hex(receipt),
        bond_wei=bond,
        counter_report_hash=counter,
        status=info.status.name,
        stake_locked_wei=info.stake_locked,
    )


def resolve(market: Market, arbiter: LocalAccount, challenge_id: int, upheld: bool) -> Ruling:
    """Rule on a case as the arbiter; dev chains only (a real market's arbiter is not the
    auditor)."""
    reg = market.attestations
    if not is_dev_chain(reg.w3):
        raise AuditError("--resolve-as-arbiter is for dev chains only (hardhat, in-process EVM)")
    role = reg.contract.functions.ARBITER_ROLE().call()
    if not reg.contract.functions.hasRole(role, arbiter.address).call():
        raise AuditError(f"{arbiter.address} does not hold ARBITER_ROLE on this registry")
    receipt = reg.as_(arbiter).resolve_challenge(challenge_id, upheld)
    event = reg._events("ChallengeResolved", receipt)[0]["args"]
    return Ruling(
        challenge_id=challenge_id,
        upheld=upheld,
        status=ChallengeStatus(event["outcome"]).name,
        slashed_wei=int(event["slashed"]),
        challenger_reward_wei=int(event["challengerReward"]),
        tx_hash=_tx_hex(receipt),
    )


def _settle_expired(market: Market, challenge_id: int) -> list[str]:
    """Apply the default ruling to an open case past its deadline (anyone may)."""
    reg = market.attestations
    info = reg.get_challenge(challenge_id)
    if info.status is not ChallengeStatus.OPEN:
        return []
    deadline = info.opened_at + reg.contract.functions.rulingPeriod().call()
    if reg.w3.eth.get_block("latest")["timestamp"] <= deadline:
        return []
    return [_tx_hex(reg.settle_expired_challenge(challenge_id))]


def settle_all(market: Market, me: str, from_block: int = 0) -> tuple[list[int], int, list[str]]:
    """Settle every decided case ``me`` joined (bond back, plus the reward of an upheld one),
    applying default rulings that are due: (settled case ids, wei credited, transactions)."""
    reg = market.attestations
    joined = reg.contract.events.ChallengerJoined().get_logs(
        argument_filters={"challenger": me}, from_block=from_block, to_block="latest"
    )
    settled, credited, txs = [], 0, []
    for challenge_id in dict.fromkeys(int(e["args"]["challengeId"]) for e in joined):
        if reg.bond_of(challenge_id, me) == 0:
            continue
        txs += _settle_expired(market, challenge_id)
        status = reg.get_challenge(challenge_id).status
        if status not in (ChallengeStatus.UPHELD, ChallengeStatus.EXPIRED):
            continue
        receipt = reg.settle_challenger(challenge_id, me)
        args = reg._events("ChallengerSettled", receipt)[0]["args"]
        settled.append(challenge_id)
        credited += int(args["bond"]) + int(args["reward"])
        txs.append(_tx_hex(receipt))
    return settled, credited, txs


def settle_and_withdraw(market: Market, me: str, from_block: int = 0) -> Withdrawal:
    """:func:`settle_all`, then withdraw the whole balance to ``me``."""
    settled, credited, txs = settle_all(market, me, from_block)
    reg = market.attestations
    balance = reg.withdrawable(me)
    if balance:
        txs.append(_tx_hex(reg.withdraw()))
    return Withdrawal(settled=settled, credited_wei=credited, withdrawn_wei=balance, tx_hashes=txs)
