"""The sample's example next plan (示例规划): a filled plan workbook the sample generator drops into
``landing/plans/``, so the bundled sample shows a second plan beside the first (issue 18.5).

It is an example, not the bureau's real targets: the plan is marked ``is_example`` (是否示例 = 是), its
name and short name say 示例, every clause starts with （示例）, and the workbook's titles say so. About
fifteen targets over KPIs the product computes, covering every kind: reach-by-year (two with milestones),
hold-every-year, a range, direction-only, a count of what the period adds (new_in_period) and a target
no KPI measures yet (待建指标). The period follows the sample's calendar: it starts the year after the
sample's last full year (:data:`daxing_kpi.sample.generator.CUTOFF`), so its baseline is that last full
year and the sample's partial current year is its first year of data.

Call :func:`write_example_plan` with the sample's output folder (``generate(out_dir)`` does).
"""

from __future__ import annotations

from pathlib import Path

from daxing_kpi.plans.contract import LANDING_FOLDER
from daxing_kpi.plans.template import write_workbook
from daxing_kpi.sample.generator import CUTOFF

FILE_NAME = "示例_下一期规划指标.xlsx"


def example_plan_rows(first_year: int | None = None) -> dict:
    """The example plan as workbook rows (what a planner would type): ``plan``, ``targets``,
    ``milestones``, ``sections``. ``first_year`` (default: the year of the sample's cut-off) is the
    first year of the five-year period."""
    y0 = CUTOFF.year if first_year is None else first_year
    end = y0 + 4
    plan = {"plan_id": f"daxing_civil_affairs_{y0}_{end}_example", "name_zh": f"大兴区民政事业发展规划（{y0}—{end}年，示例）",
            "name_en": f"Daxing District civil-affairs development plan {y0}-{end} (example)",
            "short_name_zh": f"{y0}—{end}年规划（示例）", "short_name_en": f"{y0}-{end} plan (example)",
            "period_start_year": y0, "period_end_year": end, "baseline_year": y0 - 1, "mid_term_review_year": y0 + 2,
            "is_example": "是"}

    def t(kpi, kind, comparator, value, year, section, clause, upper=None, basis=None, indicator=None):
        return {"kpi_name": kpi, "indicator_name_zh": indicator, "target_kind": kind, "comparator": comparator,
                "target_value": value, "target_value_upper": upper, "target_year": year, "count_basis": basis,
                "plan_section": section, "source_clause_zh": f"（示例）{clause}"}

    targets = [
        t("每万名老年人拥有养老护理员数", "到目标年达到", "不少于（≥）", 70, end, "一(一)1", f"到{end}年，每万名老年人拥有养老护理员数不少于70名。"),
        t("镇(街)养老照料中心建成运营数", "到目标年达到", "不少于（≥）", 24, end, "一(一)2", f"到{end}年，建成运营镇(街)养老照料中心24家。"),
        t("每万人户籍儿童机构床位数", "到目标年达到", "不少于（≥）", 20, end, "一(二)1", f"到{end}年，每万人户籍儿童机构床位数不少于20张。"),
        t("社区书记工作室示范点", "到目标年达到", "不少于（≥）", 20, end, "二(一)1", f"规划期内新建社区书记工作室示范点20个。",
          basis="规划期新增"),
        t("实名注册志愿者占常住人口比例", "到目标年达到", "不少于（≥）", 25, end, "二(二)1", f"到{end}年，实名注册志愿者人数不少于常住人口的25%。"),
        t("社区工作者本社区化率", "区间", "区间", 50, end, "二(三)1", f"社区工作者本社区化率保持在50%至70%之间。", upper=70),
        t("持证社会工作专业人才数", "到目标年达到", "不少于（≥）", 2000, end, "二(三)2", f"到{end}年，获得社会工作者职业水平证书的专业人才不少于2000人。"),
        t("新建社区服务用房达500㎡比例", "只有方向", None, None, end, "二(四)1", "新建社区服务用房达到500平方米的比例稳步提高。"),
        t("节地生态安葬率", "到目标年达到", "不少于（≥）", 75, end, "三(一)1", f"到{end}年，节地生态安葬率提升至75%。"),
        t("镇级公益性公墓服务覆盖率", "每年达到", "不少于（≥）", 100, end, "三(一)2", "镇级公益性公墓服务覆盖率每年保持100%。"),
        t("社会心理服务覆盖社区(村)比例", "到目标年达到", "不少于（≥）", 90, end, "三(二)1", f"到{end}年，社会心理服务覆盖社区(村)比例不低于90%。"),
        t("基层慈善服务站点社区覆盖率", "到目标年达到", "不少于（≥）", 15, end, "三(三)1", f"到{end}年，基层慈善服务站点对社区覆盖率不低于15%。"),
        t("政务服务事项网上办理率", "每年达到", "不少于（≥）", 90, end, "四(一)1", "社会建设和民政领域政务服务事项网上办理率每年不低于90%。"),
        t("政务服务办件网上办理率(按办件)", "到目标年达到", "不少于（≥）", 98, end, "四(一)2", f"到{end}年，政务服务办件网上办理率达到98%。"),
        t(None, "到目标年达到", "不少于（≥）", 90, end, "一(一)3", f"到{end}年，居家养老服务满意度不低于90%。", indicator="居家养老服务满意度"),
    ]
    milestones = [
        {"kpi_name": "每万名老年人拥有养老护理员数", "milestone_year": y0 + 2, "milestone_value": 62},
        {"kpi_name": "节地生态安葬率", "milestone_year": y0 + 1, "milestone_value": 65},
    ]
    sections = [
        {"section_code": "一", "title_zh": "（示例）健全养老和儿童福利服务体系", "title_en": "(Example) Elderly care and child welfare"},
        {"section_code": "二", "title_zh": "（示例）提升基层社会治理水平", "title_en": "(Example) Grassroots social governance"},
        {"section_code": "三", "title_zh": "（示例）完善基本社会服务", "title_en": "(Example) Basic social services"},
        {"section_code": "四", "title_zh": "（示例）建设智慧民政", "title_en": "(Example) Smart civil affairs"},
    ]
    for i, target in enumerate(targets, start=1):
        target["row_no"] = i
    return {"plan": plan, "targets": targets, "milestones": milestones, "sections": sections}


def write_example_plan(out_dir: Path, first_year: int | None = None) -> Path:
    """Write the example plan workbook to ``out_dir/landing/plans/``; returns its path."""
    rows = example_plan_rows(first_year)
    return write_workbook(Path(out_dir) / "landing" / LANDING_FOLDER / FILE_NAME, example=True, **rows)
