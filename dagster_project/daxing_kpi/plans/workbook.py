"""Reading and validating a filled plan workbook (计划指标模板.xlsx) against its data contract.

:func:`read_workbook` reads the sheets of :mod:`daxing_kpi.plans.contract` (header row found by its
contents, so title and hint rows above it are skipped; blank rows are skipped), checks every cell
against the contract (required, integer, number, yes/no, drop-down list) and then the rules that span
cells and sheets, and returns a :class:`PlanWorkbook`: the plan, its targets, milestones and sections
as typed rows holding the warehouse's codes (``kpi_id``, ``target_kind`` ...), and every
:class:`Problem` found. A workbook with any problem is rejected whole (see :mod:`daxing_kpi.plans.load`).

Each problem names the sheet, the row (Excel's row number) and the column, in Chinese and in English:
工作表“指标目标”第7行“目标年份”列：2031年不在规划期2026—2030年内。

Rules besides the cells' own: exactly one plan; a plan identifier of letters, digits and underscores not
used by a bundled plan; a period whose start is not after its end, a baseline year before it, a mid-term
review year inside it; a target names a KPI of the catalog (by its Chinese name from the list, or its
identifier), or leaves it empty and names the indicator (待建指标); a KPI or indicator once per plan; a
target year inside the period; a clause (规划原文) and a section (规划条目); per kind: reach_by_year and
hold_every_year need a value and a comparator agreeing with the KPI's direction (>= for a KPI to
increase, <= to decrease), a range needs a lower bound below its upper bound, direction_only takes no
value; a count basis only for KPIs counting units (default stock); milestones only for a
reach_by_year target of the workbook, in a year of the period before its target year; section codes once,
and every target's section among them when the sheet is filled in.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from daxing_kpi.paths import SEEDS_DIR
from daxing_kpi.plans.contract import (COMPARATOR_SPELLINGS, COMPARATORS, COUNT_BASES, KINDS, NO, YES, Column,
                                       Sheet, bundled_plan_ids, kpi_definitions, normalize, sheets)

PLAN_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
HEADER_SCAN_ROWS = 10
KIND_NAMES = {v: k for k, v in KINDS.items()}


@dataclass(frozen=True)
class Problem:
    """One mistake in a workbook, located by sheet, row (Excel's row number) and column where it has them."""

    sheet: str | None
    row: int | None
    column: str | None
    message_zh: str
    message_en: str
    value: str = ""

    @property
    def text_zh(self) -> str:
        where = ""
        if self.sheet:
            where = f"工作表“{self.sheet}”"
            if self.row is not None:
                where += f"第{self.row}行"
            if self.column:
                where += f"“{self.column}”列"
            where += "："
        return where + self.message_zh

    @property
    def text_en(self) -> str:
        parts = []
        if self.sheet:
            parts.append(f"sheet {self.sheet}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column}")
        return (", ".join(parts) + ": " if parts else "") + self.message_en


@dataclass
class PlanWorkbook:
    """What :func:`read_workbook` found in one workbook. Rows are dicts of typed values plus ``_row``
    (Excel's row number) and ``_sheet``; targets, milestones and sections carry ``plan_id``."""

    path: Path
    plan: dict | None = None
    targets: list[dict] = field(default_factory=list)
    milestones: list[dict] = field(default_factory=list)
    sections: list[dict] = field(default_factory=list)
    rows_read: dict[str, int] = field(default_factory=dict)  # role -> data rows read
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def plan_id(self) -> str | None:
        return (self.plan or {}).get("plan_id")


# -- reading cells ------------------------------------------------------------------------------------


def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or normalize(value) == ""


def _cell(value, col: Column, where: tuple, problems: list[Problem]):
    """The typed value of one cell, or None (blank or broken: a problem is added)."""
    sheet, row = where
    if _blank(value):
        if col.required:
            problems.append(Problem(sheet, row, col.header_zh, f"必须填写。{col.hint}".rstrip("。") + "。",
                                    f"a value is required ({col.name})."))
        return None
    text = normalize(value)
    if col.type == "text":  # as written (names, titles, clauses); lists and codes are matched on normalize()
        return " ".join(str(value).split()) if col.name != "source_clause_zh" else str(value).strip()
    if col.type == "boolean":
        if text.lower() in YES:
            return True
        if text.lower() in NO:
            return False
        problems.append(Problem(sheet, row, col.header_zh, f"“{value}”应填“是”或“否”。", f"{value!r} is not yes/no (是/否).", str(value)))
        return None
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        t = text.replace(",", "").rstrip("%").removesuffix("年")
        try:
            number = float(t)
        except ValueError:
            number = None
    if number is None or math.isnan(number):
        problems.append(Problem(sheet, row, col.header_zh, f"“{value}”不是数字。", f"{value!r} is not a number.", str(value)))
        return None
    if col.type == "integer":
        if number != round(number):
            problems.append(Problem(sheet, row, col.header_zh, f"“{value}”应为整数（如年份2030）。", f"{value!r} is not a whole number.", str(value)))
            return None
        return int(round(number))
    return number


def _find_header(ws_rows: list[tuple], sheet: Sheet) -> tuple[int | None, dict[str, int]]:
    """(index of the header row among ``ws_rows``, column name -> position); (None, {}) when no row of the
    first few names at least half of the sheet's columns."""
    wanted = {normalize(c.header_zh): c.name for c in sheet.columns}
    best = (None, {})
    for i, row in enumerate(ws_rows[:HEADER_SCAN_ROWS]):
        found = {}
        for j, v in enumerate(row):
            name = wanted.get(normalize(v)) if not _blank(v) else None
            if name and name not in found:
                found[name] = j
        if len(found) > len(best[1]):
            best = (i, found)
    if len(best[1]) * 2 < len(sheet.columns):
        return None, {}
    return best


def _read_sheet(wb, sheet: Sheet, required: bool, problems: list[Problem]) -> tuple[list[dict], int]:
    """The typed rows of one sheet (blank rows skipped) and how many data rows it has."""
    if sheet.name not in wb.sheetnames:
        if required:
            problems.append(Problem(sheet.name, None, None, f"缺少工作表“{sheet.name}”，请使用产品提供的计划指标模板。",
                                    f"the sheet {sheet.name} is missing; use the product's plan template."))
        return [], 0
    ws = wb[sheet.name]
    grid = [tuple(r) for r in ws.iter_rows(values_only=True)]
    header_at, positions = _find_header(grid, sheet)
    if header_at is None:
        problems.append(Problem(sheet.name, None, None, "找不到表头行（应含“" + "”“".join(c.header_zh for c in sheet.columns) + "”等列）。",
                                "no header row naming the template's columns."))
        return [], 0
    for c in sheet.columns:
        if c.required and c.name not in positions:
            problems.append(Problem(sheet.name, header_at + 1, c.header_zh, f"缺少“{c.header_zh}”列。", f"the column {c.header_zh} is missing."))
    rows = []
    for i, raw in enumerate(grid[header_at + 1:], start=header_at + 2):
        cells = {c.name: (raw[positions[c.name]] if c.name in positions and positions[c.name] < len(raw) else None) for c in sheet.columns}
        if all(_blank(v) for v in cells.values()):
            continue
        typed = {"_row": i, "_sheet": sheet.name}
        for c in sheet.columns:
            typed[c.name] = _cell(cells[c.name], c, (sheet.name, i), problems)
        rows.append(typed)
    return rows, len(rows)


# -- the rules that span cells and sheets -------------------------------------------------------------


def _check_plan(rows: list[dict], sheet: Sheet, bundled: set[str], problems: list[Problem]) -> dict | None:
    if not rows:
        problems.append(Problem(sheet.name, None, None, "没有填写规划（应填写一行）。", "no plan is filled in (one row expected)."))
        return None
    for extra in rows[1:]:
        problems.append(Problem(sheet.name, extra["_row"], None, "一个工作簿只能填写一个规划，请删除多出的行或另交一个工作簿。",
                                "a workbook holds one plan; remove the extra row or hand in another workbook."))
    plan = dict(rows[0])
    row = plan["_row"]
    col = sheet.column
    pid = plan.get("plan_id")
    if pid is not None and not PLAN_ID.fullmatch(pid):
        problems.append(Problem(sheet.name, row, col("plan_id").header_zh,
                                f"“{pid}”不能作规划编号：须以英文字母开头，只用英文字母、数字和下划线，最多64个字符。",
                                f"{pid!r} is no plan identifier: a letter first, then letters, digits and underscores (at most 64).", pid))
    elif pid in bundled:
        problems.append(Problem(sheet.name, row, col("plan_id").header_zh, f"规划编号“{pid}”已被产品自带的规划使用，请换一个编号。",
                                f"the plan identifier {pid!r} belongs to a bundled plan; choose another.", pid))
    start, end, base = plan.get("period_start_year"), plan.get("period_end_year"), plan.get("baseline_year")
    if start is not None and end is not None and start > end:
        problems.append(Problem(sheet.name, row, col("period_end_year").header_zh, f"规划期末年{end}年早于起始年{start}年。",
                                f"the period ends ({end}) before it starts ({start}).", str(end)))
    if start is not None and base is not None and base >= start:
        problems.append(Problem(sheet.name, row, col("baseline_year").header_zh, f"基期年{base}年应早于规划期起始年{start}年（通常为前一年）。",
                                f"the baseline year {base} must come before the first year {start} of the period.", str(base)))
    mid = plan.get("mid_term_review_year")
    if mid is not None and start is not None and end is not None and not start <= mid <= end:
        problems.append(Problem(sheet.name, row, col("mid_term_review_year").header_zh, f"中期评估年份{mid}年不在规划期{start}—{end}年内。",
                                f"the mid-term review year {mid} is outside the period {start}-{end}.", str(mid)))
    if plan.get("is_example") is None:
        plan["is_example"] = False
    return plan


def _period(plan: dict | None) -> tuple[int | None, int | None]:
    return ((plan or {}).get("period_start_year"), (plan or {}).get("period_end_year"))


def _check_targets(rows: list[dict], sheet: Sheet, plan: dict | None, problems: list[Problem], seeds_dir: Path) -> list[dict]:
    definitions = kpi_definitions(seeds_dir)
    by_name = {normalize(d["name_zh"]): d for d in definitions} | {normalize(d["kpi_id"]): d for d in definitions}
    start, end = _period(plan)
    h = {c.name: c.header_zh for c in sheet.columns}
    seen: dict[str, int] = {}
    out = []
    for r in rows:
        row = r["_row"]
        t = {"_row": row, "_sheet": r["_sheet"], "row_no": r.get("row_no"), "plan_section": r.get("plan_section"),
             "source_clause_zh": r.get("source_clause_zh"), "indicator_name_zh": r.get("indicator_name_zh"),
             "target_value": r.get("target_value"), "target_value_upper": r.get("target_value_upper"),
             "target_year": r.get("target_year")}
        name = r.get("kpi_name")
        kpi = None
        if name is not None:
            kpi = by_name.get(normalize(name))
            if kpi is None:
                problems.append(Problem(sheet.name, row, h["kpi_name"],
                                        f"“{name}”不是产品能计算的指标，请从下拉列表中选择；产品尚不能计算的指标请将“指标”留空，并填写“待建指标名称”。",
                                        f"{name!r} is not a KPI the product computes: pick one from the list, or leave it empty and fill in "
                                        "the indicator's name (待建指标名称) for a target not yet measurable.", name))
        elif t["indicator_name_zh"] is None:
            problems.append(Problem(sheet.name, row, h["kpi_name"], "请从下拉列表选择指标；产品尚不能计算的指标请在“待建指标名称”中写明。",
                                    "pick a KPI from the list, or name the indicator not yet measurable (待建指标名称)."))
        t["kpi_id"] = kpi["kpi_id"] if kpi else None
        key = t["kpi_id"] or (normalize(t["indicator_name_zh"]) if t["indicator_name_zh"] else None)
        if key is not None:
            if key in seen:
                problems.append(Problem(sheet.name, row, h["kpi_name"] if t["kpi_id"] else h["indicator_name_zh"],
                                        f"该指标在第{seen[key]}行已有目标；同一规划中每个指标只填一行。",
                                        f"this indicator already has a target in row {seen[key]}; one row per indicator and plan.",
                                        name or t["indicator_name_zh"] or ""))
            else:
                seen[key] = row
        # kind, comparator, values
        kind_label = r.get("target_kind")
        kind = KINDS.get(normalize(kind_label)) if kind_label is not None else None
        if kind_label is not None and kind is None:
            kind = next((code for label, code in KINDS.items() if normalize(label) == normalize(kind_label) or code == kind_label), None)
            if kind is None:
                problems.append(Problem(sheet.name, row, h["target_kind"], f"“{kind_label}”不是目标类型，请从下拉列表选择（{'、'.join(KINDS)}）。",
                                        f"{kind_label!r} is no target kind; pick one from the list.", kind_label))
        t["target_kind"] = kind
        comp_label = r.get("comparator")
        comparator = None
        if comp_label is not None:
            comparator = {normalize(k): v for k, v in COMPARATORS.items()}.get(normalize(comp_label)) or COMPARATOR_SPELLINGS.get(normalize(comp_label))
            if comparator is None:
                problems.append(Problem(sheet.name, row, h["comparator"], f"“{comp_label}”不是比较符，请从下拉列表选择（{'、'.join(COMPARATORS)}）。",
                                        f"{comp_label!r} is no comparator; pick one from the list.", comp_label))
        direction = kpi["direction"] if kpi else None
        value, upper = t["target_value"], t["target_value_upper"]
        if kind in ("reach_by_year", "hold_every_year"):
            if value is None and not _has_problem(problems, sheet.name, row, h["target_value"]):
                problems.append(Problem(sheet.name, row, h["target_value"], f"“{KIND_NAMES[kind]}”的目标须填写目标值。",
                                        f"a {kind} target needs a target value."))
            if upper is not None:
                problems.append(Problem(sheet.name, row, h["target_value_upper"], "只有区间目标填写区间上限。",
                                        "only a range target has an upper bound.", str(upper)))
            if comparator == "between":
                problems.append(Problem(sheet.name, row, h["comparator"], "比较符“区间”只用于目标类型“区间”。",
                                        "the comparator between belongs to range targets.", comp_label))
            elif comparator is None and comp_label is None:
                comparator = {"increase": ">=", "decrease": "<="}.get(direction)
                if comparator is None:
                    problems.append(Problem(sheet.name, row, h["comparator"], "请选择比较符：不少于（≥）或不高于（≤）。",
                                            "choose a comparator: at least (>=) or at most (<=)."))
            elif direction and comparator != {"increase": ">=", "decrease": "<="}[direction]:
                want = "不少于（≥）" if direction == "increase" else "不高于（≤）"
                problems.append(Problem(sheet.name, row, h["comparator"],
                                        f"比较符与指标的期望方向不一致：该指标越{'高' if direction == 'increase' else '低'}越好，应为“{want}”。",
                                        f"the comparator disagrees with the KPI's desired direction ({direction}).", comp_label or ""))
        elif kind == "range":
            if comparator not in (None, "between"):
                problems.append(Problem(sheet.name, row, h["comparator"], "区间目标的比较符应为“区间”。",
                                        "a range target's comparator is between.", comp_label))
            comparator = "between"
            if value is None:
                problems.append(Problem(sheet.name, row, h["target_value"], "区间目标须填写目标值（区间下限）。", "a range needs its lower bound."))
            if upper is None:
                problems.append(Problem(sheet.name, row, h["target_value_upper"], "区间目标须填写区间上限。", "a range needs its upper bound."))
            if value is not None and upper is not None and not value < upper:
                problems.append(Problem(sheet.name, row, h["target_value_upper"], f"区间上限{upper:g}应大于目标值（下限）{value:g}。",
                                        f"the upper bound {upper:g} must exceed the lower bound {value:g}.", str(upper)))
        elif kind == "direction_only":
            for col in ("target_value", "target_value_upper"):
                if t[col] is not None:
                    problems.append(Problem(sheet.name, row, h[col], "“只有方向”的目标不填目标值。",
                                            "a direction-only target has no value.", str(t[col])))
            if comparator is not None:
                problems.append(Problem(sheet.name, row, h["comparator"], "“只有方向”的目标不填比较符，按指标的期望方向评估。",
                                        "a direction-only target has no comparator: the KPI's direction applies.", comp_label))
            comparator = None
        t["comparator"] = comparator
        # count basis
        basis_label = r.get("count_basis")
        basis = None
        if basis_label is not None:
            basis = {normalize(k): v for k, v in COUNT_BASES.items()}.get(normalize(basis_label)) or (
                basis_label if basis_label in COUNT_BASES.values() else None)
            if basis is None:
                problems.append(Problem(sheet.name, row, h["count_basis"], f"“{basis_label}”不是计数口径，请从下拉列表选择（{'、'.join(COUNT_BASES)}）。",
                                        f"{basis_label!r} is no count basis; pick one from the list.", basis_label))
            elif kpi and kpi["unit"] != "count":
                problems.append(Problem(sheet.name, row, h["count_basis"], "计数口径只用于计数类指标（如机构数、示范点数），比率类指标不填。",
                                        "a count basis belongs to KPIs counting units only.", basis_label))
                basis = None
        if kpi and kpi["unit"] == "count" and basis is None:
            basis = "stock"
        t["count_basis"] = basis if kpi else None
        # target year within the period
        year = t["target_year"]
        if year is not None and start is not None and end is not None and not start <= year <= end:
            problems.append(Problem(sheet.name, row, h["target_year"], f"{year}年不在规划期{start}—{end}年内。",
                                    f"{year} is outside the plan period {start}-{end}.", str(year)))
        if t["plan_section"] is not None:
            t["plan_section"] = normalize(t["plan_section"]).replace("；", ";")
        t["measurement_status"] = "measurable" if t["kpi_id"] else "not_yet_measurable"
        out.append(t)
    return out


def _has_problem(problems: list[Problem], sheet: str, row: int, column: str) -> bool:
    """Whether the cell already has a problem (not a number ...), so that it is reported once."""
    return any(p.sheet == sheet and p.row == row and p.column == column for p in problems)


def _check_milestones(rows: list[dict], sheet: Sheet, plan: dict | None, targets: list[dict], problems: list[Problem],
                      seeds_dir: Path) -> list[dict]:
    definitions = kpi_definitions(seeds_dir)
    by_name = {normalize(d["name_zh"]): d for d in definitions} | {normalize(d["kpi_id"]): d for d in definitions}
    by_kpi = {t["kpi_id"]: t for t in targets if t["kpi_id"]}
    start, _ = _period(plan)
    h = {c.name: c.header_zh for c in sheet.columns}
    seen: dict[tuple, int] = {}
    out = []
    for r in rows:
        row, name, year = r["_row"], r.get("kpi_name"), r.get("milestone_year")
        kpi = by_name.get(normalize(name)) if name is not None else None
        if name is not None and kpi is None:
            problems.append(Problem(sheet.name, row, h["kpi_name"], f"“{name}”不是产品能计算的指标，请从下拉列表中选择。",
                                    f"{name!r} is not a KPI the product computes.", name))
        target = by_kpi.get(kpi["kpi_id"]) if kpi else None
        if kpi and target is None:
            problems.append(Problem(sheet.name, row, h["kpi_name"], f"“{name}”在“指标目标”表中没有目标；阶段目标须对应已填写的目标。",
                                    f"{name!r} has no target in the sheet of targets.", name))
        elif target is not None and target["target_kind"] not in (None, "reach_by_year"):
            problems.append(Problem(sheet.name, row, h["kpi_name"], f"只有目标类型为“到目标年达到”的目标才有阶段目标（“{name}”为“{KIND_NAMES[target['target_kind']]}”）。",
                                    "only reach_by_year targets have milestones.", name))
        if year is not None and target is not None and target.get("target_year") is not None:
            if start is not None and not start <= year < target["target_year"]:
                problems.append(Problem(sheet.name, row, h["milestone_year"],
                                        f"阶段目标年份{year}年应在规划期内、早于该目标的目标年份{target['target_year']}年。",
                                        f"the milestone year {year} must lie in the period, before the target year {target['target_year']}.", str(year)))
        if kpi and year is not None:
            key = (kpi["kpi_id"], year)
            if key in seen:
                problems.append(Problem(sheet.name, row, h["milestone_year"], f"该指标{year}年的阶段目标在第{seen[key]}行已填写。",
                                        f"this milestone is already in row {seen[key]}.", str(year)))
            seen.setdefault(key, row)
        out.append({"_row": row, "_sheet": r["_sheet"], "kpi_id": kpi["kpi_id"] if kpi else None,
                    "milestone_year": year, "milestone_value": r.get("milestone_value")})
    return out


def _check_sections(rows: list[dict], sheet: Sheet, targets: list[dict], target_sheet: Sheet, problems: list[Problem]) -> list[dict]:
    seen: dict[str, int] = {}
    out = []
    for order, r in enumerate(rows, start=1):
        code = normalize(r["section_code"]) if r.get("section_code") is not None else None
        if code is not None:
            if code in seen:
                problems.append(Problem(sheet.name, r["_row"], sheet.column("section_code").header_zh, f"章节编号“{code}”在第{seen[code]}行已填写。",
                                        f"the section code {code!r} is already in row {seen[code]}.", code))
            seen.setdefault(code, r["_row"])
        out.append({"_row": r["_row"], "_sheet": r["_sheet"], "section_code": code, "title_zh": r.get("title_zh"),
                    "title_en": r.get("title_en"), "sort_order": order})
    if seen:
        for t in targets:
            code = section_code(t.get("plan_section"))
            if code and code not in seen:
                problems.append(Problem(target_sheet.name, t["_row"], target_sheet.column("plan_section").header_zh,
                                        f"规划条目“{t['plan_section']}”的章节“{code}”不在“规划章节”表中。",
                                        f"the section {code!r} of {t['plan_section']!r} is not in the sheet of sections.", t["plan_section"]))
    return out


def section_code(plan_section: str | None) -> str | None:
    """The part numeral a plan_section starts with (一(二)1 -> 一), as the dbt macro plan_section_code."""
    if not plan_section:
        return None
    return re.split(r"[(;]", plan_section, maxsplit=1)[0].strip() or None


# -- the workbook ----------------------------------------------------------------------------------------


def read_workbook(path: Path, seeds_dir: Path = SEEDS_DIR) -> PlanWorkbook:
    """Read and validate one filled plan workbook (see the module doc). Never raises for a bad file: an
    unreadable file is a problem of the result like any other."""
    from openpyxl import load_workbook

    result = PlanWorkbook(path=Path(path))
    problems = result.problems
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # noqa: BLE001 - any reason the file cannot be opened is reported the same way
        problems.append(Problem(None, None, None, f"文件无法打开，请用 Excel 另存为 .xlsx 后重新放入（{type(e).__name__}）。",
                                f"the file cannot be opened as an .xlsx workbook ({type(e).__name__}: {e})."))
        return result
    try:
        roles = sheets()
        present = set(wb.sheetnames)
        raw = {}
        for role in ("plan", "targets", "milestones", "sections"):
            raw[role], result.rows_read[role] = _read_sheet(wb, roles[role], role in ("plan", "targets"), problems)
    finally:
        wb.close()
    header_found = {s for s in present if not any(p.sheet == s and p.row is None for p in problems)}
    plan = None
    if roles["plan"].name in header_found:
        plan = _check_plan(raw["plan"], roles["plan"], bundled_plan_ids(seeds_dir), problems)
    if roles["targets"].name in header_found and not raw["targets"]:
        problems.append(Problem(roles["targets"].name, None, None, "没有填写任何目标。", "no target is filled in."))
    targets = _check_targets(raw["targets"], roles["targets"], plan, problems, seeds_dir)
    milestones = _check_milestones(raw["milestones"], roles["milestones"], plan, targets, problems, seeds_dir)
    sections = _check_sections(raw["sections"], roles["sections"], targets, roles["targets"], problems)
    # in the order a planner reads the workbook: sheet by sheet, row by row, column by column
    order = {roles[r].name: i for i, r in enumerate(("plan", "targets", "milestones", "sections"))}
    columns = {(roles[r].name, c.header_zh): j for r in roles for j, c in enumerate(roles[r].columns)}
    problems.sort(key=lambda q: (order.get(q.sheet, -1), q.row or 0, columns.get((q.sheet, q.column), -1)))
    pid = (plan or {}).get("plan_id")
    for rows in (targets, milestones, sections):
        for r in rows:
            r["plan_id"] = pid
    result.plan, result.targets, result.milestones, result.sections = plan, targets, milestones, sections
    return result
