"""The words, tables and figures of the review report (总结评估报告), from :class:`ReportData`.

Outline (numbered as a Chinese government report):

* title (the plan's name from ``plans`` and the review's name), the report date, the review's as-of date
  and the data cut-off;
* 一、总体情况: how many targets, the count and share of each verdict (表1);
* 二、指标完成情况: every target: plan section, unit, baseline, value, target, gap, completion, verdict (表2);
* 三、未实现目标情况说明及下一步工作: for each target not achieved or deteriorated, its figures and the
  planners' explanation and next steps from the explanations workbook, or 待填写 where none was given;
* 四、分指标情况: per KPI, the plan's clause and a chart (图1 …);
* 五、评估说明: method and data;
* 附件1 (towns/streets: verdict counts, those with the most targets missed first) and 附件2 (each
  town/street: every KPI with its value, its own target and verdict, or where the district's target is
  none of its own, its progress and share of the district); a value the dashboard hides as a small count
  (:mod:`daxing_kpi.smallcounts`) reads 已隐去（<5） there too.

Nothing here names a plan: titles, years and dates come from the data.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd

from daxing_kpi.report import fmt
from daxing_kpi.report.data import NEEDS_EXPLANATION, VERDICTS, ReportData, Target
from daxing_kpi.report.document import Document, Figure, Heading, PageBreak, Para, Table
from daxing_kpi.smallcounts import SMALL_COUNT_THRESHOLD, suppressed_mark


def explanations_reason(reason: str) -> str:
    """A quarantine reason in the clerk's words (:data:`daxing_kpi.report.explanations.REASONS_ZH`)."""
    from daxing_kpi.report.explanations import REASONS_ZH

    return REASONS_ZH.get(reason, reason)

STATUS_ORDER = ("target_achieved", "on_track", "needs_acceleration", "limited_progress", "deterioration",
                "target_not_achieved", "insufficient_data", None)
TARGET_TABLE_HEADER = ["序号", "指标（规划条目）", "单位", "基期值", "评估值", "目标值", "差距", "完成程度", "评估结论"]


def cutoff_text(data: ReportData) -> str:
    """2026年10月31日, or 2026年9月30日至10月31日（各数据来源不同） when the sources were delivered to different days."""
    lo, hi = data.data_cutoff
    if lo is None or lo == hi:
        return fmt.cn_date(hi)
    return f"{fmt.cn_date(lo)}至{fmt.cn_date(hi)}（各数据来源报送截止日期不同）"


def review_title(data: ReportData) -> str:
    return fmt.REVIEW_TITLES[data.review.kind]


def report_title(data: ReportData) -> str:
    """《plan name》 + 总结评估报告 (the plan's name from ``plans``)."""
    return f"{data.plan.name_zh}{review_title(data)}报告"


def _value_year_label(data: ReportData) -> str:
    if data.review.kind == "latest":
        return f"{data.review.as_of_date.year}年（截至{data.review.as_of_date.month}月{data.review.as_of_date.day}日）"
    return f"{data.review.as_of_date.year}年"


def _baseline_cell(t: Target, plan_baseline: int | None) -> str:
    text = fmt.fmt_number(t.baseline_value, t.unit)
    if t.baseline_year and plan_baseline and t.baseline_year != plan_baseline and t.baseline_value is not None:
        text += f"（{t.baseline_year}年）"
    return text


def _value_cell(t: Target, review_year: int) -> str:
    text = fmt.fmt_number(t.value, t.unit)
    if t.value is not None and t.value_year and t.value_year != review_year:
        text += f"（{t.value_year}年）"
    return text


def target_row(i: int, t: Target, data: ReportData) -> list[str]:
    """One row of 表2 (the same cells in the .docx and the PDF)."""
    section = f"（{t.plan_section}）" if t.plan_section else ""
    return [
        str(i), f"{t.name_zh}{section}", t.unit_zh or fmt.NA, _baseline_cell(t, data.plan.baseline_year),
        _value_cell(t, data.review.as_of_date.year), fmt.fmt_target(t), fmt.fmt_gap(t.gap, t.unit), fmt.fmt_completion(t),
        fmt.verdict_label(t.verdict, t.status),
    ]


def verdict_counts(targets: list[Target]) -> dict[str, int]:
    counts = {v: sum(t.verdict == v for t in targets) for v in VERDICTS}
    counts[None] = sum(t.verdict is None for t in targets)
    return counts


def _summary_sentence(data: ReportData, counts: dict) -> str:
    n = len(data.targets)
    parts = [f"{fmt.verdict_label(v)}{counts[v]}项" for v in VERDICTS if counts[v]]
    if data.review.kind != "final":
        parts = [f"{fmt.verdict_label(None, s)}{sum(t.status == s for t in data.targets)}项"
                 for s in STATUS_ORDER if any(t.status == s for t in data.targets)]
    elif counts[None]:
        parts.append(f"暂无评估结论{counts[None]}项")
    extra = f"另有待建指标{len(data.unmeasurable)}项尚无数据，未纳入评估。" if data.unmeasurable else ""
    short = data.plan.short_name_zh
    short = short if "规划" in short else f"{short}规划"  # 十四五 -> 十四五规划; 2026—2030年规划（示例） as it is
    return (f"{short}设定的量化目标中，纳入本次评估的指标共{n}项。以{fmt.cn_date(data.review.as_of_date)}"
            f"为评估基准日，" + "，".join(parts) + "。" + extra)


def _explanation_intro(data: ReportData, missed: list[Target]) -> list[Para]:
    filled = sum(bool(t.explanation) for t in missed)
    out = [Para(f"对未实现目标或出现退步的{len(missed)}项指标，规划实施部门通过情况说明填报表报送了情况说明{filled}项"
                + (f"，尚有{len(missed) - filled}项待填写（下文标注“{fmt.PENDING}”）。" if filled < len(missed) else "。"))]
    files = data.explanation_files
    if files is not None and len(files):
        for r in files.itertuples(index=False):
            if r.status == "rejected":
                out.append(Para(f"填报表“{Path(str(r.file_name)).name}”未能读取（{r.rejected_reason_zh}），未予采用，请核对后重新报送。",
                                size="small"))
            elif r.rows_quarantined:
                reasons = "、".join(f"{explanations_reason(k)}{v}行" for k, v in json.loads(r.quarantine_reasons or "{}").items())
                out.append(Para(f"填报表“{Path(str(r.file_name)).name}”共{r.rows_read}行，其中{r.rows_quarantined}行未通过校验"
                                f"（{reasons}），未予采用，请核对后重新报送。", size="small"))
            elif r.status == "superseded":
                out.append(Para(f"填报表“{Path(str(r.file_name)).name}”已被同一规划后报送的填报表替代。", size="small"))
    if data.unmatched_explanations is not None and len(data.unmatched_explanations):
        where = "、".join(f"“{Path(str(r.source_file)).name}”第{r.row_number}行" for r in data.unmatched_explanations.itertuples(index=False))
        out.append(Para(f"下列填报行所填指标不属于本规划的评估指标，未予采用：{where}。", size="small"))
    return out


def _figures_sentence(t: Target, data: ReportData) -> str:
    year = t.value_year or data.review.as_of_date.year
    unit = "" if t.unit == "pct" else t.unit_zh
    text = f"{year}年{t.name_zh}为{fmt.fmt_number(t.value, t.unit)}{'%' if t.unit == 'pct' else unit}"
    if t.target_value is not None:
        text += f"，目标为{fmt.fmt_target(t)}{'%' if t.unit == 'pct' else unit}"
        if t.gap is not None and t.gap > 0:
            text += f"，距目标差{fmt.fmt_number(t.gap, t.unit)}{fmt.gap_unit(t.unit, t.unit_zh)}"
        completion = fmt.fmt_completion(t)
        if completion != fmt.NA:
            text += f"，完成程度{completion.rstrip('*')}"
    if t.baseline_value is not None and t.baseline_year:
        text += f"；基期（{t.baseline_year}年）为{fmt.fmt_number(t.baseline_value, t.unit)}{'%' if t.unit == 'pct' else unit}"
    return text + "。"


def suppression_note() -> str:
    """The sentence that explains the small-count mark (the rule of :mod:`daxing_kpi.smallcounts`)."""
    return (f"按人计的指标中，镇（街）的分子或分母小于{SMALL_COUNT_THRESHOLD}的数值不予显示，标注为“{suppressed_mark()}”，以免识别到个人；"
            "为防止用全区合计反推，同一年只有一个镇（街）被隐去时，另一数值最小的镇（街）也一并隐去。隐去的数值不计入本表。")


def _town_tables(data: ReportData, first_number: int) -> tuple[Table, list[Table]]:
    """附件1 (one row per town/street: how many of its targets reached each verdict, those with the most targets
    missed first) and 附件2 (one table per town/street). Before the final review: statuses instead of verdicts.
    A value the dashboard hides as a small count (``is_suppressed``) reads as the dashboard's mark, without
    its gap, verdict or share, and is left out of the counts of 附件1."""
    towns = data.towns
    hidden = towns.is_suppressed.fillna(False).astype(bool) if "is_suppressed" in towns else pd.Series(False, index=towns.index)
    shown_all = towns[~hidden]
    mark = suppressed_mark()
    final = data.review.kind == "final"
    names = {t.kpi_id: t.name_zh for t in data.targets}
    units = {t.kpi_id: (t.unit, t.unit_zh) for t in data.targets}
    order_of = {t.kpi_id: i for i, t in enumerate(data.targets)}
    statuses = [st for st in STATUS_ORDER if st and (shown_all.status == st).any()]
    summary_rows, details = [], []
    for (code, name), g in towns.groupby(["geo_code", "geo_name_zh"], sort=True):
        shown = g[~hidden.loc[g.index]]
        if final:
            own = shown[shown.verdict.notna()]
            missed = own[own.verdict.isin(NEEDS_EXPLANATION)]
            no_own = shown[shown.verdict.isna()]
            counts = [str(len(own))] + [str(int((own.verdict == v).sum())) for v in VERDICTS] + [
                str(len(no_own)), str(int((no_own.trend == "worsening").sum()))]
        else:
            missed = shown[shown.status.isin(["deterioration", "limited_progress", "target_not_achieved"])]
            counts = [str(int((shown.status == st).sum())) for st in statuses]
        summary_rows.append((len(missed), code, [name, *counts, "、".join(names.get(k, k) for k in missed.kpi_id) or "无"]))
        rows, highlight = [], set()
        for r in sorted(g.itertuples(index=False), key=lambda r: order_of.get(r.kpi_id, 999)):
            unit, unit_zh = units.get(r.kpi_id, (r.unit, ""))
            target, gap = fmt.fmt_number(r.target_value, unit), fmt.fmt_gap(r.gap_to_target, unit)
            suppressed = bool(getattr(r, "is_suppressed", False))
            if final and pd.notna(r.verdict):
                status = fmt.verdict_label(r.verdict)
                if r.verdict in NEEDS_EXPLANATION and not suppressed:
                    highlight.add(len(rows))
            elif final:
                share = fmt.fmt_share(r.contribution_share) if pd.notna(r.contribution_share) else None
                status = "无单独目标：" + fmt.trend_label(r.trend if pd.notna(r.trend) else None) + (f"，占全区{share}" if share else "")
                target, gap = fmt.NA, fmt.NA
            else:
                status = fmt.verdict_label(None, r.status)
                if r.target_source == "none":
                    target, gap = fmt.NA, fmt.NA
                if r.status in ("deterioration", "limited_progress", "target_not_achieved") and not suppressed:
                    highlight.add(len(rows))
            value = fmt.fmt_number(r.value, unit)
            if suppressed:  # the value, and what would give it away (gap, verdict, progress, share), as the dashboard hides them
                value, gap, status = mark, fmt.NA, mark
            rows.append([names.get(r.kpi_id, r.kpi_id), unit_zh or fmt.NA, value, target, gap, status])
        details.append(Table(0, f"{name}分指标评估情况", ["指标", "单位", "评估值", "目标值", "差距", "评估结论或进展"], rows,
                             [34, 11, 11, 11, 11, 22], align=["left", "center", "right", "right", "right", "left"],
                             highlight=highlight))
    summary_rows.sort(key=lambda x: (-x[0], x[1]))
    if final:
        header = ["镇（街）", "有单独目标的指标", *[fmt.verdict_label(v) for v in VERDICTS], "无单独目标的指标", "其中变差",
                  "未实现或退步的指标"]
        widths = [12, 9, 8, 8, 6, 9, 7, 41]
        note = ("按未实现目标和退步的指标数从多到少排列。区级目标为全区总量（如社会组织数）时，镇（街）没有单独目标，"
                "不作评估结论，只列其进展和占全区比重（见附件2）。")
    else:
        header = ["镇（街）", *[fmt.verdict_label(None, st) for st in statuses], "进展有限、退步或未实现的指标"]
        widths = [12] + [8] * len(statuses) + [max(20, 88 - 8 * len(statuses))]
        note = "按进展有限、退步或未实现目标的指标数从多到少排列。"
    notes = [note] + ([suppression_note()] if hidden.any() else [])
    summary = Table(first_number, "镇（街）评估结论汇总表", header, [r for _, _, r in summary_rows], widths, unit_line="单位：项",
                    align=["left"] + ["right"] * (len(header) - 2) + ["left"], notes=notes)
    for i, t in enumerate(details, start=first_number + 1):
        t.number = i
    return summary, details


def build_document(data: ReportData, charts: dict[str, Path] | None, today: dt.date | None = None,
                   chart_note: str | None = None) -> Document:
    """The report's :class:`Document`. ``charts``: PNG per KPI (``None``: drawn without charts, with
    ``chart_note`` saying why)."""
    today = today or dt.date.today()
    title = report_title(data)
    info = [f"评估基准日：{fmt.cn_date(data.review.as_of_date)}", f"数据截至：{cutoff_text(data)}"]
    doc = Document(title=title, subtitle="（示例规划，非正式目标）" if data.plan.is_example else None,
                   date_line=fmt.cn_date(today), info_lines=info,
                   properties={"title": title, "subject": f"{data.plan.short_name_zh}{review_title(data)}",
                               "keywords": f"{data.plan.plan_id};{data.review.kind};{data.review.as_of_date}"})
    counts = verdict_counts(data.targets)
    n = len(data.targets)
    year_label = _value_year_label(data)
    section = 0

    def heading(text: str) -> None:
        nonlocal section
        section += 1
        doc.add(Heading(1, f"{fmt.chinese_number(section)}、{text}"))

    # 一、总体情况
    heading("总体情况")
    doc.add(Para(_summary_sentence(data, counts)))
    rows = []
    if data.review.kind == "final":
        for v in VERDICTS:
            kpis = [t.name_zh for t in data.targets if t.verdict == v]
            rows.append([fmt.verdict_label(v), str(len(kpis)), fmt.fmt_share(len(kpis) / n if n else None), "、".join(kpis) or "无"])
        if counts[None]:
            rows.append(["暂无评估结论", str(counts[None]), fmt.fmt_share(counts[None] / n if n else None),
                         "、".join(f"{t.name_zh}（{fmt.verdict_label(None, t.status)}）" for t in data.targets if t.verdict is None)])
    else:  # before the final review: the progress statuses, best first
        for status in STATUS_ORDER:
            kpis = [t.name_zh for t in data.targets if t.status == status]
            if kpis:
                rows.append([fmt.verdict_label(None, status), str(len(kpis)), fmt.fmt_share(len(kpis) / n), "、".join(kpis)])
    rows.append(["合计", str(n), fmt.fmt_share(1.0 if n else None), ""])
    doc.add(Table(1, "评估结论汇总", ["评估结论", "指标数", "占比", "指标"], rows, [14, 9, 9, 68], unit_line="单位：项",
                  align=["left", "right", "right", "left"]))

    # 二、指标完成情况
    heading("指标完成情况")
    doc.add(Para(f"各项指标的基期值、{year_label}评估值、规划目标值、差距、完成程度和评估结论见表2。"
                 + (f"规划中另有{len(data.unmeasurable)}项目标尚无可计算的指标（待建指标），列于表末，不作评估。"
                    if data.unmeasurable else "")))
    rows = [target_row(i, t, data) for i, t in enumerate(data.targets, start=1)]
    rows += [[str(len(rows) + i), f"{t.name_zh}" + (f"（{t.plan_section}）" if t.plan_section else ""), t.unit_zh or fmt.NA,
              fmt.NA, fmt.NA, fmt.fmt_target(t), fmt.NA, fmt.NA, "待建指标"] for i, t in enumerate(data.unmeasurable, start=1)]
    doc.add(Table(
        2, "规划指标完成情况一览表", TARGET_TABLE_HEADER, rows,
        [6, 26, 10, 9, 9, 9, 9, 10, 12], unit_line=f"评估值为{year_label}数值",
        align=["center", "left", "center", "right", "right", "right", "right", "right", "center"],
        highlight={i for i, t in enumerate(data.targets) if t.needs_explanation},
        notes=[f"基期值为{data.plan.baseline_year}年数值，括注年份的除外（该年为首个有数据的年份）。" if data.plan.baseline_year else
               "基期值括注其年份。",
               "差距为距目标尚差的数值（“差”为尚未达到，“超”为超过目标），单位同指标，百分比指标为百分点。",
               "完成程度为评估值÷目标值；标“*”的为基期以来的进度，即（评估值−基期值）÷（目标值−基期值）。",
               "底色标注的为未实现目标或退步的指标，其情况说明见第三部分。"]))

    # 三、情况说明
    missed = [t for t in data.targets if t.needs_explanation]
    if data.review.kind == "final":
        heading("未实现目标情况说明及下一步工作")
        if not missed:
            doc.add(Para("本次评估所有指标均已实现目标。"))
        else:
            for p in _explanation_intro(data, missed):
                doc.add(p)
            for i, t in enumerate(missed, start=1):
                doc.add(Heading(2, f"（{fmt.chinese_number(i)}）{t.name_zh}（{fmt.verdict_label(t.verdict)}）"))
                doc.add(Para(_figures_sentence(t, data)))
                doc.add(Para(t.explanation or fmt.PENDING, lead="情况说明：", pending=not t.explanation))
                doc.add(Para(t.next_steps or fmt.PENDING, lead="下一步工作：", pending=not t.next_steps))
                if t.responsible_unit:
                    doc.add(Para(t.responsible_unit, lead="责任单位："))

    # 四、分指标情况
    heading("分指标情况")
    if charts is None:
        doc.add(Para(chart_note or "本报告未生成图表。", size="small"))
    figure = 0
    for i, t in enumerate(data.targets, start=1):
        doc.add(Heading(2, f"（{fmt.chinese_number(i)}）{t.name_zh}"))
        if t.source_clause_zh:
            doc.add(Para(f"“{t.source_clause_zh.strip()}”" + (f"（规划条目{t.plan_section}）" if t.plan_section else ""),
                         lead="规划原文：", size="small"))
        doc.add(Para(_figures_sentence(t, data) + f"评估结论：{fmt.verdict_label(t.verdict, t.status)}。"))
        if charts and charts.get(t.kpi_id):
            figure += 1
            doc.add(Figure(figure, f"{t.name_zh}（{t.unit_zh}）", charts[t.kpi_id]))

    # 五、评估说明
    heading("评估说明")
    if data.review.kind == "final":
        doc.add(Para("评估以区级数值对照规划目标：目标年份已有数据的，评估值达到目标为“已实现目标”，未达到为“未实现目标”；"
                     "没有量化目标的指标按年均变化判断，偏离期望方向为“退步”。评估值为评估基准日所在年度的全年数值。"))
    else:
        doc.add(Para("已达到目标值的为“已实现目标”；尚未到目标年份的，以基期以来的实际年均增长与实现目标所需的年均增长之比判断进展："
                     "不低于0.95为“进展顺利”，0.60至0.95为“需加快进度”，0至0.60为“进展有限”，偏离目标方向为“退步”。"
                     "评估值为评估基准日所在年度的数值，当年为截至数据截止日的年内数值。"))
    doc.add(Para(f"数据来源于各业务系统报送、经数据质量检查后发布的数据，数据截至{cutoff_text(data)}"
                 + (f"，于{fmt.cn_date(data.published_at)}发布" if data.published_at else "") + "。镇（街）情况见附件。"))

    # 附件
    if data.towns is not None and len(data.towns):
        summary, details = _town_tables(data, first_number=3)
        doc.add(PageBreak())
        doc.add(Heading(1, "附件1"))
        doc.add(summary)
        doc.add(PageBreak())
        doc.add(Heading(1, "附件2"))
        doc.add(Para("镇（街）分指标评估情况（底色标注的为未实现目标或退步的指标）。"
                     + (f"标注“{suppressed_mark()}”的，为人数过少、不予显示的数值（见附件1表注）。"
                        if "is_suppressed" in data.towns and data.towns.is_suppressed.fillna(False).astype(bool).any() else ""),
                     indent=False))
        for t in details:
            doc.add(t)
    return doc
