"""Publication of the analyst database and the static dashboard, as one step (issue 19.7).

``analytics_database`` builds the next database file beside the published one (after the quality
gate) without switching it in; ``kpi_dashboard`` draws the dashboard from that file and switches
both, the dashboard link and then the database file, back to back under a journal
(:func:`daxing_kpi.warehouse.publish_together`). A run whose selection lacks the dashboard publishes
the database alone; a failure anywhere before the switches changes neither."""


import dagster as dg

from daxing_kpi import dq, nightplan
from daxing_kpi.dashboard import build_dashboard
from daxing_kpi.defs.operations import RunGuard
from daxing_kpi.warehouse import PUBLISHED_MARTS, publish, publish_together, stage_publication, staged_db_path


# dbt model names of published tables whose dbt name differs from the published one (dbt alias).
DBT_MODEL_OF = {"kpi_catalog": "dim_kpi_catalog", "plans": "dim_plans", "plan_sections": "dim_plan_sections",
                "plan_targets": "dim_plan_targets", "plan_target_milestones": "dim_plan_target_milestones"}


def _asset_graph(context: dg.AssetExecutionContext):
    """The code location's asset graph (lineage of every KPI, every check key); a job executed in
    process (``kpi run``) has no repository on its context, so the definitions are loaded then."""
    try:
        return context.repository_def.asset_graph
    except Exception:  # noqa: BLE001 - dagster's CheckError when no repository is set
        from daxing_kpi.definitions import defs

        return defs.resolve_asset_graph()


@dg.asset(
    group_name="publish",
    deps=[dg.AssetKey(["marts", DBT_MODEL_OF.get(t, t)]) for t in PUBLISHED_MARTS],
    description="warehouse/analytics.duckdb: the PII-free analyst database, replaced atomically after the blocking checks pass.",
    kinds={"duckdb"},
)
def analytics_database(context: dg.AssetExecutionContext, run_guard: RunGuard) -> dg.MaterializeResult:
    run_guard.record_publication(context)  # this run's pipeline_runs row goes into the new file
    # issue 6: this run's check results (dq_results), the gate against blocking checks that failed in an
    # earlier run and were not re-run, per-KPI quality status and data freshness, all copied by publish()
    gate = dq.prepare_publication(context.instance, context.run_id, _asset_graph(context))
    if _dashboard_in_run(context):  # published together with the dashboard by kpi_dashboard
        path = stage_publication(context.run_id)
        context.log.info(f"database built, published with the dashboard: {path}")
    else:
        path = publish(context.run_id)
        dq.record_source_baselines(context.run_id)  # row counts of this publication: the next run compares with them
        record_published_inputs(context)
        context.log.info(f"published database: {path}")
    return dg.MaterializeResult(metadata={"path": str(path), "tables": ", ".join(PUBLISHED_MARTS), **gate})


def record_published_inputs(context: dg.AssetExecutionContext) -> None:
    """After a publication: the inputs this run started from become those of the published data, for the
    units it refreshed (:func:`daxing_kpi.nightplan.record_publication`; the next night compares with them)."""
    selection = context.run.asset_selection
    refreshed = None if not selection else nightplan.units_of_selection(k.to_user_string() for k in selection)
    nightplan.record_publication(context.run_id, refreshed)


def _dashboard_in_run(context: dg.AssetExecutionContext) -> bool:
    """Whether this run also draws the dashboard (the whole job, or a selection holding it)."""
    selection = context.run.asset_selection  # None or empty: the whole job
    return not selection or dg.AssetKey("kpi_dashboard") in selection


@dg.asset(
    group_name="publish",
    deps=[analytics_database],
    description=(
        "dashboards/build/: the planners' static KPI dashboard: index.html (every KPI's card by plan part, "
        "review selector, filters), kpi/<kpi_id>.html (trend, towns/streets, tables, sources, quality), "
        "data/ (CSV and XLSX downloads, small counts suppressed); offline, plotly.js once in assets/."
    ),
    kinds={"plotly", "html"},
)
def kpi_dashboard(context: dg.AssetExecutionContext, run_guard: RunGuard) -> dg.MaterializeResult:
    staged = staged_db_path(context.run_id)
    if staged.exists():  # this run built a new database: publish it and its dashboard as one step
        db, path = publish_together(context.run_id, staged, lambda db_file: build_dashboard(db=db_file))
        dq.record_source_baselines(context.run_id)  # row counts of this publication: the next run compares with them
        record_published_inputs(context)
        context.log.info(f"published database {db} and dashboard {path}")
    else:
        path = build_dashboard()
        context.log.info(f"dashboard: {path}")
    return dg.MaterializeResult(metadata={"path": str(path)})
