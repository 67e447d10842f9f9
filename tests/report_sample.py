"""A filled explanations workbook (情况说明填报表) for the test warehouse, written as a planner would fill it in.

The session warehouse (``conftest.warehouse``) gets the generated sample plus this workbook in
``landing/review_explanations/`` before its one run of the nightly job, so the published database holds
explanations and the nightly job's review report uses them: the report tests need no second run.

Every other target of the bundled plans (in seed order) is explained; the filler's name and phone are
filled in on every explained row (they must never reach the published database), and one explanation
carries a mobile number in its text (published masked).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from daxing_kpi.paths import SEEDS_DIR
from daxing_kpi.report import explanations

FILLER_NAME, FILLER_PHONE = "王秀兰", "13912345678"
PHONE_IN_TEXT = "13800138000"
WORKBOOK_NAME = "情况说明填报表_已填写.xlsx"


def plan_targets() -> pd.DataFrame:
    """(plan_id, kpi_id, name_zh) of the bundled plans' targets, from the seeds."""
    targets = SEEDS_DIR / "plan_targets.csv"
    if targets.exists():  # the plans as data (issue 18): one row per plan and KPI
        t = pd.read_csv(targets, dtype=str)
        names = pd.read_csv(SEEDS_DIR / "kpi_catalog.csv", dtype=str)[["kpi_id", "name_zh"]]
        t = t[t.kpi_id.notna()].merge(names, on="kpi_id", how="left")
        return t[["plan_id", "kpi_id", "name_zh"]]
    return pd.read_csv(SEEDS_DIR / "kpi_catalog.csv", dtype=str)[["plan_id", "kpi_id", "name_zh"]]


def filled_values() -> dict[tuple[str, str], dict[str, str]]:
    """(plan, KPI) -> the cells a planner fills in, for every other target."""
    out = {}
    for i, r in enumerate(plan_targets().itertuples(index=False)):
        if i % 2:
            continue
        text = f"{r.name_zh}：受场地和审批进度影响，部分项目延至2026年完成（测试说明{i}）。"
        if i == 0:
            text += f"详询{PHONE_IN_TEXT}。"
        out[(r.plan_id, r.kpi_id)] = {"情况说明": text, "下一步工作": f"加快推进{r.name_zh}相关工作（测试措施{i}）。",
                                     "责任单位": "规划发展科", "填报人": FILLER_NAME, "联系电话": FILLER_PHONE,
                                     "填报日期": "2026年11月20日"}
    return out


def write_filled_workbook(landing: Path) -> Path:
    """The template for the bundled plans, filled in by :func:`filled_values`, in ``landing/review_explanations/``."""
    targets = plan_targets()
    folder = landing / "review_explanations"
    values = filled_values()
    with tempfile.TemporaryDirectory() as tmp:
        for plan_id, rows in targets.groupby("plan_id", sort=True):
            template = explanations.write_template(
                Path(tmp) / f"{plan_id}.xlsx", "情况说明填报表",
                [{"规划编码": plan_id, "指标编码": r.kpi_id, "指标名称": r.name_zh} for r in rows.itertuples(index=False)])
            mine = {k: v for (p, k), v in values.items() if p == plan_id}
            explanations.write_filled_copy(template, folder / f"{plan_id}_{WORKBOOK_NAME}", mine, plan_id)
    return folder
