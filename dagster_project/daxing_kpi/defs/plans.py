"""The plan workbooks (计划指标模板.xlsx in ``landing/plans/``) as one Dagster multi-asset (issue 18).

``raw/plan_workbook_plans``, ``raw/plan_workbook_targets``, ``raw/plan_workbook_milestones`` and
``raw/plan_workbook_sections``: every workbook read and checked against its data contract, accepted or
rejected whole (:mod:`daxing_kpi.plans.load`). A rejected workbook never fails the run: its problems are
logged (sheet, row, column, in Chinese and English) and recorded in the audit, and the night publishes
everything else. The dbt sources ``raw.plan_workbook_*`` (models/staging/plans/) read these tables; the
plans they hold join the bundled ones in models/intermediate/progress/int_plans.
"""

import dagster as dg

from daxing_kpi.defs.ingest import landing_files
from daxing_kpi.defs.operations import RunGuard
from daxing_kpi.paths import landing_dir
from daxing_kpi.plans.load import RAW_TABLES, ingest_plan_workbooks, write_plan_workbooks


@dg.multi_asset(
    specs=[dg.AssetSpec(["raw", source_id], group_name="ingest", deps=[landing_files], kinds={"duckdb", "python"},
                        description=f"Plan workbooks (计划指标工作簿), landing/plans/: raw.{source_id}; a workbook with a "
                                    "mistake is rejected whole, the night goes on (daxing_kpi.plans.load).")
           for source_id, _ in RAW_TABLES.values()],
    name="plan_workbooks",
)
def plan_workbooks(context: dg.AssetExecutionContext, run_guard: RunGuard):
    ingest = ingest_plan_workbooks(landing_dir())
    for f in ingest.rejected:
        context.log.warning(f.reason_zh())
        context.log.warning(f.reason_en())
    totals = write_plan_workbooks(ingest, context.run_id)
    context.log.info(f"plan workbooks: {totals}")
    for source_id, _ in RAW_TABLES.values():
        yield dg.MaterializeResult(asset_key=["raw", source_id], metadata={
            **totals, "rejected": ", ".join(f.label for f in ingest.rejected) or "none",
        })
