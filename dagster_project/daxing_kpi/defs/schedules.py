"""Jobs and schedules: the nightly refresh at 02:00 Asia/Shanghai, doing only what changed (issue 20.2).

The schedule plans each night (:func:`daxing_kpi.nightplan.plan_night`): with nothing new since the last
publication it starts no run and records a ``no_new_data`` row in the run history; when some sources
changed it starts a run of their raw assets and everything downstream (:func:`selection_of`); otherwise
(code or settings changed, nothing published yet, ...) the whole job, tagged as a full rebuild.
"""

import datetime as dt
import uuid

import dagster as dg

from daxing_kpi import nightplan

refresh_kpis_job = dg.define_asset_job(
    name="refresh_kpis_job",
    selection=dg.AssetSelection.all(),
    description="Nightly refresh: load every landing source, build the dbt models, run the checks, publish the database and dashboard.",
    executor_def=dg.in_process_executor,
)


def _graph():
    from daxing_kpi.definitions import defs

    return defs.resolve_asset_graph()


def selection_of(roots: list[str], graph=None) -> tuple[list[dg.AssetKey], list[dg.AssetCheckKey]]:
    """The assets of a night refreshing the raw assets ``roots`` (user strings such as ``raw/funeral_burials``):
    those and everything downstream of them, and the checks of those assets."""
    graph = graph or _graph()
    keys = [dg.AssetKey.from_user_string(r) for r in roots]
    selected = dg.AssetSelection.assets(*keys).downstream().resolve(graph)
    checks = [ck for ck in graph.asset_check_keys if ck.asset_key in selected]
    return sorted(selected, key=lambda k: k.to_user_string()), checks


@dg.schedule(
    name="refresh_kpis_job_schedule",
    job=refresh_kpis_job,
    cron_schedule="0 2 * * *",
    execution_timezone="Asia/Shanghai",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="The nightly refresh: only the sources changed since the last publication and everything downstream; "
    "nothing (a no_new_data row in pipeline_runs) when nothing changed; the whole job after a change of code or settings.",
)
def refresh_kpis_job_schedule(context: dg.ScheduleEvaluationContext):
    started = dt.datetime.now()
    try:
        plan = nightplan.plan_night()
    except Exception as exc:  # noqa: BLE001 - planning must never stop a night: the whole job is the safe choice
        context.log.warning(f"could not compare the inputs with the last publication ({exc}); running the whole job")
        return dg.RunRequest(tags={"trigger": "schedule", nightplan.FULL_TAG: "1"})
    if plan.nothing_new:
        from daxing_kpi.runlock import RunLock, RunLockBusy

        lock = RunLock()
        try:
            lock.acquire(run_id=None, trigger="schedule", wait=False)
        except RunLockBusy:
            return dg.SkipReason(f"no new data, and a run is in progress: {plan.why}")
        try:
            nightplan.record_no_new_data(str(uuid.uuid4()), "schedule", started, plan)
        finally:
            lock.release()
        return dg.SkipReason(f"no new data: {plan.why}")
    tags = {"trigger": "schedule", nightplan.PLAN_TAG: plan.why[:500]}
    if plan.full:
        return dg.RunRequest(tags={**tags, nightplan.FULL_TAG: "1"})
    try:
        graph = context.repository_def.asset_graph
    except Exception:  # noqa: BLE001 - evaluated outside a code location (tests)
        graph = None
    selected, checks = selection_of(plan.roots, graph)
    return dg.RunRequest(asset_selection=selected, asset_check_keys=checks, tags=tags)
