"""Reading department files into tables of text cells, before any contract check.

Accepted inputs (one place for what the warehouse reads):

* CSV (``.csv``, ``.txt``) in UTF-8, UTF-8 with a byte-order mark, or GB18030/GBK, detected
  unless the contract declares ``encoding``;
* Excel workbooks, ``.xlsx``/``.xlsm`` and the older ``.xls`` (read with python-calamine),
  every sheet.

In both, title rows may stand above the header (``大兴区……统计表``, ``单位：人``), and the header
may take one row or two (a group label merged over its sub-headers, other labels merged down
over both rows): :func:`locate_header` finds it by matching the contract's headers within the
first :data:`HEADER_SCAN_ROWS` rows. Merged cells take the value of their top-left cell, so a
town name merged down over several data rows is repeated on each. Completely blank rows are not
records and are not counted.

Row numbers are the ones the file shows: the spreadsheet's row number (1 = the first row of the
sheet), or the CSV line on which the record starts. Cells become text: whole numbers without
``.0``, date cells as ``YYYY-MM-DD``; the contract check (:mod:`daxing_kpi.ingest`) types them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

CSV_SUFFIXES = {".csv", ".txt"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
HEADER_SCAN_ROWS = 30


@dataclass
class Table:
    """One block of records of a file: a CSV file or one sheet of a workbook.

    ``frame`` holds the data rows as text, one column per header label (labels made unique);
    ``row_numbers`` the row of each as the file shows it; ``header_row`` the (last) header row.
    """

    sheet: str | None
    frame: pd.DataFrame
    row_numbers: np.ndarray
    header_row: int
    extra_cells: np.ndarray | None = None  # per row: True where values stand right of the last header column


def normalize_text(value) -> str:
    """NFKC (full-width digits, letters and brackets to half-width), no spaces or line breaks."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value)))


def decode_bytes(raw: bytes, declared: str | None = "auto") -> str:
    """Text of a CSV file: UTF-8 (with or without BOM) or GB18030/GBK, detected unless declared.

    Raises ``UnicodeDecodeError`` when a declared encoding does not fit the bytes.
    """
    if declared not in ("auto", None, ""):
        text = raw.decode(declared)
        return text[1:] if text.startswith("\ufeff") else text
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gb18030")


def cell_text(value) -> str:
    """A spreadsheet cell as text: ``12.0`` -> ``12``, dates ``YYYY-MM-DD``, booleans ``true``/``false``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


# -- header location ------------------------------------------------------------------------------


def _header_candidates(upper: list[str], lower: list[str] | None) -> list[str]:
    """Label of every column for a header of one row (``lower`` None) or two rows."""
    if lower is None:
        return [u.strip() for u in upper]
    out = []
    for u, low in zip(upper, lower):
        out.append((low or u).strip())
    return out


def locate_header(grid: list[list[str]], known: dict[str, object], scan: int = HEADER_SCAN_ROWS) -> tuple[int, int, list[str], int]:
    """Find the header within the first ``scan`` rows of ``grid`` (rows of text cells).

    ``known`` maps normalised contract headers (and English names) to contract columns. Every row,
    alone and together with the row below it, is tried; for a two-row header a column's label is
    the lower cell when it names a contract column, else the upper one (a label merged down over
    both rows, or a group label above sub-headers). The candidate naming the most distinct
    contract columns wins, one row before two on a tie.

    Returns ``(first_header_row, header_rows, labels, matched)`` with 0-based row positions;
    ``matched`` is the number of contract columns named (0 when nothing matched).
    """
    best = (0, 1, list(grid[0]) if grid else [], 0)
    for r in range(min(scan, len(grid))):
        upper = grid[r]
        for n in (1, 2):
            if n == 2 and r + 1 >= len(grid):
                continue
            if n == 1:
                labels = _header_candidates(upper, None)
            else:
                lower = grid[r + 1]
                labels = []
                for u, low in zip(upper, lower):
                    nl, nu = normalize_text(low), normalize_text(u)
                    if nl and nl in known:
                        labels.append(low.strip())
                    elif nu and nu in known:
                        labels.append(u.strip())
                    elif normalize_text(u + low) in known:
                        labels.append((u + low).strip())
                    else:
                        labels.append((low or u).strip())
            matched = len({id(known[normalize_text(x)]) for x in labels if normalize_text(x) in known})
            if matched > best[3]:
                best = (r, n, labels, matched)
    return best


def _unique_labels(labels: list[str]) -> list[str]:
    """Header labels made unique (a blank label becomes ``(column C)``; repeats get ``#2``)."""
    out, seen = [], {}
    for i, label in enumerate(labels):
        name = label if label.strip() else f"(column {_column_letter(i)})"
        if name in seen:
            seen[name] += 1
            name = f"{name}#{seen[name]}"
        else:
            seen[name] = 1
        out.append(name)
    return out


def _column_letter(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        s = chr(65 + rem) + s
    return s


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
    return Table(sheet, frame.astype(str) if len(frame) else frame, rows, header_row, extra), matched


# -- CSV ---------------------------------------------------------------------------------------------


def _csv_rows_with_lines(text: str):
    """``(first line number, record)`` for every CSV record of ``text`` (1-based lines)."""
    reader = csv.reader(io.StringIO(text))
    start = 1
    for rec in reader:
        yield start, rec
        start = reader.line_num + 1


def read_csv_tables(path: Path, known: dict[str, object], encoding: str | None = "auto") -> list[tuple[Table, int]]:
    """A CSV file as one :class:`Table` (title rows skipped, header located), with its match count.

    Large files take a fast path (pandas' C parser) when every record is one line; otherwise, for
    quoted line breaks or ragged rows, the standard ``csv`` module keeps the line numbers right.
    """
    text = decode_bytes(Path(path).read_bytes(), encoding)
    head = list(itertools.islice(_csv_rows_with_lines(text), HEADER_SCAN_ROWS + 1))
    if not head:
        return [(Table(None, pd.DataFrame(), np.array([], dtype=np.int64), 0), 0)]
    width = max(len(r) for _, r in head)
    grid = [r + [""] * (width - len(r)) for _, r in head]
    first, n, labels, matched = locate_header(grid, known)
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
                na_filter=False, skip_blank_lines=False, names=range(len(labels)), index_col=False, engine="c",
            ).fillna("")
            del data
            if n_lines == len(df):
                rows = np.arange(header_end_line + 1, header_end_line + 1 + len(df), dtype=np.int64)
                keep = (df != "").any(axis=1).to_numpy()
                frame = df[keep].reset_index(drop=True)
                frame.columns = _unique_labels(labels)
                empty_cols = [c for c, lab in zip(frame.columns, labels) if not lab.strip() and not (frame[c] != "").any()]
                frame = frame.drop(columns=empty_cols)
                return [(Table(None, frame, rows[keep], head[first + n - 1][0], None), matched)]
        except (pd.errors.ParserError, ValueError):
            pass
    records = list(_csv_rows_with_lines(text))
    grid = [r for _, r in records]
    lines = [ln for ln, _ in records]
    return [_table_from_grid(grid, lines, None, known)]


# -- Excel -------------------------------------------------------------------------------------------


def _fill_merged(grid: list[list[str]], merged) -> None:
    """Give every cell of a merged range the value of its top-left cell (in place)."""
    for (r0, c0), (r1, c1) in merged or []:
        if r0 >= len(grid):
            continue
        value = grid[r0][c0] if c0 < len(grid[r0]) else ""
        for r in range(r0, min(r1, len(grid) - 1) + 1):
            row = grid[r]
            if len(row) <= c1:
                row.extend([""] * (c1 + 1 - len(row)))
            for c in range(c0, c1 + 1):
                row[c] = value


def read_excel_tables(path: Path, known: dict[str, object]) -> list[tuple[Table, int]]:
    """Every sheet of an ``.xlsx``/``.xls`` workbook as a :class:`Table` with its match count.

    Raises ``ValueError`` naming the file when the workbook cannot be opened."""
    from python_calamine import CalamineError, load_workbook

    try:
        wb = load_workbook(str(path))
    except (CalamineError, OSError, ValueError) as exc:
        raise ValueError(f"{Path(path).name}: not a readable Excel workbook ({exc})") from exc
    out = []
    for name in wb.sheet_names:
        sheet = wb.get_sheet_by_name(name)
        raw = sheet.to_python(skip_empty_area=False)
        grid = [[cell_text(v) for v in row] for row in raw]
        _fill_merged(grid, getattr(sheet, "merged_cell_ranges", None))
        out.append(_table_from_grid(grid, list(range(1, len(grid) + 1)), name, known))
    return out


def read_tables(path: Path, known: dict[str, object], encoding: str | None = "auto") -> list[tuple[Table, int]]:
    """The tables of a CSV file or Excel workbook with the number of contract columns each header names."""
    suffix = Path(path).suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        return read_excel_tables(path, known)
    return read_csv_tables(path, known, encoding)
