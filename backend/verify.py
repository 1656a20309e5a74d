"""Re-verifying attestations: never trust a provider's claim without checking it.

For each attestation transaction the indexer stored, the verifier

1. decodes the transaction's input (``attest`` or ``attestBatch``) and checks that every
   item it carries is the one the ``Attested`` event announced;
2. recovers the EIP-712 signer and checks it was the provider's agent key *at the time*
   (bound before the block and not yet revoked), using the registry's key records;
3. records each claim's hash (what a challenge names: the attestation digest, or
   ``keccak256(batchDigest, leaf)`` for a batch item);
4. when the report blob is available, re-derives every attested figure from it
   (ids from its descriptors, headline integers, report hash) and keeps its metrics,
   quality and descriptors for the data set. A report not uploaded yet leaves
   ``report_ok`` unknown (None); :func:`recheck_reports` tries again later.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db import AttestationRow, ChainEvent, ReportRow
from chain.claims import decode_attestation_tx, signing_key_problem
from chain.clients import Market
from protocol.blobstore import BlobError, BlobStore
from protocol.eip712 import MEASUREMENT_FIELDS, Measurement
from protocol.report import ReportError


def _same(m: Measurement, row: AttestationRow) -> bool:
    fields = {n: getattr(m, n) for n, _ in MEASUREMENT_FIELDS}
    return (
        "0x" + fields["reportHash"].hex() == row.report_hash
        and "0x" + fields["methodId"].hex() == row.method_id
        and fields["tokensPerSecX1000"] == int(row.tokens_per_s_x1000)
    )


def verify_transaction(session: Session, market: Market, chain_id: int, tx_hash: str) -> int:
    """Verify the signature of every attestation of one transaction; returns how many."""
    rows = session.execute(
        select(AttestationRow, ChainEvent)
        .join(ChainEvent, AttestationRow.event_id == ChainEvent.id)
        .where(ChainEvent.chain_id == chain_id, ChainEvent.tx_hash == tx_hash)
        .order_by(ChainEvent.log_index)
    ).all()
    if not rows:
        return 0
    w3 = market.attestations.w3
    claims = decode_attestation_tx(market, w3.eth.get_transaction(tx_hash)["input"])
    block_time = w3.eth.get_block(rows[0][1].block_number)["timestamp"]
    problem = signing_key_problem(market, claims.signer, rows[0][0].provider, block_time)
    if len(claims.measurements) != len(rows):
        problem = f"{len(rows)} events but {len(claims.measurements)} signed items"
    for i, (row, _event) in enumerate(rows):
        row.signer, row.batch_index = claims.signer, i
        if i < len(claims.measurements):
            row.claim_hash = claims.claim_hashes[i]
            mismatch = not _same(claims.measurements[i], row)
        else:
            mismatch = True
        row.signature_ok = problem is None and not mismatch
        row.problem = problem or ("the event differs from the signed item" if mismatch else None)
    return len(rows)


def check_report(session: Session, store: BlobStore, row: AttestationRow) -> bool | None:
    """Re-derive the attested figures from the stored report (None: not available yet)."""
    try:
        if not store.has(row.report_hash):
            return None
        report = store.get_json(row.report_hash)
    except BlobError as exc:  # a corrupt blob is as bad as a lie
        row.report_ok, row.problem = False, f"report unreadable: {exc}"
        return False
    claim = Measurement(
        hardwareId=row.hardware_id,
        modelId=row.model_id,
        workloadId=row.workload_id,
        methodId=row.method_id,
        tokensPerSecX1000=int(row.tokens_per_s_x1000),
        ttftP50Us=int(row.ttft_p50_us),
        tpotP50Us=int(row.tpot_p50_us),
        peakMemBytes=int(row.peak_mem_bytes),
        reportHash=row.report_hash,
    )
    try:
        claim.check_supported_by(report)
    except ReportError as exc:
        row.report_ok, row.problem = False, str(exc)
        return False
    row.report_ok = True
    if session.get(ReportRow, row.report_hash) is None:
        session.add(
            ReportRow(
                report_hash=row.report_hash,
                metrics=report.get("metrics", {}),
                quality=report.get("quality", {}),
                descriptors={r: report[r] for r in ("model", "hardware", "workload", "method")},
            )
        )
        session.flush()
    return True


def recheck_reports(session: Session, store: BlobStore, chain_id: int, limit: int = 500) -> int:
    """Check the reports of attestations whose report was not available before."""
    rows = session.scalars(
        select(AttestationRow)
        .where(AttestationRow.chain_id == chain_id, AttestationRow.report_ok.is_(None))
        .limit(limit)
    )
    return sum(check_report(session, store, row) is not None for row in rows)
