"""Which rows of a table are records, and which header columns are the contract's.

* :func:`header_index` / :func:`match_headers`: a file's header labels mapped to contract columns
  after trimming spaces, full-width characters and line breaks (header variants accepted); a header
  that cannot be matched raises :class:`ContractError` (the file is set aside) naming the file, sheet,
  header row, the missing required columns and the closest contract column for each unexpected one.
* :func:`marker_rows`: rows that are no records: a totals row (合计/总计/小计/共计) or a note or
  signature row (填表人, 审核人, 说明: ...), whichever cell holds the marker: the first non-blank cell
  (a blank 序号 before it is fine), or any cell that holds the marker alone (合计 in column B) or a
  signature label followed by a colon (审核人：李强).
"""

from __future__ import annotations

import difflib
import re

import numpy as np
import pandas as pd

from daxing_kpi.ingest.contracts import Column, Contract
from daxing_kpi.ingest.fields import norm_series
from daxing_kpi.ingest.readers import HEADER_SCAN_ROWS, normalize_text
from daxing_kpi.ingest.reasons import ContractError, Reason

TOTAL_MARKERS = ("合计", "总计", "小计", "共计")
NOTE_MARKERS = ("填表人", "制表人", "填报人", "审核人", "负责人", "联系人", "填表日期", "填报日期", "制表日期", "注:", "备注:", "说明:")
_TOTAL_RE = re.compile(r"^(%s)([:：].*)?$" % "|".join(TOTAL_MARKERS))
_NOTE_RE = re.compile(r"^(%s)" % "|".join(re.escape(m) for m in NOTE_MARKERS))
# a marker in any cell: a totals word alone, or a signature label with a colon
_ANY_TOTAL_RE = r"^(%s)([:：].*)?$" % "|".join(TOTAL_MARKERS)
_ANY_NOTE_RE = r"^(%s)" % "|".join(re.escape(m.rstrip(":")) + "[:：]" for m in NOTE_MARKERS)


def header_index(contract: Contract) -> dict[str, Column]:
    """Normalised header spellings (Chinese header, its variants, English name) -> contract column."""
    index: dict[str, Column] = {}
    for c in contract.columns:
        for h in (c.name, *c.header_aliases, c.header_zh):
            index[normalize_text(h)] = c
    return index


def match_headers(columns: list[str], contract: Contract, file_label: str, header_found: bool = True) -> dict[str, Column]:
    """Map a file's headers to contract columns after trimming spaces, full-width characters and
    line breaks (header variants of the contract accepted).

    Raises :class:`ContractError` naming ``file_label`` (file, sheet, header row), the missing
    required columns and the unexpected columns with the closest contract column for each."""
    by_header = header_index(contract)
    mapping: dict[str, Column] = {}
    unexpected = []
    for col in columns:
        c = by_header.get(normalize_text(col))
        if c is None:
            if normalize_text(col) and not col.startswith("(column "):
                unexpected.append(col)
        else:
            mapping[col] = c
    found = {c.name for c in mapping.values()}
    missing = [c for c in contract.columns if c.required and c.name not in found]
    if missing:
        lines = [f"{file_label}: header does not match contract {contract.source_id!r}."]
        zh = [f"{file_label}：表头与数据契约“{contract.title_zh or contract.source_id}”不符。"]
        if not header_found:
            lines.append(f"  no row among the first {HEADER_SCAN_ROWS} names a contract column; the first row was taken as the header")
            zh.append(f"前 {HEADER_SCAN_ROWS} 行中没有一行含有契约的列名。")
        lines.append("  missing required columns: " + ", ".join(f"{c.header_zh} ({c.name})" for c in missing))
        zh.append("缺少必填列：" + "、".join(c.header_zh for c in missing) + "。")
        if unexpected:
            parts, parts_zh = [], []
            for u in unexpected:
                close = difflib.get_close_matches(normalize_text(u), list(by_header), n=1, cutoff=0.0)
                hint = f" (closest contract column: {by_header[close[0]].header_zh})" if close else ""
                parts.append(f"{u!r}{hint}")
                parts_zh.append(f"“{u}”" + (f"（最接近的契约列：{by_header[close[0]].header_zh}）" if close else ""))
            lines.append("  unexpected columns: " + ", ".join(parts))
            zh.append("多出的列：" + "、".join(parts_zh) + "。")
        raise ContractError("\n".join(lines), "".join(zh))
    return mapping


def marker_rows(df: pd.DataFrame, rows: np.ndarray | None = None) -> tuple[pd.Series, pd.Series]:
    """Rows that are not records: ``(reason, value)`` per row, reason None for a record.

    The first non-blank cell decides (a blank first cell, such as a blank 序号, is passed over):
    合计/总计/小计/共计 (optionally followed by ``:`` and text) makes a totals row, 填表人/审核人/说明: ...
    a note or signature row. Any other cell holding a totals word alone, or a signature label with a
    colon, marks the row too. The value kept is the marker alone (a signature line names a clerk).
    ``rows``: positions to examine (default all; ingestion passes the rows with a fault, since a row
    without one is a record)."""
    reason = pd.Series([None] * len(df), index=df.index, dtype=object)
    value = pd.Series([None] * len(df), index=df.index, dtype=object)
    if not len(df) or not len(df.columns):
        return reason, value
    pos = np.arange(len(df)) if rows is None else np.unique(np.asarray(rows, dtype=np.int64))
    if not pos.size:
        return reason, value
    sub = df.iloc[pos]
    cells = [norm_series(sub[c].astype(str)) for c in sub.columns]
    first = cells[0].copy()
    blank = (first == "").to_numpy(dtype=bool, na_value=True).copy()
    for cell in cells[1:]:  # rows whose first cell is blank: the next non-blank cell
        if not blank.any():
            break
        take = blank & (cell != "").to_numpy(dtype=bool, na_value=False)
        first = first.where(~take, cell)
        blank = blank & ~take
    totals = first.str.match(_TOTAL_RE.pattern).fillna(False).to_numpy(dtype=bool).copy()
    notes = ~totals & first.str.match(_NOTE_RE.pattern).fillna(False).to_numpy(dtype=bool)
    mark = first.copy()
    for cell in cells:
        t = ~totals & ~notes & cell.str.match(_ANY_TOTAL_RE).fillna(False).to_numpy(dtype=bool)
        n = ~totals & ~notes & ~t & cell.str.match(_ANY_NOTE_RE).fillna(False).to_numpy(dtype=bool)
        mark = mark.where(~(t | n), cell)
        totals = totals | t
        notes = notes | n
    idx = sub.index
    if totals.any():
        reason.loc[idx[totals]] = Reason.TOTALS_ROW
        value.loc[idx[totals]] = mark[totals].str.extract(f"^({'|'.join(TOTAL_MARKERS)})", expand=False).to_numpy()
    if notes.any():
        reason.loc[idx[notes]] = Reason.NOTE_ROW
        value.loc[idx[notes]] = mark[notes].str.extract(f"^({'|'.join(re.escape(m.rstrip(':')) for m in NOTE_MARKERS)})",
                                                          expand=False).to_numpy()
    return reason, value
