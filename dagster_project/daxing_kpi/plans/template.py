"""The plan workbook (计划指标模板.xlsx) the product writes: blank (the template planners fill in) or filled.

Sheets, in order: 填写说明 (how to fill it in), then one sheet per contract sheet (规划, 指标目标, 阶段目标,
规划章节; :mod:`daxing_kpi.plans.contract`) and the hidden sheet 下拉选项 holding the drop-down lists.
Layout of a data sheet: row 1 the title, row 2 a hint under each column (what to write), row 3 the
Chinese headers, then one row per record. Columns with a list (指标, 目标类型, 比较符, 计数口径, 是否示例)
get a drop-down list; the KPI list is every KPI definition of ``seeds/kpi_catalog.csv``, by its Chinese
name. The same content always gives the same bytes (fixed timestamps inside the file).

``kpi plan-template`` writes the blank template; :func:`write_workbook` with rows writes a filled one
(the sample's example plan, tests). Rows are dicts keyed by the contract's column names holding what a
planner would type (the labels of the lists, e.g. 目标类型 ``每年达到``).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

from daxing_kpi.paths import SEEDS_DIR
from daxing_kpi.plans.contract import LISTS, Sheet, choices, sheets

FIXED_TIME = dt.datetime(2026, 1, 1, 0, 0, 0)
INSTRUCTIONS_SHEET = "填写说明"
LISTS_SHEET = "下拉选项"
DATA_ROWS = 300  # rows below the header that get the drop-down lists
EXAMPLE_NOTE = "示例（不是区民政局的真实目标）"

INSTRUCTIONS = [
    "计划指标模板：用于新增一个规划（如下一个五年规划）的指标目标，无需改动程序。",
    "",
    "1. “规划”表：填写一行，即规划本身：规划编号（英文字母开头，只用字母、数字和下划线，每次交同一规划时用同一编号）、"
    "规划名称、简称、规划期起止年份、基期年；中期评估年份可不填（默认为规划期中间一年）。",
    "2. “指标目标”表：每个目标一行。“指标”从下拉列表选择；产品尚不能计算的指标（待建指标）将“指标”留空，"
    "在“待建指标名称”中写明，评估时列为“待建指标”并显示规划原文。",
    "   目标类型：到目标年达到（如“到2030年不低于70%”）、每年达到（如“每年不低于95%”，目标年份填规划期末年）、"
    "区间（如“保持在50%至70%之间”，目标值填下限，区间上限填上限）、只有方向（如“稳步提高”，不填目标值）。",
    "   比较符：不少于（≥）或不高于（≤），须与指标的期望方向一致；区间目标选“区间”；只有方向的目标不填。",
    "   目标值填数字，单位同指标（百分比填 95 表示95%）。目标年份须在规划期内。",
    "   计数口径只对计数类指标（如机构数、示范点数）：“年末存量”对应“达到、拥有”，“规划期新增”对应“建成、新建、改造、完成”；不填按年末存量。",
    "   规划条目如“一(二)1”，规划原文照录规划中的句子，两项都必须填写。",
    "3. “阶段目标”表（可不填）：到目标年达到类目标的中间目标，如2027年先达到65%。指标须已在“指标目标”表中，年份在规划期内、早于目标年份。",
    "4. “规划章节”表（可不填）：各部分的标题，章节编号与“规划条目”开头的序号一致（如“一”）。",
    "",
    "填好后将文件放入数据落地文件夹的 plans 子文件夹（landing/plans/），当晚的夜间任务即读入。",
    "文件有错误时整个文件不被采用（其他数据照常发布），错误说明写明工作表、行号和列名；改正后重新放入即可。",
    "同一规划编号再次交文件时，以最新的、没有错误的文件为准。",
]


def _deterministic_zip(raw: bytes) -> bytes:
    """Rewrite an .xlsx (a zip file) with fixed entry timestamps: same content, same bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time here
                stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, data)
            dst.writestr(fixed, data)
    return out.getvalue()


def _list_ranges(wb, seeds_dir: Path) -> dict[str, str]:
    """Write every drop-down list into the hidden lists sheet; return list name -> range formula."""
    ws = wb.create_sheet(LISTS_SHEET)
    ranges = {}
    for j, name in enumerate(LISTS, start=1):
        values = choices(name, seeds_dir)
        letter = chr(ord("A") + j - 1)
        ws.cell(row=1, column=j, value=name)
        for i, v in enumerate(values, start=2):
            ws.cell(row=i, column=j, value=v)
        ranges[name] = f"'{LISTS_SHEET}'!${letter}$2:${letter}${len(values) + 1}"
    ws.sheet_state = "hidden"
    return ranges


def _data_sheet(wb, sheet: Sheet, rows: list[dict], ranges: dict[str, str], title: str) -> None:
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    ws = wb.create_sheet(sheet.name)
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    ncol = len(sheet.columns)
    ws.cell(row=1, column=1, value=title).font = Font(bold=True, size=14)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncol)
    for j, col in enumerate(sheet.columns, start=1):
        hint = ws.cell(row=2, column=j, value=("必填。" if col.required else "") + col.hint)
        hint.font = Font(size=9, color="595959")
        hint.alignment = Alignment(wrap_text=True, vertical="top")
        head = ws.cell(row=3, column=j, value=col.header_zh)
        head.font = Font(bold=True)
        head.border = box
        head.fill = PatternFill("solid", fgColor="DDEBF7" if col.required else "F2F2F2")
        head.alignment = Alignment(horizontal="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(j)].width = 40 if col.name in ("source_clause_zh", "kpi_name") else 16
        letter = get_column_letter(j)
        if col.list or col.type == "boolean":
            formula = ranges[col.list] if col.list else '"是,否"'
            dv = DataValidation(type="list", formula1=formula, allow_blank=not col.required, showErrorMessage=col.list != "kpis",
                                errorTitle="请从下拉列表选择", error=f"“{col.header_zh}”请从下拉列表中选择。")
            dv.add(f"{letter}4:{letter}{3 + DATA_ROWS}")
            ws.add_data_validation(dv)
    ws.row_dimensions[2].height = 60
    ws.freeze_panes = "A4"
    for r in rows:
        ws.append([r.get(col.name) for col in sheet.columns])


def write_workbook(path: Path, plan: dict | None = None, targets: list[dict] | None = None,
                   milestones: list[dict] | None = None, sections: list[dict] | None = None,
                   example: bool = False, seeds_dir: Path = SEEDS_DIR) -> Path:
    """Write the plan workbook to ``path``: the blank template, or filled with the given rows (see the
    module doc). ``example`` marks every sheet's title as an example (示例). Returns ``path``."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    roles = sheets()
    wb = Workbook()
    intro = wb.active
    intro.title = INSTRUCTIONS_SHEET
    heading = "计划指标模板" + (f"：{EXAMPLE_NOTE}" if example else "")
    intro.cell(row=1, column=1, value=heading).font = Font(bold=True, size=14)
    for i, line in enumerate(INSTRUCTIONS, start=3):
        intro.cell(row=i, column=1, value=line).alignment = Alignment(wrap_text=True, vertical="top")
    intro.column_dimensions["A"].width = 120
    ranges = _list_ranges(wb, seeds_dir)
    content = {"plan": [plan] if plan else [], "targets": targets or [], "milestones": milestones or [],
               "sections": sections or []}
    for role in ("plan", "targets", "milestones", "sections"):
        sheet = roles[role]
        title = sheet.title_zh.split("·")[-1] + (f"（{EXAMPLE_NOTE}）" if example else "")
        _data_sheet(wb, sheet, content[role], ranges, title)
    wb.move_sheet(LISTS_SHEET, offset=len(wb.sheetnames))  # last
    wb.active = 0
    wb.properties.creator = "daxing_kpi"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    buf = io.BytesIO()
    wb.save(buf)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_deterministic_zip(buf.getvalue()))
    return path
