"""Ingestion of one source: every landing file read, checked and accounted for; a bad file set aside.

:func:`ingest_source` reads every file of a source's landing folder in delivery order
(:mod:`daxing_kpi.ingest.redelivery`), each by content (:mod:`daxing_kpi.ingest.readers`), checks
each row against the contract (:mod:`daxing_kpi.ingest.fields`, :mod:`daxing_kpi.ingest.rows`) and
returns an :class:`IngestResult`:

* ``accepted``: the records loaded, typed, personal data removed (ID numbers replaced by a keyed
  hash; names, phones and addresses dropped), with lineage columns ``_source_file``, ``_sheet``,
  ``_row_number``, ``_file_sha256``; a field with a *field fault* is NULL;
* ``quarantine``: one row per faulty cell or non-record row: file, sheet, row, column, reason, the
  value (masked) and ``disposition``: ``quarantined`` (the record is not loaded: a fault in a column
  the contract's ``record_needs`` names, a town outside the district, a duplicate, a totals or
  signature row, cells beyond the header) or ``field_fault`` (loaded with that field NULL);
* ``audit``: one row per file (:mod:`daxing_kpi.ingest.accounting`).

A file that cannot be used is *set aside*, never the night: :class:`FileRejected` raised while reading
or checking it (empty, binary, damaged, no header matching the contract, or more than the contract's
``quality.max_rejected_share`` of its records quarantined) gives it status ``rejected`` with a reason
in Chinese and English, and the source's other files go on. A file set aside earlier (same SHA-256,
same contract and rules: ``known_rejections``) is not read again until it changes.

What reading each file cost (:attr:`IngestResult.read_costs`, issue 20.1): the CPU and wall seconds of reading and
checking it (header, line scan, the set-based pass into its staged table), by what the file holds
(:func:`daxing_kpi.ingest.readers.sniff`: ``text`` for a CSV or tab-separated file), so that the rate of CSV
parsing can be told apart from spreadsheets and from the source-wide work and writes that follow.

How each file was come by (:attr:`IngestResult.read_modes`, the audit's ``read_mode``): ``read`` (read and
checked now), ``stage_cache`` (not read again: its rows as staged at an earlier night under the same
rules, ``staged``; :mod:`daxing_kpi.ingest.stagecache`) or ``not_read`` (not needed: an identical copy, a
file wholly superseded by later deliveries, a file set aside earlier). What is loaded, quarantined and
audited does not depend on it.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from daxing_kpi.ingest.accounting import file_audit_row, files_audit_counts, reason_json, rejected_audit_row
from daxing_kpi.ingest.contracts import Contract
from daxing_kpi.ingest.cutoff import delivery_cutoff
from daxing_kpi.ingest.readers import sniff
from daxing_kpi.ingest.reasons import FileRejected, Reason
from daxing_kpi.ingest.redelivery import known_file_scopes, landing_files, sha256_file
from daxing_kpi.ingest.sqlpass import lit, q
from daxing_kpi.ingest.stage import (
    FIELD_FAULT, LINEAGE, NOT_REJECTIONS, QUARANTINE_COLUMNS, QUARANTINED, FileStage, SourceStage, empty_accepted, scope_sql,
)
from daxing_kpi.ingest.together import BATCH_BYTES, read_together, reads_together

__all__ = ["FIELD_FAULT", "NOT_READ", "NOT_REJECTIONS", "QUARANTINED", "QUARANTINE_COLUMNS", "READ", "READ_MODES", "STAGE_CACHE",
           "IngestResult", "ingest_source", "read_file"]

# How a file's rows were come by (audit column ``read_mode``)
READ, STAGE_CACHE, NOT_READ = "read", "stage_cache", "not_read"
READ_MODES = (READ, STAGE_CACHE, NOT_READ)
# added to the reason of a file set aside at an earlier run and not read again (zh, en); a full rebuild reads it again
SET_ASIDE_BEFORE = ("（此前已搁置，文件更改后才会重新读取）", " (set aside at an earlier run; read again once the file changes)")


def _modified(path: Path) -> dt.datetime:
    return dt.datetime.fromtimestamp(Path(path).stat().st_mtime)


def _kind(path: Path) -> str:
    """What a file holds (:func:`sniff`), ``unknown`` when it cannot be opened any more."""
    try:
        return sniff(path)
    except OSError:
        return "unknown"


def ingest_connection() -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB connection for ingestion, bounded like the warehouse's (memory limit,
    spill folder: :func:`daxing_kpi.memory.duckdb_config`)."""
    from daxing_kpi.memory import duckdb_config

    return duckdb.connect(":memory:", config=duckdb_config())


def _tmp_dir() -> Path:
    from daxing_kpi.memory import temp_directory

    return temp_directory()


@dataclass
class IngestResult:
    """What :func:`ingest_source` produced for one source.

    The rows stay in DuckDB (the staging's temporary tables on ``stage.con``): :meth:`accepted_sql` and
    :meth:`quarantine_sql` select them; :attr:`accepted` and :attr:`quarantine` are the same as pandas
    frames, built on first use (for tests and small sources: a large source is written with
    :func:`daxing_kpi.warehouse.write_raw` without passing through Python). ``audit``: one row per file;
    ``read_modes``: file label -> :data:`READ`, :data:`STAGE_CACHE` or :data:`NOT_READ` (how its rows were
    come by; :meth:`audit_rows` adds it to the audit as ``read_mode``)."""

    audit: list[dict]
    stage: SourceStage | None = None
    parts: list[str] = field(default_factory=list)  # SELECTs of the accepted rows, one per file, in order
    part_keys: list[tuple[str, str, bool]] = field(default_factory=list)  # (sha256, label, several sheets) of each part
    part_sorted: list[bool] = field(default_factory=list)  # whether a part has an ORDER BY of its own (duplicates taken out)
    files: list[FileStage] = field(default_factory=list)  # every file staged (read now or earlier), in delivery order
    quarantine_query: str | None = None
    read_modes: dict[str, str] = field(default_factory=dict)
    # label -> {kind, rows, cpu_seconds, wall_seconds} of each file read now (see read_costs_by_kind)
    read_costs: dict[str, dict] = field(default_factory=dict)
    _accepted: pd.DataFrame | None = field(default=None, repr=False)
    _quarantine: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def rejected(self) -> list[dict]:
        """Audit rows of the files set aside (status ``rejected``)."""
        return [a for a in self.audit if a["status"] == "rejected"]

    @property
    def rows_loaded(self) -> int:
        return sum(a["rows_loaded"] for a in self.audit)

    def audit_rows(self) -> list[dict]:
        """:attr:`audit` with each file's ``read_mode`` (the rows ``audit.ingest_audit`` gets)."""
        return [{**a, "read_mode": self.read_modes.get(a["file_name"])} for a in self.audit]

    def read_costs_by_kind(self) -> dict[str, dict]:
        """:attr:`read_costs` summed by what the files hold (``text``: CSV or tab-separated, ``xlsx``, ``xls``,
        ``html`` ...): ``kind -> {files, rows, cpu_seconds, wall_seconds}``. ``rows``: rows read (0 for a file
        that could not be read); ``cpu_seconds``: CPU time of the whole process (DuckDB's threads included)
        while the files were read and checked, no writing."""
        out: dict[str, dict] = {}
        for c in self.read_costs.values():
            k = out.setdefault(c["kind"], {"files": 0, "rows": 0, "cpu_seconds": 0.0, "wall_seconds": 0.0})
            k["files"] += 1
            k["rows"] += c["rows"]
            k["cpu_seconds"] += c["cpu_seconds"]
            k["wall_seconds"] += c["wall_seconds"]
        return out

    def files_from_cache(self) -> list[str]:
        """Labels of the files taken as staged at an earlier night (not read again), in the audit's order."""
        return [a["file_name"] for a in self.audit if self.read_modes.get(a["file_name"]) == STAGE_CACHE]

    def ordered_parts(self) -> list[tuple[str, str]]:
        """``(sha256, query)`` of :attr:`parts` in the raw layer's order: deliveries by SHA-256 and name, each
        file's rows by sheet and row (the order of the Parquet copy, :func:`daxing_kpi.raw_parquet.write_source`)."""
        out = []
        for (digest, _, several), sql in sorted(zip(self.part_keys, self.parts), key=lambda kp: kp[0][:2]):
            out.append((digest, f"SELECT * FROM ({sql}) ORDER BY _sheet NULLS LAST, _row_number" if several else sql))
        return out

    def raw_queries(self, per_query: int = 100) -> list[str]:
        """Queries whose rows, one query after the other, are the raw table's rows in order (those of
        :meth:`ordered_parts`): runs of consecutive parts with no ORDER BY of their own joined by UNION ALL
        (which keeps each part's rows, and the parts, in order), at most ``per_query`` parts a query."""
        sorted_ = dict(zip(self.parts, self.part_sorted or [True] * len(self.parts)))
        plain = {sql for (_, _, several), sql in zip(self.part_keys, self.parts) if not several and not sorted_[sql]}
        out, run = [], []
        for _, sql in self.ordered_parts():
            if sql in plain and len(run) < per_query:
                run.append(sql)
                continue
            if run:
                out.append(" UNION ALL ".join(f"SELECT * FROM ({r})" for r in run))
            run = [sql] if sql in plain else []
            if sql not in plain:
                out.append(sql)
        if run:
            out.append(" UNION ALL ".join(f"SELECT * FROM ({r})" for r in run))
        return out

    def accepted_batches(self, batch_rows: int = 100_000):
        """The accepted rows as Arrow record batches (file by file, in delivery and row order)."""
        for sql in self.parts:
            reader = self.stage.con.execute(sql).to_arrow_reader(batch_rows)
            yield from reader

    @property
    def accepted(self) -> pd.DataFrame:
        """The accepted rows as a frame (kept columns typed as the raw table, lineage columns)."""
        if self._accepted is None:
            contract = self.stage.contract if self.stage else None
            frames = [self.stage.con.sql(sql).to_arrow_table() for sql in self.parts] if self.stage else []
            if not frames or not sum(len(f) for f in frames):
                self._accepted = empty_accepted(contract) if contract else pd.DataFrame()
            else:
                self._accepted = _to_pandas(pa.concat_tables([f for f in frames]), contract)
        return self._accepted

    @property
    def quarantine(self) -> pd.DataFrame:
        """One row per fault (:data:`QUARANTINE_COLUMNS`)."""
        if self._quarantine is None:
            if self.quarantine_query is None:
                self._quarantine = pd.DataFrame({c: pd.Series(dtype="int64" if c == "row_number" else object) for c in QUARANTINE_COLUMNS})
            else:
                df = self.stage.con.execute(self.quarantine_query).df()
                for c in QUARANTINE_COLUMNS:
                    if c != "row_number":
                        df[c] = df[c].astype(object).where(df[c].notna(), None)
                df["row_number"] = df["row_number"].astype("int64")
                self._quarantine = df[QUARANTINE_COLUMNS]
        return self._quarantine

    def close(self) -> None:
        if self.stage is not None:
            try:
                self.stage.drop()
            except duckdb.Error:
                pass


def _to_pandas(table: pa.Table, contract: Contract) -> pd.DataFrame:
    """Arrow rows of a raw table as pandas, with the dtypes ingestion always gave them (nullable integers
    and booleans, dates as ``datetime.date``, text as Python strings)."""
    df = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype(), pa.float64(): pd.Float64Dtype()}.get,
                         date_as_object=True)
    for c in contract.kept_columns:
        if c.type == "timestamp":
            df[c.name] = pd.to_datetime(df[c.name]).astype("datetime64[ns]")
        elif c.type in ("text", "town", "id_number"):
            df[c.name] = df[c.name].astype(object).where(df[c.name].notna(), None)
    df["_row_number"] = df["_row_number"].astype("int64")
    for c in ("_source_file", "_sheet", "_file_sha256"):
        df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df


def read_file(path: Path, contract: Contract, label: str, digest: str, stage: SourceStage | None = None, index: int = 0) -> FileStage:
    """Read one landing file against its contract into ``stage`` (a private one when None): every data
    sheet, every row typed or flagged by the set-based pass.

    A sheet whose header names fewer than half the required columns (at least 2) is not a data sheet (a
    cover or instructions sheet) and is skipped, and listed in the audit's ``sheets``; if no sheet
    qualifies, the best one is checked and its header error raised. Raises :class:`FileRejected`
    (:class:`ContractError` for a header) for a file that cannot be used; a file past its quarantine limit
    comes back with ``rejection`` set."""
    if stage is None:
        stage = SourceStage(contract, ingest_connection(), _tmp_dir())
    f = stage.read(Path(path), label, digest, index, _modified(path))
    return f


def ingest_source(contract: Contract, landing_root: Path, known_files: dict[str, dict] | None = None,
                  known_rejections: dict[str, dict] | None = None, *, con: duckdb.DuckDBPyConnection | None = None,
                  staged: dict[str, FileStage] | None = None) -> IngestResult:
    """Read, check and type every file of one source's landing folder.

    Files are taken in delivery order (:func:`landing_files`). A file with the same SHA-256 as an
    earlier one is skipped; with a ``delivery_scope`` a later file supersedes earlier files' rows
    of the scopes it covers (all rows of an earlier file whose every scope it covers); a record
    repeating the ``key`` of an earlier remaining record (every key field present) is quarantined as a
    duplicate. Each row read is loaded, quarantined or superseded, and the audit says how many of each,
    per file; a file set aside (:class:`FileRejected`) is recorded with status ``rejected``.

    ``known_files`` (SHA-256 -> ``rows_read, delivery_scope, sheets`` of that file's last load, from
    :func:`daxing_kpi.warehouse.loaded_file_facts`): a file with a ``delivery_scope`` whose every scope is
    covered by later files is wholly superseded, whatever it holds; when its last load says which scopes
    it covers, it is not read again. ``known_rejections`` (SHA-256 -> ``rejected_reason_zh,
    rejected_reason_en, rules_digest, rows_read`` of files set aside before): a file set aside under the
    same contract and rules is set aside again without being read.

    ``con``: the DuckDB connection to stage the rows on (the warehouse's, so that
    :func:`daxing_kpi.warehouse.write_raw` copies them without leaving DuckDB); default a private
    in-memory one with the same memory limit and spill folder.

    ``staged`` (SHA-256 -> :class:`FileStage`, e.g. :meth:`FileStage.from_facts` over a table kept from an
    earlier night on ``con``, staged under the same :func:`daxing_kpi.ingest.stage.file_key`): those files are
    not read; their rows are taken as they were staged, and re-deliveries, duplicates, the audit and the
    quarantine are worked out exactly as if they had been read now.
    """
    stage = SourceStage(contract, con if con is not None else ingest_connection(), _tmp_dir())
    audit_skipped: list[dict] = []
    modes: dict[str, str] = {}
    costs: dict[str, dict] = {}
    seen: dict[str, str] = {}
    todo: list[tuple[Path, str, str]] = []
    for path in landing_files(Path(landing_root) / contract.landing_dir):
        digest = sha256_file(path)
        label = f"{contract.landing_dir}/{path.name}"
        if digest in seen:
            audit_skipped.append(dict(
                source_id=contract.source_id, file_name=label, sha256=digest, status="skipped_duplicate_file",
                rows_read=0, rows_loaded=0, rows_quarantined=0, rows_superseded=0, rows_loaded_with_field_faults=0,
                reasons="{}", field_fault_reasons="{}", sheets=None, delivery_scope=None, superseded_by=None,
                duplicate_of=seen[digest], file_modified_at=_modified(path).isoformat(timespec="seconds"),
                rejected_reason_zh=None, rejected_reason_en=None, delivery_cutoff_date=None, delivery_cutoff_source=None,
                rules_digest=contract.digest,
            ))
            modes[label] = NOT_READ
            continue
        seen[digest] = label
        todo.append((path, label, digest))
    # newest first: a file whose known scopes are all covered by later files is not read again
    later_scopes: set[str] = set()
    by_index: dict[int, FileStage] = {}
    rejected: list[tuple[int, dict, FileStage | None]] = []
    # workbooks and other files a Python reader reads wait here to be read in one pass (together.py)
    pending: list[tuple[Path, str, str, int, dt.datetime]] = []
    pending_bytes = 0

    def take(i: int, path: Path, label: str, digest: str, f: FileStage) -> None:
        nonlocal later_scopes
        if f.rejection is not None:
            rejected.append((i, rejected_audit_row(contract, path, label, digest, f.rejection, f.rows, f,
                                                    reasons=reason_json(stage.reason_counts(f, bad="true"))), f))
            return
        by_index[i] = f
        if contract.delivery_scope is not None and f.rows:
            later_scopes |= f.scopes

    def flush() -> None:
        nonlocal pending_bytes
        items, pending[:] = list(pending), []
        pending_bytes = 0
        for (path, label, digest, i, _), (f, cost) in zip(items, read_together(stage, items)):
            costs[label] = {"kind": _kind(path), "rows": int(f.rows) if isinstance(f, FileStage) else 0, **cost}
            if isinstance(f, FileRejected):
                rejected.append((i, rejected_audit_row(contract, path, label, digest, f, 0), None))
            else:
                take(i, path, label, digest, f)

    for i in range(len(todo) - 1, -1, -1):
        path, label, digest = todo[i]
        before = (known_rejections or {}).get(digest)
        if before and before.get("rules_digest") == contract.digest:
            note_zh, note_en = SET_ASIDE_BEFORE
            err = FileRejected(str(before["rejected_reason_zh"]).removesuffix(note_zh) + note_zh,
                               str(before["rejected_reason_en"]).removesuffix(note_en) + note_en)
            rejected.append((i, rejected_audit_row(contract, path, label, digest, err, int(before.get("rows_read") or 0)), None))
            modes[label] = NOT_READ
            continue
        fact = (known_files or {}).get(digest)
        known = known_file_scopes(contract, fact)
        if known and pending:
            flush()  # whether this file is read depends on what every later file covers
        if known and known <= later_scopes:
            sheets = json.loads(fact["sheets"]) if fact.get("sheets") else {}
            by_index[i] = FileStage(i, label, digest, _modified(path).isoformat(timespec="seconds"), sheets=sheets,
                                    known_rows=int(fact["rows_read"]), known_scopes=known,
                                    cutoff=delivery_cutoff((), path.name, _modified(path)))
            modes[label] = NOT_READ
            continue
        if digest not in (staged or {}) and reads_together(path):
            modes[label] = READ
            pending.append((path, label, digest, i, _modified(path)))
            pending_bytes += path.stat().st_size
            if pending_bytes >= BATCH_BYTES:
                flush()
            continue
        try:
            if digest in (staged or {}):  # staged at an earlier night under the same rules: not read again
                modes[label] = STAGE_CACHE
                f = staged[digest].adopted(i, label, path, _modified(path))
            else:
                modes[label] = READ
                cpu0, wall0 = time.process_time(), time.perf_counter()
                f = None
                try:
                    f = read_file(path, contract, label, digest, stage, i)
                finally:  # a file set aside was read too: its cost counts, with no rows
                    costs[label] = {"kind": _kind(path), "rows": int(f.rows) if f is not None else 0,
                                    "cpu_seconds": time.process_time() - cpu0, "wall_seconds": time.perf_counter() - wall0}
        except FileRejected as err:
            rejected.append((i, rejected_audit_row(contract, path, label, digest, err, 0), None))
            continue
        take(i, path, label, digest, f)
    if pending:
        flush()
    rejected.sort(key=lambda r: -r[0])  # newest first, as the files were taken (those read together came later)
    stage.done_reading()
    loads = [by_index[i] for i in sorted(by_index)]

    # 1. re-delivery: which rows of earlier files are covered by a later file's scope
    sup_sql = {f.index: "false" for f in loads}
    superseded_by: dict[int, set[str]] = {f.index: set() for f in loads}
    if contract.delivery_scope is not None:
        covered: dict[str, str] = {}  # scope value -> label of the latest file covering it
        for f in reversed(loads):
            if f.known_scopes is not None:  # not read again: wholly superseded (checked above)
                superseded_by[f.index] = {covered[v] for v in f.known_scopes if v in covered}
                continue
            if not f.rows:
                continue
            own = f.scopes
            if own and own <= set(covered):
                sup_sql[f.index] = "true"  # every scope of this file was delivered again: the whole file is replaced
            elif own & set(covered):
                sup_sql[f.index] = f"coalesce(({scope_sql(contract)}) IN (" + ", ".join(lit(v) for v in sorted(own & set(covered))) + "), false)"
            superseded_by[f.index] = {covered[v] for v in own if v in covered}
            for v in own:
                covered.setdefault(v, f.label)

    # 2. duplicates of the key among the records that remain
    read = [f for f in loads if f.table and f.known_rows is None]
    dup_parts = []
    if contract.key and read:
        dup_parts = _duplicates(stage, read, sup_sql)

    # 3. the accepted rows, the faults and the audit
    kept = [q(c.name) for c in contract.kept_columns]
    # a file's rows in its order (the order survives a filter; where duplicates are taken out by a join, it is restored)
    parts = [f"SELECT {', '.join(kept)}, {lit(f.label)} AS _source_file, {f.sheet_sql()} AS _sheet, _row_number, {lit(f.digest)} AS _file_sha256"
             f" FROM {f.table} WHERE NOT _q AND NOT {f.dup_sql} AND NOT ({sup_sql[f.index]})"
             + (" ORDER BY _t, _row_number" if f.dup_sql != "false" else "") for f in read]
    audit = []
    order = {f.label: k for k, f in enumerate(loads)}
    counted = files_audit_counts(stage, [f for f in loads if f.known_rows is None], sup_sql)
    for f in loads:
        if f.known_rows is not None:
            counts = dict(n_sup=f.known_rows, n_q=0, n_ff=0, q={}, ff={})
        else:
            counts = counted[f.index]
        audit.append(file_audit_row(contract, f, counts, superseded_by[f.index], order))
    quarantine_parts = []
    for f in read:
        quarantine_parts.append(
            f"SELECT 0 AS part, {f.index} AS fi, rid, sheet, row_number, \"column\", reason, value,"
            f" CASE WHEN bad THEN '{QUARANTINED}' ELSE '{FIELD_FAULT}' END AS disposition, t, block, col_idx, slot, {lit(f.label)} AS file_name"
            f" FROM {stage.problems_sql(f, 'NOT (' + sup_sql[f.index] + ')')}")
    quarantine_parts += dup_parts
    for k, (_, _, f) in enumerate(rejected):
        if f is not None:
            quarantine_parts.append(
                f"SELECT 1 AS part, {k} AS fi, rid, sheet, row_number, \"column\", reason, value, '{QUARANTINED}' AS disposition,"
                f" t, block, col_idx, slot, {lit(f.label)} AS file_name FROM {stage.problems_sql(f)}")
    quarantine_query = None
    if quarantine_parts:
        quarantine_query = (
            f"SELECT {lit(contract.source_id)} AS source_id, file_name, sheet, row_number, \"column\", reason, value, disposition"
            f" FROM ({' UNION ALL '.join(quarantine_parts)})"
            " ORDER BY part, fi, CASE WHEN part = 0 THEN rid END, CASE WHEN part = 0 THEN \"column\" END, t, block, col_idx, slot, rid")
    for _, row, _f in rejected:
        audit.append(row)
    audit.extend(audit_skipped)
    audit.sort(key=lambda a: (a["file_modified_at"], a["file_name"]))
    staged_files = sorted([f for f in read] + [f for _, _, f in rejected if f is not None], key=lambda f: f.index)
    result = IngestResult(audit=audit, stage=stage, parts=parts, quarantine_query=quarantine_query, read_modes=modes,
                          read_costs=costs, part_keys=[(f.digest, f.label, len(f.sheet_names) > 1) for f in read], files=staged_files,
                          part_sorted=[f.dup_sql != "false" for f in read])
    total_loaded = sum(a["rows_loaded"] for a in audit)
    accepted_rows = sum(stage.con.execute(f"SELECT count(*) FROM ({p})").fetchall()[0][0] for p in parts)
    if total_loaded != accepted_rows:  # the audit is computed apart from the accepted rows: prove they agree
        raise AssertionError(f"{contract.source_id}: audit says {total_loaded} rows loaded, {accepted_rows} accepted")
    return result


def _duplicates(stage: SourceStage, read: list[FileStage], sup_sql: dict[int, str]) -> list[str]:
    """Find the records repeating the key of an earlier remaining record, every key field present: each
    file's :attr:`FileStage.dup_sql` says which of its rows; returns the quarantine SELECTs of those
    duplicates (value: where the first one is)."""
    contract = stage.contract
    con = stage.con
    keys = [q(k) for k in contract.key]
    live = " UNION ALL ".join(
        f"SELECT {f.index} AS fi, _t, _row_number, {f.sheet_sql()} AS _sheet, {lit(f.label)} AS file, {', '.join(keys)} FROM {f.table}"
        f" WHERE NOT _q AND NOT ({sup_sql[f.index]}) AND " + " AND ".join(f"{k} IS NOT NULL" for k in keys) for f in read)
    # no two keys alike when no two of their hashes are (the exact search below only when some are)
    n = con.execute(f"SELECT count(*) - count(DISTINCT hash({', '.join(keys)})) FROM ({live})").fetchall()[0][0]
    if not n:
        return []
    name = f"_ing_{stage.uid}_dups"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {name} AS
        SELECT fi, _t, _row_number, _sheet, first_file, first_sheet, first_row FROM (
            SELECT *, row_number() OVER w AS n, first_value(file) OVER w AS first_file, first_value(_sheet) OVER w AS first_sheet,
                   first_value(_row_number) OVER w AS first_row
            FROM ({live}) WHERE ({', '.join(keys)}) IN (SELECT ({', '.join(keys)}) FROM ({live}) GROUP BY ALL HAVING count(*) > 1)
            WINDOW w AS (PARTITION BY {', '.join(keys)} ORDER BY fi, _t, _row_number ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))
        WHERE n > 1""")
    for f in read:
        if con.execute(f"SELECT count(*) FROM {name} WHERE fi = {f.index}").fetchall()[0][0]:
            f.dup_sql = f"((_t, _row_number) IN (SELECT (_t, _row_number) FROM {name} WHERE fi = {f.index}))"
    column = "+".join(contract.column(k).header_zh for k in contract.key)
    labels = "CASE fi " + " ".join(f"WHEN {f.index} THEN {lit(f.label)}" for f in read) + " END"
    return [f"SELECT 0 AS part, fi, _t * {1 << 40} + _row_number AS rid, _sheet AS sheet, _row_number AS row_number,"
            f" {lit(column)} AS \"column\", {lit(Reason.DUPLICATE)} AS reason,"
            f" 'same as ' || first_file || CASE WHEN first_sheet IS NULL THEN '' ELSE ' [sheet ' || first_sheet || ']' END"
            f" || ' row ' || CAST(first_row AS VARCHAR) AS value, '{QUARANTINED}' AS disposition, _t AS t, 3 AS block, 0 AS col_idx,"
            f" 0 AS slot, {labels} AS file_name FROM {name}"]
