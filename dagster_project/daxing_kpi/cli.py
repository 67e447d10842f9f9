"""``kpi``: the product's command line.

Subcommands:
  kpi run      run the nightly job now (the same Dagster job the 02:00 schedule starts)

Exit codes: 0 success; 1 the run failed (what failed is printed); 2 usage error.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

import daxing_kpi  # noqa: F401  (telemetry off)
from daxing_kpi import paths


def prepare_dagster_home() -> str:
    """Point DAGSTER_HOME at ``<warehouse>/dagster_home`` with the project's ``dagster.yaml``."""
    home = paths.dagster_home()
    shutil.copyfile(paths.PACKAGE_DIR / "dagster.yaml", home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return str(home)


def run_job(trigger: str = "manual") -> int:
    """Execute ``refresh_kpis_job`` in this process on the persistent Dagster instance.

    Returns 0 when the run succeeded, 1 otherwise (failed steps are printed).
    """
    prepare_dagster_home()
    import dagster as dg

    from daxing_kpi.definitions import defs

    job = defs.resolve_job_def("refresh_kpis_job")
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, tags={"trigger": trigger}, raise_on_error=False)
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.is_step_failure]
        print(f"\nRUN FAILED (run id {result.run_id}). Failed steps: {', '.join(failed) or 'see the log above'}", file=sys.stderr)
        print(f"The published database was not replaced: {paths.analytics_db_path()}", file=sys.stderr)
        return 1
    print(f"\nRun {result.run_id} succeeded.")
    print(f"Published database: {paths.analytics_db_path()}")
    print(f"Dashboard: {paths.dashboard_dir() / 'index.html'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kpi", description="Daxing civil-affairs 14th FYP KPI warehouse.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="run the nightly job now (load, model, check, publish, dashboard)")
    p_run.add_argument("--trigger", default="manual", choices=["manual", "schedule", "sensor"], help="recorded with the run")
    args = parser.parse_args(argv)
    if args.command == "run":
        return run_job(args.trigger)
    return 2


if __name__ == "__main__":
    sys.exit(main())
