"""Snapshot of the Dagster definitions: asset keys, groups, job and schedule (renames show up here)."""

from __future__ import annotations

import yaml

from daxing_kpi.definitions import defs
from daxing_kpi.paths import DBT_PROJECT_DIR, PACKAGE_DIR


def test_job_and_schedule():
    job = defs.resolve_job_def("refresh_kpis_job")
    assert job is not None
    schedule = defs.resolve_schedule_def("refresh_kpis_job_schedule")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "Asia/Shanghai"
    assert schedule.job_name == "refresh_kpis_job"


def test_asset_keys_and_groups():
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for expected in [
        "landing_files",
        "raw/statbureau_population",
        "raw/eldercare_care_workers",
        "raw/funeral_burials",
        "raw/volunteer_volunteers",
        "raw/govservice_service_items",
        "raw/govservice_service_cases",
        "staging/stg_funeral__burials",
        "marts/kpi_observations",
        "marts/dim_kpi_catalog",
        "marts/geographies",
        "marts/kpi_scorecard",
        "audit/ingest_audit",
        "marts/ingest_audit",
        "intermediate/int_kpi_progress_inputs",
        "analytics_database",
        "kpi_dashboard",
    ]:
        assert expected in keys
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys() if graph.has(k)}
    assert groups["raw/funeral_burials"] == "ingest"
    assert groups["marts/kpi_observations"] == "marts"
    assert groups["staging/stg_funeral__burials"] == "staging"
    # the publish step waits for the marts (it is downstream of them)
    upstream = {k.to_user_string() for k in graph.get(defs.resolve_assets_def("analytics_database").key).parent_keys}
    assert {"marts/kpi_observations", "marts/dim_kpi_catalog", "marts/geographies", "marts/kpi_scorecard"} <= upstream


def test_telemetry_is_off_in_the_project_configuration():
    dbt_cfg = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    assert dbt_cfg["flags"]["send_anonymous_usage_stats"] is False
    assert yaml.safe_load((PACKAGE_DIR / "dagster.yaml").read_text())["telemetry"]["enabled"] is False
    import os

    assert os.environ.get("GX_ANALYTICS_ENABLED") == "false"
