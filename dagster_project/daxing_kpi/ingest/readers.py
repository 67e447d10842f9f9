"""Reading department files into tables of text cells, before any contract check.

Files are read by what they hold, not by their name (:func:`sniff`): a department's "导出Excel"
is often no workbook at all. Accepted contents (one place for what the warehouse reads):

* Excel workbooks, ``.xlsx``/``.xlsm`` (a zip) and the older ``.xls`` (OLE2), read with
  python-calamine, every sheet, whatever the file is called;
* an HTML table saved as ``.xls`` (web systems' export), any ``<meta>`` charset or none (UTF-8,
  then GB18030), read with lxml; every ``<table>`` is a sheet (``表1``, ``表2`` ...);
  ``colspan``/``rowspan`` cells repeat their value as merged cells do;
* SpreadsheetML 2003 (XML "Excel 2003" exports), every ``Worksheet``, ``ss:Index``,
  ``MergeAcross``/``MergeDown`` honoured, ``DateTime`` cells as dates;
* delimited text: comma- or tab-separated (tab-separated text saved as ``.xls`` by old systems),
  in UTF-8, UTF-8 with a byte-order mark, UTF-16 (with or without a byte-order mark) or
  GB18030/GBK, detected unless the contract declares ``encoding``.

Empty files, binary files (a PDF, an image, a damaged workbook) and text that is no table raise
:class:`daxing_kpi.ingest.reasons.FileRejected` with a reason naming the file, in Chinese and English.

In every shape, title rows may stand above the header (``大兴区……统计表``, ``单位：人``,
``截至日期：2026年10月31日``: kept as :attr:`Table.title_lines`), and the header may take one row or
two (a group label merged over its sub-headers, other labels merged down over both rows):
:func:`locate_header` finds it by matching the contract's headers within the first
:data:`HEADER_SCAN_ROWS` rows. Merged cells take the value of their top-left cell, so a town name
merged down over several data rows is repeated on each. Completely blank rows are not records and
are not counted.

Row numbers are the ones the file shows: the spreadsheet's row number (1 = the first row of the
sheet; the ``<tr>`` of an HTML table), or the text line on which the record starts. Cells become
text: whole numbers without ``.0``, date cells as ``YYYY-MM-DD`` (``YYYY-MM-DD HH:MM:SS`` with a time
of day); the contract check (:mod:`daxing_kpi.ingest.fields`) types them.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import io
import itertools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
# Names of the files a landing folder is read for (the content decides how: :func:`sniff`).
LANDING_SUFFIXES = CSV_SUFFIXES | EXCEL_SUFFIXES | {".xml", ".htm", ".html", ".et"}
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
    title_lines: tuple[str, ...] = ()  # text of the rows above the header (title, unit, 截至日期 ...)


def normalize_text(value) -> str:
    """NFKC (full-width digits, letters and brackets to half-width), no spaces or line breaks."""
    return _normalize_str(str(value))


_SPACES = re.compile(r"\s+")


@functools.lru_cache(maxsize=65536)
def _normalize_str(text: str) -> str:
    """:func:`normalize_text` of a string (kept per string: a header search asks for the same cells often)."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text))


def _utf16_without_bom(raw: bytes) -> str | None:
    """``utf-16-le``/``utf-16-be`` when the bytes look like UTF-16 text without a byte-order mark
    (a NUL in every other byte of the first kilobyte), else None."""
    head = raw[:1024]
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def text_encoding(raw: bytes) -> str:
    """The encoding of text bytes: ``utf-8-sig`` (BOM), ``utf-16`` (BOM or its NUL pattern), ``utf-8``
    when the bytes decode as UTF-8, else ``gb18030`` (GBK's superset)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    plain = _utf16_without_bom(raw)
    if plain:
        return plain
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as e:
        if e.start >= len(raw) - 3 and len(raw) > 4096:  # cut inside a character at the end of a sample
            return "utf-8"
        return "gb18030"


def decode_bytes(raw: bytes, declared: str | None = "auto") -> str:
    """Text of a delimited-text file: UTF-8 (with or without BOM), UTF-16 (with or without BOM) or
    GB18030/GBK, detected unless declared.

    Raises ``UnicodeDecodeError`` when the bytes are no text in that encoding.
    """
    if declared not in ("auto", None, ""):
        text = raw.decode(declared)
        return text[1:] if text.startswith("\ufeff") else text
    enc = text_encoding(raw)
    text = raw.decode(enc)
    return text[1:] if text.startswith("\ufeff") else text


def cell_text(value) -> str:
    """A spreadsheet cell as text: ``12.0`` -> ``12``, dates ``YYYY-MM-DD``, booleans ``true``/``false``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        if abs(value) >= 1e15:  # what Excel shows of a long number (an ID number typed as a number)
            return f"{value:.5E}"
        return repr(value)
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
    contract columns wins; on a tie, the one with fewer rows ending at or below the other (a title row
    merged across the top is a title, not part of the header).

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
            # more contract columns win; on a tie, fewer header rows (a title row above a one-row header is a title)
            if matched > best[3] or (matched == best[3] and matched and n < best[1] and r + n > best[0] + best[1] - 1):
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
    used = max((i for i, x in enumerate(labels) if x.strip()), default=-1) + 1
    frame, rows, extra = _body(grid[first + n:], row_numbers[first + n:], used, labels)
    header_row = row_numbers[first + n - 1] if row_numbers else 0
    titles = tuple(" ".join(c.strip() for c in r if str(c).strip()) for r in grid[:first])
    return Table(sheet, frame, rows, header_row, extra, titles), matched


def _body(body: list[list[str]], row_numbers: list[int], used: int, labels: list[str]) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
    """Rows under a header as ``(frame, row numbers, extra cells)``: the ``used`` first columns (named by the
    labels), completely blank rows left out, and per row whether values stand right of the last labelled
    column (None when no row is that wide)."""
    columns = _unique_labels(labels[:used])
    rows = np.array(row_numbers, dtype=np.int64)
    extra = None
    if not body:
        return pd.DataFrame(columns=columns), rows, extra
    width = max(len(r) for r in body)
    arr = np.array([r + [""] * (width - len(r)) for r in body], dtype=object) if width else np.empty((len(body), 0), dtype=object)
    if used < width:
        tail = arr[:, used:]
        extra = (np.vectorize(lambda v: bool(str(v).strip()), otypes=[bool])(tail)).any(axis=1)
    arr = arr[:, :used]
    if arr.shape[1] < used:
        arr = np.hstack([arr, np.full((len(arr), used - arr.shape[1]), "", dtype=object)])
    nonblank = np.vectorize(lambda v: bool(str(v).strip()), otypes=[bool])(arr).any(axis=1) if arr.size else np.zeros(len(body), bool)
    if extra is not None:
        nonblank |= extra
        extra = extra[nonblank]
    arr = arr[nonblank]
    rows = rows[nonblank]
    frame = pd.DataFrame(arr, columns=columns, dtype=object) if len(arr) else pd.DataFrame(columns=columns)
    return (frame.astype(str) if len(frame) else frame), rows, extra


# -- delimited text ------------------------------------------------------------------------------------


def _csv_rows_with_lines(text: str, delimiter: str = ","):
    """``(first line number, record)`` for every record of ``text`` (1-based lines)."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    start = 1
    for rec in reader:
        yield start, rec
        start = reader.line_num + 1


def _delimiter(text: str) -> str:
    """Tab when the first lines hold more tabs than commas (text "exported to Excel"), else comma."""
    head = text[:8192]
    return "\t" if head.count("\t") > head.count(",") else ","


ROWS_PER_PIECE = 50_000  # records the Python CSV reader hands on at a time


def csv_encoding(path: Path, declared: str | None = "auto") -> str:
    """The encoding of a delimited-text file, as :func:`text_encoding` decides it from the whole file (a
    byte-order mark or UTF-16's pattern in the first bytes; else UTF-8 when every byte decodes as UTF-8,
    checked in pieces; else GB18030), or the declared one."""
    if declared not in ("auto", None, ""):
        return declared
    size = Path(path).stat().st_size
    with open(path, "rb") as f:
        head = f.read(65536)
        enc = text_encoding(head)
        if enc != "utf-8" or len(head) >= size:
            return enc  # decided by the first bytes (a mark, UTF-16, or no UTF-8 there), or the whole file was read
        dec = codecs.getincrementaldecoder("utf-8")()
        f.seek(0)
        done = 0
        try:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                dec.decode(chunk)
                done += len(chunk)
            dec.decode(b"", final=True)
        except UnicodeDecodeError as e:
            at = done + e.start if e.start >= 0 else done
            return "utf-8" if at >= size - 3 and size > 4096 else "gb18030"
    return "utf-8"


def _open_text(path: Path, encoding: str):
    """The file as text (newlines kept as written; a leading byte-order mark dropped)."""
    enc = "utf-8-sig" if encoding == "utf-8" else encoding
    text = io.TextIOWrapper(open(path, "rb"), encoding=enc, errors="strict", newline="\n")
    if text.read(1) != "\ufeff":
        text.seek(0)
    return text


@dataclass
class CsvPieces:
    """A delimited-text file read with Python's ``csv`` module in pieces: the header found among the first
    records (:attr:`header`: a :class:`Table` without rows, with :attr:`matched`), then :meth:`pieces`
    gives the rows under it, :data:`ROWS_PER_PIECE` records at a time, each a :class:`Table` of the same
    columns. Memory does not grow with the file."""

    path: Path
    encoding: str
    header: Table
    matched: int
    delimiter: str
    skip_records: int
    used: int
    labels: list[str]

    def pieces(self, rows_per_piece: int = ROWS_PER_PIECE):
        with _open_text(self.path, self.encoding) as text:
            reader = csv.reader(text, delimiter=self.delimiter)
            start = 1
            body, lines = [], []
            for i, rec in enumerate(reader):
                line, start = start, reader.line_num + 1
                if i < self.skip_records:
                    continue
                body.append(rec)
                lines.append(line)
                if len(body) >= rows_per_piece:
                    yield self._piece(body, lines)
                    body, lines = [], []
            if body:
                yield self._piece(body, lines)

    def _piece(self, body, lines) -> Table:
        frame, rows, extra = _body(body, lines, self.used, self.labels)
        return Table(None, frame, rows, self.header.header_row, extra, self.header.title_lines)


def csv_pieces(path: Path, known: dict[str, object], encoding: str | None = "auto") -> CsvPieces:
    """Open a delimited-text file (comma or tab) for :class:`CsvPieces`: the encoding decided
    (:func:`csv_encoding`), the header located among the first records. Raises ``UnicodeDecodeError``
    for bytes that are no text in the encoding."""
    enc = csv_encoding(path, encoding)
    with _open_text(path, enc) as text:
        sample = text.read(8192)
    sep = _delimiter(sample)
    head = []
    with _open_text(path, enc) as text:
        reader = csv.reader(text, delimiter=sep)
        start = 1
        for rec in itertools.islice(reader, HEADER_SCAN_ROWS + 1):
            head.append((start, rec))
            start = reader.line_num + 1
    if not head:
        return CsvPieces(Path(path), enc, Table(None, pd.DataFrame(), np.array([], dtype=np.int64), 0), 0, sep, 0, 0, [])
    width = max(len(r) for _, r in head)
    grid = [r + [""] * (width - len(r)) for _, r in head]
    first, n, labels, matched = locate_header(grid, known)
    used = max((i for i, x in enumerate(labels) if x.strip()), default=-1) + 1
    titles = tuple(" ".join(c.strip() for c in r if str(c).strip()) for r in grid[:first])
    header = Table(None, pd.DataFrame(columns=_unique_labels(labels[:used])), np.array([], dtype=np.int64), head[first + n - 1][0],
                   None, titles)
    return CsvPieces(Path(path), enc, header, matched, sep, first + n, used, labels)


def read_csv_tables(path: Path, known: dict[str, object], encoding: str | None = "auto", text: str | None = None) -> list[tuple[Table, int]]:
    """A delimited-text file (comma or tab) as one :class:`Table` (title rows skipped, header located),
    with its match count, read with Python's ``csv`` module (quoted line breaks, ragged rows: the line
    numbers stay right). The whole file in one table: ingestion reads pieces (:func:`csv_pieces`) or
    lets DuckDB read (:mod:`daxing_kpi.ingest.csvread`)."""
    if text is not None:
        records = list(_csv_rows_with_lines(text, _delimiter(text)))
        return [_table_from_grid([r for _, r in records], [ln for ln, _ in records], None, known)]
    src = csv_pieces(path, known, encoding)
    parts = list(src.pieces())
    if not parts:
        return [(src.header, src.matched)]
    frame = pd.concat([p.frame for p in parts], ignore_index=True)
    rows = np.concatenate([p.row_numbers for p in parts])
    extras = [p.extra_cells if p.extra_cells is not None else np.zeros(len(p.frame), bool) for p in parts]
    extra = np.concatenate(extras) if any(p.extra_cells is not None for p in parts) else None
    return [(Table(None, frame, rows, src.header.header_row, extra, src.header.title_lines), src.matched)]


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


def read_excel_tables(path: Path, known: dict[str, object], sheets: set[str] | None = None) -> list[tuple[Table, int]]:
    """Every sheet of an ``.xlsx``/``.xls`` workbook as a :class:`Table` with its match count.

    ``sheets``: the only sheets to read, by :func:`normalize_text` of their names (a contract's ``sheets``);
    every other sheet is still listed, in the workbook's order, but as an empty table matching nothing (its
    cells are not read). None: read every sheet. Raises ``ValueError`` naming the file when the workbook
    cannot be opened."""
    from python_calamine import CalamineError, load_workbook

    try:
        wb = load_workbook(str(path))
    except (CalamineError, OSError, ValueError) as exc:
        raise ValueError(f"{Path(path).name}: not a readable Excel workbook ({exc})") from exc
    out = []
    for name in wb.sheet_names:
        if sheets is not None and normalize_text(name) not in sheets:
            out.append((Table(name, pd.DataFrame(), np.array([], dtype=np.int64), 0), 0))
            continue
        sheet = wb.get_sheet_by_name(name)
        raw = sheet.to_python(skip_empty_area=False)
        grid = [[cell_text(v) for v in row] for row in raw]
        _fill_merged(grid, getattr(sheet, "merged_cell_ranges", None))
        out.append(_table_from_grid(grid, list(range(1, len(grid) + 1)), name, known))
    return out


# -- HTML tables and SpreadsheetML ("Excel" files that are web pages or XML) ----------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)


def html_encoding(raw: bytes) -> str:
    """The encoding of an HTML page: its byte-order mark, its ``<meta>`` charset (gb2312 and gbk read as
    GB18030, their superset), else UTF-8 when the bytes decode as UTF-8, else GB18030."""
    if raw.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) or _utf16_without_bom(raw):
        return text_encoding(raw)
    m = _META_CHARSET.search(raw[:4096])
    if m:
        name = m.group(1).decode("ascii", "ignore").lower()
        if name in ("gb2312", "gbk", "gb18030", "x-gbk", "cp936"):
            return "gb18030"
        try:
            "".encode(name)
            return name
        except LookupError:
            pass
    return text_encoding(raw)


def _grid_with_spans(rows: list[list[tuple[str, int, int]]]) -> list[list[str]]:
    """A grid from rows of ``(text, colspan, rowspan)`` cells, spans filled with the cell's text."""
    grid: list[list[str]] = []
    pending: dict[tuple[int, int], str] = {}  # (row, col) -> text of a cell spanning down into it
    for r, cells in enumerate(rows):
        row: list[str] = []
        c = 0
        for text, colspan, rowspan in cells:
            while (r, c) in pending:
                row.append(pending.pop((r, c)))
                c += 1
            for k in range(max(colspan, 1)):
                row.append(text)
                for d in range(1, max(rowspan, 1)):
                    pending[(r + d, c + k)] = text
            c += max(colspan, 1)
        while (r, c) in pending:
            row.append(pending.pop((r, c)))
            c += 1
        grid.append(row)
    return grid


def read_html_tables(path: Path, known: dict[str, object], raw: bytes | None = None) -> list[tuple[Table, int]]:
    """Every ``<table>`` of an HTML page (the "导出Excel" of web systems, saved as ``.xls``) as a
    :class:`Table`; sheets are named ``表1``, ``表2`` ... when the page holds several tables."""
    import lxml.html

    raw = Path(path).read_bytes() if raw is None else raw
    enc = html_encoding(raw)
    text = raw.decode(enc, errors="replace")
    text = re.sub(r"^\s*<\?xml[^>]*>", "", text)  # lxml refuses a str with an encoding declaration
    doc = lxml.html.document_fromstring(text)
    tables = [t for t in doc.iter("table") if not any(True for _ in t.iterancestors("table"))]
    out = []
    for i, table in enumerate(tables, start=1):
        rows = []
        for tr in table.iter("tr"):
            if next(tr.iterancestors("table")) is not table:
                continue  # a row of a nested table
            cells = []
            for cell in tr:
                if not isinstance(cell.tag, str) or cell.tag.lower() not in ("td", "th"):
                    continue
                for br in cell.iter("br"):
                    br.tail = "\n" + (br.tail or "")
                content = cell.text_content().replace("\xa0", " ").strip()

                def span(name: str) -> int:
                    try:
                        return max(1, int(str(cell.get(name, "1")).strip() or 1))
                    except ValueError:
                        return 1

                cells.append((content, span("colspan"), span("rowspan")))
            rows.append(cells)
        grid = _grid_with_spans(rows)
        name = None if len(tables) == 1 else f"表{i}"
        out.append(_table_from_grid(grid, list(range(1, len(grid) + 1)), name, known))
    if not out:
        raise ValueError("no <table> in the page")
    return out


_SS = "urn:schemas-microsoft-com:office:spreadsheet"


def _spreadsheetml_cell(cell) -> str:
    data = cell.find(f"{{{_SS}}}Data")
    if data is None:
        return ""
    text = "".join(data.itertext()).strip()
    kind = data.get(f"{{{_SS}}}Type", "String")
    if kind == "DateTime" and text:
        stamp = text.rstrip("Z")
        date, _, time = stamp.partition("T")
        time = time.split(".")[0]
        return date if not time or time in ("00:00:00", "00:00") else f"{date} {time}"
    if kind == "Number" and text:
        try:
            return cell_text(float(text))
        except ValueError:
            return text
    if kind == "Boolean":
        return "true" if text == "1" else "false"
    return text


def read_spreadsheetml_tables(path: Path, known: dict[str, object], raw: bytes | None = None) -> list[tuple[Table, int]]:
    """Every ``Worksheet`` of a SpreadsheetML 2003 file ("XML 电子表格") as a :class:`Table`."""
    from lxml import etree

    raw = Path(path).read_bytes() if raw is None else raw
    root = etree.fromstring(raw, parser=etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True))
    out = []
    for ws in root.iter(f"{{{_SS}}}Worksheet"):
        name = ws.get(f"{{{_SS}}}Name") or f"Sheet{len(out) + 1}"
        table = ws.find(f"{{{_SS}}}Table")
        grid: list[list[str]] = []
        merges = []
        if table is not None:
            r = 0
            for row in table.iter(f"{{{_SS}}}Row"):
                idx = row.get(f"{{{_SS}}}Index")
                r = int(idx) - 1 if idx else r
                while len(grid) <= r:
                    grid.append([])
                c = 0
                for cell in row.iter(f"{{{_SS}}}Cell"):
                    cidx = cell.get(f"{{{_SS}}}Index")
                    c = int(cidx) - 1 if cidx else c
                    line = grid[r]
                    while len(line) <= c:
                        line.append("")
                    line[c] = _spreadsheetml_cell(cell)
                    across = int(cell.get(f"{{{_SS}}}MergeAcross", "0") or 0)
                    down = int(cell.get(f"{{{_SS}}}MergeDown", "0") or 0)
                    if across or down:
                        merges.append(((r, c), (r + down, c + across)))
                    c += 1 + across
                r += 1
        _fill_merged(grid, merges)
        out.append(_table_from_grid(grid, list(range(1, len(grid) + 1)), name, known))
    if not out:
        raise ValueError("no Worksheet in the XML file")
    return out


# -- what a file holds ----------------------------------------------------------------------------------

OLE2_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")


def sniff(path: Path) -> str:
    """What a file holds, from its first bytes: ``empty``, ``xlsx`` (a zip: xlsx/xlsm), ``xls`` (OLE2),
    ``spreadsheetml`` (Excel 2003 XML), ``html``, ``text`` (delimited text), ``pdf`` or ``binary``."""
    with open(path, "rb") as f:
        head = f.read(8192)
    if not head.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        return "empty"
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(OLE2_MAGIC):
        return "xls"
    if head.startswith(b"%PDF"):
        return "pdf"
    enc = text_encoding(head)
    sample = head.decode(enc, errors="ignore").lstrip("\ufeff \t\r\n").lower()
    if sample.startswith("<?xml") or sample.startswith("<workbook"):
        if "urn:schemas-microsoft-com:office:spreadsheet" in sample or "<workbook" in sample:
            return "spreadsheetml"
        if "<html" in sample:
            return "html"
    if re.match(r"<(!doctype\s+html|html|head|body|table|meta)\b", sample) or ("<table" in sample and "<tr" in sample):
        return "html"
    if b"\x00" in head and not enc.startswith("utf-16"):
        return "binary"
    controls = sum(1 for ch in sample[:4096] if ord(ch) < 32 and ch not in "\t\r\n\x0c")
    if controls > 8:
        return "binary"
    return "text"


def read_tables(path: Path, known: dict[str, object], encoding: str | None = "auto",
                sheets: set[str] | None = None) -> list[tuple[Table, int]]:
    """The tables of a landing file with the number of contract columns each header names, read by
    content (:func:`sniff`), whatever the file's name says. ``sheets``: of a workbook, read only these
    sheets (:func:`read_excel_tables`).

    Raises :class:`daxing_kpi.ingest.reasons.FileRejected` for an empty, binary or unreadable file."""
    from daxing_kpi.ingest.reasons import FileRejected

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
                return read_excel_tables(path, known, sheets)
            except ValueError as e:
                raise FileRejected(f"{name}：Excel 文件已损坏，无法打开（{str(e).split(': ', 1)[-1][:120]}）。请重新导出。",
                                   f"{name}: the Excel workbook is damaged and cannot be opened ({str(e).split(': ', 1)[-1][:120]})."
                                   " Please export it again.") from None
        if kind == "html":
            return read_html_tables(path, known)
        if kind == "spreadsheetml":
            return read_spreadsheetml_tables(path, known)
        return read_csv_tables(path, known, encoding)
    except FileRejected:
        raise
    except Exception as e:  # noqa: BLE001 - a reader failing on bad input: the clerk gets words, not a stack trace
        raise unreadable(name, kind, e) from None


def unreadable(name: str, kind: str, e: Exception):
    """The :class:`FileRejected` for a file a reader failed on (the clerk gets words, not a stack trace):
    an encoding that cannot be read, or the reader's first line of complaint."""
    from daxing_kpi.ingest.reasons import FileRejected

    if isinstance(e, UnicodeDecodeError):
        return FileRejected(f"{name}：文字编码无法识别（不是 UTF-8、UTF-16 或 GBK/GB18030）。",
                            f"{name}: the text encoding cannot be read (not UTF-8, UTF-16 or GBK/GB18030): {e.reason}.")
    what = {"html": "网页表格（HTML）", "spreadsheetml": "Excel 2003 XML 表格", "text": "文本表格"}.get(kind, kind)
    first = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
    return FileRejected(f"{name}：看起来是{what}，但无法读取（{first}）。", f"{name}: looks like {kind} but cannot be read ({first}).")
