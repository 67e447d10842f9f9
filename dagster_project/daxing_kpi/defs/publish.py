"""Publication of the analyst database and the static dashboard."""


import dagster as dg

from daxing_kpi.dashboard import build_dashboard
from daxing_kpi.warehouse import PUBLISHED_MARTS, publish


# dbt model names of published tables whose dbt name differs from the published one (dbt alias).
DBT_MODEL_OF = {"kpi_catalog": "dim_kpi_catalog"}


@dg.asset(
    group_name="publish",
    deps=[dg.AssetKey(["marts", DBT_MODEL_OF.get(t, t)]) for t in PUBLISHED_MARTS],
    description="warehouse/analytics.duckdb: the PII-free analyst database, replaced atomically after the blocking checks pass.",
    kinds={"duckdb"},
)
def analytics_database(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    path = publish(context.run_id)
    context.log.info(f"published database: {path}")
    return dg.MaterializeResult(metadata={"path": str(path), "tables": ", ".join(PUBLISHED_MARTS)})


@dg.asset(
    group_name="publish",
    deps=[analytics_database],
    description="dashboards/build/index.html: the planners' static KPI dashboard (offline, plotly.js bundled).",
    kinds={"plotly", "html"},
)
def kpi_dashboard(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    path = build_dashboard()
    context.log.info(f"dashboard: {path}")
    return dg.MaterializeResult(metadata={"path": str(path)})
