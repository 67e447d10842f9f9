"""``kpi report``: write a plan's review report (总结评估报告) from the published database.

    kpi report                                  the final review of the plan whose final review is the latest
    kpi report --plan PLAN_ID --review final    another plan; --review mid_term or latest (status at the data cut-off)
    kpi report --output DIR                     where to write (default $KPI_WAREHOUSE_DIR/reports/<plan_id>/)
    kpi report --template FILE.xlsx             only the explanations workbook (情况说明填报表), one row per target
    kpi report --check-explanations FILE.xlsx   check a filled workbook before dropping it into landing/review_explanations/

Exit codes: 0 written (or the workbook checked without problems); 1 the report could not be made (unknown
plan or review; no Chinese font for the PDF: the .docx is written all the same) or the workbook has rows
that would be set aside; 2 usage error; 4 the published database does not exist yet.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from daxing_kpi.analyst import DatabaseMissing, connect_published  # the analysts' sandboxed connection (issue 19.1)
from daxing_kpi.paths import analytics_db_path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NO_DATABASE = 0, 1, 2, 4


def add_subcommand(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="write a plan's review report (总结评估报告, .docx and PDF) from the published database",
        formatter_class=argparse.RawDescriptionHelpFormatter, description=__doc__.split("\n\n", 1)[1].rsplit("\n\nExit", 1)[0],
        epilog="exit codes: 0 written; 1 the report could not be made, or the checked workbook has problems; "
               "2 usage error; 4 published database missing (the database is only read: read-only)",
    )
    p.add_argument("--plan", metavar="PLAN_ID", help="plan (plans.plan_id); default: the plan whose review is the latest")
    p.add_argument("--review", choices=["final", "mid_term", "latest"], default="final",
                   help="final (总结评估, default), mid_term (中期评估) or latest (progress at the data cut-off)")
    p.add_argument("-o", "--output", metavar="DIR", help="folder to write into (default: $KPI_WAREHOUSE_DIR/reports/<plan_id>/)")
    p.add_argument("--template", metavar="FILE", help="write only the explanations workbook (.xlsx) to FILE")
    p.add_argument("--check-explanations", metavar="FILE", help="check a filled explanations workbook; nothing is written")
    p.add_argument("--database", help="database to read (default: the published $KPI_WAREHOUSE_DIR/analytics.duckdb)")


def _targets_by_plan(db: Path) -> dict:
    from daxing_kpi.report.data import ReportError, list_plans, load_targets, review_dates, Review

    out = {}
    with connect_published(db) as con:
        for plan in list_plans(con):
            dates = review_dates(con, plan.plan_id)
            came = "final" in dates and ("latest" not in dates or dates["final"] <= dates["latest"])
            kind = "final" if came else "latest"  # a plan whose final review has not come: its progress so far
            if kind in dates:
                try:
                    out[plan.plan_id] = {t.kpi_id: t for t in load_targets(con, plan.plan_id, Review(kind, dates[kind]))}
                except ReportError:
                    continue
    return out


def run(args: argparse.Namespace) -> int:
    from daxing_kpi.report import explanations
    from daxing_kpi.report.build import ReportIncomplete, build_report
    from daxing_kpi.report.data import ReportError, load_report_data

    db = Path(args.database) if args.database else analytics_db_path()
    if args.check_explanations:
        path = Path(args.check_explanations)
        if not path.is_file():
            print(f"kpi report: no such file {path}", file=sys.stderr)
            return EXIT_USAGE
        result = explanations.check_workbook(path, _targets_by_plan(db) if db.exists() else None)
        print(result.text())
        return EXIT_OK if result.ok else EXIT_FAILED
    if not db.exists():
        print(f"kpi report: the published database {db} does not exist yet: run `kpi run` first", file=sys.stderr)
        return EXIT_NO_DATABASE
    try:
        if args.template:
            with connect_published(db) as con:
                data = load_report_data(con, args.plan, args.review)
            out = explanations.write_template(Path(args.template), explanations.template_title(data), explanations.template_rows(data))
            print(f"{explanations.template_title(data)}: {len(data.targets)} rows -> {out}")
            return EXIT_OK
        result = build_report(db, args.plan, args.review, Path(args.output) if args.output else None)
    except ReportError as exc:
        print(f"kpi report: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ReportIncomplete as exc:
        print(f"kpi report: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except DatabaseMissing as exc:  # a damaged published database: one sentence, no traceback (issue 19.5)
        print(f"kpi report: {exc}", file=sys.stderr)
        return EXIT_NO_DATABASE
    print(result.summary())
    for label, path in (("Word", result.docx), ("PDF", result.pdf), ("explanations workbook", result.template)):
        print(f"  {label}: {path}")
    print(f"  charts: {len(result.charts)} in {result.folder / 'charts'}; fonts: {result.fonts}")
    return EXIT_OK
