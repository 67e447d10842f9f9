"""The review reports (总结评估报告), written by the nightly job after the publication.

``review_reports`` runs after the publication (``kpi_dashboard``, the step that puts the new database and
dashboard in place together), reading the published database only; nothing waits for it, so a report that
cannot be written never holds the publication back. When it fails (no Chinese font for the PDF, an unreadable plan)
the step fails, so the run ends failed and its failure report names the step and the reason: visible to
the operator, with the database and dashboard already published. The reports go to
``$KPI_WAREHOUSE_DIR/reports/<plan_id>/`` (:mod:`daxing_kpi.report.build`): the final review of every plan
that has one, with its explanations workbook.
"""

import dagster as dg

from daxing_kpi.defs.publish import kpi_dashboard
from daxing_kpi.report.build import ReportIncomplete, build_report, reports_due


@dg.asset(
    group_name="publish",
    deps=[kpi_dashboard],
    description=(
        "warehouse/reports/<plan_id>/: the final review report (总结评估报告) of every plan whose final review has "
        "passed, as .docx and PDF (every target with its value, gap, completion and verdict; a chart per KPI; "
        "the planners' explanations of the targets missed; a town/street annex), and the explanations workbook "
        "(情况说明填报表) planners fill in and drop into landing/review_explanations/."
    ),
    kinds={"python", "pdf"},
)
def review_reports(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    written, problems = [], []
    for plan_id, review in reports_due():
        try:
            result = build_report(plan_id=plan_id, review=review)
        except ReportIncomplete as exc:
            problems.append(str(exc))
            continue
        context.log.info(f"{result.summary()}: {result.docx}, {result.pdf}")
        written.append(str(result.pdf))
    if problems:
        raise RuntimeError("review report incomplete: " + " | ".join(problems))
    return dg.MaterializeResult(metadata={"reports": len(written), "files": "\n".join(written) or "none"})
