"""The ingestion of issue 15 as it was before issue 20: every file read whole into pandas (CSV by pandas' C
parser, else Python's ``csv`` module), every cell typed and checked row by row in pandas, the files of a source
combined in pandas. Kept here, frozen, only as the reference the set-based pass in DuckDB
(:mod:`daxing_kpi.ingest.sqlpass`, :mod:`daxing_kpi.ingest.stage`) is compared with, row for row and reason for
reason (``tests/test_ingest_parity.py``). It uses the product's field rules (dates, numbers, towns, ID
checks, totals rows: one implementation each) but its own pipeline, and the standard library's ``hmac``
for person keys.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from daxing_kpi.ingest import (
    Column, Contract, FileRejected, Reason, classify_towns, header_index, id_numbers_changed_by_excel, known_file_scopes,
    landing_files, marker_rows, mask_value, match_headers, norm_series, normalize_text, parse_numbers, parse_timestamps, pii_key,
    reason_zh, scope_values, seed_values, sha256_file, source_rules, valid_id_numbers,
)
from daxing_kpi.ingest.cutoff import delivery_cutoff
from daxing_kpi.ingest.readers import (
    HEADER_SCAN_ROWS, Table, _csv_rows_with_lines, _delimiter, _unique_labels, decode_bytes, locate_header, read_excel_tables,
    read_html_tables, read_spreadsheetml_tables, sniff,
)
from daxing_kpi.ingest.fields import TRUTH
from daxing_kpi.ingest.reasons import ROW_REASONS

QUARANTINED, FIELD_FAULT = "quarantined", "field_fault"
PROBLEM_COLUMNS = ["rid", "sheet", "row_number", "column", "reason", "value", "disposition"]
QUARANTINE_COLUMNS = ["source_id", "file_name", "sheet", "row_number", "column", "reason", "value", "disposition"]
NOT_REJECTIONS = (Reason.TOTALS_ROW, Reason.NOTE_ROW, Reason.DUPLICATE, Reason.OUTSIDE_DISTRICT)


def _hmac_keys(values: pd.Series) -> pd.Series:
    key = pii_key()
    return pd.Series([hmac.new(key, v.upper().encode(), hashlib.sha256).hexdigest()[:32] for v in values.fillna("").astype(str)],
                     index=values.index, dtype=object)


@dataclass
class IngestResult:
    accepted: pd.DataFrame
    quarantine: pd.DataFrame
    audit: list[dict]

    @property
    def rejected(self) -> list[dict]:
        return [a for a in self.audit if a["status"] == "rejected"]


@dataclass
class _FileRows:
    label: str
    digest: str
    modified: str
    rows: pd.DataFrame
    problems: pd.DataFrame
    sheets: dict
    quarantined: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    cutoff: tuple[dt.date, str] | None = None
    rejection: FileRejected | None = None
    known_rows: int | None = None
    known_scopes: frozenset[str] | None = None

    @property
    def rows_read(self) -> int:
        return len(self.rows) if self.known_rows is None else self.known_rows


def _empty_problems() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("rid", "row_number") else object) for c in PROBLEM_COLUMNS})


def _modified(path: Path) -> dt.datetime:
    return dt.datetime.fromtimestamp(Path(path).stat().st_mtime)


# -- readers (the CSV reader of issue 15; the other shapes are the product's) ------------------------------


def _table_from_grid(grid: list[list[str]], row_numbers: list[int], sheet: str | None, known: dict[str, object]) -> tuple[Table, int]:
    """Locate the header of a grid and turn the rows below it into a :class:`Table`.

    Returns the table and the number of contract columns its header names."""
    width = max((len(r) for r in grid), default=0)
    grid = [r + [""] * (width - len(r)) for r in grid]
    if not grid:
        return Table(sheet, pd.DataFrame(), np.array([], dtype=np.int64), 0), 0
    first, n, labels, matched = locate_header(grid, known)
    # columns right of the last labelled column: kept only when they hold data (reported as unexpected)
    last = max((i for i, x in enumerate(labels) if x.strip()), default=-1)
    body = grid[first + n:]
    rows = np.array(row_numbers[first + n:], dtype=np.int64)
    used = last + 1
    extra = None
    if body:
        arr = np.array(body, dtype=object)
        if used < width:
            tail = arr[:, used:]
            extra = (np.vectorize(lambda v: bool(str(v).strip()), otypes=[bool])(tail)).any(axis=1)
            arr = arr[:, :used]
        nonblank = np.vectorize(lambda v: bool(str(v).strip()), otypes=[bool])(arr).any(axis=1) if arr.size else np.zeros(len(body), bool)
        if extra is not None:
            nonblank |= extra
            extra = extra[nonblank]
        arr = arr[nonblank]
        rows = rows[nonblank]
        frame = pd.DataFrame(arr, columns=_unique_labels(labels[:used]), dtype=object) if len(arr) else pd.DataFrame(columns=_unique_labels(labels[:used]))
    else:
        frame = pd.DataFrame(columns=_unique_labels(labels[:used]))
    header_row = row_numbers[first + n - 1] if row_numbers else 0
    titles = tuple(" ".join(c.strip() for c in r if str(c).strip()) for r in grid[:first])
    return Table(sheet, frame.astype(str) if len(frame) else frame, rows, header_row, extra, titles), matched



def read_csv_tables(path: Path, known: dict[str, object], encoding: str | None = "auto", text: str | None = None) -> list[tuple[Table, int]]:
    """A delimited-text file (comma or tab) as one :class:`Table` (title rows skipped, header located),
    with its match count.

    Large files take a fast path (pandas' C parser) when every record is one line; otherwise, for
    quoted line breaks or ragged rows, the standard ``csv`` module keeps the line numbers right.
    """
    text = decode_bytes(Path(path).read_bytes(), encoding) if text is None else text
    sep = _delimiter(text)
    head = list(itertools.islice(_csv_rows_with_lines(text, sep), HEADER_SCAN_ROWS + 1))
    if not head:
        return [(Table(None, pd.DataFrame(), np.array([], dtype=np.int64), 0), 0)]
    width = max(len(r) for _, r in head)
    grid = [r + [""] * (width - len(r)) for _, r in head]
    first, n, labels, matched = locate_header(grid, known)
    titles = tuple(" ".join(c.strip() for c in r if c.strip()) for r in grid[:first])
    header_end_line = head[first + n][0] - 1 if first + n < len(head) else None
    if header_end_line is not None:
        try:
            data = text.encode("utf-8")  # pandas' C parser reads bytes far faster than a str buffer
            start = 0  # byte offset of the first data line
            for _ in range(header_end_line):
                start = data.index(b"\n", start) + 1
            n_lines = data.count(b"\n", start) + (0 if data.endswith(b"\n") or start >= len(data) else 1)
            df = pd.read_csv(
                io.BytesIO(data), encoding="utf-8", header=None, skiprows=header_end_line, dtype=str, keep_default_na=False,
                na_filter=False, skip_blank_lines=False, names=range(len(labels)), index_col=False, engine="c", sep=sep,
                quoting=csv.QUOTE_MINIMAL,
            ).fillna("")
            del data
            if n_lines == len(df):
                rows = np.arange(header_end_line + 1, header_end_line + 1 + len(df), dtype=np.int64)
                keep = (df != "").any(axis=1).to_numpy()
                frame = df[keep].reset_index(drop=True)
                frame.columns = _unique_labels(labels)
                empty_cols = [c for c, lab in zip(frame.columns, labels) if not lab.strip() and not (frame[c] != "").any()]
                frame = frame.drop(columns=empty_cols)
                return [(Table(None, frame, rows[keep], head[first + n - 1][0], None, titles), matched)]
        except (pd.errors.ParserError, ValueError):
            pass
    records = list(_csv_rows_with_lines(text, sep))
    grid = [r for _, r in records]
    lines = [ln for ln, _ in records]
    return [_table_from_grid(grid, lines, None, known)]



def read_tables(path: Path, known: dict[str, object], encoding: str | None = "auto") -> list[tuple[Table, int]]:
    """The tables of a landing file with the number of contract columns each header names, read by
    content (:func:`sniff`), whatever the file's name says.

    Raises :class:`daxing_kpi.ingest.reasons.FileRejected` for an empty, binary or unreadable file."""
    name = Path(path).name
    kind = sniff(path)
    try:
        if kind == "empty":
            raise FileRejected(f"{name}：文件是空的（0 字节或只有空白）。", f"{name}: the file is empty (no bytes, or only blanks).")
        if kind == "pdf":
            raise FileRejected(f"{name}：这是 PDF 文件，不是表格。请导出 Excel 或 CSV。",
                               f"{name}: this is a PDF, not a table. Please export Excel or CSV.")
        if kind == "binary":
            raise FileRejected(f"{name}：不是表格文件（内容不是文本，也不是 Excel 工作簿），可能已损坏或文件类型不对。",
                               f"{name}: not a table (neither text nor an Excel workbook); the file may be damaged or of another type.")
        if kind in ("xlsx", "xls"):
            try:
                return read_excel_tables(path, known)
            except ValueError as e:
                raise FileRejected(f"{name}：Excel 文件已损坏，无法打开（{str(e).split(': ', 1)[-1][:120]}）。请重新导出。",
                                   f"{name}: the Excel workbook is damaged and cannot be opened ({str(e).split(': ', 1)[-1][:120]})."
                                   " Please export it again.") from None
        if kind == "html":
            return read_html_tables(path, known)
        if kind == "spreadsheetml":
            return read_spreadsheetml_tables(path, known)
        try:
            return read_csv_tables(path, known, encoding)
        except UnicodeDecodeError as e:
            raise FileRejected(f"{name}：文字编码无法识别（不是 UTF-8、UTF-16 或 GBK/GB18030）。",
                               f"{name}: the text encoding cannot be read (not UTF-8, UTF-16 or GBK/GB18030): {e.reason}.") from None
    except FileRejected:
        raise
    except Exception as e:  # noqa: BLE001 - a reader failing on bad input: the clerk gets words, not a stack trace
        what = {"html": "网页表格（HTML）", "spreadsheetml": "Excel 2003 XML 表格", "text": "文本表格"}.get(kind, kind)
        first = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise FileRejected(f"{name}：看起来是{what}，但无法读取（{first}）。", f"{name}: looks like {kind} but cannot be read ({first}).") from None


# -- cells --------------------------------------------------------------------------------------------


def check_frame(df: pd.DataFrame, mapping: dict[str, Column], contract: Contract) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Type and check every contract column of ``df`` (strings).

    Returns ``(typed, problems)``: ``typed`` has one column per kept contract column (English
    names), NULL where the cell is blank or faulty; ``problems`` has ``pos, column, reason, value,
    name`` for each faulty cell (``pos`` is the row position in ``df``, ``name`` the contract column).
    ID numbers become person keys here; dropped PII is never typed.
    """
    typed = {}
    problems = []
    present = {c.name: src for src, c in mapping.items()}

    def flag(mask, column: Column, reason, raw: pd.Series):
        m = np.asarray(mask, dtype=bool)
        idx = np.flatnonzero(m)
        if idx.size:
            vals = raw.iloc[idx].map(lambda v: mask_value(v, column.pii))
            reasons = reason[m] if isinstance(reason, np.ndarray) else reason
            problems.append(pd.DataFrame({"pos": idx, "column": column.header_zh, "reason": reasons, "value": vals.to_numpy(),
                                          "name": column.name}))
        return m

    for c in contract.columns:
        if c.name not in present:
            if not c.dropped:
                typed[c.name] = pd.Series([None] * len(df), index=df.index, dtype=object)
            continue
        raw = df[present[c.name]].fillna("").astype(str)
        norm = norm_series(raw)
        blank = (norm == "").to_numpy(dtype=bool, na_value=True)
        if c.required:
            flag(blank, c, Reason.MISSING, raw)
        if c.dropped:
            continue  # personal data: never typed, never kept
        if c.type == "text":
            val = raw.str.strip().where(~blank, None)
            allowed = set(c.allowed or ()) | (seed_values(c.allowed_from_seed) if c.allowed_from_seed else set())
            if allowed:
                bad = flag(~blank & ~norm.isin({normalize_text(a) for a in allowed}).to_numpy(dtype=bool), c, Reason.NOT_ALLOWED, raw)
                val = norm.astype(object).where(~blank & ~bad, None)
        elif c.type in ("integer", "number"):
            val = parse_numbers(norm, normalized=True)
            bad = flag(~blank & val.isna().to_numpy(), c, Reason.NOT_NUMBER, raw)
            if c.type == "integer":
                bad |= flag((val.notna() & (val != val.round())).to_numpy(), c, Reason.NOT_WHOLE, raw)
            if c.min is not None:
                bad |= flag((val.notna() & (val < c.min)).to_numpy(), c, Reason.BELOW_MIN.format(min=c.min), raw)
            val = val.where(~bad)
            val = val.astype("Int64") if c.type == "integer" else val.astype("Float64")
        elif c.type in ("date", "timestamp"):
            val = parse_timestamps(raw)
            flag(~blank & val.isna().to_numpy(), c, Reason.BAD_DATE, raw)
            val = val.dt.normalize().dt.date if c.type == "date" else val
        elif c.type == "boolean":
            val = norm.str.lower().map(TRUTH)
            flag(~blank & val.isna().to_numpy(), c, Reason.NOT_YES_NO, raw)
            val = val.astype("boolean")
        elif c.type == "town":
            val, why = classify_towns(norm)
            bad = ~blank & why.notna().to_numpy()
            flag(bad, c, why.to_numpy(dtype=object), raw)
        elif c.type == "id_number":
            ok = valid_id_numbers(norm, normalized=True).to_numpy()
            bad = ~blank & ~ok
            if bad.any():
                excel = id_numbers_changed_by_excel(norm, normalized=True).to_numpy()
                flag(bad, c, np.where(excel, Reason.ID_CHANGED_BY_EXCEL, Reason.BAD_ID), raw)
            val = _hmac_keys(norm.where(ok, "")).where(ok & ~blank, None)
        typed[c.name] = val
    problems_df = (
        pd.concat(problems, ignore_index=True) if problems else pd.DataFrame(columns=["pos", "column", "reason", "value", "name"])
    )
    return pd.DataFrame(typed, index=df.index), problems_df


# -- accounting -------------------------------------------------------------------------------------


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


# -- one source -------------------------------------------------------------------------------------


def _min_match(contract: Contract) -> int:
    """Contract columns a sheet's header must name to count as a data sheet (others are skipped)."""
    required = sum(c.required for c in contract.columns)
    return min(len(contract.columns), max(2, math.ceil(required / 2)))


def read_file(path: Path, contract: Contract, label: str, digest: str) -> _FileRows:
    """Read one landing file against its contract: every data sheet, every row typed or flagged.

    A sheet whose header names fewer than half the required columns (at least 2) is not a data
    sheet (a cover or instructions sheet) and is skipped, and listed in the audit's ``sheets``;
    if no sheet qualifies, the best one is checked and its header error raised.
    Raises :class:`FileRejected` (:class:`ContractError` for a header) for a file that cannot be used;
    a file past its quarantine limit comes back with ``rejection`` set and its rows' problems."""
    known = header_index(contract)
    tables = read_tables(path, known, contract.encoding)
    if contract.sheets and any(t.sheet is not None for t, _ in tables):
        wanted = {normalize_text(s) for s in contract.sheets}
        chosen = [(t, m) for t, m in tables if normalize_text(t.sheet or "") in wanted]
        if not chosen:
            found = ", ".join(str(t.sheet) for t, _ in tables)
            raise FileRejected(f"{label}：没有数据契约要求的工作表“{'、'.join(contract.sheets)}”；文件中的工作表：{found}。",
                               f"{label}: no sheet {', '.join(contract.sheets)} for contract {contract.source_id!r}; sheets found: {found}")
        tables = chosen
    need = _min_match(contract)
    data = [(t, m) for t, m in tables if m >= need]
    sheets: dict[str, object] = {}
    if not data:
        best = max(tables, key=lambda tm: tm[1])
        data = [best]
    for t, m in tables:
        if t.sheet is not None and all(t is not d for d, _ in data):
            sheets[t.sheet] = "skipped: no header naming the contract's columns"
    needs = set(contract.record_needs)
    row_parts, prob_parts, quarantined_parts, titles = [], [], [], []
    offset = 0
    for table, matched in data:
        where = label if table.sheet is None else f"{label} [sheet {table.sheet!r}]"
        where += f", header row {table.header_row}"
        mapping = match_headers(list(table.frame.columns), contract, where, header_found=matched > 0)
        titles.extend(table.title_lines)
        df = table.frame.reset_index(drop=True)
        typed, problems = check_frame(df, mapping, contract)
        n = len(df)
        # rows that are no records: only a row with a fault can be one (a totals row lacks a record's values)
        suspects = problems["pos"].to_numpy(dtype=np.int64) if len(problems) else np.array([], dtype=np.int64)
        if table.extra_cells is not None:
            suspects = np.union1d(suspects, np.flatnonzero(table.extra_cells))
        marks, mark_values = marker_rows(df, suspects)
        is_record = marks.isna().to_numpy()
        if len(problems):
            problems = problems[is_record[problems["pos"].to_numpy(dtype=int)]]  # a marker row's one reason replaces its cells'
        disposition = np.where(problems["reason"].isin(ROW_REASONS).to_numpy() | problems["name"].isin(needs).to_numpy(),
                               QUARANTINED, FIELD_FAULT) if len(problems) else np.array([], dtype=object)
        problems = problems.assign(disposition=disposition).drop(columns="name")
        extra = []
        m_idx = np.flatnonzero(~is_record)
        if m_idx.size:
            extra.append(pd.DataFrame({"pos": m_idx, "column": "", "reason": marks.iloc[m_idx].to_numpy(),
                                       "value": mark_values.iloc[m_idx].to_numpy(), "disposition": QUARANTINED}))
        if table.extra_cells is not None:
            e_idx = np.flatnonzero(table.extra_cells & is_record)
            if e_idx.size:
                extra.append(pd.DataFrame({"pos": e_idx, "column": "(beyond the header)", "reason": Reason.EXTRA_CELLS, "value": "",
                                           "disposition": QUARANTINED}))
        if extra:
            problems = pd.concat([problems, *extra], ignore_index=True)
        quarantined = np.zeros(n, dtype=bool)
        if len(problems):
            quarantined[problems.loc[problems["disposition"] == QUARANTINED, "pos"].to_numpy(dtype=np.int64)] = True
            # a record not loaded: every fault of it is part of why (its disposition says the record is out)
            problems.loc[quarantined[problems["pos"].to_numpy(dtype=np.int64)], "disposition"] = QUARANTINED
        typed = typed.reset_index(drop=True)
        if m_idx.size:  # marker rows carry no values
            for c in contract.kept_columns:
                typed.loc[m_idx, c.name] = None
        typed["_sheet"] = table.sheet
        typed["_row_number"] = table.row_numbers
        pos = problems["pos"].to_numpy(dtype=np.int64)
        problems = problems.assign(rid=pos + offset, sheet=table.sheet,
                                   row_number=table.row_numbers[pos] if len(problems) else np.array([], dtype=np.int64)).drop(columns="pos")
        row_parts.append(typed)
        prob_parts.append(problems[PROBLEM_COLUMNS])
        quarantined_parts.append(quarantined)
        if table.sheet is not None:
            sheets[table.sheet] = n
        offset += n
    rows = pd.concat(row_parts, ignore_index=True) if row_parts else pd.DataFrame()
    probs = pd.concat(prob_parts, ignore_index=True) if any(len(p) for p in prob_parts) else _empty_problems()
    quarantined = np.concatenate(quarantined_parts) if quarantined_parts else np.zeros(0, dtype=bool)
    modified = _modified(path)
    f = _FileRows(label, digest, modified.isoformat(timespec="seconds"), rows, probs, sheets, quarantined,
                  cutoff=delivery_cutoff(titles, Path(path).name, modified))
    f.rejection = _over_limit(f, contract)
    return f


def _over_limit(f: _FileRows, contract: Contract) -> FileRejected | None:
    """A :class:`FileRejected` when more than ``max_rejected_share`` of the file's records are quarantined
    for breaking the contract (rows that are no records and duplicates not counted), else None."""
    limit = source_rules(contract)["max_rejected_share"]
    p = f.problems
    if not len(p):
        return None
    markers = p.loc[p["reason"].isin((Reason.TOTALS_ROW, Reason.NOTE_ROW)), "rid"].nunique()
    broken = p[(p["disposition"] == QUARANTINED) & ~p["reason"].isin(NOT_REJECTIONS)]
    records = len(f.rows) - markers
    n_bad = broken["rid"].nunique()
    if not records or n_bad / records <= limit:
        return None
    top = broken.groupby("reason")["rid"].nunique().sort_values(ascending=False)
    first = broken.sort_values("rid").iloc[0]
    at = (f"[sheet {first['sheet']!r}] " if isinstance(first["sheet"], str) else "") + f"row {int(first['row_number'])}, column {first['column']}"
    at_zh = (f"工作表“{first['sheet']}”" if isinstance(first["sheet"], str) else "") + f"第 {int(first['row_number'])} 行“{first['column']}”列"
    share, lim = f"{n_bad / records:.1%}", f"{limit:.0%}" if limit * 100 == int(limit * 100) else f"{limit:.1%}"
    return FileRejected(
        f"{f.label}：{records} 条记录中有 {n_bad} 条（{share}）无法使用，超过上限 {lim}，整个文件暂不加载。"
        f"主要原因：" + "；".join(f"{reason_zh(r)} {n} 条" for r, n in top.head(3).items()) + f"。第一处：{at_zh}。请更正后重新报送。",
        f"{f.label}: {n_bad} of {records} records ({share}) cannot be used, more than the limit of {lim}, so the file is set aside."
        " Main reasons: " + "; ".join(f"{r} ×{n}" for r, n in top.head(3).items()) + f". First at {at}. Please correct and send it again.",
    )


def ingest_source(contract: Contract, landing_root: Path, known_files: dict[str, dict] | None = None,
                  known_rejections: dict[str, dict] | None = None) -> IngestResult:
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
    """
    audit_skipped: list[dict] = []
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
            continue
        seen[digest] = label
        todo.append((path, label, digest))
    # newest first: a file whose known scopes are all covered by later files is not read again
    later_scopes: set[str] = set()
    by_index: dict[int, _FileRows] = {}
    rejected: list[tuple[int, dict, _FileRows | None]] = []
    for i in range(len(todo) - 1, -1, -1):
        path, label, digest = todo[i]
        before = (known_rejections or {}).get(digest)
        if before and before.get("rules_digest") == contract.digest:
            note_zh, note_en = "（此前已搁置，文件更改后才会重新读取）", " (set aside at an earlier run; read again once the file changes)"
            err = FileRejected(str(before["rejected_reason_zh"]).removesuffix(note_zh) + note_zh,
                               str(before["rejected_reason_en"]).removesuffix(note_en) + note_en)
            rejected.append((i, rejected_audit_row(contract, path, label, digest, err, int(before.get("rows_read") or 0)), None))
            continue
        fact = (known_files or {}).get(digest)
        known = known_file_scopes(contract, fact)
        if known and known <= later_scopes:
            sheets = json.loads(fact["sheets"]) if fact.get("sheets") else {}
            empty = pd.DataFrame(columns=[c.name for c in contract.kept_columns] + ["_sheet", "_row_number"])
            by_index[i] = _FileRows(label, digest, _modified(path).isoformat(timespec="seconds"), empty, _empty_problems(),
                                    sheets, known_rows=int(fact["rows_read"]), known_scopes=known,
                                    cutoff=delivery_cutoff((), path.name, _modified(path)))
            continue
        try:
            f = read_file(path, contract, label, digest)
        except FileRejected as err:
            rejected.append((i, rejected_audit_row(contract, path, label, digest, err, 0), None))
            continue
        if f.rejection is not None:
            rejected.append((i, rejected_audit_row(contract, path, label, digest, f.rejection, len(f.rows), f), f))
            continue
        by_index[i] = f
        if contract.delivery_scope is not None and len(f.rows):
            later_scopes |= set(scope_values(f.rows, contract.delivery_scope).dropna().unique())
    order_idx = sorted(by_index)
    loads = [by_index[i] for i in order_idx]

    kept = [c.name for c in contract.kept_columns]
    # 1. re-delivery: which rows of earlier files are covered by a later file's scope
    scopes = [scope_values(f.rows, contract.delivery_scope) if contract.delivery_scope is not None and len(f.rows) else None for f in loads]
    superseded = [np.zeros(len(f.rows), dtype=bool) for f in loads]
    superseded_by: list[set[str]] = [set() for _ in loads]
    if contract.delivery_scope is not None:
        covered: dict[str, str] = {}  # scope value -> label of the latest file covering it
        for i in range(len(loads) - 1, -1, -1):
            sc = scopes[i]
            if loads[i].known_scopes is not None:  # not read again: wholly superseded (checked above)
                superseded_by[i] = {covered[v] for v in loads[i].known_scopes if v in covered}
                continue
            if sc is None:
                continue
            own = set(sc.dropna().unique())
            hit = sc.isin(set(covered)).fillna(False).to_numpy(dtype=bool, copy=True)
            if own and own <= set(covered):
                hit[:] = True  # every scope of this file was delivered again: the whole file is replaced
            superseded[i] = hit
            superseded_by[i] = {covered[v] for v in own if v in covered}
            for v in own:
                covered.setdefault(v, loads[i].label)

    # 2. problems of the rows that still count; duplicates of the key among the records loaded
    frames, problems = [], []
    for i, f in enumerate(loads):
        if f.known_rows is not None:
            continue  # not read again: no rows, no problems
        r = f.rows.copy()
        r["_source_file"] = f.label
        r["_file_sha256"] = f.digest
        r["_file_index"] = i
        r["_superseded"] = superseded[i]
        p = f.problems
        if len(p):
            p = p[~superseded[i][p["rid"].to_numpy(dtype=np.int64)]]
        r["_bad"] = f.quarantined & ~superseded[i]
        r["_rid"] = np.arange(len(r))
        frames.append(r)
        problems.append(p.assign(file_index=i))
    cols_out = kept + ["_source_file", "_sheet", "_row_number", "_file_sha256"]
    allrows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols_out + ["_file_index", "_superseded", "_bad", "_rid"])
    if contract.key and len(allrows):
        key_cols = list(contract.key)
        live = allrows[~allrows["_bad"].astype(bool) & ~allrows["_superseded"].astype(bool) & allrows[key_cols].notna().all(axis=1)]
        dup = live.duplicated(subset=key_cols, keep="first")
        if dup.any():
            first_at = pd.Series(live.index, index=live.index).groupby([live[k] for k in key_cols], sort=False).transform("min")
            d = live[dup]
            fd = allrows.loc[first_at[dup].to_numpy(), ["_source_file", "_sheet", "_row_number"]]
            fd.index = d.index
            where = fd["_source_file"] + np.where(fd["_sheet"].isna(), "", " [sheet " + fd["_sheet"].astype(str) + "]") + " row " + fd["_row_number"].astype(str)
            dups = pd.DataFrame({
                "rid": d["_rid"].to_numpy(), "sheet": d["_sheet"].to_numpy(), "row_number": d["_row_number"].to_numpy(),
                "column": "+".join(contract.column(k).header_zh for k in key_cols), "reason": Reason.DUPLICATE,
                "value": ("same as " + where).to_numpy(), "disposition": QUARANTINED, "file_index": d["_file_index"].to_numpy(),
            })
            problems.append(dups)
            allrows.loc[d.index, "_bad"] = True
    good = ~allrows["_bad"].to_numpy(dtype=bool) & ~allrows["_superseded"].to_numpy(dtype=bool)
    accepted = allrows.loc[good, cols_out].reset_index(drop=True)

    prob = pd.concat([p for p in problems if len(p)], ignore_index=True) if any(len(p) for p in problems) else _empty_problems().assign(file_index=pd.Series(dtype="int64"))
    prob["file_index"] = prob["file_index"].astype(np.int64)
    if len(prob) and len(allrows):  # a record not loaded (a duplicate too): every fault of it is part of why
        bad = set(zip(allrows.loc[allrows["_bad"].astype(bool), "_file_index"], allrows.loc[allrows["_bad"].astype(bool), "_rid"]))
        out = np.fromiter(((fi, r) in bad for fi, r in zip(prob["file_index"], prob["rid"])), dtype=bool, count=len(prob))
        prob["disposition"] = np.where(out, QUARANTINED, prob["disposition"])
    prob = prob.sort_values(["file_index", "rid", "column"], kind="stable")

    audit = []
    order = {f.label: i for i, f in enumerate(loads)}
    for i, f in enumerate(loads):
        audit.append(file_audit_row(contract, f, prob[prob["file_index"] == i], superseded[i], scopes[i],
                                    superseded_by[i], order, QUARANTINED, FIELD_FAULT))
    quarantine_parts = []
    if len(prob):
        quarantine_parts.append(prob.assign(source_id=contract.source_id, file_name=[loads[i].label for i in prob["file_index"]]))
    for _, row, f in rejected:
        audit.append(row)
        if f is not None and len(f.problems):  # past its limit: its faults stay listed for the clerk, none loaded
            quarantine_parts.append(f.problems.assign(source_id=contract.source_id, file_name=f.label, disposition=QUARANTINED))
    q = pd.concat(quarantine_parts, ignore_index=True)[QUARANTINE_COLUMNS] if quarantine_parts else pd.DataFrame(columns=QUARANTINE_COLUMNS)
    q["row_number"] = q["row_number"].astype(np.int64)
    audit.extend(audit_skipped)
    audit.sort(key=lambda a: (a["file_modified_at"], a["file_name"]))
    total_loaded = sum(a["rows_loaded"] for a in audit)
    if total_loaded != len(accepted):  # the audit is computed apart from the accepted frame: prove they agree
        raise AssertionError(f"{contract.source_id}: audit says {total_loaded} rows loaded, {len(accepted)} accepted")
    return IngestResult(accepted=accepted, quarantine=q.reset_index(drop=True), audit=audit)
