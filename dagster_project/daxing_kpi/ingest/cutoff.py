"""The date a delivery covers to (``delivery_cutoff_date`` of the ingest audit, issue 17.8).

In order of trust (``delivery_cutoff_source`` says which):

1. ``statement``: a statement in the file's title rows: 截至日期：2026年10月31日, 截止时间 2026-10-31,
   数据截至2026.10.31 (any date form ingestion reads);
2. ``file_name``: a full date in the file name (安葬记录_20261101.csv, 名册2026-11-01.xlsx) taken as the
   export date: the delivery covers to the day before;
3. ``modified_time``: the file's modification date, minus one day.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

_DATE = r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
_STATEMENT = re.compile(r"(?:截至|截止|统计截至|数据截至)(?:日期|时间|时点)?\s*[:：为到至]?\s*" + _DATE)
_NAME_DATES = (re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(?!\d)"), re.compile(r"(?<!\d)" + _DATE))


def _date(y: str, m: str, d: str) -> dt.date | None:
    try:
        return dt.date(int(y), int(m), int(d))
    except ValueError:
        return None


def cutoff_statement(title_lines: list[str] | tuple[str, ...]) -> str | None:
    """The first statement of a valid cut-off date in the title rows, alone (``截至日期：2026年10月31日``): all of
    them that :func:`delivery_cutoff` reads; None when there is none."""
    for line in title_lines:
        m = _STATEMENT.search(line)
        if m and _date(*m.groups()):
            return m.group(0)
    return None


def delivery_cutoff(title_lines: list[str] | tuple[str, ...], file_name: str, modified: dt.datetime) -> tuple[dt.date, str]:
    """``(date, source)``: see the module text. ``title_lines``: text of the rows above the header of
    every table of the file."""
    statement = cutoff_statement(title_lines)
    if statement is not None:
        return _date(*_STATEMENT.search(statement).groups()), "statement"
    stem = Path(file_name).stem
    for rx in _NAME_DATES:
        for m in rx.finditer(stem):
            d = _date(*m.groups())
            if d and dt.date(2000, 1, 1) <= d <= dt.date(2100, 1, 1):
                return d - dt.timedelta(days=1), "file_name"
    return modified.date() - dt.timedelta(days=1), "modified_time"
