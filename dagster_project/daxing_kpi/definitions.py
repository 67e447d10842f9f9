"""Dagster code location of the KPI warehouse: builds ``Definitions`` from ``defs/``, nothing else."""

import dagster as dg

import daxing_kpi  # noqa: F401  (turns off telemetry before the libraries load)
from daxing_kpi.defs.dbt import daxing_dbt_models, dbt_resource
from daxing_kpi.defs.docs import dbt_docs_site
from daxing_kpi.defs.ingest import ingest_audit, landing_files, raw_assets
from daxing_kpi.defs.operations import RunGuard, landing_files_sensor, stale_run_sensor
from daxing_kpi.defs.plans import plan_workbooks
from daxing_kpi.defs.publish import analytics_database, kpi_dashboard
from daxing_kpi.defs.quality import landed_file_checks, mart_checks, quality_data_docs
from daxing_kpi.defs.report import review_reports
from daxing_kpi.defs.schedules import refresh_kpis_job, refresh_kpis_job_schedule

defs = dg.Definitions(
    assets=[landing_files, *raw_assets, plan_workbooks, ingest_audit, daxing_dbt_models, analytics_database, kpi_dashboard,
            dbt_docs_site, quality_data_docs, review_reports],
    asset_checks=[*landed_file_checks, *mart_checks],
    jobs=[refresh_kpis_job],
    schedules=[refresh_kpis_job_schedule],
    sensors=[landing_files_sensor, stale_run_sensor],
    resources={"dbt": dbt_resource, "run_guard": RunGuard()},
)
