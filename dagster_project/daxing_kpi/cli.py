"""``kpi``: the product's command line.

Subcommands:
  kpi run      run the nightly job now (the same Dagster job the 02:00 schedule starts)
  kpi sql      run SQL on the published database, read-only (daxing_kpi.analyst)
  kpi export   export published tables to CSV, XLSX or Parquet (daxing_kpi.analyst)
  kpi status   latest publication, data freshness per source, failed checks (daxing_kpi.analyst)
  kpi report   a plan's review report (总结评估报告, .docx and PDF) and its explanations workbook (daxing_kpi.report)
  kpi dagster-home   prepare DAGSTER_HOME for the Dagster services (see docs/operators.md, Services)
  kpi build    dbt build of the prepared warehouse on another target, e.g. Spark, timed (daxing_kpi.engines)
  kpi plan-template / plan-check   the plan workbook for planners: write the template, check a filled one (daxing_kpi.plans.cli)

Exit codes: 0 success; 1 the run failed (what failed is printed); 2 usage error; 5 (run) another
run is in progress (its owner is printed; `kpi run --wait` queues behind it instead).
sql, export and status add 3 (refused: the published database is read-only) and 4 (the published
database does not exist yet); see daxing_kpi.analyst.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

import daxing_kpi  # noqa: F401  (telemetry off)
from daxing_kpi import analyst, engines, paths
from daxing_kpi.plans import cli as plans_cli
from daxing_kpi.report import command as report_command


EXIT_BUSY = 5  # `kpi run`: another run holds the warehouse lock; nothing was started


def prepare_dagster_home() -> str:
    """Point DAGSTER_HOME at ``<warehouse>/dagster_home`` with the project's ``dagster.yaml``."""
    home = paths.dagster_home()
    shutil.copyfile(paths.PACKAGE_DIR / "dagster.yaml", home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return str(home)


def run_job(trigger: str = "manual", wait: bool = False, verbose: bool = False, full: bool = False) -> int:
    """Execute ``refresh_kpis_job`` in this process on the persistent Dagster instance.

    Takes the warehouse lock first (:mod:`daxing_kpi.runlock`): when another run holds it,
    prints who and returns 5, or waits for it with ``wait=True``. Then plans the night
    (:mod:`daxing_kpi.nightplan`): with nothing new since the last publication it records a
    ``no_new_data`` row in the run history and returns 0 without loading Dagster; when only some
    sources changed it runs their assets and everything downstream; ``full=True`` (``--full``),
    or a change of the code or settings, runs the whole job. Prints one line per stage and
    step (:mod:`daxing_kpi.progress`); Dagster's full log goes to ``warehouse/logs/`` (and to
    the console with ``verbose=True``). Returns 0 when the run succeeded, 1 otherwise (the
    failure report is printed; see :mod:`daxing_kpi.operations`).
    """
    import contextlib
    import datetime as dt
    import traceback
    import uuid

    from daxing_kpi import operations
    from daxing_kpi.runlock import RunLock, RunLockBusy, describe_owner

    run_id = str(uuid.uuid4())
    started = dt.datetime.now()
    try:  # issue 19.4: the configuration first, before anything is written
        from daxing_kpi import preflight

        for line in preflight.validate(check_dagster_home=False):
            print(f"  {line}", flush=True)
    except Exception as e:  # noqa: BLE001 - every failure before the job gets a report
        return _refused_before_start(run_id, trigger, started, e)
    lock = RunLock()
    try:
        stale = lock.acquire(
            run_id=run_id, trigger=trigger, wait=wait,
            on_wait=lambda owner: print(f"Waiting for the run in progress to finish: {describe_owner(owner)}", flush=True),
        )
    except RunLockBusy as busy:
        print(str(busy), file=sys.stderr)
        return EXIT_BUSY
    plan = _plan_night(full, stale)
    if plan is not None and plan.nothing_new:
        return _no_new_data(lock, run_id, trigger, started, plan)
    progress = None
    log_path = paths.logs_dir() / f"{dt.datetime.now():%Y%m%d-%H%M%S}_{run_id}.log"
    print(f"kpi run {run_id} (trigger {trigger}); full log: {log_path}", flush=True)
    from daxing_kpi import nightplan

    tags = {"trigger": trigger}
    if plan is None or plan.full:
        tags[nightplan.FULL_TAG] = "1"
    if full:
        tags[nightplan.FULL_ASKED_TAG] = "1"
    if plan is not None:
        for line in plan.describe():
            print(f"  {line}", flush=True)
        tags[nightplan.PLAN_TAG] = plan.why[:500]
        nightplan.save_run_inputs(run_id, plan.snapshot)
    print("  loading the job (Dagster, dbt manifest, contracts) ...", flush=True)
    try:
        prepare_dagster_home()
        import dagster as dg

        from daxing_kpi.definitions import defs
        from daxing_kpi.gxload import allow_background_import
        from daxing_kpi.progress import RunProgress

        with dg.DagsterInstance.get() as instance:
            if stale:
                report = operations.handle_crashed_run(stale, instance, detected_by=f"kpi run {run_id}")
                print(f"Note: the previous run {stale.get('run_id')} (pid {stale.get('pid')}) died without finishing;"
                      f" recorded as crashed (report {report}). Its leftovers are removed now.", flush=True)
            job = defs.resolve_job_def("refresh_kpis_job")
            selection = None if plan is None or plan.full else nightplan_selection(plan.roots)
            progress = RunProgress(instance, run_id, log_path)
            progress.start()
            allow_background_import()  # Great Expectations (for the checks) beside ingestion or dbt
            quiet = None if verbose else {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
            # dbt's own output (dagster-dbt echoes it to stdout) goes to the log file unless verbose
            with contextlib.ExitStack() as stack:
                if not verbose:
                    stack.enter_context(contextlib.redirect_stdout(stack.enter_context(open(log_path, "a", encoding="utf-8"))))
                try:
                    result = job.execute_in_process(
                        instance=instance, run_id=run_id, run_config=quiet, tags=tags, raise_on_error=False,
                        asset_selection=selection,
                    )
                finally:
                    progress.stop()
    except Exception as e:  # the job could not even start (broken definitions, unreadable instance, ...)
        row = {"run_id": run_id, "trigger": trigger, "started_at": started, "status": "failed",
               "finished_at": dt.datetime.now(), "failed_step": "start", "error": f"{type(e).__name__}: {e}"[:1000]}
        try:
            operations.upsert_run(row)
        except OSError:
            pass
        report = operations.write_failure_report(row, None, "could not start the job", "".join(traceback.format_exception(e)),
                                                 cause=operations.one_sentence(f"{type(e).__name__}: {e}"))
        operations.notify_failure(report)
        print(f"\nRUN FAILED before the job started: {e}\nReport: {report}", file=sys.stderr)
        return 1
    finally:
        lock.release()
    if not result.success:
        reports = sorted(paths.failures_dir().glob(f"*_{run_id}.txt"))
        failed = [e.step_key for e in result.all_events if e.is_step_failure]
        print(f"\nRUN FAILED (run id {run_id}). Failed steps: {', '.join(failed) or 'see the report'}", file=sys.stderr)
        if reports:
            print(reports[-1].read_text(encoding="utf-8"), file=sys.stderr)
            print(f"Report: {reports[-1]}", file=sys.stderr)
        return 1
    print(f"  {progress.summary()}")
    print(f"\nRun {run_id} succeeded.")
    from daxing_kpi.operations import _rejected_file_lines

    set_aside = _rejected_file_lines()  # issue 15: files set aside while the night went on
    if set_aside:
        print("\n" + "\n".join(set_aside))
    print(f"Published database: {paths.analytics_db_path()}")
    print(f"Dashboard: {paths.dashboard_dir() / 'index.html'}")
    return 0


def nightplan_selection(roots: list[str]) -> list:
    """Asset keys of a night that refreshes the raw assets ``roots`` (user strings): those and everything
    downstream of them (:func:`daxing_kpi.defs.schedules.selection_of`)."""
    from daxing_kpi.defs.schedules import selection_of

    return selection_of(roots)[0]


def _plan_night(full: bool, stale: dict | None):
    """The night's plan (:func:`daxing_kpi.nightplan.plan_night`); ``None`` (the whole job) when the previous
    run died holding the lock (its leftovers are handled by the job) or the plan cannot be made."""
    if stale:
        return None
    from daxing_kpi import nightplan

    try:
        return nightplan.plan_night(full=full)
    except Exception as e:  # noqa: BLE001 - planning must never stop a night: the whole job is the safe choice
        print(f"  Note: could not compare the inputs with the last publication ({type(e).__name__}: {e}); running the whole job.",
              flush=True)
        return None


def _no_new_data(lock, run_id: str, trigger: str, started, plan) -> int:
    """A night with nothing new: its ``no_new_data`` row in the run history, the lock released; returns 0."""
    from daxing_kpi import nightplan

    try:
        row = nightplan.record_no_new_data(run_id, trigger, started, plan)
    finally:
        lock.release()
    print(f"kpi run {run_id} (trigger {trigger}): no new data.", flush=True)
    print(f"  {plan.why}")
    print(f"  Recorded in the run history (pipeline_runs, status no_new_data) in {row['duration_seconds']:.1f} s.")
    print(f"Published database: {paths.analytics_db_path()} (run {plan.published_run}, published {plan.published_at})")
    print(f"Dashboard: {paths.dashboard_dir() / 'index.html'}")
    return 0


def _refused_before_start(run_id: str, trigger: str, started, exc: BaseException) -> int:
    """A run refused by the configuration check: report (in the warehouse, or the fallback folder when
    the warehouse setting is the problem), history row when possible, notification; returns 1."""
    import datetime as dt

    from daxing_kpi import operations, preflight

    setting = preflight.setting_of(exc)
    message = str(exc) if setting else f"{type(exc).__name__}: {exc}"
    row = {"run_id": run_id, "trigger": trigger, "status": "failed", "started_at": started, "finished_at": dt.datetime.now(),
           "duration_seconds": 0.0, "failed_step": "start", "error": message[:1000], "sources": "all"}
    try:
        operations.upsert_run(row)
    except OSError:
        pass
    report = operations.write_failure_report(
        row, None, "could not start: configuration" + (f" ({setting})" if setting else ""), message,
        cause=operations.one_sentence(message),
        next_step=f"correct {setting}, then run `kpi run` again." if setting else None,
    )
    operations.notify_failure(report)
    print(f"\nRUN NOT STARTED: {message}\nReport: {report}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kpi", description="Daxing civil-affairs KPI warehouse (five-year plans).")
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="run the nightly job now (load, model, check, publish, dashboard)")
    p_run.add_argument("--trigger", default="manual", choices=["manual", "schedule", "sensor"], help="recorded with the run")
    p_run.add_argument("--wait", action="store_true", help="when another run is in progress, wait for it instead of exiting")
    p_run.add_argument("-v", "--verbose", action="store_true", help="also print Dagster's full log on the console")
    p_run.add_argument("--full", action="store_true", help="rebuild everything: read every landing file again, every model, "
                       "test, page and report (default: only what changed since the last publication)")
    sub.add_parser("dagster-home", help="prepare $KPI_WAREHOUSE_DIR/dagster_home (dagster.yaml) for the Dagster services; print its path")
    analyst.add_subcommands(sub)
    report_command.add_subcommand(sub)
    engines.add_subcommand(sub)
    plans_cli.add_subcommands(sub)
    args = parser.parse_args(argv)
    if args.command in analyst.COMMANDS:
        return analyst.dispatch(args)
    if args.command == "report":
        return report_command.run(args)
    if args.command == "build":
        return engines.run_subcommand(args)
    if args.command in plans_cli.COMMANDS:
        return plans_cli.dispatch(args)
    if args.command == "run":
        return run_job(args.trigger, wait=args.wait, verbose=args.verbose, full=args.full)
    if args.command == "dagster-home":
        print(prepare_dagster_home())
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
