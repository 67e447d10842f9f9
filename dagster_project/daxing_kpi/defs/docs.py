"""The dbt docs site (data dictionary of every model and column), built offline next to the dashboard.

The page describes the dbt project and the tables' columns, never the data: it is built again only when
the product changed (:func:`daxing_kpi.nightplan.code_fingerprint`), the kept page is missing, or a full
rebuild was asked for; otherwise every dashboard version carries the kept page (issue 20.3)."""


import dagster as dg

from daxing_kpi import nightplan
from daxing_kpi.defs.publish import kpi_dashboard
from daxing_kpi.docs_site import build_docs_site, copy_docs_into, docs_site_path
from daxing_kpi.paths import dashboard_dir


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
    kept, digest_file = docs_site_path(), docs_site_path().with_name("code.digest")
    due = nightplan.code_work_due(digest_file, context)
    if due is None and kept.exists():
        path = copy_docs_into(dashboard_dir()) if not (dashboard_dir() / "docs" / "index.html").exists() else dashboard_dir() / "docs" / "index.html"
        context.log.info(f"dbt docs site unchanged (same dbt project and code): {path}")
        return dg.MaterializeResult(metadata={"path": str(path), "kept_as": str(kept), "rebuilt": False})
    path = build_docs_site()
    digest_file.write_text((due or nightplan.code_fingerprint()) + "\n", encoding="utf-8")
    context.log.info(f"dbt docs site: {path}")
    return dg.MaterializeResult(metadata={"path": str(path), "kept_as": str(kept), "bytes": path.stat().st_size, "rebuilt": True})
