"""The dbt docs site (data dictionary of every model and column), built offline next to the dashboard."""


import dagster as dg

from daxing_kpi.defs.publish import kpi_dashboard
from daxing_kpi.docs_site import build_docs_site, docs_site_path


@dg.asset(
    group_name="publish",
    # After the dashboard: a failure here never holds back the dashboard, and the page lands in the
    # dashboard version just published (each new version also starts with the previous page).
    deps=[kpi_dashboard],
    description=(
        "dashboards/build/docs/index.html: the dbt docs site as one static page (dbt docs generate --static), "
        "every table and column described in English and Chinese, offline; linked from the dashboard's header."
    ),
    kinds={"dbt", "html"},
)
def dbt_docs_site(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    path = build_docs_site()
    context.log.info(f"dbt docs site: {path}")
    return dg.MaterializeResult(metadata={"path": str(path), "kept_as": str(docs_site_path()), "bytes": path.stat().st_size})
