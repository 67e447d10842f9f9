"""The planners' explanations (情况说明) of the review: the workbook template, and checking a filled copy.

For each target not achieved (or deteriorated) the review report carries the planners' explanation and
next steps. Planners give them in a workbook the product writes (:func:`write_template`; ``kpi report``
writes it next to the report, ``kpi report --template FILE`` on demand): one sheet 情况说明, one row per
target of the plan, the targets that need an explanation shaded. The columns the planners fill in
(情况说明, 下一步工作, 责任单位, 填报人, 联系电话, 填报日期) and the two codes that identify the row (规划编码,
指标编码) are the data contract ``contracts/review_explanations.yaml``; the figures beside them (plan
section, name, unit, baseline, value, target, gap, verdict) are there to read and are not read back.

The filled workbook is a landing source like any other: dropped into ``landing/review_explanations/``,
it is read, checked and loaded by the nightly job (and the landing sensor), its faulty rows quarantined
with the file, sheet, row, column and reason; a newer workbook for a plan replaces the earlier one. The
filler's name and phone (personal data) are never read. dbt publishes the rows as
``review_explanations`` (phone and ID numbers written into the text are masked there), which the report
reads. :func:`check_workbook` runs the same contract on one file before it is dropped and says, in
words a clerk understands, what would be set aside and why (``kpi report --check-explanations FILE``).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from daxing_kpi.report import fmt
from daxing_kpi.report.data import ReportData, Target

SOURCE_ID = "review_explanations"
SHEET = "情况说明"
# (header, width, read back): the contract's columns by header, and the figures for context
COLUMNS = (
    ("序号", 6, True), ("规划编码", 16, True), ("指标编码", 22, True), ("规划条目", 10, False), ("指标名称", 28, False),
    ("单位", 10, False), ("基期值", 10, False), ("评估值", 10, False), ("目标值", 10, False), ("差距", 10, False),
    ("评估结论", 12, False), ("情况说明", 48, True), ("下一步工作", 40, True), ("责任单位", 14, True), ("填报人", 10, True),
    ("联系电话", 14, True), ("填报日期", 12, True),
)
INPUT_FILL, CODE_FILL, NEEDS_FILL = "FFFFFF", "EDEDED", "FFF2CC"


def contract():
    from daxing_kpi.ingest import load_contracts

    return load_contracts()[SOURCE_ID]


def template_rows(data: ReportData) -> list[dict]:
    """One row per target of ``data`` (the review's figures, and an explanation already published)."""
    out = []
    for t in data.targets:
        out.append({
            "规划编码": data.plan.plan_id, "指标编码": t.kpi_id, "规划条目": t.plan_section, "指标名称": t.name_zh,
            "单位": t.unit_zh, "基期值": fmt.fmt_number(t.baseline_value, t.unit), "评估值": fmt.fmt_number(t.value, t.unit),
            "目标值": fmt.fmt_target(t), "差距": fmt.fmt_gap(t.gap, t.unit), "评估结论": fmt.verdict_label(t.verdict, t.status),
            "情况说明": t.explanation or "", "下一步工作": t.next_steps or "", "责任单位": t.responsible_unit or "",
            "_needs": t.needs_explanation,
        })
    return out


def write_template(path: Path, title: str, rows: list[dict]) -> Path:
    """Write the explanations workbook: title, instructions, header, one row per target (``rows``: dicts keyed
    by the headers of :data:`COLUMNS`, ``_needs`` true to shade a row that needs an explanation)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    n = len(COLUMNS)
    ws.cell(row=1, column=1, value=title).font = Font(name="黑体", size=16, bold=True)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=n)
    ws.cell(row=1, column=1).alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[1].height = 30
    ws.cell(row=2, column=1, value=(
        "填表须知：请对底色标注（评估结论为未实现目标或退步）的指标填写“情况说明”和“下一步工作”，其他指标可不填；"
        "请勿修改“规划编码”“指标编码”两列，也不要增删列。填好后将本表放入数据仓库的 landing/review_explanations/ 文件夹，"
        "当晚生成的评估报告即采用；同一规划再次报送的填报表替代上一次的。“填报人”“联系电话”仅供核对联系，不会发布。"))
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=n)
    ws.cell(row=2, column=1).alignment = Alignment(wrap_text=True, vertical="top")
    ws.row_dimensions[2].height = 48
    thin = Side(style="thin", color="999999")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for j, (header, width, read) in enumerate(COLUMNS, start=1):
        c = ws.cell(row=3, column=j, value=header)
        c.font = Font(bold=True)
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        c.fill = PatternFill("solid", fgColor="D9D9D9")
        c.border = border
        ws.column_dimensions[get_column_letter(j)].width = width
    for i, row in enumerate(rows, start=1):
        r = 3 + i
        for j, (header, _, read) in enumerate(COLUMNS, start=1):
            value = i if header == "序号" else row.get(header, "")
            c = ws.cell(row=r, column=j, value=value if value != "" else None)
            c.border = border
            c.alignment = Alignment(wrap_text=header in ("情况说明", "下一步工作", "指标名称"), vertical="top")
            if header in ("规划编码", "指标编码") or not read:
                c.fill = PatternFill("solid", fgColor=CODE_FILL)
            elif row.get("_needs"):
                c.fill = PatternFill("solid", fgColor=NEEDS_FILL)
            if header == "填报日期":
                c.number_format = "yyyy-mm-dd"
    ws.freeze_panes = "D4"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def template_title(data: ReportData) -> str:
    return f"{data.plan.name_zh}{fmt.REVIEW_TITLES[data.review.kind]}情况说明填报表"


@dataclass
class CheckResult:
    """What the nightly job would make of one filled workbook."""

    file: Path
    rows_read: int = 0
    rows_accepted: int = 0
    problems: list[str] = field(default_factory=list)  # one sentence per set-aside row or rejected file
    unmatched: list[str] = field(default_factory=list)  # rows naming no target of their plan
    pending: list[str] = field(default_factory=list)  # targets needing an explanation that have none

    @property
    def ok(self) -> bool:
        return not self.problems and not self.unmatched

    def text(self) -> str:
        lines = [f"{self.file.name}: {self.rows_read} 行，可采用 {self.rows_accepted} 行。"]
        lines += [f"  问题：{p}" for p in self.problems]
        lines += [f"  未对应评估指标：{u}" for u in self.unmatched]
        if self.pending:
            lines.append("  尚待填写情况说明的指标：" + "、".join(self.pending))
        if self.ok:
            lines.append("  校验通过：放入 landing/review_explanations/ 文件夹后，当晚的评估报告即采用。")
        return "\n".join(lines)


def check_workbook(path: Path, targets: dict[str, dict[str, Target]] | None = None) -> CheckResult:
    """Read one filled workbook with the contract, as the nightly job will; ``targets`` (plan -> KPI ->
    :class:`Target`, from the published database) adds the check that each row names a target of its plan
    and lists the targets needing an explanation that still have none."""
    from daxing_kpi import ingest

    path = Path(path)
    result = CheckResult(path)
    c = contract()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / c.landing_dir
        folder.mkdir(parents=True)
        shutil.copy(path, folder / path.name)
        try:
            res = ingest.ingest_source(c, Path(tmp))
        except Exception as exc:  # noqa: BLE001 - a file the contract cannot read (ContractError, FileRejected)
            result.problems.append(f"整个文件未能读取：{exc}")
            return result
    result.rows_read = int(sum(a["rows_read"] or 0 for a in res.audit))
    result.rows_accepted = len(res.accepted)
    for a in res.audit:
        if a.get("status") == "rejected":  # the whole file set aside (unreadable, no matching sheet)
            result.problems.append(f"整个文件未能读取：{a.get('rejected_reason_zh') or a.get('rejected_reason_en')}")
    headers = {col.name: col.header_zh for col in c.columns}
    for q in res.quarantine.to_dict("records"):
        value = "" if pd.isna(q["value"]) or q["value"] in ("", None) else f"（填写的是“{q['value']}”）"
        same = re.search(r"^same as .*row (\d+)$", str(q["value"])) if not pd.isna(q["value"]) else None
        if same:  # a duplicate names the row it repeats
            value = f"（与第{same.group(1)}行重复）"
        # a field fault: the row is used with that cell empty; otherwise the row is set aside
        effect = "该格按空白处理，该行其余内容照常采用" if q.get("disposition") == "field_fault" else "该行未采用"
        result.problems.append(f"工作表“{q['sheet']}”第{q['row_number']}行“{headers.get(q['column'], q['column'])}”列："
                               f"{_reason_zh(q['reason'])}{value}，{effect}")
    if targets is not None:
        seen: dict[str, set[str]] = {}
        rows = res.accepted.to_dict("records")
        for r in rows:
            plan = targets.get(r["plan_id"])
            if plan is None or r["kpi_id"] not in plan:
                why = "规划编码不存在" if plan is None else "该指标不是这个规划的评估指标"
                result.unmatched.append(f"工作表“{r['_sheet']}”第{r['_row_number']}行（{r['plan_id']} / {r['kpi_id']}）：{why}")
            elif isinstance(r["explanation_zh"], str) and r["explanation_zh"].strip():
                seen.setdefault(r["plan_id"], set()).add(r["kpi_id"])
        for plan_id in {r["plan_id"] for r in rows} & set(targets):
            result.pending += [t.name_zh for k, t in targets[plan_id].items()
                               if t.needs_explanation and k not in seen.get(plan_id, set())]
    return result


REASONS_ZH = {
    "missing required value": "必填项为空",
    "value not in the allowed list": "不是可选的值（指标编码请从模板复制，不要修改）",
    "unreadable date": "日期无法识别（请写成 2026-01-15 或 2026年1月15日）",
    "duplicate record (same key as an earlier row)": "同一指标在表中出现了两次",
    "not a whole number": "不是整数",
    "not a number": "不是数字",
    "totals row (合计/总计), not a record": "合计行，不是填报内容",
    "note or signature row (填表人/说明), not a record": "签名或说明行，不是填报内容",
    "values beyond the last header column": "表头最后一列之后还有内容",
}


def _reason_zh(reason: str) -> str:
    return REASONS_ZH.get(reason, reason)


def write_filled_copy(template: Path, out: Path, values: dict[str, dict[str, object]], plan_id: str | None = None) -> Path:
    """Fill a copy of ``template`` as a planner would (``values``: KPI -> {header: value}); for tests and
    demonstrations. Returns ``out``."""
    from openpyxl import load_workbook

    wb = load_workbook(template)
    ws = wb[SHEET]
    col = {ws.cell(row=3, column=j).value: j for j in range(1, ws.max_column + 1)}
    for r in range(4, ws.max_row + 1):
        kpi = ws.cell(row=r, column=col["指标编码"]).value
        if kpi in values and (plan_id is None or ws.cell(row=r, column=col["规划编码"]).value == plan_id):
            for header, v in values[kpi].items():
                ws.cell(row=r, column=col[header], value=v)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out
