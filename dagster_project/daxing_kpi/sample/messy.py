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
UNKNOWN_TOWNS = ["黄村村", "火星镇", "大兴新城", "朝阳区望京街道", "110115999", "黄树街道", "西红门北"]
BAD_DATES = ["2023-02-30", "2023/13/1", "2023年5月", "二〇二三年五月六日", "20231345", "去年"]
FAULT_REASON = {
    "unknown_town": Reason.UNKNOWN_TOWN,
    "bad_date": Reason.BAD_DATE,
    "bad_check_digit": Reason.BAD_ID,
    "duplicate": Reason.DUPLICATE,
    "totals_row": Reason.TOTALS_ROW,
    "note_row": Reason.NOTE_ROW,
}
_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def town_spellings() -> dict[str, list[str]]:
    """Official town/street name -> the spellings clerks use for it (all in the alias table)."""
    out = {}
    with open(SEEDS_DIR / "townships.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            name, code, kind = r["name_zh"], r["code"], r["kind"]
            codes = [code, code + "000", code.translate(_FULL_WIDTH), code[:6] + " " + code[6:]]
            if kind == "street":
                base = name[:-2]
                names = [name, base, name + "办事处", base + "街道办", "大兴区" + name]
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


def _date_cells(iso: pd.Series, rng: np.random.Generator) -> pd.Series:
    """ISO dates as spreadsheet cells: half real date cells, half Excel serial numbers (floats)."""
    out = []
    serial = rng.random(len(iso)) < 0.5
    for v, s in zip(iso, serial):
        if not v:
            out.append(None)
            continue
        d = dt.date.fromisoformat(v)
        out.append(float((d - EXCEL_EPOCH).days) if s else d)
    return pd.Series(out, index=iso.index, dtype=object)


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


# -- faults --------------------------------------------------------------------------------------------


@dataclass
class Shaped:
    """A source's records as written: display values, the fault of each written row, and the good records."""

    frame: pd.DataFrame  # written rows (display values) + hidden "_group" column
    fault: np.ndarray  # fault kind per written row ('' = good)
    column: np.ndarray  # contract header the quarantine must name
    good: pd.DataFrame  # the clean records that are good (for the ground truth)


def inject_faults(clean: pd.DataFrame, display: pd.DataFrame, kinds: list[str], rate: float, rng: np.random.Generator,
                  cols: dict[str, str], dup_column: str) -> Shaped:
    """Break a share ``rate`` of the records (kinds in turn) and insert duplicates below originals.

    ``cols`` names the columns a fault breaks (``town``, ``date``, ``id``); ``display`` holds the
    values as they will be written (same index as ``clean``)."""
    n = len(clean)
    n_f = 0 if rate <= 0 or n < 2 * len(kinds) else min(n // 2, max(len(kinds), int(round(rate * n))))
    chosen = np.sort(rng.choice(n, n_f, replace=False)) if n_f else np.array([], dtype=int)
    kind_of = np.array([kinds[i % len(kinds)] for i in range(n_f)], dtype=object)
    rng.shuffle(kind_of)
    display = display.copy()
    broken = np.zeros(n, dtype=bool)
    dup = np.zeros(n, dtype=bool)
    fault_col = np.full(n, "", dtype=object)
    fault_kind = np.full(n, "", dtype=object)
    for pos, kind in zip(chosen, kind_of):
        if kind == "duplicate":
            dup[pos] = True
            continue
        col = cols[{"unknown_town": "town", "bad_date": "date", "bad_check_digit": "id"}[kind]]
        if kind == "unknown_town":
            value = UNKNOWN_TOWNS[int(rng.integers(0, len(UNKNOWN_TOWNS)))]
        elif kind == "bad_date":
            value = BAD_DATES[int(rng.integers(0, len(BAD_DATES)))]
        else:
            value = _bad_check_digit(str(display.iat[pos, display.columns.get_loc(col)]))
        display.iat[pos, display.columns.get_loc(col)] = value
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
    return Shaped(frame, fault.astype(object), column.astype(object), clean[~broken])


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
                if isinstance(v, dt.date):
                    ws.write(r, c, v, date_style)
                else:
                    ws.write(r, c, v)
            r += 1
        out.append(np.arange(first + 1, first + 1 + len(spec.rows)))
        for _, cells in spec.footer:
            filled = [(c, v) for c, v in enumerate(cells) if v not in (None, "")]
            if len(filled) == 1 and filled[0][0] == 0:
                ws.write_merge(r, r, 0, width - 1, filled[0][1])
            else:
                for c, v in filled:
                    ws.write(r, c, v)
            r += 1
    wb.save(str(path))
    return out


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

    def _dup_column(self, source: str) -> str:
        c = self.contracts[source]
        return "+".join(c.column(k).header_zh for k in c.key)

    def _record(self, label: str, sheet: str | None, rows: np.ndarray, shaped_fault, shaped_col, footer_rows=()):
        """Note the faults and counts of one written block (``footer_rows``: (row, fault))."""
        n_faulty = 0
        for row, fault, col in zip(rows, shaped_fault, shaped_col):
            if fault:
                self.faults.append(dict(file=label, sheet=sheet or "", row=int(row), column=col, fault=fault, reason=FAULT_REASON[fault]))
                n_faulty += 1
        for row, fault in footer_rows:
            self.faults.append(dict(file=label, sheet=sheet or "", row=int(row), column="", fault=fault, reason=FAULT_REASON[fault]))
            n_faulty += 1
        self.files.append(dict(file=label, sheet=sheet or "", rows=len(rows) + len(footer_rows), faulty=n_faulty))

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
        disp["入职日期"] = _date_cells(df["入职日期"], self.rng)
        disp["离职日期"] = _date_cells(df["离职日期"], self.rng)
        disp["序号"] = df["序号"].astype(float)
        sh = inject_faults(df, disp, ["unknown_town", "bad_date", "bad_check_digit", "duplicate"], self.fault_rate, self.rng,
                           {"town": "所属镇街", "date": "入职日期", "id": "身份证号码"}, self._dup_column("care_workers"))
        self.good["care_workers"] = sh.good
        labels = {"身份证号码": "公民身份号码", "入职日期": "入职\n日期"}
        header = [(None, labels.get(c, c)) for c in df.columns]
        spec = SheetSpec("花名册", ["大兴区养老护理员花名册", f"填报单位：大兴区民政局养老服务科　　截至日期：{CUTOFF:%Y年%m月%d日}"],
                         header, sh.frame[list(df.columns)],
                         footer=[("note_row", ["填表人：王芳　联系电话：13812345678　审核人：李强"])])
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
        self._record(label, "花名册", rows, sh.fault, sh.column, [(rows[-1] + 1 if len(rows) else 0, "note_row")])

    def burials(self, folder: Path) -> None:
        df = self.clean["burials"]
        disp = df.copy().astype(object)
        disp["户籍所在镇街"] = _towns(df["户籍所在镇街"], self.rng)
        early = df["安葬日期"].str[:4].astype(int) <= 2023
        for col in ("死亡日期", "安葬日期"):
            disp[col] = np.where(early, _dates(df[col], "slash"), _dates(df[col], "cn"))
        disp["_group"] = np.where(early, "early", "late")
        sh = inject_faults(df, disp, ["unknown_town", "bad_date", "duplicate"], self.fault_rate, self.rng,
                           {"town": "户籍所在镇街", "date": "安葬日期"}, self._dup_column("burials"))
        self.good["burials"] = sh.good
        header = [(None, c) for c in df.columns]
        for group, name, titles, enc in [
            ("early", "安葬记录_2020-2023.csv", ["大兴区安葬记录（2020—2023年）"], "gb18030"),
            ("late", "安葬记录_2024-2026.csv", [], "utf-8-sig"),
        ]:
            mask = (sh.frame["_group"] == group).to_numpy()
            rows = write_csv(folder / name, SheetSpec(None, titles, header, sh.frame.loc[mask, list(df.columns)]), enc)
            self._record(f"burials/{name}", None, rows, sh.fault[mask], sh.column[mask])

    def volunteers(self, folder: Path) -> None:
        df = self.clean["volunteers"]
        disp = df.copy().astype(object)
        disp["所在镇街"] = _towns(df["所在镇街"], self.rng)
        for col in ("注册日期", "注销日期"):
            disp[col] = _dates(df[col], "dot")
        sh = inject_faults(df, disp, ["unknown_town", "bad_date", "bad_check_digit", "duplicate"], self.fault_rate, self.rng,
                           {"town": "所在镇街", "date": "注册日期", "id": "身份证号码"}, self._dup_column("volunteers"))
        self.good["volunteers"] = sh.good
        label = "volunteers/志愿者名册.csv"
        rows = write_csv(folder / Path(label).name, SheetSpec(None, [], [(None, c) for c in df.columns], sh.frame[list(df.columns)]), "utf-8-sig")
        self._record(label, None, rows, sh.fault, sh.column)

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
        label = "service_items/政务服务事项目录.xlsx"
        rows_per_sheet = write_xlsx(folder / Path(label).name, [notes] + specs)
        for spec, idx, rows in zip(specs, parts, rows_per_sheet[1:]):
            pos = sh.frame.index.get_indexer(idx)
            self._record(label, spec.name, rows, sh.fault[pos], sh.column[pos])

    def service_cases(self, folder: Path) -> None:
        df = self.clean["service_cases"]
        disp = df.copy().astype(object)
        compact = self.rng.random(len(df)) < 0.5
        disp["受理日期"] = np.where(compact, _dates(df["受理日期"], "compact"), df["受理日期"])
        towns = _towns(df["受理镇街"], self.rng)
        disp["受理镇街"] = np.where(self.rng.random(len(df)) < 0.1, "", towns)
        sh = inject_faults(df, disp, ["unknown_town", "bad_date", "duplicate"], self.fault_rate, self.rng,
                           {"town": "受理镇街", "date": "受理日期"}, self._dup_column("service_cases"))
        self.good["service_cases"] = sh.good
        label = "service_cases/政务服务办件记录.csv"
        rows = write_csv(folder / Path(label).name, SheetSpec(None, [], [(None, c) for c in df.columns], sh.frame[list(df.columns)]), "utf-8")
        self._record(label, None, rows, sh.fault, sh.column)

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
                self.files.append(dict(file=f"{source}/{source}_{EXPORT_DATE:%Y%m%d}.csv", sheet="", rows=len(self.clean[source]), faulty=0))
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
        pd.DataFrame(self.faults, columns=["file", "sheet", "row", "column", "fault", "reason"]).to_csv(truth_dir / "faults.csv", index=False)
        pd.DataFrame(self.files, columns=["file", "sheet", "rows", "faulty"]).to_csv(truth_dir / "messy_files.csv", index=False)
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
