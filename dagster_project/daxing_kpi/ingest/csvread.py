"""Delimited text read by DuckDB: the header found in Python, the records by ``read_csv``.

:func:`plan_csv` prepares a CSV or tab-separated file for DuckDB's reader (every column as text):

* the encoding: UTF-8 (with or without a byte-order mark) is read as it is; UTF-16 and GB18030/GBK
  (DuckDB reads UTF-8 only here: its encodings extension cannot be installed offline) are transcoded to
  a UTF-8 file in the spill folder, streamed in pieces of :data:`CHUNK` bytes;
* the header: the first records are parsed with Python's ``csv`` module and
  :func:`daxing_kpi.ingest.readers.locate_header` finds the header among them (title rows above it are
  kept for the delivery cut-off), exactly as for any other shape;
* the row numbers: the file is scanned once (in pieces) for its line breaks and empty lines, since
  DuckDB skips empty lines; a record's row number is the line it starts on, as the file shows it.

DuckDB takes a file only when its result is certain to equal Python's ``csv`` module: one record per
line (checked after reading: records + empty lines = lines), no quote with a space or tab beside it
(DuckDB trims those, ``csv`` does not), no row longer than the header (DuckDB's strict mode fails, and so
did the former reader), valid UTF-8. Anything else returns ``None`` or fails the read, and the file is
read by the Python reader (:func:`daxing_kpi.ingest.readers.read_tables`), which gives the same table.
"""

from __future__ import annotations

import codecs
import itertools
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from daxing_kpi.ingest.readers import HEADER_SCAN_ROWS, _csv_rows_with_lines, _delimiter, locate_header, text_encoding

CHUNK = 4 << 20  # bytes read at a time when scanning or transcoding
PREFIX = 1 << 20  # bytes decoded to find the header
MAX_BLANK_LINES = 200  # more empty lines than this: the Python reader numbers the rows
_QUOTE_BESIDE_SPACE = re.compile(rb'[ \t]"|"[ \t]')


@dataclass
class CsvPlan:
    """How DuckDB reads one delimited-text file.

    ``path``: the UTF-8 file to read (the landing file ``source``, or its transcoded copy ``temp``); ``skip``: lines
    above the first record (titles and header); ``labels``: the header labels, one per column (``c0``,
    ``c1`` ... in the query); ``matched``: contract columns the header names; ``header_row``: the line of
    the (last) header row; ``titles``: text of the rows above the header; ``delim``; ``data_lines``:
    lines of the data part (an unterminated last line counts); ``blank_lines``: 0-based indices, within
    the data part, of its empty lines (DuckDB skips them)."""

    path: Path
    skip: int
    labels: list[str]
    matched: int
    header_row: int
    titles: tuple[str, ...]
    delim: str
    source: Path | None = None
    data_lines: int = 0
    blank_lines: list[int] = field(default_factory=list)
    separator_lines: int = 0
    temp: Path | None = None

    def read_csv_sql(self) -> str:
        """``read_csv(...)`` of the data part, every column text (``c0`` ... ``c{n-1}``)."""
        cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(self.labels))) + "}"
        path = str(self.path).replace("'", "''")
        delim = "\\t" if self.delim == "\t" else self.delim
        return (f"read_csv('{path}', header = false, skip = {self.skip}, all_varchar = true, auto_detect = false, columns = {cols},"
                f" delim = E'{delim}', quote = '\"', escape = '\"', null_padding = true, strict_mode = true, comment = '')")

    def row_number_sql(self, k: str) -> str:
        """The file's line number of DuckDB's ``k``-th record (0-based), empty lines accounted for."""
        shift = " + ".join(f"({k} >= {b - i})::BIGINT" for i, b in enumerate(self.blank_lines))
        return f"({self.skip + 1} + {k}" + (f" + {shift})" if shift else ")")

    def cleanup(self) -> None:
        if self.temp is not None:
            self.temp.unlink(missing_ok=True)
            self.temp = None


class _Scanner:
    """Counts the lines of the data part of a UTF-8 byte stream fed in pieces and finds its empty lines
    (nothing, or a carriage return alone, before the line break); notes a quote beside a space or tab
    and a carriage return that ends no line (either makes the Python reader read the file)."""

    def __init__(self, skip: int, delim: str):
        self.sep = b"\n" + delim.encode()
        self.separators = re.compile(rb"\n" + re.escape(delim.encode()) + rb"+\r?(?=\n)")
        self.separator_lines = 0
        self.skip = skip  # lines still to pass before the data part
        self.lines = 0  # line breaks in the data part
        self.blank: list[int] = []
        self.irregular = False
        self.carry = b"\n"  # the data part starts at the beginning of a line
        self.any_data = False
        self.ends_with_newline = True
        self.cr = 0
        self.crlf = 0

    def feed(self, b: bytes) -> None:
        if not b or self.irregular:
            return
        if self.skip:
            start = 0
            while self.skip:
                i = b.find(b"\n", start)
                if i < 0:
                    return
                start = i + 1
                self.skip -= 1
            b = b[start:]
            if not b:
                return
        self.any_data = True
        carry = self.carry
        joined = carry + b
        if b'"' in b and _QUOTE_BESIDE_SPACE.search(carry[-1:] + b):
            self.irregular = True
        if b"\r" in b or carry.endswith(b"\r"):
            self.cr += b.count(b"\r")
            self.crlf += (carry[-1:] + b).count(b"\r\n")
        if self.sep in joined:
            self.separator_lines += sum(1 for m in self.separators.finditer(joined) if m.end() > len(carry))
        starts = []
        for pattern in (b"\n\n", b"\n\r\n"):
            pos = joined.find(pattern)
            while pos >= 0:
                if pos + len(pattern) > len(carry):
                    starts.append(pos + 1)
                pos = joined.find(pattern, pos + 1)
        if starts:
            at, count = len(carry), 0
            for s in sorted(starts):
                if s > at:
                    count += joined.count(b"\n", at, s)
                    at = s
                self.blank.append(self.lines + count)
            if len(self.blank) > MAX_BLANK_LINES:
                self.irregular = True
        self.lines += b.count(b"\n")
        self.carry = joined[-2:]
        self.ends_with_newline = b.endswith(b"\n")

    def finish(self) -> tuple[int, list[int]]:
        if self.cr != self.crlf:
            self.irregular = True
        n = self.lines + (0 if self.ends_with_newline or not self.any_data else 1)
        return n, sorted(set(self.blank))


def _decode_prefix(path: Path, encoding: str) -> tuple[str, bool]:
    """The text of the first :data:`PREFIX` bytes (whole characters only) and whether that is the whole file."""
    with open(path, "rb") as f:
        raw = f.read(PREFIX + 1)
    whole = len(raw) <= PREFIX
    raw = raw[:PREFIX]
    dec = codecs.getincrementaldecoder(encoding)(errors="strict")
    text = dec.decode(raw, final=whole)
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, whole


def plan_csv(path: Path, known: dict, declared: str | None, tmp_dir: Path) -> CsvPlan | None:
    """A :class:`CsvPlan` for DuckDB, or None when the file is for the Python reader (no data rows under
    the header, a header the first records do not hold, lines too irregular, an encoding to be decided
    from the whole file). Raises ``UnicodeDecodeError`` for bytes that are no text in the encoding."""
    path = Path(path)
    if declared not in ("auto", None, ""):
        encoding = declared
    else:
        with open(path, "rb") as f:
            head = f.read(PREFIX)
        encoding = text_encoding(head)
    py_encoding = "utf-8" if encoding in ("utf-8", "utf-8-sig") else encoding
    text, whole = _decode_prefix(path, py_encoding)
    if not whole:
        cut = text.rfind("\n")
        if cut < 0:
            return None
        text = text[: cut + 1]
    sep = _delimiter(text)
    head_records = list(itertools.islice(_csv_rows_with_lines(text, sep), HEADER_SCAN_ROWS + 1))
    if not head_records:
        return None
    width = max(len(r) for _, r in head_records)
    grid = [r + [""] * (width - len(r)) for _, r in head_records]
    first, n, labels, matched = locate_header(grid, known)
    if first + n >= len(head_records):
        return None  # no record under the header among the first ones: the Python reader decides
    titles = tuple(" ".join(c.strip() for c in r if c.strip()) for r in grid[:first])
    skip = head_records[first + n][0] - 1
    plan = CsvPlan(path=path, skip=skip, labels=labels, matched=matched, header_row=head_records[first + n - 1][0], titles=titles,
                   delim=sep, source=path)
    scanner = _Scanner(skip, sep)
    if py_encoding == "utf-8":
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                scanner.feed(chunk)
    else:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        temp = tmp_dir / f"ingest-{os.getpid()}-{uuid.uuid4().hex[:12]}.csv"
        plan.temp = temp
        plan.path = temp
        dec = codecs.getincrementaldecoder(encoding)(errors="strict")
        try:
            with open(path, "rb") as src, open(temp, "wb") as dst:
                first_piece = True
                for chunk in iter(lambda: src.read(CHUNK), b""):
                    text_piece = dec.decode(chunk)
                    if first_piece and text_piece.startswith("\ufeff"):
                        text_piece = text_piece[1:]
                    first_piece = first_piece and not text_piece
                    out = text_piece.encode("utf-8")
                    dst.write(out)
                    scanner.feed(out)
                out = dec.decode(b"", final=True).encode("utf-8")
                dst.write(out)
                scanner.feed(out)
        except BaseException:
            plan.cleanup()
            raise
    plan.data_lines, plan.blank_lines = scanner.finish()
    plan.separator_lines = scanner.separator_lines
    if scanner.irregular:
        plan.cleanup()
        return None
    return plan
