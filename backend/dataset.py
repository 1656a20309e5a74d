"""The meta-learning data set: indexed attestations (+ their reports) -> a performance table.

One row per cell (model, hardware, workload, method), each a content id (the same
keccak256 ids the attestations carry), so cells from different providers and from
imported history line up. A cell's figures are the median over its distinct reports:

* attestations whose ``signature_ok`` or ``report_ok`` is False are left out (None, not
  checked yet, counts), and so are attestations of slashed providers;
* the same ``report_hash`` counts once (an agent re-attests a table under a new nonce),
  however many attestations carry it; every attestation id is still listed in the cell;
* speed figures are the attested (signed) headline integers converted back to
  tokens/s, ms and bytes; ``requests_per_s`` and ``e2e_p50_ms`` come from the report's
  metrics, and the quality figures (``exact_match_rate``, ``token_agreement``, and
  whether the method claims to be exact) from the report's ``quality`` block;
* descriptors of the four roles come from the reports (each checked against its id),
  so :class:`meta.features.MetaFeaturizer` can read them (``descriptors[role][id]``).

External tables (e.g. ``data/metadataset/cpu.csv`` + its descriptor sidecar) are
imported into ``external_cells`` with ``source="external:<name>"``; an external cell is
used only where no attested measurement of that cell exists (history fills gaps, the
chain wins).

``data_hash`` is the content id of the canonical rows without database-local ids (row
ids differ between two backends indexing the same chain, the data does not).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session

from backend.db import AttestationRow, ExternalCell, ProviderRow, ReportRow
from protocol.canonical import content_id

SCHEMA = "metainf.dataset/1"
TASK_COLS = ("model", "hardware", "workload")
METHOD_COL = "method"
KEY_COLS = (*TASK_COLS, METHOD_COL)
ROLES = KEY_COLS
METRIC = "output_tokens_per_s"
SPEED_COLUMNS = ("output_tokens_per_s", "ttft_p50_ms", "tpot_p50_ms", "peak_mem_bytes")
REPORT_COLUMNS = ("requests_per_s", "e2e_p50_ms")
QUALITY_COLUMNS = ("exact_match_rate", "token_agreement")
FIGURES = (*SPEED_COLUMNS, *REPORT_COLUMNS, *QUALITY_COLUMNS)
CHAIN = "chain"
LOCAL_IDS = ("attestation_ids", "external_ids")  # row ids of this database: not hashed
_SOURCE_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,47}")

Key = tuple[str, str, str, str]


class DatasetError(ValueError):
    """An external table cannot be imported (bad name, columns or descriptors)."""


@dataclass
class _Measurement:
    """One distinct report of a cell (all the attestations that carry it)."""

    figures: dict[str, float | None]
    exact: bool | None
    report_hash: str
    attestation_ids: list[int] = field(default_factory=list)
    providers: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Dataset:
    """A data set version: cells, descriptors and the hash that names them."""

    rows: list[dict[str, Any]]
    descriptors: dict[str, dict[str, dict[str, Any]]]
    data_hash: str
    watermark: dict[str, int]

    @property
    def n_cells(self) -> int:
        return len(self.rows)

    def names(self) -> dict[str, dict[str, str]]:
        """role -> id -> the descriptor's name (where it has one)."""
        return {
            role: {i: str(d.get("name", "")) for i, d in by_id.items() if d.get("name")}
            for role, by_id in self.descriptors.items()
        }

    def frame(self):  # -> pandas.DataFrame (imported lazily: the API must start fast)
        import pandas as pd

        columns = [*KEY_COLS, *FIGURES]
        return pd.DataFrame([{c: r.get(c) for c in columns} for r in self.rows], columns=columns)

    def to_table(self):  # -> meta.table.PerformanceTable
        """The ``meta`` performance table (metric: output tokens/s, higher is better)."""
        from meta.table import PerformanceTable

        extra = [c for c in FIGURES if c != METRIC]
        return PerformanceTable.from_frame(
            self.frame(), list(TASK_COLS), METHOD_COL, METRIC, extra_cols=extra
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "data_hash": self.data_hash,
            "n_cells": self.n_cells,
            "key_columns": list(KEY_COLS),
            "metric": METRIC,
            "rows": self.rows,
            "descriptors": self.descriptors,
        }

    def to_csv(self) -> str:
        names = self.names()
        columns = [
            *KEY_COLS,
            *(f"{r}_name" for r in ROLES),
            *FIGURES,
            "method_exact",
            "n_repeats",
            "source",
            "attestation_ids",
            "report_hashes",
        ]
        out = io.StringIO()
        writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            flat = dict(row)
            for role in ROLES:
                flat[f"{role}_name"] = names.get(role, {}).get(row[role], "")
            flat["attestation_ids"] = " ".join(map(str, row["attestation_ids"]))
            flat["report_hashes"] = " ".join(row["report_hashes"])
            writer.writerow({k: "" if v is None else v for k, v in flat.items()})
        return out.getvalue()

    def sidecar(self) -> dict[str, Any]:
        """What :class:`meta.features.MetaFeaturizer` takes as ``descriptors``."""
        return {role: dict(self.descriptors.get(role, {})) for role in ROLES}

    def cell_seq(self) -> dict[Key, int]:
        """How new each cell is: its newest attestation id (0 for imported history)."""
        return {_key(r): max(r["attestation_ids"], default=0) for r in self.rows}


def _key(row: Mapping[str, Any]) -> Key:
    return (row["model"], row["hardware"], row["workload"], row["method"])


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _median(values: Iterable[float | None]) -> float | None:
    xs = [v for v in values if v is not None]
    return float(statistics.median(xs)) if xs else None


# ------------------------------------------------------------------------------ reports


def report_row(report: Mapping[str, Any], report_hash: str | None = None) -> ReportRow:
    """The ``reports`` row of a benchmark report: its metrics, quality and descriptors.

    The shape the data set reads: ``descriptors = {role: descriptor}`` for the four roles.
    """
    return ReportRow(
        report_hash=report_hash or content_id(dict(report)),
        metrics=dict(report.get("metrics") or {}),
        quality=dict(report.get("quality") or {}),
        descriptors={role: report[role] for role in ROLES if isinstance(report.get(role), dict)},
    )


def _checked_descriptors(
    key: Key, descriptors: Mapping[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """The descriptors of a report whose content id is the cell's id (others dropped)."""
    out = {}
    for role, cell_id in zip(ROLES, key, strict=True):
        desc = (descriptors or {}).get(role)
        if isinstance(desc, dict) and content_id(desc) == cell_id:
            out[role] = desc
    return out


def _figures(att: AttestationRow, report: ReportRow | None) -> dict[str, float | None]:
    metrics = report.metrics if report is not None else {}
    quality = report.quality if report is not None else {}
    return {
        "output_tokens_per_s": float(att.tokens_per_s_x1000) / 1000.0,
        "ttft_p50_ms": float(att.ttft_p50_us) / 1000.0,
        "tpot_p50_ms": float(att.tpot_p50_us) / 1000.0,
        "peak_mem_bytes": float(att.peak_mem_bytes),
        **{c: _num(metrics.get(c)) for c in REPORT_COLUMNS},
        **{c: _num(quality.get(c)) for c in QUALITY_COLUMNS},
    }


# ------------------------------------------------------------------------------ building


def _slashed(session: Session) -> set[tuple[int, str]]:
    rows = session.execute(
        select(ProviderRow.chain_id, ProviderRow.address).where(ProviderRow.slashed.is_(True))
    )
    return {(chain_id, address.lower()) for chain_id, address in rows}


def _excluded():
    """The condition of an attestation that does not count (bad signature or report, or
    a challenge against it upheld, once the indexer records that)."""
    condition = AttestationRow.signature_ok.is_(False) | AttestationRow.report_ok.is_(False)
    upheld = getattr(AttestationRow, "challenge_upheld", None)
    return condition | upheld.is_(True) if upheld is not None else condition


def _usable_attestations(session: Session):
    """(attestation, report or None) pairs that count, in id order."""
    slashed = _slashed(session)
    query = (
        select(AttestationRow, ReportRow)
        .outerjoin(ReportRow, ReportRow.report_hash == AttestationRow.report_hash)
        .where(~_excluded())
        .order_by(AttestationRow.id)
    )
    for att, report in session.execute(query):
        if (att.chain_id, att.provider.lower()) not in slashed:
            yield att, report


def _collect_chain(
    session: Session, descriptors: dict[str, dict[str, dict[str, Any]]]
) -> dict[Key, dict[str, _Measurement]]:
    cells: dict[Key, dict[str, _Measurement]] = defaultdict(dict)
    for att, report in _usable_attestations(session):
        key: Key = (att.model_id, att.hardware_id, att.workload_id, att.method_id)
        m = cells[key].get(att.report_hash)
        if m is None:  # first attestation of this report: its figures are the report's
            exact = report.quality.get("exact") if report is not None else None
            m = _Measurement(
                _figures(att, report), exact if isinstance(exact, bool) else None, att.report_hash
            )
            cells[key][att.report_hash] = m
            if report is not None:
                for role, desc in _checked_descriptors(key, report.descriptors).items():
                    descriptors[role].setdefault(key[ROLES.index(role)], desc)
        m.attestation_ids.append(att.id)
        m.providers.add(att.provider)
    return cells


def _chain_row(key: Key, measurements: list[_Measurement]) -> dict[str, Any]:
    exact = {m.exact for m in measurements} - {None}
    return {
        **dict(zip(KEY_COLS, key, strict=True)),
        **{c: _median(m.figures[c] for m in measurements) for c in FIGURES},
        "method_exact": exact.pop() if len(exact) == 1 else None,
        "n_repeats": len(measurements),
        "source": CHAIN,
        "providers": sorted({p for m in measurements for p in m.providers}),
        "report_hashes": sorted(m.report_hash for m in measurements),
        "attestation_ids": sorted(i for m in measurements for i in m.attestation_ids),
        "external_ids": [],
    }


def _external_rows(
    session: Session, skip: set[Key], descriptors: dict[str, dict[str, dict[str, Any]]]
) -> tuple[list[dict[str, Any]], int]:
    by_key: dict[Key, list[ExternalCell]] = defaultdict(list)
    newest = 0
    for cell in session.scalars(select(ExternalCell).order_by(ExternalCell.id)):
        newest = max(newest, cell.id)
        key: Key = (cell.model_id, cell.hardware_id, cell.workload_id, cell.method_id)
        if key not in skip:
            by_key[key].append(cell)
    rows = []
    for key, cells in by_key.items():
        for cell in cells:
            for role, desc in _checked_descriptors(key, cell.descriptors).items():
                descriptors[role].setdefault(key[ROLES.index(role)], desc)
        figures = {
            c: _median(_num(x.metrics.get(c, x.quality.get(c))) for x in cells) for c in FIGURES
        }
        exact = {x.quality.get("exact") for x in cells} - {None}
        rows.append(
            {
                **dict(zip(KEY_COLS, key, strict=True)),
                **figures,
                "method_exact": exact.pop() if len(exact) == 1 else None,
                "n_repeats": sum(x.n_repeats for x in cells),
                "source": ",".join(sorted({x.source for x in cells})),
                "providers": [],
                "report_hashes": [],
                "attestation_ids": [],
                "external_ids": sorted(x.id for x in cells),
            }
        )
    return rows, newest


def data_hash(rows: Iterable[Mapping[str, Any]]) -> str:
    """Content id of the canonical rows, database-local ids left out."""
    canonical = [{k: v for k, v in r.items() if k not in LOCAL_IDS} for r in rows]
    return content_id({"schema": SCHEMA, "rows": canonical})


def build_dataset(session: Session) -> Dataset:
    """The current data set, from the database alone."""
    descriptors: dict[str, dict[str, dict[str, Any]]] = {role: {} for role in ROLES}
    chain = _collect_chain(session, descriptors)
    rows = [_chain_row(key, list(ms.values())) for key, ms in chain.items()]
    external, newest_external = _external_rows(session, set(chain), descriptors)
    rows = sorted([*rows, *external], key=_key)
    rows = [r for r in rows if (r[METRIC] or 0) > 0]
    newest_attestation = max((i for r in rows for i in r["attestation_ids"]), default=0)
    return Dataset(
        rows=rows,
        descriptors={role: dict(sorted(d.items())) for role, d in descriptors.items()},
        data_hash=data_hash(rows),
        watermark={"attestation_id": newest_attestation, "external_id": newest_external},
    )


def fingerprint(session: Session) -> tuple:
    """Changes whenever :func:`build_dataset` could give another answer (cheap to get)."""
    bad = case((_excluded(), 1), else_=0)
    att = session.execute(
        select(
            func.count(),
            func.max(AttestationRow.id),
            func.coalesce(func.sum(bad), 0),
            func.count(AttestationRow.report_ok),
        ).select_from(AttestationRow)
    ).one()
    ext = session.execute(select(func.count(), func.max(ExternalCell.id))).one()
    reports = session.scalar(select(func.count()).select_from(ReportRow))
    slashed = sorted(_slashed(session))
    database = str(session.get_bind().url)  # one process may serve several databases
    return (database, *att, *ext, reports, tuple(slashed))


class DatasetCache:
    """Rebuilds the data set only when :func:`fingerprint` changed (one per process)."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._value: Dataset | None = None

    def get(self, session: Session) -> Dataset:
        key = fingerprint(session)
        value = self._value
        if value is None or key != self._key:
            value = build_dataset(session)
            self._key, self._value = key, value
        return value


# ------------------------------------------------------------------------------ history


def _descriptor_ids(descriptors: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """role -> name -> content id, checked against the sidecar's ``ids`` where given."""
    ids: dict[str, dict[str, str]] = {}
    for role in ROLES:
        by_name = descriptors.get(role)
        if not isinstance(by_name, dict) or not by_name:
            raise DatasetError(f"descriptor sidecar has no {role!r} descriptors")
        ids[role] = {}
        for name, desc in by_name.items():
            cid = content_id(desc)
            claimed = ((descriptors.get("ids") or {}).get(role) or {}).get(name, cid)
            if claimed != cid:
                raise DatasetError(f"sidecar id of {role} {name!r} is not its content id")
            ids[role][name] = cid
    return ids


def _external_cells(
    rows: Iterable[Mapping[str, Any]], descriptors: Mapping[str, Any], source: str
) -> list[ExternalCell]:
    ids = _descriptor_ids(descriptors)
    groups: dict[Key, list[Mapping[str, Any]]] = defaultdict(list)
    for n, row in enumerate(rows, start=2):
        try:
            key = tuple(ids[role][str(row[role])] for role in ROLES)
        except KeyError as exc:
            raise DatasetError(f"row {n}: no descriptor or column for {exc}") from None
        groups[key].append(row)
    cells = []
    for key, group in groups.items():
        metrics = {c: _median(_num(r.get(c)) for r in group) for c in FIGURES}
        if metrics["peak_mem_bytes"] is None:
            metrics["peak_mem_bytes"] = _median(_num(r.get("peak_rss_bytes")) for r in group)
        if not (metrics[METRIC] or 0) > 0:
            continue  # a failed or unmeasured cell
        names = dict(zip(ROLES, (group[0][role] for role in ROLES), strict=True))
        cells.append(
            ExternalCell(
                source=source,
                **{f"{role}_id": cid for role, cid in zip(ROLES, key, strict=True)},
                metrics={c: metrics[c] for c in (*SPEED_COLUMNS, *REPORT_COLUMNS)},
                quality={c: metrics[c] for c in QUALITY_COLUMNS},
                descriptors={role: descriptors[role][str(names[role])] for role in ROLES},
                n_repeats=len(group),
            )
        )
    return cells


def import_external(
    session: Session,
    name: str,
    rows: Iterable[Mapping[str, Any]],
    descriptors: Mapping[str, Any],
) -> int:
    """Replace the history named ``name`` with ``rows`` (long format, one row per
    measurement, role columns holding descriptor names); returns the number of cells."""
    if not _SOURCE_NAME.fullmatch(name):
        raise DatasetError(f"external table name must match {_SOURCE_NAME.pattern}: {name!r}")
    source = f"external:{name}"
    cells = _external_cells(rows, descriptors, source)
    session.execute(delete(ExternalCell).where(ExternalCell.source == source))
    session.add_all(cells)
    session.flush()
    return len(cells)


def import_external_csv(
    session: Session, csv_path: str | Path, descriptors_path: str | Path, name: str | None = None
) -> int:
    """Import a table such as ``data/metadataset/cpu.csv`` with its descriptor sidecar."""
    csv_path = Path(csv_path)
    descriptors = json.loads(Path(descriptors_path).read_text())
    with csv_path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return import_external(session, name or csv_path.stem.lower(), rows, descriptors)
