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
they change). ``read_mode`` (added by :meth:`daxing_kpi.ingest.IngestResult.audit_rows`): ``read``,
``stage_cache`` (taken as staged at an earlier night, :mod:`daxing_kpi.ingest.stagecache`) or ``not_read``;
the other columns are the same whichever it is.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from daxing_kpi.ingest.contracts import Contract
from daxing_kpi.ingest.cutoff import delivery_cutoff
from daxing_kpi.ingest.reasons import FileRejected, Reason

# Columns the audit gained with issue 15 (audit.ingest_audit and the published ingest_audit).
AUDIT_COLUMNS_ADDED = (
    ("rows_loaded_with_field_faults", "BIGINT"), ("field_fault_reasons", "VARCHAR"),
    ("rejected_reason_zh", "VARCHAR"), ("rejected_reason_en", "VARCHAR"),
    ("delivery_cutoff_date", "DATE"), ("delivery_cutoff_source", "VARCHAR"), ("rules_digest", "VARCHAR"),
)


def reason_json(counts: dict[str, int]) -> str:
    """Records per reason as the audit writes them: a JSON object, reasons sorted."""
    return json.dumps({k: int(v) for k, v in sorted(counts.items())}, ensure_ascii=False)


def file_audit_counts(stage, f, superseded: str) -> dict:
    """What the audit counts of a file read (``f``, a :class:`daxing_kpi.ingest.stage.FileStage` on
    ``stage``), its rows matching the SQL condition ``superseded`` replaced by later deliveries:
    ``n_sup`` rows superseded, ``n_q`` quarantined, ``n_ff`` loaded with a field fault, and the records
    per reason of the quarantined (``q``) and of the field faults (``ff``) among the rows not superseded."""
    dup = f.dup_sql
    n_sup, n_q, n_ff, n_dup = stage.con.execute(
        f"SELECT count(*) FILTER (WHERE {superseded}), count(*) FILTER (WHERE NOT ({superseded}) AND (_q OR {dup})),"
        f" count(*) FILTER (WHERE NOT ({superseded}) AND NOT _q AND NOT {dup} AND _f IS NOT NULL),"
        f" count(*) FILTER (WHERE NOT ({superseded}) AND {dup}) FROM {f.table}").fetchall()[0]
    rows = stage.con.execute(f"SELECT bad, reason, count(DISTINCT rid) FROM {stage.problems_sql(f, f'NOT ({superseded})')}"
                             f" GROUP BY ALL").fetchall()
    q = {r: int(n) for b, r, n in rows if b}
    if n_dup:
        q[Reason.DUPLICATE] = q.get(Reason.DUPLICATE, 0) + int(n_dup)
    return dict(n_sup=int(n_sup), n_q=int(n_q), n_ff=int(n_ff), q=q, ff={r: int(n) for b, r, n in rows if not b})


def files_audit_counts(stage, files: list, superseded: dict[int, str]) -> dict[int, dict]:
    """:func:`file_audit_counts` of several files read (``superseded``: each file's condition, by its
    ``index``), in two queries per hundred files: ``index -> counts``."""
    if len(files) > 100:
        return {**files_audit_counts(stage, files[:100], superseded), **files_audit_counts(stage, files[100:], superseded)}
    if not files:
        return {}
    counts = " UNION ALL ".join(
        f"SELECT {f.index} AS fi, count(*) FILTER (WHERE {superseded[f.index]}) AS n_sup,"
        f" count(*) FILTER (WHERE NOT ({superseded[f.index]}) AND (_q OR {f.dup_sql})) AS n_q,"
        f" count(*) FILTER (WHERE NOT ({superseded[f.index]}) AND NOT _q AND NOT {f.dup_sql} AND _f IS NOT NULL) AS n_ff,"
        f" count(*) FILTER (WHERE NOT ({superseded[f.index]}) AND {f.dup_sql}) AS n_dup FROM {f.table}" for f in files)
    reasons = " UNION ALL ".join(
        f"SELECT {f.index} AS fi, bad, reason, count(DISTINCT rid) AS n FROM {stage.problems_sql(f, f'NOT ({superseded[f.index]})')}"
        f" GROUP BY ALL" for f in files)
    out = {int(fi): dict(n_sup=int(n_sup), n_q=int(n_q), n_ff=int(n_ff), q={}, ff={}, n_dup=int(n_dup))
           for fi, n_sup, n_q, n_ff, n_dup in stage.con.execute(counts).fetchall()}
    for fi, bad, reason, n in stage.con.execute(reasons).fetchall():
        out[int(fi)]["q" if bad else "ff"][reason] = int(n)
    for c in out.values():
        n_dup = c.pop("n_dup")
        if n_dup:
            c["q"][Reason.DUPLICATE] = c["q"].get(Reason.DUPLICATE, 0) + n_dup
    return out


def file_audit_row(contract: Contract, f, counts: dict, superseded_by: set[str], order: dict[str, int]) -> dict:
    """The audit row of a file that was loaded (wholly or partly): ``f`` a
    :class:`daxing_kpi.ingest.stage.FileStage`, ``counts`` from :func:`file_audit_counts` (or, for a
    file not read again, ``n_sup`` = its rows), ``superseded_by`` the labels of the files replacing its
    rows, ``order`` the delivery position of each label."""
    n_read = f.rows_read
    n_sup = counts["n_sup"]
    n_q = counts["n_q"]
    status = "loaded" if n_sup == 0 else ("superseded" if n_sup == n_read else "partly_superseded")
    scope_text = None
    if contract.delivery_scope is not None:
        vals = sorted(f.scopes) if f.known_scopes is None else sorted(f.known_scopes or ())
        scope_text = "complete export" if not contract.delivery_scope else (",".join(vals[:50]) + (" ..." if len(vals) > 50 else ""))
    cutoff = f.cutoff or (None, None)
    return dict(
        source_id=contract.source_id, file_name=f.label, sha256=f.digest, status=status,
        rows_read=n_read, rows_loaded=n_read - n_sup - n_q, rows_quarantined=n_q, rows_superseded=n_sup,
        rows_loaded_with_field_faults=counts["n_ff"],
        reasons=reason_json(counts["q"]), field_fault_reasons=reason_json(counts["ff"]),
        sheets=json.dumps(f.sheets, ensure_ascii=False) if f.sheets else None,
        delivery_scope=scope_text, superseded_by=", ".join(sorted(superseded_by, key=order.get)) or None,
        duplicate_of=None, file_modified_at=f.modified, rejected_reason_zh=None, rejected_reason_en=None,
        delivery_cutoff_date=cutoff[0], delivery_cutoff_source=cutoff[1], rules_digest=contract.digest,
    )


def rejected_audit_row(contract: Contract, path: Path, label: str, digest: str, err: FileRejected, rows_read: int, f=None,
                       reasons: str = "{}") -> dict:
    """The audit row of a file set aside: nothing loaded, its ``rows_read`` records counted as quarantined;
    ``f`` the file's :class:`daxing_kpi.ingest.stage.FileStage` when it was read (past its limit), ``reasons``
    the records per reason of its faults (:func:`reason_json`)."""
    modified = dt.datetime.fromtimestamp(Path(path).stat().st_mtime)
    cutoff = f.cutoff if f is not None and f.cutoff else delivery_cutoff((), Path(path).name, modified)
    return dict(
        source_id=contract.source_id, file_name=label, sha256=digest, status="rejected",
        rows_read=rows_read, rows_loaded=0, rows_quarantined=rows_read, rows_superseded=0, rows_loaded_with_field_faults=0,
        reasons=reasons, field_fault_reasons="{}", sheets=json.dumps(f.sheets, ensure_ascii=False) if f is not None and f.sheets else None,
        delivery_scope=None, superseded_by=None, duplicate_of=None, file_modified_at=modified.isoformat(timespec="seconds"),
        rejected_reason_zh=err.reason_zh, rejected_reason_en=err.reason_en,
        delivery_cutoff_date=cutoff[0], delivery_cutoff_source=cutoff[1], rules_digest=contract.digest,
    )
