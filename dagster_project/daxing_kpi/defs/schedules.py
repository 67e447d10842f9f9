"""Jobs and schedules: the nightly refresh at 02:00 Asia/Shanghai."""


import dagster as dg

refresh_kpis_job = dg.define_asset_job(
    name="refresh_kpis_job",
    selection=dg.AssetSelection.all(),
    description="Nightly refresh: load every landing source, build the dbt models, run the checks, publish the database and dashboard.",
    executor_def=dg.in_process_executor,
)

refresh_kpis_job_schedule = dg.ScheduleDefinition(
    name="refresh_kpis_job_schedule",
    job=refresh_kpis_job,
    cron_schedule="0 2 * * *",
    execution_timezone="Asia/Shanghai",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
