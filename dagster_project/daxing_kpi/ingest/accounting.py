"""Row accounting: one ``audit.ingest_audit`` row per landing file.

Per file: ``rows_read = rows_loaded + rows_quarantined + rows_superseded``, where ``rows_loaded``
counts every record loaded into the raw layer, with or without a field fault, and
``rows_loaded_with_field_faults`` those loaded with at least one field NULL for a fault. The reasons
are JSON objects (reason -> rows): ``reasons`` of the rows quarantined, ``field_fault_reasons`` of the
field faults of the rows loaded.

Statuses: ``loaded``; ``partly_superseded`` / ``superseded`` (rows replaced by a later delivery of
the same scope); ``skipped_duplicate_file`` (the same bytes as an earlier file); ``rejected`` (the
file set aside, :class:`daxing_kpi.ingest.reasons.FileRejected`: nothing of it is loaded, its rows
count as quarantined, ``rejected_reason_zh``/``rejected_reason_en`` say why).

``delivery_cutoff_date`` / ``delivery_cutoff_source``: :mod:`daxing_kpi.ingest.cutoff`;
``rules_digest``: the contract and rules the file was read under (a rejected file is read again when
they change).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from daxing_kpi.ingest.contracts import Contract
from daxing_kpi.ingest.cutoff import delivery_cutoff
from daxing_kpi.ingest.reasons import FileRejected

# Columns the audit gained with issue 15 (audit.ingest_audit and the published ingest_audit).
AUDIT_COLUMNS_ADDED = (
    ("rows_loaded_with_field_faults", "BIGINT"), ("field_fault_reasons", "VARCHAR"),
    ("rejected_reason_zh", "VARCHAR"), ("rejected_reason_en", "VARCHAR"),
    ("delivery_cutoff_date", "DATE"), ("delivery_cutoff_source", "VARCHAR"), ("rules_digest", "VARCHAR"),
)


def _reason_json(p: pd.DataFrame) -> str:
    counts = p.groupby("reason")["rid"].nunique().to_dict() if len(p) else {}
    return json.dumps({k: int(v) for k, v in sorted(counts.items())}, ensure_ascii=False)


def file_audit_row(contract: Contract, f, problems: pd.DataFrame, superseded: np.ndarray, scope: pd.Series | None,
                   superseded_by: set[str], order: dict[str, int], quarantined: str, field_fault: str) -> dict:
    """The audit row of a file that was loaded (wholly or partly), from its problems (those of rows not
    superseded) and its superseded rows."""
    n_read = f.rows_read
    n_sup = n_read if f.known_rows is not None else int(superseded.sum())
    q = problems[problems["disposition"] == quarantined]
    ff = problems[problems["disposition"] == field_fault]
    n_q = int(q["rid"].nunique())
    status = "loaded" if n_sup == 0 else ("superseded" if n_sup == n_read else "partly_superseded")
    scope_text = None
    if contract.delivery_scope is not None:
        vals = sorted(scope.dropna().unique()) if scope is not None else sorted(f.known_scopes or ())
        scope_text = "complete export" if not contract.delivery_scope else (",".join(vals[:50]) + (" ..." if len(vals) > 50 else ""))
    cutoff = f.cutoff or (None, None)
    return dict(
        source_id=contract.source_id, file_name=f.label, sha256=f.digest, status=status,
        rows_read=n_read, rows_loaded=n_read - n_sup - n_q, rows_quarantined=n_q, rows_superseded=n_sup,
        rows_loaded_with_field_faults=int(ff["rid"].nunique()),
        reasons=_reason_json(q), field_fault_reasons=_reason_json(ff),
        sheets=json.dumps(f.sheets, ensure_ascii=False) if f.sheets else None,
        delivery_scope=scope_text, superseded_by=", ".join(sorted(superseded_by, key=order.get)) or None,
        duplicate_of=None, file_modified_at=f.modified, rejected_reason_zh=None, rejected_reason_en=None,
        delivery_cutoff_date=cutoff[0], delivery_cutoff_source=cutoff[1], rules_digest=contract.digest,
    )


def rejected_audit_row(contract: Contract, path: Path, label: str, digest: str, err: FileRejected, rows_read: int, f=None) -> dict:
    """The audit row of a file set aside: nothing loaded, its ``rows_read`` records counted as quarantined."""
    modified = dt.datetime.fromtimestamp(Path(path).stat().st_mtime)
    cutoff = f.cutoff if f is not None and f.cutoff else delivery_cutoff((), Path(path).name, modified)
    reasons = "{}"
    if f is not None and len(f.problems):
        reasons = _reason_json(f.problems)
    return dict(
        source_id=contract.source_id, file_name=label, sha256=digest, status="rejected",
        rows_read=rows_read, rows_loaded=0, rows_quarantined=rows_read, rows_superseded=0, rows_loaded_with_field_faults=0,
        reasons=reasons, field_fault_reasons="{}", sheets=json.dumps(f.sheets, ensure_ascii=False) if f is not None and f.sheets else None,
        delivery_scope=None, superseded_by=None, duplicate_of=None, file_modified_at=modified.isoformat(timespec="seconds"),
        rejected_reason_zh=err.reason_zh, rejected_reason_en=err.reason_en,
        delivery_cutoff_date=cutoff[0], delivery_cutoff_source=cutoff[1], rules_digest=contract.digest,
    )
