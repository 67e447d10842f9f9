"""Nightly operations in Dagster: the run guard every run holds, the landing-folder sensor and
the sweep that frees the run queue from runs that died.

* :class:`RunGuard` (resource ``run_guard``, required by every asset of the job): checks the
  configuration first (:mod:`daxing_kpi.preflight`; a wrong setting or a missing person-key secret
  stops the run with its report, history row and notification); takes the warehouse lock
  (:mod:`daxing_kpi.runlock`) for the whole run, waiting behind a running ``kpi run``; cleans what
  killed runs left and heals the warehouse (:mod:`daxing_kpi.selfheal`); records the run in the
  run history; at the end records success or failure, writes the failure report, calls
  ``$KPI_ON_FAILURE_COMMAND`` (:mod:`daxing_kpi.operations`) and prunes to the retention
  (:mod:`daxing_kpi.retention`). The same code runs for ``kpi run`` and for the daemon's runs.
* :data:`landing_files_sensor`: new, changed or removed files in ``landing/<source>/`` start
  one run refreshing those sources and everything downstream, once no file has changed for
  ``$KPI_SENSOR_QUIET_SECONDS`` (default 120) — a burst of files gives one run. It looks every
  ``$KPI_SENSOR_INTERVAL_SECONDS`` (default 30).
* :data:`stale_run_sensor`: a run worker killed with ``kill -9`` leaves its Dagster run
  "started" forever, which would block the queue (one run at a time); the sweep marks it
  failed and writes its failure report.
"""


import datetime as dt
import hashlib
import json
import os
import socket
import sys
import time
import traceback
from typing import Optional

import dagster as dg
from pydantic import PrivateAttr

from daxing_kpi import nightplan, operations, personkey, preflight, selfheal
from daxing_kpi.ingest import landing_files as data_files
from daxing_kpi.ingest import load_contracts
from daxing_kpi.paths import landing_dir, work_db_path
from daxing_kpi.runlock import RunLock, RunLockBusy, describe_owner, held_by_this_process, pid_alive

QUIET_SECONDS_ENV = "KPI_SENSOR_QUIET_SECONDS"
DEFAULT_QUIET_SECONDS = 120
INTERVAL_SECONDS_ENV = "KPI_SENSOR_INTERVAL_SECONDS"
DEFAULT_INTERVAL_SECONDS = 30
MIN_INTERVAL_SECONDS = 1
STALE_START_GRACE_SECONDS = 600  # a started run that never took the lock within this time is dead


class RunGuard(dg.ConfigurableResource):
    """Holds the warehouse lock for the whole run and records the run (see the module docstring).

    ``wait_seconds``: how long a run started by the daemon waits for a running ``kpi run``
    before failing (default 6 hours).
    """

    wait_seconds: float = 6 * 3600
    _lock: Optional[RunLock] = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        run, instance = context.run, context.instance
        trigger = operations.trigger_of(run.tags)
        # who runs it, for stale_run_sensor (a run waiting for the lock is alive, not stale)
        instance.add_run_tags(run.run_id, {"kpi/pid": str(os.getpid()), "kpi/host": socket.gethostname()})
        started = dt.datetime.now()
        try:
            key_lines = preflight.validate()  # issue 19.4: configuration first, before the lock (it lives in the warehouse)
        except Exception as exc:
            self._refuse_start(context, trigger, started, exc, "could not start: configuration")
            raise
        held = held_by_this_process()
        if held is not None:  # `kpi run` took the lock (and handled a stale owner) before starting Dagster
            held.update(run_id=run.run_id, trigger=trigger)
        else:
            lock = RunLock()
            try:
                stale = lock.acquire(
                    run_id=run.run_id, trigger=trigger, wait=True, timeout=self.wait_seconds,
                    on_wait=lambda owner: context.log.info(f"waiting for the warehouse lock held by {describe_owner(owner)}"),
                )
            except RunLockBusy as busy:
                row = {"run_id": run.run_id, "trigger": trigger, "started_at": None}
                report = operations.write_failure_report(
                    row, None, "could not start: the warehouse stayed locked", f"{busy}\nWaited {self.wait_seconds:.0f} s.",
                    cause=f"Another run held the warehouse lock for the {self.wait_seconds:.0f} s this run waits: {describe_owner(busy.owner)}.",
                )
                operations.notify_failure(report)
                raise
            self._lock = lock
            if stale:
                report = operations.handle_crashed_run(stale, instance, detected_by=f"run {run.run_id}")
                context.log.warning(f"recovered the lock of a run that died: {describe_owner(stale)}; report {report}")
        try:
            removed = operations.clean_stale_files()
            if removed:
                context.log.info(f"removed {len(removed)} leftovers of killed runs: {', '.join(p.name for p in removed[:5])}")
            notes = selfheal.heal(personkey.key_fingerprint(personkey.pii_key()))  # issue 19.5
            if run.asset_selection and not work_db_path().exists():
                # a run of some sources only would publish a working database holding just those (issue 20.2)
                raise RuntimeError("the working database is new or was rebuilt, so this run, which refreshes only some "
                                   "sources, cannot publish complete data: run the whole job (`kpi run --full`, or wait "
                                   "for the nightly run).")
            facts_sources = "all" if not run.asset_selection else operations.refreshed_sources(
                operations.RunFacts(run.run_id, asset_selection=sorted(k.to_user_string() for k in run.asset_selection))
            )
            operations.record_run_start(run.run_id, trigger, facts_sources, notes=" ".join(notes) or None)
            nightplan.save_run_inputs(run.run_id)  # what this run starts from: the state a publication records (issue 20.2)
        except Exception as exc:
            self._refuse_start(context, trigger, started, exc, "could not start: preparing the warehouse")
            if self._lock is not None:
                self._lock.release()
                self._lock = None
            raise
        for line in key_lines:
            (context.log.warning if "DEVELOPMENT" in line else context.log.info)(line)
        for note in notes:
            context.log.warning(note)
            print(f"  Note: {note}", file=sys.__stdout__, flush=True)  # on the console of `kpi run` too

    def _refuse_start(self, context, trigger: str, started: dt.datetime, exc: BaseException, headline: str) -> None:
        """A run that cannot start: its history row, failure report (cause in one sentence naming the
        setting) and notification, as for any failed run."""
        setting = preflight.setting_of(exc)
        message = str(exc) if setting else f"{type(exc).__name__}: {exc}"
        row = {"run_id": context.run.run_id, "trigger": trigger, "status": "failed", "started_at": started,
               "finished_at": dt.datetime.now(), "duration_seconds": 0.0, "failed_step": "start", "error": message[:1000],
               "sources": "all"}
        try:
            operations.upsert_run(row)
        except OSError:
            pass  # the warehouse folder itself is unusable: the report (in the fallback folder) says so
        why = message if setting else "".join(traceback.format_exception(exc))
        report = operations.write_failure_report(
            row, None, headline + (f" ({setting})" if setting else ""), why, cause=operations.one_sentence(message),
            next_step=(f"correct {setting} in the environment of the Dagster daemon (or of `kpi run`), then start the run again."
                       if setting else None),
        )
        operations.notify_failure(report)
        self._start_failed = True
        context.log.error(f"the run could not start: {message}; report {report}")

    def record_publication(self, context: dg.AssetExecutionContext) -> dict:
        """Store this run's row with status ``published`` just before the history is copied
        into the new analyst database."""
        return operations.record_run(context.instance, context.run_id, "published")

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        try:
            row, report = operations.finish_run(context.instance, context.run.run_id)
            if report is not None:
                context.log.error(f"run failed at step {row.get('failed_step')}; report: {report}")
        except Exception:
            context.log.error(f"recording the end of the run failed:\n{traceback.format_exc()}")
        try:  # issue 19.6: dbt's run folders, Dagster's runs, logs and reports beyond the retention
            from daxing_kpi import retention

            pruned = retention.prune(context.instance, current_run_id=context.run.run_id)
            if pruned.removed:
                context.log.info(pruned.describe())
        except Exception:
            context.log.error(f"pruning to the retention failed:\n{traceback.format_exc()}")
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None


# -- landing sensor ------------------------------------------------------------------------------------------


def landing_snapshot() -> dict[str, list[int]]:
    """``{"<landing folder>/<file>": [mtime_ns, size]}`` for the data files of every source."""
    root = landing_dir()
    snap = {}
    for contract in load_contracts().values():
        for p in data_files(root / contract.landing_dir):
            st = p.stat()
            snap[f"{contract.landing_dir}/{p.name}"] = [st.st_mtime_ns, st.st_size]
    return snap


def pending_changes(snapshot: dict, handled: dict) -> dict[str, list[str]]:
    """Files new, changed or removed since ``handled``, grouped by source id."""
    by_dir = {c.landing_dir: c.source_id for c in load_contracts().values()}
    changed = [k for k, v in snapshot.items() if handled.get(k) != v] + [k for k in handled if k not in snapshot]
    out: dict[str, list[str]] = {}
    for k in sorted(changed):
        sid = by_dir.get(k.split("/", 1)[0])
        if sid:
            out.setdefault(sid, []).append(k)
    return out


def last_change_time(changes: dict[str, list[str]], snapshot: dict) -> float:
    """Newest modification time (seconds) among changed files and the folders they are in
    (a folder's time moves when a file is added or removed)."""
    root = landing_dir()
    times = [snapshot[k][0] / 1e9 for files in changes.values() for k in files if k in snapshot]
    for files in changes.values():
        folder = root / files[0].split("/", 1)[0]
        if folder.exists():
            times.append(folder.stat().st_mtime)
    return max(times, default=0.0)


def quiet_seconds() -> float:
    """Seconds without any landing-file change before the sensor starts a run (``$KPI_SENSOR_QUIET_SECONDS``)."""
    return float(os.environ.get(QUIET_SECONDS_ENV, DEFAULT_QUIET_SECONDS))


def sensor_interval_seconds() -> int:
    """Seconds between two looks of the landing sensor at the landing folder (``$KPI_SENSOR_INTERVAL_SECONDS``,
    a whole number of at least :data:`MIN_INTERVAL_SECONDS`, default 30), read when the definitions load. A wrong
    value keeps the default here, so the code location still loads, and stops the next run with a report
    naming the setting (:func:`daxing_kpi.preflight.validate`)."""
    try:
        value = int(os.environ.get(INTERVAL_SECONDS_ENV, DEFAULT_INTERVAL_SECONDS))
    except ValueError:
        return DEFAULT_INTERVAL_SECONDS
    return value if value >= MIN_INTERVAL_SECONDS else DEFAULT_INTERVAL_SECONDS


def _asset_graph(context: dg.SensorEvaluationContext):
    if context.repository_def is not None:
        return context.repository_def.asset_graph
    from daxing_kpi.definitions import defs  # evaluated outside a code location (tests)

    return defs.resolve_asset_graph()


@dg.sensor(
    name="landing_files_sensor",
    job_name="refresh_kpis_job",
    minimum_interval_seconds=sensor_interval_seconds(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="New or changed files in landing/<source>/ → one refresh of those sources and everything "
    "downstream, once no file has changed for $KPI_SENSOR_QUIET_SECONDS (default 120); looks every "
    "$KPI_SENSOR_INTERVAL_SECONDS (default 30).",
)
def landing_files_sensor(context: dg.SensorEvaluationContext):
    snapshot = landing_snapshot()
    if context.cursor is None:
        # first evaluation: what is there now is the baseline (the nightly run covers it)
        return dg.SensorResult(
            skip_reason=f"baseline taken: {len(snapshot)} landing files; later arrivals start a refresh",
            cursor=json.dumps({"handled": snapshot}),
        )
    handled = json.loads(context.cursor).get("handled", {})
    changes = pending_changes(snapshot, handled)
    if not changes:
        return dg.SkipReason("no new, changed or removed landing files")
    n_files = sum(len(v) for v in changes.values())
    quiet_for = time.time() - last_change_time(changes, snapshot)
    if quiet_for < quiet_seconds():
        return dg.SkipReason(
            f"{n_files} new or changed files for {', '.join(changes)}: waiting until no file has changed for"
            f" {quiet_seconds():.0f} s (last change {quiet_for:.0f} s ago)"
        )
    graph = _asset_graph(context)
    files = sorted(f for v in changes.values() for f in v)
    run_key = hashlib.sha256(json.dumps([[f, snapshot.get(f)] for f in files]).encode()).hexdigest()[:20]
    tags = {"trigger": "sensor", "kpi/sources": ",".join(changes), "kpi/files": str(n_files)}
    roots = [f"raw/{sid}" for sid in changes]
    try:  # issue 20.2: also what earlier runs left unpublished; the whole job when a partial run cannot do
        plan = nightplan.plan_night()
    except Exception as exc:  # noqa: BLE001 - the sensor's own changes are still refreshed
        context.log.warning(f"could not compare the inputs with the last publication: {exc}")
        plan = None
    if plan is not None and plan.nothing_new:
        return dg.SensorResult(skip_reason=f"landing files changed, but they are as published: {plan.why}",
                               cursor=json.dumps({"handled": snapshot}))
    if plan is not None and plan.full:
        request = dg.RunRequest(run_key=run_key, tags={**tags, nightplan.FULL_TAG: "1", nightplan.PLAN_TAG: plan.why[:500]})
        context.log.info(f"requesting the whole job for {n_files} files: {plan.why}")
        return dg.SensorResult(run_requests=[request], cursor=json.dumps({"handled": snapshot}))
    if plan is not None:
        roots = sorted(set(roots) | set(plan.roots))
    selected = dg.AssetSelection.assets(*[dg.AssetKey.from_user_string(r) for r in roots]).downstream().resolve(graph)
    checks = [ck for ck in graph.asset_check_keys if ck.asset_key in selected]
    request = dg.RunRequest(
        run_key=run_key,
        asset_selection=sorted(selected, key=lambda k: k.to_user_string()),
        asset_check_keys=checks,
        tags=tags,
    )
    context.log.info(f"requesting a refresh of {', '.join(changes)} for {n_files} files")
    return dg.SensorResult(run_requests=[request], cursor=json.dumps({"handled": snapshot}))


# -- sweep of runs that died ---------------------------------------------------------------------------------


@dg.sensor(
    name="stale_run_sensor",
    minimum_interval_seconds=120,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Marks failed the runs whose process died (kill -9, power cut) so the one-run queue moves on; "
    "writes their failure report, and that of runs that failed before the run guard started.",
)
def stale_run_sensor(context: dg.SensorEvaluationContext):
    instance = context.instance
    lock = RunLock()
    try:
        stale = lock.acquire(wait=False, grace=0, claim=False)
    except RunLockBusy:
        return dg.SkipReason("a run holds the warehouse lock: nothing to sweep")
    swept = []
    note = {}
    try:
        if stale:
            operations.handle_crashed_run(stale, instance, detected_by="stale_run_sensor")
            swept.append(stale.get("run_id"))
            note = {"note": "this run died; recorded as crashed by stale_run_sensor"}
        # started runs whose process is gone: its pid (tag kpi/pid) is dead on this host, or it
        # never reached the run guard within the grace time
        records = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        for rec in records:
            run = rec.dagster_run
            if run.run_id in swept:
                continue
            pid, host = run.tags.get("kpi/pid"), run.tags.get("kpi/host")
            if pid:
                dead = host == socket.gethostname() and not pid_alive(int(pid))
            else:
                dead = time.time() - (rec.start_time or rec.create_timestamp.timestamp()) > STALE_START_GRACE_SECONDS
            if dead:
                owner = {"run_id": run.run_id, "pid": pid, "host": host,
                         "started_at": None, "trigger": operations.trigger_of(run.tags)}
                operations.handle_crashed_run(owner, instance, detected_by="stale_run_sensor")
                swept.append(run.run_id)
        # runs that ended failed without ever reaching the run guard (their process exited while loading
        # the code, the launcher failed): no history row yet, so nobody was told (issue 19.3)
        since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)
        ended = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED],
                                                       updated_after=since))
        known = operations.read_history()
        for rec in ended:
            if rec.dagster_run.run_id not in known and rec.dagster_run.job_name == "refresh_kpis_job":
                operations.report_unguarded_failure(instance, rec.dagster_run)
                swept.append(rec.dagster_run.run_id)
    finally:
        lock.release(**note)
    if not swept:
        return dg.SkipReason("no dead runs")
    return dg.SkipReason(f"recorded as failed or crashed, with a failure report: {', '.join(swept)}")
