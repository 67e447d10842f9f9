"""Loading the plan workbooks of ``landing/plans/`` into the raw layer, each accepted or rejected whole.

:func:`ingest_plan_workbooks` reads every workbook of the folder (``.xlsx``; hidden files and Excel's
``~$`` lock files ignored) with :func:`daxing_kpi.plans.workbook.read_workbook`. A workbook with any
problem is rejected: none of its rows is loaded, and every problem is recorded with its sheet, row and
column (the night goes on and publishes everything else). Of the accepted workbooks of one plan (same
``plan_id``) the newest (modification time, then name) is in force and the earlier ones are superseded,
so a corrected workbook replaces the previous one, and a rejected correction leaves the previous one in
force. A file with the same SHA-256 as an earlier one is skipped.

:func:`write_plan_workbooks` writes the result like any source (:func:`daxing_kpi.warehouse.write_raw`'s
layout): the raw tables ``raw.plan_workbook_plans``, ``raw.plan_workbook_targets``,
``raw.plan_workbook_milestones`` and ``raw.plan_workbook_sections`` (typed columns plus the lineage
``_source_file, _sheet, _row_number, _file_sha256``), their Parquet copies (:mod:`daxing_kpi.raw_parquet`),
one ``audit.ingest_audit`` row per workbook and sheet, and one ``audit.quarantine`` row per problem (the
Chinese message as ``reason``) and per other row of a rejected workbook.

A rejected workbook is a file set aside (issue 15): audit status ``rejected`` with ``rejected_reason_zh`` and
``rejected_reason_en`` (every problem, naming sheet, row and column) where the audit has those columns; in a
working database from before them, status ``loaded`` with every row read quarantined (``rows_loaded`` 0).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from daxing_kpi.ingest import FileRejected
from daxing_kpi.paths import SEEDS_DIR, landing_dir
from daxing_kpi.plans.contract import LANDING_FOLDER, sheets
from daxing_kpi.plans.workbook import PlanWorkbook, Problem, read_workbook

# Typed columns of each raw table (the lineage columns follow).
RAW_TABLES = {
    "plan": ("plan_workbook_plans", {
        "plan_id": "VARCHAR", "name_zh": "VARCHAR", "name_en": "VARCHAR", "short_name_zh": "VARCHAR",
        "short_name_en": "VARCHAR", "period_start_year": "INTEGER", "period_end_year": "INTEGER",
        "baseline_year": "INTEGER", "mid_term_review_year": "INTEGER", "is_example": "BOOLEAN"}),
    "targets": ("plan_workbook_targets", {
        "plan_id": "VARCHAR", "row_no": "INTEGER", "kpi_id": "VARCHAR", "indicator_name_zh": "VARCHAR",
        "target_kind": "VARCHAR", "comparator": "VARCHAR", "target_value": "DOUBLE", "target_value_upper": "DOUBLE",
        "target_year": "INTEGER", "count_basis": "VARCHAR", "plan_section": "VARCHAR", "source_clause_zh": "VARCHAR"}),
    "milestones": ("plan_workbook_milestones", {
        "plan_id": "VARCHAR", "kpi_id": "VARCHAR", "milestone_year": "INTEGER", "milestone_value": "DOUBLE"}),
    "sections": ("plan_workbook_sections", {
        "plan_id": "VARCHAR", "section_code": "VARCHAR", "title_zh": "VARCHAR", "title_en": "VARCHAR", "sort_order": "INTEGER"}),
}
LINEAGE = {"_source_file": "VARCHAR", "_sheet": "VARCHAR", "_row_number": "BIGINT", "_file_sha256": "VARCHAR"}
REJECTED_ROW = "所在工作簿有错误，整个工作簿未被采用（见同一文件的其他说明）"


@dataclass
class WorkbookFile:
    """One workbook of the landing folder and what became of it: ``loaded``, ``superseded`` (a newer
    accepted workbook of the same plan is in force), ``rejected`` or ``skipped_duplicate_file``."""

    label: str  # plans/<file name>
    sha256: str
    modified: str
    book: PlanWorkbook | None
    outcome: str = "loaded"
    superseded_by: str | None = None
    duplicate_of: str | None = None

    @property
    def problems(self) -> list[Problem]:
        return self.book.problems if self.book else []

    def rejection(self) -> FileRejected:
        """A rejected workbook as the ingestion package's :class:`FileRejected`: every problem in one Chinese and
        one English text, each naming its sheet, row and column."""
        return FileRejected(
            f"计划指标工作簿“{self.label}”有{len(self.problems)}处错误，未被采用：" + "；".join(p.text_zh for p in self.problems),
            f"plan workbook {self.label} rejected ({len(self.problems)} problems): " + "; ".join(p.text_en for p in self.problems))

    def reason_zh(self) -> str:
        return self.rejection().reason_zh

    def reason_en(self) -> str:
        return self.rejection().reason_en


@dataclass
class PlanIngest:
    """The workbooks of the landing folder and the accepted rows per raw table (role -> frame)."""

    files: list[WorkbookFile] = field(default_factory=list)

    @property
    def accepted(self) -> list[WorkbookFile]:
        return [f for f in self.files if f.outcome == "loaded"]

    @property
    def rejected(self) -> list[WorkbookFile]:
        return [f for f in self.files if f.outcome == "rejected"]

    def frame(self, role: str) -> pd.DataFrame:
        """Accepted rows of one raw table (typed columns and lineage), in file and row order."""
        _, columns = RAW_TABLES[role]
        rows = []
        for f in self.accepted:
            book = f.book
            records = [book.plan] if role == "plan" else getattr(book, role)
            for r in records:
                row = {c: r.get(c) for c in columns}
                if role == "plan":
                    row["plan_id"] = r.get("plan_id")
                row.update({"_source_file": f.label, "_sheet": r["_sheet"], "_row_number": r["_row"], "_file_sha256": f.sha256})
                rows.append(row)
        frame = pd.DataFrame(rows, columns=[*columns, *LINEAGE])
        return frame.astype(object).where(frame.notna(), None)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def workbook_files(folder: Path) -> list[Path]:
    """The workbooks of ``folder`` in delivery order (modification time, then name)."""
    if not folder.exists():
        return []
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".xlsx", ".xlsm")
             and not p.name.startswith((".", "~$"))]
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))


def ingest_plan_workbooks(landing_root: Path | None = None, seeds_dir: Path = SEEDS_DIR) -> PlanIngest:
    """Read and validate every workbook of ``<landing_root>/plans/`` (see the module doc)."""
    folder = Path(landing_root or landing_dir()) / LANDING_FOLDER
    result = PlanIngest()
    seen: dict[str, str] = {}
    for path in workbook_files(folder):
        label = f"{LANDING_FOLDER}/{path.name}"
        digest = _sha256(path)
        modified = pd.Timestamp(path.stat().st_mtime, unit="s").isoformat(timespec="seconds")
        if digest in seen:
            result.files.append(WorkbookFile(label, digest, modified, None, "skipped_duplicate_file", duplicate_of=seen[digest]))
            continue
        seen[digest] = label
        book = read_workbook(path, seeds_dir)
        result.files.append(WorkbookFile(label, digest, modified, book, "loaded" if book.ok else "rejected"))
    # the newest accepted workbook of each plan is in force
    in_force: dict[str, WorkbookFile] = {}
    for f in reversed(result.files):
        if f.outcome != "loaded":
            continue
        pid = f.book.plan_id
        if pid in in_force:
            f.outcome, f.superseded_by = "superseded", in_force[pid].label
        else:
            in_force[pid] = f
    return result


def _audit_and_quarantine(ingest: PlanIngest, run_id: str, rejected_status: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One audit row per workbook and sheet (source); one quarantine row per problem and rejected row.
    ``rejected_status``: the audit knows files set aside (status ``rejected`` with ``rejected_reason_zh`` and
    ``rejected_reason_en``, issue 15); else a rejected workbook is recorded as loaded with every row quarantined."""
    now = dt.datetime.now()
    roles = sheets()
    audit, quarantine = [], []
    for f in ingest.files:
        for role, (source_id, _) in RAW_TABLES.items():
            sheet = roles[role].name
            n = (f.book.rows_read.get(role, 0) if f.book else 0)
            loaded = n if f.outcome == "loaded" else 0
            superseded = n if f.outcome == "superseded" else 0
            quarantined = n if f.outcome == "rejected" else 0
            reasons = {}
            if f.outcome == "rejected":
                mine = [p for p in f.problems if p.sheet == sheet or (p.sheet is None and role == "plan")]
                rows_with_problem = {p.row for p in mine if p.row is not None}
                for p in mine:
                    quarantine.append({"source_id": source_id, "file_name": f.label, "sheet": p.sheet, "row_number": p.row,
                                       "column": p.column or "", "reason": p.text_zh, "value": p.value[:200]})
                    reasons[p.text_zh] = reasons.get(p.text_zh, 0) + 1
                data_rows = {r["_row"] for r in _rows(f.book, role)}
                for row in sorted(data_rows - rows_with_problem):
                    quarantine.append({"source_id": source_id, "file_name": f.label, "sheet": sheet, "row_number": row,
                                       "column": "", "reason": REJECTED_ROW, "value": ""})
                if data_rows - rows_with_problem:
                    reasons[REJECTED_ROW] = len(data_rows - rows_with_problem)
            audit.append({
                "run_id": run_id, "source_id": source_id, "file_name": f.label, "sha256": f.sha256,
                "status": ("rejected" if rejected_status else "loaded") if f.outcome == "rejected" else f.outcome,
                "rows_read": n, "rows_loaded": loaded, "rows_quarantined": quarantined, "rows_superseded": superseded,
                "reasons": json.dumps(reasons, ensure_ascii=False), "sheets": json.dumps({sheet: n}, ensure_ascii=False),
                "delivery_scope": f.book.plan_id if f.book and f.book.plan_id else None,
                "superseded_by": f.superseded_by, "duplicate_of": f.duplicate_of, "file_modified_at": f.modified,
                "loaded_at": now,
                **({"rejected_reason_zh": f.reason_zh() if f.outcome == "rejected" else None,
                    "rejected_reason_en": f.reason_en() if f.outcome == "rejected" else None} if rejected_status else {}),
            })
    q = pd.DataFrame(quarantine, columns=["source_id", "file_name", "sheet", "row_number", "column", "reason", "value"])
    q.insert(0, "run_id", run_id)
    q["quarantined_at"] = now
    return pd.DataFrame(audit), q


def _rows(book: PlanWorkbook | None, role: str) -> list[dict]:
    if book is None:
        return []
    if role == "plan":
        return [book.plan] if book.plan else []
    return getattr(book, role)


def replace_raw_tables(con, ingest: PlanIngest) -> dict[str, int]:
    """Replace the raw tables ``raw.plan_workbook_*`` on ``con`` with the accepted workbooks' rows (typed
    columns and lineage); returns rows per raw table. No transaction of its own."""
    rows = {}
    for role, (source_id, columns) in RAW_TABLES.items():
        ddl = ", ".join(f'"{c}" {t}' for c, t in {**columns, **LINEAGE}.items())
        con.execute(f'CREATE OR REPLACE TABLE raw."{source_id}" ({ddl})')
        frame = ingest.frame(role)
        if len(frame):
            con.register("plan_rows", frame)
            con.execute(f'INSERT INTO raw."{source_id}" BY NAME SELECT * FROM plan_rows')
            con.unregister("plan_rows")
        rows[source_id] = len(frame)
    return rows


def write_plan_workbooks(ingest: PlanIngest, run_id: str) -> dict[str, int]:
    """Write the raw tables, their Parquet copies, the audit and the quarantine of the plan workbooks (each
    raw table replaced in one transaction with its quarantine). Returns counts: ``workbooks``,
    ``plans_loaded``, ``workbooks_rejected``, ``workbooks_superseded``, ``problems``."""
    from daxing_kpi import raw_parquet
    from daxing_kpi.warehouse import connect_work, ensure_audit_tables

    with connect_work() as con:
        ensure_audit_tables(con)
        audit_columns = {r[0] for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'audit' AND table_name = 'ingest_audit'").fetchall()}
        audit, quarantine = _audit_and_quarantine(ingest, run_id, {"rejected_reason_zh", "rejected_reason_en"} <= audit_columns)
        con.execute("BEGIN")
        for source_id in replace_raw_tables(con, ingest):
            con.execute("DELETE FROM audit.quarantine WHERE source_id = ?", [source_id])
        if len(quarantine):
            con.register("plan_quarantine", quarantine)
            con.execute("INSERT INTO audit.quarantine BY NAME SELECT * FROM plan_quarantine")
            con.unregister("plan_quarantine")
        if len(audit):
            con.register("plan_audit", audit)
            con.execute("INSERT INTO audit.ingest_audit BY NAME SELECT * FROM plan_audit")
            con.unregister("plan_audit")
        con.execute("COMMIT")
        for source_id, _ in RAW_TABLES.values():
            raw_parquet.write_source(con, source_id)
        raw_parquet.write_audit(con)
    return {"workbooks": len(ingest.files), "plans_loaded": len(ingest.accepted), "workbooks_rejected": len(ingest.rejected),
            "workbooks_superseded": sum(f.outcome == "superseded" for f in ingest.files),
            "problems": sum(len(f.problems) for f in ingest.rejected)}
