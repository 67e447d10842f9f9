"""The sample in the shapes real departments send, with a share of faulty rows.

``generate(out_dir, scale=1.0, seed=20211, fault_rate=0.02)`` writes the same records as the
clean sample (:mod:`daxing_kpi.sample.generator`) under ``out_dir/landing/``, but as the
exports of a dozen office systems look (selected with ``KPI_SAMPLE_SHAPES=messy``; the share of
faulty rows with ``KPI_SAMPLE_FAULT_RATE``):

* ``population/大兴区常住人口分镇街分年龄组统计.xlsx``: XLSX, one sheet per year (``2020年`` ...),
  title and unit rows, a two-row header with merged cells (人口情况 over 年龄组/常住人口; 序号,
  统计年度, 镇街 merged down), counts as numbers, ``1,234`` or full-width text, a totals row (合计)
  under each sheet, and an instructions sheet (填表说明) that holds no data;
* ``care_workers/养老护理员花名册.xls``: XLS (Excel 97-2003; ``.xlsx`` when ``xlwt``, a test
  extra, is missing or beyond 60,000 rows), title rows, the header variant 公民身份号码, a header
  with a line break (入职/日期), dates as date cells or Excel serial numbers, ID numbers ending in
  a lower-case x, a signature row (填表人 ... 联系电话 ...) at the foot;
* ``burials/安葬记录_2020-2023.csv``: GB18030, a title line, dates ``2023/5/6``;
  ``burials/安葬记录_2024-2026.csv``: UTF-8 with BOM, dates ``2023年5月6日``;
* ``volunteers/志愿者名册.csv``: UTF-8 with BOM, dates ``2023.5.6``;
* ``service_items/政务服务事项目录.xlsx``: XLSX, one sheet per year, headers with spaces,
  full-width spaces and line breaks, 是/否 or Y/N, a title row, an instructions sheet;
* ``service_cases/政务服务办件记录.csv``: UTF-8, dates ``2023-05-06`` or ``20230506``, one case
  in ten without a town/street (optional column).

Town/street columns use, at random, every spelling of the alias table: official names, names
without suffix, both-name forms (亦庄地区（亦庄镇）), office and government names, the pre-2023
name and code of 瀛海, a leading 大兴区, 9- and 12-digit codes, full-width digits, codes with a space.

Faults: a share ``fault_rate`` of each source's records (at least one of each kind the source
can have), kinds taken in turn: ``unknown_town`` (a spelling not in the alias table),
``bad_date`` (a required date that is no date), ``bad_check_digit`` (an ID number whose GB 11643
check digit is wrong) and ``duplicate`` (a copy of a good record right below it). The statistics
bureau's population and the service catalog get duplicates only: other domains' sample data are
built on them, so their records must all stay good.

Written to ``out_dir/sample_truth/``:

* ``faults.csv``: ``file, sheet, row, column, fault, reason``: every row ingestion must
  quarantine (broken records, duplicates, totals rows, signature rows), the contract column it
  must name and the exact quarantine reason (:class:`daxing_kpi.ingest.Reason`);
* ``messy_files.csv``: ``file, sheet, rows, faulty``: records written under each header (blank
  rows are not records) and how many of them are in ``faults.csv``;
* ``ground_truth.csv``: every KPI computed from the good records only (the broken ones removed,
  duplicates counted once), as in the clean sample; ``sample.json``.

The same seed, scale and fault rate always give the same records, faults and ground truth.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from daxing_kpi.ingest import Reason, load_contracts
from daxing_kpi.paths import SEEDS_DIR
from daxing_kpi.sample.generator import CUTOFF, EXPORT_DATE, SampleGenerator, ground_truth

DEFAULT_FAULT_RATE = 0.02
EXCEL_EPOCH = dt.date(1899, 12, 30)
UNKNOWN_TOWNS = ["黄村村", "火星镇", "大兴新城", "110115999", "黄树街道", "西红门北"]
# townships of other Beijing districts (seeds/beijing_townships_2023.csv): the record counts nowhere
FOREIGN_TOWNS = ["朝阳区望京街道", "北京市海淀区中关村街道", "望京街道", "110105026", "通州区宋庄镇", "宋庄镇"]
BAD_DATES = ["2023-02-30", "2023/13/1", "2023年5月", "二〇二三年五月六日", "20231345", "去年"]
FAULT_REASON = {
    "unknown_town": Reason.UNKNOWN_TOWN,
    "foreign_town": Reason.OUTSIDE_DISTRICT,
    "bad_date": Reason.BAD_DATE,
    "bad_check_digit": Reason.BAD_ID,
    "excel_id": Reason.ID_CHANGED_BY_EXCEL,
    "duplicate": Reason.DUPLICATE,
    "totals_row": Reason.TOTALS_ROW,
    "note_row": Reason.NOTE_ROW,
}
# Faults in a field the sources' records do not need (contracts' record_needs): the record is loaded with the
# field empty (town: counts in 未落地到镇街 and the district; ID number: counts as one person). The others quarantine it.
FIELD_FAULTS = {"unknown_town", "bad_check_digit", "excel_id"}
_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def town_spellings() -> dict[str, list[str]]:
    """Official town/street name -> the spellings clerks use for it (all in the alias table)."""
    out = {}
    with open(SEEDS_DIR / "townships.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            name, code, kind = r["name_zh"], r["code"], r["kind"]
            codes = [code, code + "000", code.translate(_FULL_WIDTH), code[:6] + " " + code[6:]]
            codes.append(code + ".0")  # a code Excel turned into a number (110115104.0): resolved by rule
            if kind == "street":
                base = name[:-2]
                names = [name, base, name + "办事处", base + "街道办", "大兴区" + name, base + "街"]  # 清源街: by rule
            elif kind == "area":
                base = name[:-2]
                names = [name, base, base + "镇", f"{name}（{base}镇）", name + "办事处", base + "镇人民政府", base + "镇政府", "大兴区" + name]
            elif kind == "town":
                base = name[:-1]
                names = [name, base, name + "人民政府", base + "地区", "北京市大兴区" + name]
            else:
                names = [name]
            if code == "110115008":  # 瀛海镇 (110115112) became 瀛海地区 (110115008) in the 2023 edition
                codes += ["110115112", "110115112000"]
            out[name] = names + codes
    return out


# -- value spellings ---------------------------------------------------------------------------------


def _dates(iso: pd.Series, style: str) -> pd.Series:
    """ISO dates (``""`` for none) written in a style: iso, slash, dot, cn, compact, serial."""
    d = pd.to_datetime(iso.where(iso != "", None), format="%Y-%m-%d", errors="coerce")
    y, m, dd = d.dt.year.astype("Int64").astype(str), d.dt.month.astype("Int64").astype(str), d.dt.day.astype("Int64").astype(str)
    if style == "iso":
        out = d.dt.strftime("%Y-%m-%d")
    elif style == "slash":
        out = y + "/" + m + "/" + dd
    elif style == "dot":
        out = y + "." + m + "." + dd
    elif style == "cn":
        out = y + "年" + m + "月" + dd + "日"
    elif style == "compact":
        out = d.dt.strftime("%Y%m%d")
    elif style == "serial":
        out = (d - pd.Timestamp(EXCEL_EPOCH)).dt.days.astype("Int64").astype(str)
    else:
        raise ValueError(style)
    return out.where(d.notna(), "").astype(object)


def _date_cells(iso: pd.Series, rng: np.random.Generator, with_time: float = 0.0) -> pd.Series:
    """ISO dates as spreadsheet cells: half real date cells, half Excel serial numbers (floats); a share
    ``with_time`` of the date cells are date-time cells with a time of day (a registration system's stamp)."""
    out = []
    u = rng.random(len(iso))
    for v, s in zip(iso, u):
        if not v:
            out.append(None)
            continue
        d = dt.date.fromisoformat(v)
        if s < 0.5:
            out.append(float((d - EXCEL_EPOCH).days))
        elif s < 0.5 + with_time / 2:
            out.append(dt.datetime.combine(d, dt.time(8 + int(s * 1000) % 10, int(s * 10000) % 60, int(s * 100000) % 60)))
        else:
            out.append(d)
    return pd.Series(out, index=iso.index, dtype=object)


def _with_times(text: pd.Series, rng: np.random.Generator, share: float, forms: tuple[str, ...]) -> pd.Series:
    """Dates written as text with a time of day appended to a share of them, in the given forms
    (``hms`` 09:31:12, ``hm`` 9:31, ``cn`` 9时31分)."""
    u = rng.random(len(text))
    out = text.astype(object).copy()
    for i, (v, x) in enumerate(zip(text, u)):
        if not v or x >= share:
            continue
        h, m, sec = 8 + int(x * 997) % 10, int(x * 7919) % 60, int(x * 104729) % 60
        form = forms[int(x * 1e6) % len(forms)]
        out.iat[i] = v + {"hms": f" {h:02d}:{m:02d}:{sec:02d}", "hm": f" {h}:{m:02d}", "cn": f" {h}时{m}分", "t": f"T{h:02d}:{m:02d}:{sec:02d}"}[form]
    return out


def _towns(names: pd.Series, rng: np.random.Generator) -> pd.Series:
    spell = town_spellings()
    out = names.astype(object).copy()
    for name, idx in names.groupby(names).groups.items():
        if name == "" or name not in spell:
            continue
        options = np.array(spell[name], dtype=object)
        out.loc[idx] = options[rng.integers(0, len(options), len(idx))]
    return out


def _bad_check_digit(id_number: str) -> str:
    last = id_number[-1].upper()
    return id_number[:-1] + next(c for c in "0123456789X" if c != last)


def excel_number(id_number: str) -> float:
    """An ID number as Excel keeps it once the cell became a number: 15 significant digits, shown
    ``1.10115E+17`` (the last digits are lost)."""
    return float(f"{float(id_number):.15g}")


def excel_text(id_number: str) -> str:
    """What a CSV saved by Excel holds for an ID number that became a number: ``1.10115E+17``."""
    return f"{excel_number(id_number):.5E}"


# -- faults --------------------------------------------------------------------------------------------


@dataclass
class Shaped:
    """A source's records as written: display values, the fault of each written row, and the good records."""

    frame: pd.DataFrame  # written rows (display values) + hidden "_group" column
    fault: np.ndarray  # fault kind per written row ('' = good)
    column: np.ndarray  # contract header the quarantine must name
    good: pd.DataFrame  # the records as ingestion must load them: field faults blanked, quarantined ones removed (ground truth)


def inject_faults(clean: pd.DataFrame, display: pd.DataFrame, kinds: list[str], rate: float, rng: np.random.Generator,
                  cols: dict[str, str], dup_column: str, excel_ids_as_numbers: bool = False) -> Shaped:
    """Break a share ``rate`` of the records (kinds in turn) and insert duplicates below originals.

    ``cols`` names the columns a fault breaks (``town``, ``date``, ``id``); ``display`` holds the
    values as they will be written (same index as ``clean``). A field fault (:data:`FIELD_FAULTS`) keeps
    the record in ``good`` with that field blank; the other faults remove it. ``excel_id`` (an ID number
    Excel turned into a number) is written as a number cell with ``excel_ids_as_numbers`` (a workbook),
    else as the text Excel saves (``1.10115E+17``); an ID ending in X cannot become a number, so such a
    record gets ``bad_check_digit`` instead."""
    n = len(clean)
    n_f = 0 if rate <= 0 or n < 2 * len(kinds) else min(n // 2, max(len(kinds), int(round(rate * n))))
    chosen = np.sort(rng.choice(n, n_f, replace=False)) if n_f else np.array([], dtype=int)
    kind_of = np.array([kinds[i % len(kinds)] for i in range(n_f)], dtype=object)
    rng.shuffle(kind_of)
    if "id" in cols and n_f:  # an ID ending in X cannot become a number: excel_id goes to a record whose ID can
        digit_end = display[cols["id"]].astype(str).str[-1:].str.isdigit().to_numpy()
        free = np.setdiff1d(np.flatnonzero(digit_end), chosen)
        for i in np.flatnonzero((kind_of == "excel_id") & ~digit_end[chosen]):
            if free.size:
                chosen[i], free = free[0], free[1:]
        order_ = np.argsort(chosen, kind="stable")
        chosen, kind_of = chosen[order_], kind_of[order_]
    display = display.astype(object)  # a cell may become a number (an ID number Excel converted)
    good = clean.copy()
    broken = np.zeros(n, dtype=bool)
    dup = np.zeros(n, dtype=bool)
    fault_col = np.full(n, "", dtype=object)
    fault_kind = np.full(n, "", dtype=object)
    for pos, kind in zip(chosen, kind_of):
        if kind == "duplicate":
            dup[pos] = True
            continue
        col = cols[{"unknown_town": "town", "foreign_town": "town", "bad_date": "date", "bad_check_digit": "id", "excel_id": "id"}[kind]]
        current = str(display.iat[pos, display.columns.get_loc(col)])
        if kind == "excel_id" and not current[-1:].isdigit():
            kind = "bad_check_digit"
        if kind == "unknown_town":
            value = UNKNOWN_TOWNS[int(rng.integers(0, len(UNKNOWN_TOWNS)))]
        elif kind == "foreign_town":
            value = FOREIGN_TOWNS[int(rng.integers(0, len(FOREIGN_TOWNS)))]
        elif kind == "bad_date":
            value = BAD_DATES[int(rng.integers(0, len(BAD_DATES)))]
        elif kind == "excel_id":
            value = excel_number(current) if excel_ids_as_numbers else excel_text(current)
        else:
            value = _bad_check_digit(current)
        display.iat[pos, display.columns.get_loc(col)] = value
        if kind in FIELD_FAULTS:
            good.iat[pos, good.columns.get_loc(col)] = ""  # loaded with the field empty
        else:
            broken[pos] = True
        fault_col[pos] = col
        fault_kind[pos] = kind
    reps = 1 + dup.astype(int)
    order = np.repeat(np.arange(n), reps)
    is_copy = np.zeros(len(order), dtype=bool)
    is_copy[np.cumsum(reps) - 1] = dup  # the second of a pair is the copy
    frame = display.iloc[order].reset_index(drop=True)
    fault = np.where(is_copy, "duplicate", fault_kind[order])
    column = np.where(is_copy, dup_column, fault_col[order])
    return Shaped(frame, fault.astype(object), column.astype(object), good[~broken])


# -- writers ---------------------------------------------------------------------------------------------


@dataclass
class SheetSpec:
    """One sheet (or CSV file) to write: title lines, header (group label or None, label), rows."""

    name: str | None
    titles: list[str]
    header: list[tuple[str | None, str]]
    rows: pd.DataFrame  # display values, one column per header entry, in order
    footer: list = field(default_factory=list)  # extra rows after the data: (kind, cells)


def _header_rows(header: list[tuple[str | None, str]]) -> int:
    return 2 if any(g for g, _ in header) else 1


def _merges(header: list[tuple[str | None, str]], top: int) -> tuple[list[str], list[str], list[tuple[int, int, int, int]]]:
    """Upper and lower header rows and merged ranges (r0, r1, c0, c1; 0-based) of a two-row header."""
    upper, lower, merges = [], [], []
    c = 0
    while c < len(header):
        g, label = header[c]
        if g is None:
            upper.append(label)
            lower.append("")
            merges.append((top, top + 1, c, c))
            c += 1
            continue
        c1 = c
        while c1 + 1 < len(header) and header[c1 + 1][0] == g:
            c1 += 1
        for k in range(c, c1 + 1):
            upper.append(g if k == c else "")
            lower.append(header[k][1])
        merges.append((top, top, c, c1))
        c = c1 + 1
    return upper, lower, merges


def write_xlsx(path: Path, sheets: list[SheetSpec]) -> list[np.ndarray]:
    """Write an .xlsx workbook; returns, per sheet, the row number of each data row."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment

    wb = Workbook()
    wb.remove(wb.active)
    out = []
    for spec in sheets:
        ws = wb.create_sheet(spec.name)
        width = max(len(spec.header), 1)
        r = 1
        for t in spec.titles:
            ws.cell(row=r, column=1, value=t)
            if width > 1:
                ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=width)
            r += 1
        if spec.header:
            if _header_rows(spec.header) == 2:
                upper, lower, merges = _merges(spec.header, r - 1)
                for c, v in enumerate(upper):
                    if v:
                        ws.cell(row=r, column=c + 1, value=v)
                for c, v in enumerate(lower):
                    if v:
                        ws.cell(row=r + 1, column=c + 1, value=v)
                for r0, r1, c0, c1 in merges:
                    if (r0, c0) != (r1, c1):
                        ws.merge_cells(start_row=r0 + 1, start_column=c0 + 1, end_row=r1 + 1, end_column=c1 + 1)
                r += 2
            else:
                for c, (_, label) in enumerate(spec.header):
                    ws.cell(row=r, column=c + 1, value=label).alignment = Alignment(wrap_text=True)
                r += 1
        first = r
        for values in spec.rows.itertuples(index=False):
            ws.append([None if v is None or (isinstance(v, str) and v == "") else v for v in values])
        out.append(np.arange(first, first + len(spec.rows)))
        r = first + len(spec.rows)
        for _, cells in spec.footer:
            for c, v in enumerate(cells):
                if v is not None and v != "":
                    ws.cell(row=r, column=c + 1, value=v)
            if width > 1 and len([v for v in cells if v not in (None, "")]) == 1:
                ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=width)
            r += 1
    wb.save(path)
    return out


def write_xls(path: Path, sheets: list[SheetSpec]) -> list[np.ndarray]:
    """Write an Excel 97-2003 .xls workbook (xlwt); returns, per sheet, the row number of each data row."""
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    stamp_style = xlwt.easyxf(num_format_str="YYYY-MM-DD HH:MM:SS")
    wrap = xlwt.easyxf("align: wrap on")
    out = []
    for spec in sheets:
        ws = wb.add_sheet(spec.name)
        width = max(len(spec.header), 1)
        r = 0
        for t in spec.titles:
            ws.write_merge(r, r, 0, width - 1, t)
            r += 1
        for c, (_, label) in enumerate(spec.header):
            ws.write(r, c, label, wrap)
        r += 1
        first = r
        for values in spec.rows.itertuples(index=False):
            for c, v in enumerate(values):
                if v is None or (isinstance(v, str) and v == ""):
                    continue
                if isinstance(v, dt.datetime):
                    ws.write(r, c, v, stamp_style)
                elif isinstance(v, dt.date):
                    ws.write(r, c, v, date_style)
                else:
                    ws.write(r, c, v)
            r += 1
        out.append(np.arange(first + 1, first + 1 + len(spec.rows)))
        for _, cells in spec.footer:
            filled = [(c, v) for c, v in enumerate(cells) if v not in (None, "")]
            if len(filled) == 1 and filled[0][0] == 0 and width > 1:
                ws.write_merge(r, r, 0, width - 1, filled[0][1])
            else:
                for c, v in filled:
                    ws.write(r, c, v)
            r += 1
    wb.save(str(path))
    return out


def write_html_xls(path: Path, spec: SheetSpec, charset: str = "gb2312") -> np.ndarray:
    """An HTML table saved as ``.xls``, as web systems' "导出Excel" writes it (Excel's HTML dialect:
    ``<meta http-equiv=Content-Type content="text/html; charset=gb2312">``, title rows in a cell spanning the
    table, ``mso-number-format`` text cells), encoded in the declared charset. Returns each data row's
    ``<tr>`` number."""
    import html as h

    width = len(spec.header)
    enc = "gb18030" if charset.lower() in ("gb2312", "gbk", "gb18030") else charset
    out = ['<html xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:x="urn:schemas-microsoft-com:office:excel">',
           f'<head><meta http-equiv="Content-Type" content="text/html; charset={charset}">',
           "<style>td{mso-number-format:'\\@';}</style></head><body>", '<table border="1">']
    for t in spec.titles:
        out.append(f'<tr><td colspan="{width}" align="center"><b>{h.escape(t)}</b></td></tr>')
    out.append("<tr>" + "".join(f"<th>{h.escape(label)}</th>" for _, label in spec.header) + "</tr>")
    first = len(spec.titles) + 2
    for values in spec.rows.itertuples(index=False):
        out.append("<tr>" + "".join(f"<td>{h.escape('' if v is None else str(v))}</td>" for v in values) + "</tr>")
    out += ["</table>", "</body></html>"]
    Path(path).write_bytes("\r\n".join(out).encode(enc))
    return np.arange(first, first + len(spec.rows))


def write_tsv(path: Path, spec: SheetSpec, encoding: str) -> np.ndarray:
    """Tab-separated text "exported to Excel" by an old system and saved as ``.xls`` (GBK or UTF-16 with a
    byte-order mark, CRLF line ends). Returns each data row's line number."""
    lines = [t for t in spec.titles] + ["\t".join(label for _, label in spec.header)]
    lines += ["\t".join("" if v is None else str(v) for v in values) for values in spec.rows.itertuples(index=False)]
    Path(path).write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    first = len(spec.titles) + 2
    return np.arange(first, first + len(spec.rows))


def write_spreadsheetml(path: Path, sheets: list[SheetSpec]) -> list[np.ndarray]:
    """A SpreadsheetML 2003 workbook ("XML 电子表格 2003"), written as Excel writes it: title cells merged
    across (``ss:MergeAcross``), numbers as ``Number`` cells, text as ``String``. Returns, per sheet, the
    row number of each data row."""
    from xml.sax.saxutils import escape

    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<?mso-application progid="Excel.Sheet"?>',
           '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" xmlns:o="urn:schemas-microsoft-com:office:office"'
           ' xmlns:x="urn:schemas-microsoft-com:office:excel" xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet">']
    rows_out = []

    def cell(v) -> str:
        if v is None or (isinstance(v, str) and v == ""):
            return "<Cell/>"
        if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
            return f'<Cell><Data ss:Type="Number">{float(v):g}</Data></Cell>'
        return f'<Cell><Data ss:Type="String">{escape(str(v))}</Data></Cell>'

    for spec in sheets:
        width = max(len(spec.header), 1)
        out.append(f'<Worksheet ss:Name="{escape(spec.name or "Sheet1")}"><Table>')
        for t in spec.titles:
            out.append(f'<Row><Cell ss:MergeAcross="{width - 1}"><Data ss:Type="String">{escape(t)}</Data></Cell></Row>')
        if spec.header:
            out.append("<Row>" + "".join(cell(label) for _, label in spec.header) + "</Row>")
        first = len(spec.titles) + (1 if spec.header else 0) + 1
        for values in spec.rows.itertuples(index=False):
            out.append("<Row>" + "".join(cell(v) for v in values) + "</Row>")
        for _, cells in spec.footer:
            out.append("<Row>" + "".join(cell(v) for v in cells) + "</Row>")
        out.append("</Table></Worksheet>")
        rows_out.append(np.arange(first, first + len(spec.rows)))
    out.append("</Workbook>")
    Path(path).write_text("\n".join(out), encoding="utf-8")
    return rows_out


def write_csv(path: Path, spec: SheetSpec, encoding: str) -> np.ndarray:
    """Write a CSV file (title lines, header, rows); returns the line number of each data row."""
    head = pd.DataFrame([[label for _, label in spec.header]])
    text = "".join(t + "\n" for t in spec.titles)
    text += head.to_csv(index=False, header=False, lineterminator="\n")
    text += spec.rows.to_csv(index=False, header=False, lineterminator="\n")
    Path(path).write_bytes(text.encode(encoding))
    first = len(spec.titles) + 2
    return np.arange(first, first + len(spec.rows))


# -- the messy sample ---------------------------------------------------------------------------------


class MessySample:
    """The sample's records in real-world shapes, with faults; :meth:`write` writes files and truth."""

    def __init__(self, scale: float = 1.0, seed: int = 20211, fault_rate: float = DEFAULT_FAULT_RATE):
        if not 0 <= fault_rate < 0.5:
            raise ValueError(f"fault_rate must be in [0, 0.5), got {fault_rate}")
        self.gen = SampleGenerator(scale=scale, seed=seed)
        self.clean = dict(self.gen.build())
        self.fault_rate = fault_rate
        self.rng = self.gen.rng_for("messy")
        self.contracts = {c.landing_dir: c for c in load_contracts().values()}
        self.good: dict[str, pd.DataFrame] = {}
        self.faults: list[dict] = []
        self.files: list[dict] = []
        self.rejected: list[dict] = []  # files written to be set aside (damaged, empty)

    def _dup_column(self, source: str) -> str:
        c = self.contracts[source]
        return "+".join(c.column(k).header_zh for k in c.key)

    def _record(self, label: str, sheet: str | None, rows: np.ndarray, shaped_fault, shaped_col, footer_rows=()):
        """Note the faults and counts of one written block (``footer_rows``: (row, fault)): ``faulty`` rows are
        quarantined, ``field_faults`` rows loaded with a field empty."""
        n_faulty = n_field = 0
        for row, fault, col in zip(rows, shaped_fault, shaped_col):
            if fault:
                disposition = "field_fault" if fault in FIELD_FAULTS else "quarantined"
                self.faults.append(dict(file=label, sheet=sheet or "", row=int(row), column=col, fault=fault, reason=FAULT_REASON[fault],
                                        disposition=disposition))
                n_faulty += disposition == "quarantined"
                n_field += disposition == "field_fault"
        for row, fault in footer_rows:
            self.faults.append(dict(file=label, sheet=sheet or "", row=int(row), column="", fault=fault, reason=FAULT_REASON[fault],
                                    disposition="quarantined"))
            n_faulty += 1
        self.files.append(dict(file=label, sheet=sheet or "", rows=len(rows) + len(footer_rows), faulty=n_faulty, field_faults=n_field))

    # -- one writer per source --------------------------------------------------------------------
    def population(self, folder: Path) -> None:
        df = self.clean["population"]
        disp = df.copy().astype(object)
        disp["镇街"] = _towns(df["镇街"], self.rng)
        counts = df["常住人口"].to_numpy()
        style = self.rng.integers(0, 4, len(df))
        disp["常住人口"] = [
            float(v) if s < 2 else (f"{v:,}" if s == 2 else str(v).translate(_FULL_WIDTH)) for v, s in zip(counts, style)
        ]
        disp["统计年度"] = df["统计年度"].astype(float)
        disp["_group"] = df["统计年度"]
        sh = inject_faults(df, disp, ["duplicate"], self.fault_rate, self.rng, {}, self._dup_column("population"))
        self.good["population"] = sh.good
        header = [(None, "序号"), (None, "统计年度"), (None, "镇街"), ("人口情况", "年龄组"), ("人口情况", "常住人口")]
        specs, parts = [], []
        for year, idx in sh.frame.groupby("_group").groups.items():
            rows = sh.frame.loc[idx]
            body = rows[["统计年度", "镇街", "年龄组", "常住人口"]].copy()
            body.insert(0, "序号", np.arange(1, len(body) + 1, dtype=float))
            total = float(df.loc[df["统计年度"] == year, "常住人口"].sum())
            specs.append(SheetSpec(f"{year}年", [f"大兴区常住人口分镇街分年龄组统计（{year}年）", "单位：人　　数据来源：大兴区统计局"],
                                   header, body, footer=[("totals_row", ["合计", "", "", "", total])]))
            parts.append(idx)
        notes = SheetSpec("填表说明", ["填表说明"], [], pd.DataFrame(), footer=[
            ("note", ["1. 常住人口为年末数，当年为最新估计数。"]), ("note", ["2. 镇街按2023年统计用区划代码填写。"])])
        label = "population/大兴区常住人口分镇街分年龄组统计.xlsx"
        rows_per_sheet = write_xlsx(folder / Path(label).name, specs + [notes])
        for spec, idx, rows in zip(specs, parts, rows_per_sheet):
            pos = sh.frame.index.get_indexer(idx)
            self._record(label, spec.name, rows, sh.fault[pos], sh.column[pos], [(rows[-1] + 1 if len(rows) else 0, "totals_row")])

    def care_workers(self, folder: Path) -> None:
        df = self.clean["care_workers"]
        disp = df.copy().astype(object)
        ids = df["身份证号码"].astype(str)
        lower = self.rng.random(len(df)) < 0.5
        disp["身份证号码"] = np.where(lower & ids.str.endswith("X"), ids.str.lower(), ids)
        disp["所属镇街"] = _towns(df["所属镇街"], self.rng)
        disp["入职日期"] = _date_cells(df["入职日期"], self.rng, with_time=0.3)  # some date-time cells with a time of day
        disp["离职日期"] = _date_cells(df["离职日期"], self.rng)
        disp["序号"] = np.where(self.rng.random(len(df)) < 0.05, None, df["序号"].astype(float))  # a blank 序号 now and then
        sh = inject_faults(df, disp, ["unknown_town", "foreign_town", "bad_date", "bad_check_digit", "excel_id", "duplicate"],
                           self.fault_rate, self.rng, {"town": "所属镇街", "date": "入职日期", "id": "身份证号码"},
                           self._dup_column("care_workers"), excel_ids_as_numbers=True)
        self.good["care_workers"] = sh.good
        labels = {"身份证号码": "公民身份号码", "入职日期": "入职\n日期"}
        header = [(None, labels.get(c, c)) for c in df.columns]
        totals = ["", "合计", "", f"{len(sh.frame)}人"] + [""] * (len(df.columns) - 4)  # the label in column B, 序号 blank
        spec = SheetSpec("花名册", ["大兴区养老护理员花名册", f"填报单位：大兴区民政局养老服务科　　截至日期：{CUTOFF:%Y年%m月%d日}"],
                         header, sh.frame[list(df.columns)],
                         footer=[("totals_row", totals), ("note_row", ["填表人：王芳　联系电话：13812345678　审核人：李强"])])
        label = "care_workers/养老护理员花名册.xls"
        try:
            import xlwt  # noqa: F401  (test extra; without it the roster is written as .xlsx)

            xls = True
        except ImportError:
            xls = False
        if len(df) > 60000 or not xls:  # beyond what an .xls sheet holds, or no xls writer: the same layout as .xlsx
            label = label[:-4] + ".xlsx"
            rows = write_xlsx(folder / Path(label).name, [spec])[0]
        else:
            rows = write_xls(folder / Path(label).name, [spec])[0]
        last = rows[-1] if len(rows) else 0
        self._record(label, "花名册", rows, sh.fault, sh.column, [(last + 1, "totals_row"), (last + 2, "note_row")])
        # an earlier roster that arrived damaged (cut off while copying): set aside, the new roster stands
        good = (folder / Path(label).name).read_bytes() if xls else b""
        damaged = folder / "养老护理员花名册_上月.xlsx"
        damaged.write_bytes(b"PK\x03\x04" + good[8:4096])
        self.rejected.append(dict(file=f"care_workers/{damaged.name}", kind="corrupt"))

    def burials(self, folder: Path) -> None:
        df = self.clean["burials"]
        disp = df.copy().astype(object)
        disp["户籍所在镇街"] = _towns(df["户籍所在镇街"], self.rng)
        early = df["安葬日期"].str[:4].astype(int) <= 2023
        for col in ("死亡日期", "安葬日期"):
            disp[col] = np.where(early, _dates(df[col], "slash"), _dates(df[col], "cn"))
        disp["安葬日期"] = np.where(early, disp["安葬日期"], _with_times(pd.Series(disp["安葬日期"]), self.rng, 0.3, ("cn", "hm")))
        disp["_group"] = np.where(early, "early", "late")
        sh = inject_faults(df, disp, ["unknown_town", "foreign_town", "bad_date", "duplicate"], self.fault_rate, self.rng,
                           {"town": "户籍所在镇街", "date": "安葬日期"}, self._dup_column("burials"))
        self.good["burials"] = sh.good
        header = [(None, c) for c in df.columns]
        mask = (sh.frame["_group"] == "early").to_numpy()
        name = "安葬记录_2020-2023.csv"
        rows = write_csv(folder / name, SheetSpec(None, ["大兴区安葬记录（2020—2023年）"], header, sh.frame.loc[mask, list(df.columns)]), "gb18030")
        self._record(f"burials/{name}", None, rows, sh.fault[mask], sh.column[mask])
        # the funeral system's web export: an HTML table saved as .xls, declared gb2312
        name = "安葬记录_2024-2026.xls"
        rows = write_html_xls(folder / name, SheetSpec(None, [f"大兴区安葬记录（2024—2026年）　截至日期：{CUTOFF:%Y-%m-%d}"], header,
                                                       sh.frame.loc[~mask, list(df.columns)]), "gb2312")
        self._record(f"burials/{name}", None, rows, sh.fault[~mask], sh.column[~mask])

    def volunteers(self, folder: Path) -> None:
        df = self.clean["volunteers"]
        disp = df.copy().astype(object)
        disp["所在镇街"] = _towns(df["所在镇街"], self.rng)
        for col in ("注册日期", "注销日期"):
            disp[col] = _dates(df[col], "dot")
        disp["注册日期"] = _with_times(disp["注册日期"], self.rng, 0.2, ("hms", "hm"))
        sh = inject_faults(df, disp, ["unknown_town", "foreign_town", "bad_date", "bad_check_digit", "excel_id", "duplicate"],
                           self.fault_rate, self.rng, {"town": "所在镇街", "date": "注册日期", "id": "身份证号码"},
                           self._dup_column("volunteers"))
        self.good["volunteers"] = sh.good
        label = "volunteers/志愿者名册.csv"
        rows = write_csv(folder / Path(label).name, SheetSpec(None, [], [(None, c) for c in df.columns], sh.frame[list(df.columns)]), "utf-8-sig")
        self._record(label, None, rows, sh.fault, sh.column)
        # a file sent empty (an export that failed half-way): set aside, the roster stands
        (folder / "志愿者名册_补报.csv").write_bytes(b"")
        self.rejected.append(dict(file="volunteers/志愿者名册_补报.csv", kind="empty"))

    def service_items(self, folder: Path) -> None:
        df = self.clean["service_items"]
        disp = df.copy().astype(object)
        yn = self.rng.random(len(df)) < 0.3
        disp["是否全程网办"] = np.where(yn, np.where(df["是否全程网办"] == "是", "Y", "N"), df["是否全程网办"])
        disp["年度"] = df["年度"].astype(float)
        disp["_group"] = df["年度"]
        sh = inject_faults(df, disp, ["duplicate"], self.fault_rate, self.rng, {}, self._dup_column("service_items"))
        self.good["service_items"] = sh.good
        header = [(None, " 事项编码 "), (None, "事项\n名称"), (None, "年　度"), (None, "是否\n全程网办")]
        specs, parts = [], []
        for year, idx in sh.frame.groupby("_group").groups.items():
            specs.append(SheetSpec(f"{year}年", [f"大兴区民政政务服务事项目录（{year}年度）"], header,
                                   sh.frame.loc[idx, list(df.columns)]))
            parts.append(idx)
        notes = SheetSpec("填表说明", [], [], pd.DataFrame(), footer=[("note", ["“是否全程网办”填写是/否。"])])
        label = "service_items/政务服务事项目录.xml"  # "XML 电子表格 2003" of the catalog system
        rows_per_sheet = write_spreadsheetml(folder / Path(label).name, [notes] + specs)
        for spec, idx, rows in zip(specs, parts, rows_per_sheet[1:]):
            pos = sh.frame.index.get_indexer(idx)
            self._record(label, spec.name, rows, sh.fault[pos], sh.column[pos])

    def service_cases(self, folder: Path) -> None:
        df = self.clean["service_cases"]
        disp = df.copy().astype(object)
        compact = self.rng.random(len(df)) < 0.3
        disp["受理日期"] = np.where(compact, _dates(df["受理日期"], "compact"), df["受理日期"])
        disp["受理日期"] = _with_times(pd.Series(disp["受理日期"]), self.rng, 0.4, ("hms", "hm", "t"))  # case systems stamp the time
        towns = _towns(df["受理镇街"], self.rng)
        disp["受理镇街"] = np.where(self.rng.random(len(df)) < 0.1, "", towns)
        year = df["受理日期"].str[:4].astype(int)
        disp["_group"] = np.where(year <= 2021, "gbk", np.where(year <= 2023, "utf16", "csv"))
        sh = inject_faults(df, disp, ["unknown_town", "foreign_town", "bad_date", "duplicate"], self.fault_rate, self.rng,
                           {"town": "受理镇街", "date": "受理日期"}, self._dup_column("service_cases"))
        self.good["service_cases"] = sh.good
        header = [(None, c) for c in df.columns]
        for group, name, write in [
            ("gbk", "政务服务办件记录_2020-2021.xls", lambda path, spec: write_tsv(path, spec, "gbk")),  # tab-separated GBK "Excel"
            ("utf16", "政务服务办件记录_2022-2023.xls", lambda path, spec: write_tsv(path, spec, "utf-16")),  # UTF-16 with a BOM
            ("csv", "政务服务办件记录_2024-2026.csv", lambda path, spec: write_csv(path, spec, "utf-8")),
        ]:
            mask = (sh.frame["_group"] == group).to_numpy()
            rows = write(folder / name, SheetSpec(None, [], header, sh.frame.loc[mask, list(df.columns)]))
            self._record(f"service_cases/{name}", None, rows, sh.fault[mask], sh.column[mask])

    # -- all ------------------------------------------------------------------------------------------
    def write(self, out_dir: Path) -> dict[str, int]:
        """Write the landing files, ``faults.csv``, ``messy_files.csv`` and the ground truth. Returns rows per source."""
        from daxing_kpi.sample.domains import modules

        out_dir = Path(out_dir)
        counts: dict[str, int] = {}
        for source in self.clean:
            folder = out_dir / "landing" / source
            folder.mkdir(parents=True, exist_ok=True)
            if hasattr(self, source):
                getattr(self, source)(folder)
            else:  # a source without a messy shape yet: written as the clean sample writes it
                self.clean[source].to_csv(folder / f"{source}_{EXPORT_DATE:%Y%m%d}.csv", index=False, encoding="utf-8")
                self.files.append(dict(file=f"{source}/{source}_{EXPORT_DATE:%Y%m%d}.csv", sheet="", rows=len(self.clean[source]), faulty=0,
                                       field_faults=0))
            counts[source] = sum(f["rows"] for f in self.files if f["file"].startswith(source + "/"))
        # other domains' files, written as the clean sample writes them
        plugins = modules()
        stamp = EXPORT_DATE.strftime("%Y%m%d")
        extra: dict = {}
        for mod in plugins:
            extra.update(mod.build(self.gen))
        for source, df in extra.items():
            folder = out_dir / "landing" / source
            folder.mkdir(parents=True, exist_ok=True)
            if callable(df):
                df(folder)
                counts[source] = sum(1 for _ in folder.iterdir())
            else:
                df.to_csv(folder / f"{source}_{stamp}.csv", index=False, encoding="utf-8")
                counts[source] = len(df)
        truth_dir = out_dir / "sample_truth"
        truth_dir.mkdir(parents=True, exist_ok=True)
        good = {k: self.good.get(k, v) for k, v in self.clean.items()}
        self.gen.frames.update(good)  # other domains' truth counts from the good records too
        truth = pd.concat([ground_truth(good, self.gen.towns), *(mod.ground_truth(self.gen) for mod in plugins)], ignore_index=True)
        truth.to_csv(truth_dir / "ground_truth.csv", index=False)
        pd.DataFrame(self.faults, columns=["file", "sheet", "row", "column", "fault", "reason", "disposition"]).to_csv(
            truth_dir / "faults.csv", index=False)
        pd.DataFrame(self.files, columns=["file", "sheet", "rows", "faulty", "field_faults"]).to_csv(truth_dir / "messy_files.csv", index=False)
        pd.DataFrame(self.rejected, columns=["file", "kind"]).to_csv(truth_dir / "rejected_files.csv", index=False)
        meta = {"scale": self.gen.scale, "seed": self.gen.seed, "cutoff": CUTOFF.isoformat(), "rows": counts,
                "shapes": "messy", "fault_rate": self.fault_rate, "faults": len(self.faults)}
        meta["fingerprint"] = hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:16]
        (truth_dir / "sample.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
        return counts


def generate(out_dir: Path, scale: float = 1.0, seed: int = 20211, fault_rate: float = DEFAULT_FAULT_RATE) -> dict[str, int]:
    """Write the sample in real-world shapes with faulty rows under ``out_dir`` (see the module text).

    Returns rows written per source (records, totals and signature rows; blank rows not counted).
    Raises ``ValueError`` for a non-positive scale or a fault rate outside [0, 0.5)."""
    return MessySample(scale=scale, seed=seed, fault_rate=fault_rate).write(out_dir)
