"""Dagster code location of the KPI warehouse: builds ``Definitions`` from ``defs/``, nothing else."""

import dagster as dg

import daxing_kpi  # noqa: F401  (turns off telemetry before the libraries load)
from daxing_kpi.defs.dbt import daxing_dbt_models, dbt_resource
from daxing_kpi.defs.ingest import landing_files, raw_assets, raw_checks
from daxing_kpi.defs.publish import analytics_database, kpi_dashboard
from daxing_kpi.defs.quality import mart_checks
from daxing_kpi.defs.schedules import refresh_kpis_job, refresh_kpis_job_schedule

defs = dg.Definitions(
    assets=[landing_files, *raw_assets, daxing_dbt_models, analytics_database, kpi_dashboard],
    asset_checks=[*raw_checks, *mart_checks],
    jobs=[refresh_kpis_job],
    schedules=[refresh_kpis_job_schedule],
    resources={"dbt": dbt_resource},
)
