"""One source staged in DuckDB: each file's rows typed and checked by the set-based pass, then what the
files say together (re-deliveries, duplicates), the quarantine and the per-file audit, in SQL.

Each file read becomes one temporary table of the connection (``_ing_<id>_f<i>``, the result of
:func:`daxing_kpi.ingest.sqlpass.pass_sql`), written once and never changed afterwards.
Nothing of a file is held whole in Python: a CSV file goes from DuckDB's ``read_csv`` through the pass
into its table; a sheet read by a Python reader is handed over as an Arrow table. DuckDB spills the
tables to its temp folder beyond its memory limit (:mod:`daxing_kpi.memory`).

A file's table depends only on the file's bytes and the contract and rules (:attr:`Contract.digest`):
the unit of work a night that skips unchanged files can keep (see :class:`FileStage`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from daxing_kpi.ingest.contracts import DUCKDB_TYPES, Contract, source_rules
from daxing_kpi.ingest.csvread import plan_csv
from daxing_kpi.ingest.cutoff import delivery_cutoff
from daxing_kpi.ingest.readers import CsvPieces, _unique_labels, csv_pieces, normalize_text, read_tables, sniff, unreadable
from daxing_kpi.ingest.reasons import FileRejected, Reason, reason_zh
from daxing_kpi.ingest.rows import header_index, match_headers
from daxing_kpi.ingest.sqlpass import PassPlan, drop_specs, lit, pass_sql, prepare, q

QUARANTINED, FIELD_FAULT = "quarantined", "field_fault"
QUARANTINE_COLUMNS = ["source_id", "file_name", "sheet", "row_number", "column", "reason", "value", "disposition"]
# Quarantine reasons that are not a broken record: rows that are no records, duplicates (counted apart) and
# records of residents of another district (a correct record, out of the district's scope). They never push a
# file past its quarantine limit.
NOT_REJECTIONS = (Reason.TOTALS_ROW, Reason.NOTE_ROW, Reason.DUPLICATE, Reason.OUTSIDE_DISTRICT)
LINEAGE = ["_source_file", "_sheet", "_row_number", "_file_sha256"]
_NOT_REJ = "(" + ", ".join(lit(r) for r in NOT_REJECTIONS) + ")"


def limit_counts_sql(table: str, by: str) -> str:
    """Per value of column ``by`` of a table of the pass's rows (``table``; several files' rows, ``by`` telling
    them apart): ``by, markers, broken``, what :meth:`SourceStage._over_limit` counts of one file (totals or
    signature rows; records quarantined for breaking the contract), for all of them in one query."""
    return (f"SELECT {by}, count(*) FILTER (WHERE _f IS NOT NULL AND _f[1].b = 1) AS markers,"
            f" count(DISTINCT _t * {1 << 40} + _row_number) FILTER (WHERE _q AND _f IS NOT NULL AND list_bool_or("
            f"[x.r NOT IN {_NOT_REJ} FOR x IN _f])) AS broken FROM {table} GROUP BY {by}")


@dataclass
class FileStage:
    """One landing file of a source: its facts, and the temporary table of its rows when it was read.

    ``index``: position in delivery order; ``table``: the pass's result (None when the file was not read:
    ``known_rows``/``known_scopes`` then come from its last load); ``rows``: rows read; ``sheets``: rows
    per sheet read and sheets skipped; ``scopes``: delivery-scope values of its rows; ``rejection``: past
    its quarantine limit (set aside with its rows' faults listed)."""

    index: int
    label: str
    digest: str
    modified: str
    table: str | None = None
    rows: int = 0
    sheets: dict = field(default_factory=dict)
    scopes: set = field(default_factory=set)
    cutoff: tuple[dt.date, str] | None = None
    rejection: FileRejected | None = None
    known_rows: int | None = None
    known_scopes: frozenset[str] | None = None
    sheet_names: list[str | None] = field(default_factory=list)  # sheet of each table of the file (``_t``)
    dup_sql: str = "false"  # SQL condition on the file's rows: a duplicate of an earlier record (set by ingest_source)
    titles: tuple[str, ...] = ()  # text of the rows above the header (for the delivery cut-off)

    @property
    def rows_read(self) -> int:
        return self.rows if self.known_rows is None else self.known_rows

    def facts(self) -> dict:
        """What a later night needs to use this file's table instead of reading the file again (JSON-able):
        everything :meth:`from_facts` takes, except where the table is kept."""
        return {"label": self.label, "digest": self.digest, "modified": self.modified, "rows": self.rows, "sheets": self.sheets,
                "scopes": sorted(self.scopes), "sheet_names": self.sheet_names, "titles": list(self.titles),
                "rejection": [self.rejection.reason_zh, self.rejection.reason_en] if self.rejection else None}

    @classmethod
    def from_facts(cls, facts: dict, table: str, index: int = 0) -> FileStage:
        """A file staged earlier: its :meth:`facts` and the table holding its rows (the pass's columns).
        Its delivery cut-off is worked out again where it lands (:meth:`adopted`)."""
        rejection = FileRejected(*facts["rejection"]) if facts.get("rejection") else None
        return cls(index, facts["label"], facts["digest"], facts["modified"], table=table, rows=int(facts["rows"]),
                   sheets=dict(facts.get("sheets") or {}), scopes=set(facts.get("scopes") or ()), rejection=rejection,
                   sheet_names=list(facts.get("sheet_names") or [None]), titles=tuple(facts.get("titles") or ()))

    def adopted(self, index: int, label: str, path: Path, modified: dt.datetime) -> FileStage:
        """This staged file as the landing file ``path`` (same bytes; maybe another name and time)."""
        return dataclasses.replace(self, index=index, label=label, modified=modified.isoformat(timespec="seconds"),
                                   cutoff=delivery_cutoff(self.titles, Path(path).name, modified), dup_sql="false")

    def sheet_sql(self) -> str:
        """The ``_sheet`` of a row of this file's table, from its ``_t``."""
        names = self.sheet_names or [None]
        if len(set(names)) == 1:
            return f"CAST({lit(names[0])} AS VARCHAR)"
        return "CASE _t " + " ".join(f"WHEN {t} THEN {lit(n)}" for t, n in enumerate(names)) + " END"


def file_key(contract: Contract) -> str:
    """What the staged rows of a file depend on besides its bytes: the contract and the rules
    (:attr:`Contract.digest`), the seeds the field rules read (the town tables, the contract's allowed
    values) and the person-key secret (its fingerprint). A file staged under the same key and SHA-256 is
    the same table of rows, whenever and wherever it was read (:meth:`FileStage.facts`)."""
    from daxing_kpi.paths import SEEDS_DIR
    from daxing_kpi.personkey import key_fingerprint, pii_key

    h = hashlib.sha256(contract.digest.encode())
    seeds = {"townships", "township_aliases", "beijing_townships_2023"}
    seeds |= {c.allowed_from_seed.split(".")[0] for c in contract.columns if c.allowed_from_seed}
    for stem in sorted(seeds):
        path = SEEDS_DIR / f"{stem}.csv"
        h.update(stem.encode() + b"\0" + (path.read_bytes() if path.exists() else b""))
    h.update(key_fingerprint(pii_key()).encode())
    return h.hexdigest()


def _min_match(contract: Contract) -> int:
    """Contract columns a sheet's header must name to count as a data sheet (others are skipped)."""
    required = sum(c.required for c in contract.columns)
    return min(len(contract.columns), max(2, math.ceil(required / 2)))


def scope_sql(contract: Contract) -> str:
    """The delivery scope of a row as text (``*`` for a complete export), NULL where unknown or when the
    contract has none (:func:`daxing_kpi.ingest.redelivery.scope_values` in SQL)."""
    if contract.delivery_scope is None:
        return "CAST(NULL AS VARCHAR)"
    if not contract.delivery_scope:
        return "'*'"
    parts = []
    for ref in contract.delivery_scope:
        name, _, part = ref.partition(".")
        col = q(name)
        if contract.column(name).type not in ("date", "timestamp") and part:
            col = f"TRY_CAST({col} AS DATE)"
        parts.append({"year": f"CAST(year({col}) AS VARCHAR)", "month": f"strftime({col}, '%Y-%m')"}.get(part, f"CAST({col} AS VARCHAR)"))
    return " || '|' || ".join(parts)


@dataclass
class _Candidate:
    """A table a file holds, before the pass: its header and how DuckDB reads its rows."""

    sheet: str | None
    labels: list[str]  # unique header labels, one per text column c0, c1 ...
    matched: int
    header_row: int
    titles: tuple[str, ...]
    source: object  # a CsvPlan, or a readers.Table


def arrow_cells(plan: PassPlan, src, t: int) -> pa.Table:
    """The relation the pass reads (:func:`pass_sql`) from a table a Python reader produced (a
    :class:`daxing_kpi.ingest.readers.Table`): ``_t`` (= ``t``), ``_row_number``, ``_extra`` and the cells
    as text columns ``plan.cells`` (a missing cell is ``''``), one row per data row."""
    frame = src.frame
    n = len(frame)
    cells = frame.to_numpy(dtype=object, copy=True) if n else None
    if n:
        cells[pd.isna(cells)] = ""  # a missing cell (None, NaN) is an empty one
    return pa.table({
        "_t": pa.array([t] * n, type=pa.int32()),
        "_row_number": pa.array(src.row_numbers, type=pa.int64()),
        "_extra": pa.array(src.extra_cells if src.extra_cells is not None else [False] * n, type=pa.bool_()),
        **{c: pa.array(cells[:, i] if n else [], type=pa.string()) for i, c in enumerate(plan.cells)},
    })


class SourceStage:
    """The staging of one source on a DuckDB connection (see the module text)."""

    def __init__(self, contract: Contract, con: duckdb.DuckDBPyConnection, tmp_dir: Path):
        self.contract = contract
        self.con = con
        self.tmp_dir = Path(tmp_dir)
        self.uid = uuid.uuid4().hex[:10]
        self.created: list[str] = []  # tables this staging made (a file staged earlier is only used)
        self.specs: dict[str, int] = {}  # kpi_cell specs of the contract's columns, results kept across files
        prepare(con)

    # -- one file ---------------------------------------------------------------------------------------

    def read(self, path: Path, label: str, digest: str, index: int, modified: dt.datetime) -> FileStage:
        """Read one file into its table. Raises :class:`FileRejected` for a file that cannot be used; a file
        past its quarantine limit comes back with ``rejection`` set (its table kept for the quarantine)."""
        f = FileStage(index, label, digest, modified.isoformat(timespec="seconds"))
        f.table = f"_ing_{self.uid}_f{index}"
        self.created.append(f.table)
        try:
            titles = self._stage(path, f)
        except BaseException:
            self.con.execute(f"DROP TABLE IF EXISTS {f.table}")
            raise
        f.titles = tuple(titles)
        f.cutoff = delivery_cutoff(titles, Path(path).name, modified)
        con = self.con
        f.rows = con.execute(f"SELECT count(*) FROM {f.table}").fetchall()[0][0]
        if self.contract.delivery_scope is not None:
            f.scopes = {r[0] for r in con.execute(f"SELECT DISTINCT {scope_sql(self.contract)} AS s FROM {f.table} WHERE s IS NOT NULL").fetchall()}
        f.rejection = self._over_limit(f)
        return f

    def _candidates(self, path: Path, duckdb_csv: bool = True) -> list[_Candidate]:
        """The tables of a file: a delimited-text file DuckDB can read as one plan, else the Python readers'."""
        contract = self.contract
        known = header_index(contract)
        if sniff(path) == "text":
            plan = None
            if duckdb_csv:
                try:
                    plan = plan_csv(path, known, contract.encoding, self.tmp_dir)
                except UnicodeDecodeError:
                    plan = None  # the Python reader decides from the whole file (and says why it cannot)
            if plan is not None:
                return [_Candidate(None, _unique_labels(plan.labels), plan.matched, plan.header_row, plan.titles, plan)]
            try:
                src = csv_pieces(path, known, contract.encoding)
            except Exception as e:  # noqa: BLE001 - bad input: words for the clerk (readers.unreadable)
                raise unreadable(Path(path).name, "text", e) from None
            head = src.header
            return [_Candidate(None, list(head.frame.columns), src.matched, head.header_row, head.title_lines, src)]
        out = []
        # a contract naming its sheets: the other sheets of a workbook are listed but not read
        wanted = {normalize_text(s) for s in contract.sheets} if contract.sheets else None
        for table, matched in read_tables(path, known, contract.encoding, wanted):
            out.append(_Candidate(table.sheet, list(table.frame.columns), matched, table.header_row, table.title_lines, table))
        return out

    def _data_tables(self, f: FileStage, cands: list[_Candidate]) -> list[tuple[_Candidate, dict]]:
        """The tables of a file that hold its records, each with its header's mapping to the contract
        (:func:`match_headers`); notes the sheets skipped in ``f.sheets``. Raises :class:`FileRejected`
        (no sheet the contract names) or :class:`ContractError` (a header that cannot be matched)."""
        contract = self.contract
        if contract.sheets and any(c.sheet is not None for c in cands):
            wanted = {normalize_text(s) for s in contract.sheets}
            chosen = [c for c in cands if normalize_text(c.sheet or "") in wanted]
            if not chosen:
                found = ", ".join(str(c.sheet) for c in cands)
                raise FileRejected(f"{f.label}：没有数据契约要求的工作表“{'、'.join(contract.sheets)}”；文件中的工作表：{found}。",
                                   f"{f.label}: no sheet {', '.join(contract.sheets)} for contract {contract.source_id!r}; sheets found: {found}")
            cands = chosen
        need = _min_match(contract)
        data = [c for c in cands if c.matched >= need]
        if not data:
            data = [max(cands, key=lambda c: c.matched)]
        for c in cands:
            if c.sheet is not None and all(c is not d for d in data):
                f.sheets[c.sheet] = "skipped: no header naming the contract's columns"
        out = []
        for cand in data:
            where = f.label if cand.sheet is None else f"{f.label} [sheet {cand.sheet!r}]"
            where += f", header row {cand.header_row}"
            out.append((cand, match_headers(cand.labels, contract, where, header_found=cand.matched > 0)))
        return out

    def _stage(self, path: Path, f: FileStage, duckdb_csv: bool = True) -> list[str]:
        cands = self._candidates(path, duckdb_csv)
        try:
            titles: list[str] = []
            for t, (cand, mapping) in enumerate(self._data_tables(f, cands)):
                titles.extend(cand.titles)
                n = self._pass(cand, mapping, f.table, first=t == 0, t=t)
                if n is None:  # DuckDB's reading would differ from the Python reader's: that one reads the file
                    f.sheets.clear()
                    return self._stage(path, f, duckdb_csv=False)
                f.sheet_names.append(cand.sheet)
                if cand.sheet is not None:
                    f.sheets[cand.sheet] = n
            return titles
        finally:
            for cand in cands:
                if hasattr(cand.source, "cleanup"):
                    cand.source.cleanup()

    def plan(self, cand: _Candidate, mapping: dict) -> PassPlan:
        """The pass's plan of a table: which text column (``c0``, ``c1`` ...) holds each contract column."""
        position = {label: f"c{i}" for i, label in enumerate(cand.labels)}
        present = {}
        for label, col in mapping.items():
            present.setdefault(col.name, position[label])
        return PassPlan(self.contract, present, [f"c{i}" for i in range(len(cand.labels))], self.specs)

    def _pass(self, cand: _Candidate, mapping: dict, table: str, first: bool, t: int) -> int | None:
        """Run the pass over one candidate table into ``table`` (created for the first); returns its rows, or
        None when DuckDB declined a CSV file (nothing written)."""
        plan = self.plan(cand, mapping)
        verb = f"CREATE TEMP TABLE {table} AS" if first else f"INSERT INTO {table}"
        src = cand.source
        if hasattr(src, "read_csv_sql"):
            return self._pass_duckdb_csv(plan, src, table, verb, t)
        if isinstance(src, CsvPieces):  # the Python CSV reader, a piece at a time
            n = 0
            pieces = src.pieces()
            while True:
                try:
                    piece = next(pieces)
                except StopIteration:
                    break
                except Exception as e:  # noqa: BLE001 - bad input: words for the clerk (readers.unreadable)
                    raise unreadable(Path(src.path).name, "text", e) from None
                self._pass_arrow(plan, piece, table, verb, t)
                verb = f"INSERT INTO {table}"
                n += len(piece.frame)
            if verb.startswith("CREATE"):  # no rows under the header
                self._pass_arrow(plan, src.header, table, verb, t)
            return n
        self._pass_arrow(plan, src, table, verb, t)
        return len(src.frame)

    def _pass_arrow(self, plan: PassPlan, src, table: str, verb: str, t: int) -> None:
        """The pass over a table a Python reader produced (a :class:`daxing_kpi.ingest.readers.Table`)."""
        con = self.con
        arrow = arrow_cells(plan, src, t)
        name = f"_ing_src_{self.uid}"
        con.register(name, arrow)
        try:
            con.execute(f"{verb} {pass_sql(plan, name)}")
        finally:
            con.unregister(name)

    def _pass_duckdb_csv(self, plan: PassPlan, csv_plan, table: str, verb: str, t: int) -> int | None:
        """The pass straight from ``read_csv``; None (nothing written) when DuckDB's reading differs from
        the Python reader's (records spanning lines, bytes that are no UTF-8, rows wider than the header)."""
        con = self.con
        cells = ", ".join(plan.cells)
        empty = " AND ".join(f"coalesce({c}, '') = ''" for c in plan.cells) or "false"
        source = (f"(SELECT {t} AS _t, {csv_plan.row_number_sql('_k')} AS _row_number, false AS _extra, {cells}"
                  f" FROM (SELECT row_number() OVER () - 1 AS _k, * FROM {csv_plan.read_csv_sql()}) WHERE NOT ({empty}))")
        work = f"{table}_csv"
        try:
            con.execute(f"CREATE TEMP TABLE {work} AS {pass_sql(plan, source)}")
        except duckdb.Error as e:
            if "Python exception" in str(e) or not isinstance(e, (duckdb.InvalidInputException, duckdb.ConversionException)) and "CSV" not in str(e):
                raise
            con.execute(f"DROP TABLE IF EXISTS {work}")
            return None
        n = con.execute(f"SELECT count(*) FROM {work}").fetchall()[0][0]
        if n != csv_plan.data_lines - len(csv_plan.blank_lines) - csv_plan.separator_lines:
            con.execute(f"DROP TABLE {work}")
            return None
        if verb.startswith("CREATE"):
            con.execute(f"ALTER TABLE {work} RENAME TO {table.split('.')[-1]}")
        else:
            con.execute(f"INSERT INTO {table} SELECT * FROM {work}")
            con.execute(f"DROP TABLE {work}")
        return n

    # -- faults --------------------------------------------------------------------------------------------

    def problems_sql(self, f: FileStage, where: str = "true") -> str:
        """The faults of a file's rows (``where``: a condition on the file's table), one row per fault:
        ``rid, sheet, row_number, column, reason, value, bad, t, block, col_idx, slot`` (``rid`` identifies
        the row within the file; ``bad``: the row is quarantined; ``t, block, col_idx, slot``: the order in
        which the file's faults are listed)."""
        return (f"(SELECT rid, sheet, row_number, x.c AS \"column\", x.r AS reason, x.v AS value, bad, t, x.b AS block,"
                f" x.j AS col_idx, x.s AS slot FROM (SELECT _t * {1 << 40} + _row_number AS rid, {f.sheet_sql()} AS sheet,"
                f" _row_number AS row_number, (_q OR {f.dup_sql}) AS bad, _t AS t, unnest(_f) AS x FROM {f.table}"
                f" WHERE _f IS NOT NULL AND ({where})))")

    def _over_limit(self, f: FileStage, counted: tuple[int, int] | None = None) -> FileRejected | None:
        """A :class:`FileRejected` when more than ``max_rejected_share`` of the file's records are quarantined
        for breaking the contract (rows that are no records, records of other districts not counted).
        ``counted``: the file's ``(totals/signature rows, broken records)`` when already counted
        (:func:`limit_counts_sql`), else they are counted here."""
        limit = source_rules(self.contract)["max_rejected_share"]
        con = self.con
        broken = f"(SELECT * FROM {self.problems_sql(f)} WHERE bad AND reason NOT IN {_NOT_REJ})"
        if counted is None:
            markers = con.execute(f"SELECT count(*) FROM {f.table} WHERE _f IS NOT NULL AND _f[1].b = 1").fetchall()[0][0]
            n_bad = con.execute(f"SELECT count(DISTINCT rid) FROM {broken}").fetchall()[0][0]
        else:
            markers, n_bad = counted
        records = f.rows - markers
        if not records or n_bad / records <= limit:
            return None
        counts = con.execute(f"SELECT reason, count(DISTINCT rid) FROM {broken} GROUP BY reason ORDER BY reason").fetchall()
        top = pd.Series({r: n for r, n in counts}).sort_values(ascending=False)
        sheet, row_number, column = con.execute(
            f"SELECT sheet, row_number, \"column\" FROM {broken} ORDER BY rid, t, block, col_idx, slot LIMIT 1").fetchall()[0]
        at = (f"[sheet {sheet!r}] " if isinstance(sheet, str) else "") + f"row {int(row_number)}, column {column}"
        at_zh = (f"工作表“{sheet}”" if isinstance(sheet, str) else "") + f"第 {int(row_number)} 行“{column}”列"
        share, lim = f"{n_bad / records:.1%}", f"{limit:.0%}" if limit * 100 == int(limit * 100) else f"{limit:.1%}"
        return FileRejected(
            f"{f.label}：{records} 条记录中有 {n_bad} 条（{share}）无法使用，超过上限 {lim}，整个文件暂不加载。"
            f"主要原因：" + "；".join(f"{reason_zh(r)} {n} 条" for r, n in top.head(3).items()) + f"。第一处：{at_zh}。请更正后重新报送。",
            f"{f.label}: {n_bad} of {records} records ({share}) cannot be used, more than the limit of {lim}, so the file is set aside."
            " Main reasons: " + "; ".join(f"{r} ×{n}" for r, n in top.head(3).items()) + f". First at {at}. Please correct and send it again.",
        )

    def reason_counts(self, f: FileStage, where: str = "true", bad: str = "bad") -> dict[str, int]:
        """Records per reason among the faults of ``f`` (``where`` on the file's table, ``bad`` on the faults)."""
        rows = self.con.execute(f"SELECT reason, count(DISTINCT rid) FROM {self.problems_sql(f, where)} WHERE {bad}"
                                f" GROUP BY reason").fetchall()
        return {r: int(n) for r, n in rows}

    def done_reading(self) -> None:
        """Free what the pass needed while files were read (the Python rules' results kept per spelling)."""
        drop_specs(self.specs.values())
        self.specs.clear()

    def drop(self) -> None:
        """Drop the tables this staging made."""
        for table in self.created:
            self.con.execute(f"DROP TABLE IF EXISTS {table}")
        self.created.clear()


def empty_accepted(contract: Contract) -> pd.DataFrame:
    """An accepted frame without rows, typed as the raw table."""
    cols = {c.name: pd.Series(dtype=_PD_DTYPE.get(c.type, object)) for c in contract.kept_columns}
    cols.update({"_source_file": pd.Series(dtype=object), "_sheet": pd.Series(dtype=object),
                 "_row_number": pd.Series(dtype="int64"), "_file_sha256": pd.Series(dtype=object)})
    return pd.DataFrame(cols)


_PD_DTYPE = {"integer": "Int64", "number": "Float64", "boolean": "boolean", "timestamp": "datetime64[ns]"}
DUCKDB_TYPES = DUCKDB_TYPES
