"""Nightly operations: readers during runs, one run at a time, crash safety, run history,
failure notice, landing sensor, service configuration (issue 8).

The tests that run the job work on a copy of the session warehouse (``conftest.warehouse``:
one real run of ``kpi run`` on the 0.05 sample), so each starts from a published version
``v0`` without paying for a first run of its own. The crash and reader acceptance tests share one
warehouse copy: two killed runs, then two runs started together, with readers querying throughout.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
import yaml
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from conftest import TEST_PII_KEY, Warehouse, clone_warehouse, touch_plan_workbook

from daxing_kpi import atomic, nightplan, operations
from daxing_kpi.dashboard import build_dashboard
from daxing_kpi.ingest import landing_files, load_contracts
from daxing_kpi.paths import PACKAGE_DIR
from daxing_kpi.runlock import RunLock, read_owner
from daxing_kpi.warehouse import PUBLISHED_MARTS

EXIT_BUSY = 5
RUN_TIMEOUT = 900
# published tables whose content depends on the run (run ids, load times): not compared across runs
RUN_SPECIFIC_TABLES = {"ingest_audit"}


# -- helpers ---------------------------------------------------------------------------------------------


def clone(src: Warehouse, base: Path, **extra_env) -> Warehouse:
    """A copy of a warehouse (work DB, landing files, published DB, dashboard, Dagster home)."""
    wh = clone_warehouse(src, base, **extra_env)
    (wh.root / "logs").mkdir(exist_ok=True)
    return wh


def start_run(wh: Warehouse, *args: str, name: str, env: dict | None = None) -> tuple[subprocess.Popen, Path, Path]:
    """Start ``kpi run`` in its own process group; stdout/stderr go to files under the warehouse base."""
    out = wh.root.parent / f"{name}.out"
    err = wh.root.parent / f"{name}.err"
    proc = subprocess.Popen(
        [sys.executable, "-m", "daxing_kpi.cli", "run", *args],
        env={**wh.env, **(env or {})}, stdout=open(out, "w"), stderr=open(err, "w"), start_new_session=True,
    )
    return proc, out, err


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = RUN_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"the run ended (code {proc.returncode}) before reaching {path.name}"
        assert time.monotonic() < deadline, f"timeout waiting for {path}"
        time.sleep(0.2)


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def published_run_id(wh: Warehouse) -> str:
    return wh.query("SELECT run_id FROM publish_metadata").run_id.item()


def marts(wh: Warehouse) -> dict[str, pd.DataFrame]:
    """Every published mart as a frame sorted on all its columns."""
    out = {}
    for t in PUBLISHED_MARTS:
        if t in RUN_SPECIFIC_TABLES:
            continue
        df = wh.query(f'SELECT * FROM "{t}"')
        out[t] = df.sort_values(list(df.columns)).reset_index(drop=True)
    return out


def raw_counts(wh: Warehouse) -> dict[str, int]:
    with duckdb.connect(str(wh.root / "work" / "work.duckdb"), read_only=True) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw'").fetchall()]
        return {t: con.execute(f'SELECT count(*) FROM raw."{t}"').fetchone()[0] for t in tables}


def header_line(stdout: str) -> str:
    """The line ``kpi run <run id> (trigger ...); full log: <path>`` that ``kpi run`` prints first
    (after a "Waiting ..." line when it had to wait)."""
    (line,) = [x for x in stdout.splitlines() if x.startswith("kpi run ")]
    return line


def run_id_of(stdout: str) -> str:
    return header_line(stdout).split()[2]


def history_row(wh: Warehouse, run_id: str) -> dict:
    """A run's last line in the run history ``history/pipeline_runs.jsonl``."""
    rows = [json.loads(x) for x in (wh.root / "history" / "pipeline_runs.jsonl").read_text(encoding="utf-8").splitlines()]
    return [r for r in rows if r["run_id"] == run_id][-1]


def dagster_instance(wh: Warehouse) -> dg.DagsterInstance:
    """The warehouse's Dagster instance (its dagster.yaml reads DAGSTER_HOME while loading)."""
    from dagster._core.instance.ref import InstanceRef

    home = str(wh.root / "dagster_home")
    saved = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = home
    try:
        return dg.DagsterInstance.from_ref(InstanceRef.from_dir(home))
    finally:
        if saved is None:
            del os.environ["DAGSTER_HOME"]
        else:
            os.environ["DAGSTER_HOME"] = saved


# -- readers during runs ----------------------------------------------------------------------------------

FRESH_READER = r"""
import duckdb, json, os, sys, time
db, out, stop = sys.argv[1:4]
with open(out, "w") as f:
    while not os.path.exists(stop):
        rec = {}
        try:
            with duckdb.connect(db, read_only=True) as con:
                run_id = con.execute("SELECT run_id FROM publish_metadata").fetchone()[0]
                status = con.execute("SELECT status FROM pipeline_runs WHERE run_id = ?", [run_id]).fetchone()
                latest = con.execute("SELECT run_id FROM pipeline_runs ORDER BY started_at DESC LIMIT 1").fetchone()[0]
                obs = con.execute("SELECT count(*), round(sum(numerator), 6) FROM kpi_observations").fetchone()
            rec = {"run_id": run_id, "status": status[0] if status else None, "latest": latest, "rows": obs[0], "num": obs[1]}
        except Exception as e:
            rec = {"error": f"{type(e).__name__}: {e}"}
        f.write(json.dumps(rec) + "\n")
        f.flush()
        time.sleep(0.05)
"""

# an analyst who opened the file before the runs and keeps querying it
HOLDING_READER = r"""
import duckdb, json, os, sys, time
db, out, stop = sys.argv[1:4]
con = duckdb.connect(db, read_only=True)
with open(out, "w") as f:
    while not os.path.exists(stop):
        try:
            rec = {"run_id": con.execute("SELECT run_id FROM publish_metadata").fetchone()[0],
                   "rows": con.execute("SELECT count(*) FROM kpi_observations").fetchone()[0]}
        except Exception as e:
            rec = {"error": f"{type(e).__name__}: {e}"}
        f.write(json.dumps(rec) + "\n")
        f.flush()
        time.sleep(0.2)
"""


def test_second_run_while_one_runs_exits_with_the_owner(warehouse, tmp_path):
    """While a run holds the warehouse lock, ``kpi run`` exits with code 5 naming the owner
    (run id, pid, host, start) and writes nothing: no Dagster run, no history row, same file."""
    wh = clone(warehouse, tmp_path / "wh")
    before = file_digest(wh.analytics)
    n_runs = len(dagster_instance(wh).get_runs())
    holder = RunLock(wh.root / "run.lock")
    holder.acquire(run_id="run-in-progress-0001", trigger="schedule")
    try:
        proc = wh.run("run", check=False)
    finally:
        holder.release()
    assert proc.returncode == EXIT_BUSY, proc.stderr[-2000:]
    assert "Another KPI run is in progress: run run-in-progress-0001" in proc.stderr
    assert f"pid {os.getpid()}" in proc.stderr and "kpi run --wait" in proc.stderr
    assert file_digest(wh.analytics) == before
    assert len(dagster_instance(wh).get_runs()) == n_runs
    assert "run-in-progress-0001" not in set(wh.query("SELECT run_id FROM pipeline_runs").run_id)


# -- crash safety, and readers during runs ----------------------------------------------------------


def test_kill_during_dbt_and_publication_then_two_runs_while_readers_query(warehouse, tmp_path):
    """The operator's night, end to end (issue 8's crash and reader acceptance tests, on one warehouse copy).

    1. kill -9 of the whole run (process group: the job and its dbt) while dbt builds, then of a second
       run while its new database file is built but not yet swapped in: each time the published
       database and dashboard stay readable and byte-identical to the previous version ``v0``.
    2. Two runs started at the same moment (``--wait``): one writes (and finds the dead runs: no
       manual cleanup), the other waits for the lock and writes after it; both complete.
    3. All along, a reader opening the file afresh in a loop and an analyst holding it open since
       before the first run see zero errors, and every read sees one whole version: the
       ``publish_metadata`` run id is a run stored in the same file's ``pipeline_runs`` as
       ``published``, with the same observations; the versions follow ``v0``, then the two runs.
    4. Afterwards the marts equal the clean run's, with no duplicated raw rows; both killed runs are
       ``crashed`` in the history, in Dagster and in a failure report saying what is still published."""
    wh = clone(warehouse, tmp_path / "wh")
    v0 = published_run_id(wh)
    v0_rows, v0_num = wh.query("SELECT count(*) AS n, round(sum(numerator), 6) AS s FROM kpi_observations").iloc[0]
    db_before, dash_before = file_digest(wh.analytics), file_digest(wh.dashboard / "index.html")
    clean_marts, clean_raw = marts(wh), raw_counts(wh)
    stop = tmp_path / "stop"
    readers = [
        subprocess.Popen([sys.executable, "-c", code, str(wh.analytics), str(tmp_path / name), str(stop)])
        for code, name in [(FRESH_READER, "fresh.jsonl"), (HOLDING_READER, "holding.jsonl")]
    ]
    try:
        time.sleep(2)
        # 1. two runs killed half-way
        killed = []
        for point in ("dbt:building", "publish:before-replace"):
            touch_plan_workbook(wh)  # the inputs are those of v0: a night needs something new to do (issue 20.2)
            proc, out, _ = start_run(wh, name=point.replace(":", "-"), env={"KPI_FAULT_HOLD": point})
            wait_for(wh.root / f".hold-{point.replace(':', '-')}", proc)
            if point == "publish:before-replace":
                assert list(wh.root.glob(".analytics.duckdb.*.tmp")), "the new file is built, not yet swapped in"
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
            killed.append(run_id_of(out.read_text()))
            assert file_digest(wh.analytics) == db_before and published_run_id(wh) == v0
            assert file_digest(wh.dashboard / "index.html") == dash_before
            owner = read_owner(wh.root / "run.lock")
            assert owner["state"] == "running" and owner["run_id"] == killed[-1]

        # 2. two runs at once, both waiting for the lock if they must
        runs = [start_run(wh, "--wait", name=f"run{i}") for i in (1, 2)]
        codes = [p.wait(timeout=RUN_TIMEOUT) for p, _, _ in runs]
        time.sleep(1)
    finally:
        stop.touch()
        for r in readers:
            r.wait(timeout=60)
    outs = [o.read_text() for _, o, _ in runs]
    assert codes == [0, 0], [e.read_text()[-3000:] for _, _, e in runs]
    waited = ["Waiting for the run in progress to finish" in o for o in outs]
    assert sorted(waited) == [False, True]  # exactly one of the two waited for the other
    first_out, second_out = outs[waited.index(False)], outs[waited.index(True)]
    first, second = run_id_of(first_out), run_id_of(second_out)
    # the first finds the dead runs and, as a run died holding the lock, does the whole job; the second then
    # finds its inputs as just published: nothing new (issue 20.2), recorded in the run history only
    assert "died without finishing" in first_out and "Whole job" not in second_out
    assert f"kpi run {second} (trigger manual): no new data." in second_out
    history = wh.query("SELECT run_id, status, started_at, finished_at FROM pipeline_runs").set_index("run_id")
    assert published_run_id(wh) == first and history.loc[first, "status"] == "published"
    assert second not in history.index
    lines = [json.loads(x) for x in (wh.root / "history" / "pipeline_runs.jsonl").read_text().splitlines()]
    (row,) = [x for x in lines if x["run_id"] == second]
    # it waited for the lock, so it ended after the first (its start is when it was launched, before waiting)
    assert row["status"] == "no_new_data" and row["finished_at"] >= max(x["finished_at"] for x in lines if x["run_id"] == first and x.get("finished_at"))

    # 3. the readers
    fresh = [json.loads(line) for line in (tmp_path / "fresh.jsonl").read_text().splitlines()]
    holding = [json.loads(line) for line in (tmp_path / "holding.jsonl").read_text().splitlines()]
    assert len(fresh) > 50 and len(holding) > 20
    assert [r for r in fresh + holding if "error" in r] == []
    for r in fresh:  # one consistent version per read
        assert r["status"] == "published" and r["latest"] == r["run_id"], r
        assert (r["rows"], r["num"]) == (v0_rows, v0_num), r
    seen = [r["run_id"] for r in fresh]
    order = [rid for i, rid in enumerate(seen) if i == 0 or seen[i - 1] != rid]
    assert order == [v0, first]
    assert {r["run_id"] for r in holding} == {v0} and {r["rows"] for r in holding} == {v0_rows}

    # 4. after the reruns: a clean state
    assert not list(wh.root.glob(".analytics.duckdb.*")) and not list(wh.root.glob(".hold-*"))
    after = marts(wh)
    for t, df in clean_marts.items():
        pd.testing.assert_frame_equal(after[t], df, check_dtype=False, obj=t)
    assert raw_counts(wh) == clean_raw
    assert [history.loc[k, "status"] for k in killed] == ["crashed", "crashed"]
    for k in killed:
        (report,) = (wh.root / "failures").glob(f"*_{k}.txt")
        assert "crashed" in report.read_text() and f"still the version of run {v0}" in report.read_text()
    instance = dagster_instance(wh)
    assert [instance.get_run_by_id(k).status for k in killed] == [dg.DagsterRunStatus.FAILURE] * 2
    assert read_owner(wh.root / "run.lock")["state"] == "released"

    # progress: concise stage lines on the console, Dagster's full log (DEBUG, dbt output) in the file
    assert "dbt: started" in first_out and "publish: analytics_database done" in first_out and "DEBUG" not in first_out
    assert len(first_out.splitlines()) < 120
    log = Path(header_line(first_out).split("full log: ")[1]).read_text()
    assert "DEBUG" in log and "STEP_SUCCESS" in log and "PIPELINE_SUCCESS" in log
    assert "START sql" in log and "START sql" not in first_out  # dbt's own output goes to the log only


# -- run history -------------------------------------------------------------------------------------------


def test_pipeline_runs_in_published_database(warehouse):
    """The session run's row, as published and as finished in the working database."""
    pub = warehouse.query("SELECT * FROM pipeline_runs ORDER BY started_at")
    run_id = published_run_id(warehouse)
    row = pub.set_index("run_id").loc[run_id]
    assert row.status == "published" and row.trigger == "manual" and row.sources == "all"
    assert pd.isna(row.finished_at) and pd.isna(row.failed_step)
    evaluations = dagster_instance(warehouse).all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    assert row.checks_failed == sum(not e.dagster_event.event_specific_data.passed for e in evaluations)
    assert len(evaluations) > 20  # raw checks, GX on the marts, dbt tests
    root = warehouse.root / "landing"
    files = [p for c in load_contracts().values() for p in landing_files(root / c.landing_dir)]  # per source
    # a plan workbook is audited once per sheet (plans/contract: plan, targets, milestones, sections)
    from daxing_kpi.plans.contract import LANDING_FOLDER, sheets

    files += [p for _ in sheets() for p in landing_files(root / LANDING_FOLDER)]
    with duckdb.connect(str(warehouse.root / "work" / "work.duckdb"), read_only=True) as con:
        audit = con.execute(
            "SELECT count(*), sum(rows_loaded), sum(rows_quarantined)"
            " FROM audit.ingest_audit WHERE run_id = ?", [run_id]
        ).fetchone()
    last = history_row(warehouse, run_id)  # the run history lives outside the working database (issue 19.5)
    final = (last["status"], last["finished_at"], last["duration_seconds"], last["dashboard_seconds"])
    assert row.files_loaded == audit[0] == len(files)  # the clean sample: every landing file loaded once
    assert (row.rows_loaded, row.rows_quarantined) == (audit[1], audit[2]) and row.rows_loaded > 10_000
    assert row.ingest_seconds > 0 and row.dbt_seconds > 0 and row.checks_seconds > 0 and row.publish_seconds >= 0
    assert row.dashboard_seconds == 0  # the dashboard is drawn after the publication
    # the run history has the finished row: success, with the dashboard's time
    assert final[0] == "success" and final[1] is not None and final[2] > row.dbt_seconds and final[3] > 0


# -- failure notice -------------------------------------------------------------------------------------------


# The failure notice of a failed quality gate (report, cause in one sentence, $KPI_ON_FAILURE_COMMAND): the
# town_street_missing case of tests/test_quality_gate.py, which runs that night anyway.


# -- the lock ------------------------------------------------------------------------------------------------


def test_lock_names_its_owner_and_recovers_from_a_dead_one(tmp_path):
    path = tmp_path / "run.lock"
    dead = subprocess.Popen(["true"])
    dead.wait()
    path.write_text(json.dumps({"state": "running", "pid": dead.pid, "host": os.uname().nodename,
                                "run_id": "dead-run", "started_at": "2026-01-01T02:00:00"}))
    lock = RunLock(path)
    stale = lock.acquire(run_id="r2", trigger="manual")
    assert stale["run_id"] == "dead-run" and stale["pid_alive"] is False
    owner = read_owner(path)
    assert (owner["state"], owner["pid"], owner["run_id"]) == ("running", os.getpid(), "r2")
    # a second process cannot take it, and is told who holds it
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; from daxing_kpi.runlock import RunLock, RunLockBusy\n"
         "try:\n RunLock(sys.argv[1]).acquire(grace=0.2)\nexcept RunLockBusy as e:\n print(e); sys.exit(5)", str(path)],
        capture_output=True, text=True,
    )
    assert probe.returncode == 5 and f"run r2 (pid {os.getpid()}" in probe.stdout
    lock.release()
    assert read_owner(path)["state"] == "released"
    assert RunLock(path).acquire(grace=0) is None  # a cleanly released lock is not stale


def test_stale_run_sensor_fails_runs_whose_process_died(tmp_path, monkeypatch):
    """A daemon-started run killed with kill -9 stays STARTED in Dagster and would block the
    one-run queue; the sweep marks it failed, records it as crashed and writes its report."""
    from daxing_kpi.defs.operations import stale_run_sensor

    monkeypatch.setenv("KPI_WAREHOUSE_DIR", str(tmp_path / "wh"))
    monkeypatch.setenv("KPI_DASHBOARD_DIR", str(tmp_path / "dash"))
    from dagster._core.test_utils import create_run_for_test

    with dg.instance_for_test() as instance:
        run = create_run_for_test(instance, job_name="refresh_kpis_job", run_id="0d0d0d0d-dead-4000-8000-000000000001",
                                  status=dg.DagsterRunStatus.STARTED)
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
        lock_path = tmp_path / "wh" / "run.lock"
        lock_path.parent.mkdir(parents=True)
        lock_path.write_text(json.dumps({"state": "running", "pid": 999999, "host": "gone", "run_id": run.run_id,
                                         "started_at": "2026-11-29T02:00:01", "trigger": "schedule"}))
        result = stale_run_sensor(dg.build_sensor_context(instance=instance))
        assert run.run_id in str(result)
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        (report,) = (tmp_path / "wh" / "failures").glob(f"*_{run.run_id}.txt")
        assert "stopped without finishing" in report.read_text()
        assert operations.read_run(run.run_id)["status"] == "crashed"
        assert read_owner(lock_path)["state"] == "released" and read_owner(lock_path)["run_id"] == run.run_id
        # nothing left to sweep on the next tick
        assert "no dead runs" in str(stale_run_sensor(dg.build_sensor_context(instance=instance)))
        # a run whose recorded process (tag kpi/pid) is gone is swept; one whose process lives
        # (for instance waiting for the lock) is not
        dead = subprocess.Popen(["true"])
        dead.wait()
        host = socket.gethostname()
        gone = create_run_for_test(instance, job_name="refresh_kpis_job", status=dg.DagsterRunStatus.STARTED,
                                   tags={"kpi/pid": str(dead.pid), "kpi/host": host, "dagster/schedule_name": "x"})
        alive = create_run_for_test(instance, job_name="refresh_kpis_job", status=dg.DagsterRunStatus.STARTED,
                                    tags={"kpi/pid": str(os.getpid()), "kpi/host": host})
        assert gone.run_id in str(stale_run_sensor(dg.build_sensor_context(instance=instance)))
        assert instance.get_run_by_id(gone.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED
        assert operations.read_run(gone.run_id)["trigger"] == "schedule"


# -- landing sensor -------------------------------------------------------------------------------------------


def _write(path: Path, text: str, age_seconds: float = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    t = time.time() - age_seconds
    os.utime(path, (t, t))
    os.utime(path.parent, (t, t))


def test_landing_sensor_interval_is_a_setting_with_a_safe_default(monkeypatch):
    from daxing_kpi.defs.operations import landing_files_sensor, sensor_interval_seconds

    assert landing_files_sensor.minimum_interval_seconds == sensor_interval_seconds()
    monkeypatch.delenv("KPI_SENSOR_INTERVAL_SECONDS", raising=False)
    assert sensor_interval_seconds() == 30
    for value, seconds in (("5", 5), ("0", 30), ("half a minute", 30), ("", 30)):  # a wrong value: the run's preflight names it
        monkeypatch.setenv("KPI_SENSOR_INTERVAL_SECONDS", value)
        assert sensor_interval_seconds() == seconds, value


def test_landing_sensor_requests_one_run_per_burst_of_files(tmp_path, monkeypatch):
    from daxing_kpi.definitions import defs
    from daxing_kpi.defs.operations import landing_files_sensor

    monkeypatch.setenv("KPI_WAREHOUSE_DIR", str(tmp_path))
    monkeypatch.setenv("KPI_SENSOR_QUIET_SECONDS", "60")
    landing = tmp_path / "landing"
    _write(landing / "burials" / "burials_2026-09.csv", "a\n1\n", age_seconds=3600)
    _write(landing / "volunteers" / "volunteers_2026-09.csv", "a\n1\n", age_seconds=3600)

    def evaluate(cursor):
        return landing_files_sensor(dg.build_sensor_context(cursor=cursor, definitions=defs))

    first = evaluate(None)  # baseline: files already there are the nightly run's business
    assert first.run_requests == [] and first.skip_reason is not None
    cursor = first.cursor
    assert set(json.loads(cursor)["handled"]) == {"burials/burials_2026-09.csv", "volunteers/volunteers_2026-09.csv"}
    assert isinstance(evaluate(cursor), dg.SkipReason)

    # a new file arrives: the sensor waits until nothing has changed for 60 s ...
    _write(landing / "burials" / "burials_2026-10.csv", "a\n1\n")
    waiting = evaluate(cursor)
    assert isinstance(waiting, dg.SkipReason) and "waiting" in waiting.skip_message
    # ... then requests one run for it; nothing was ever published here, so the whole job (issue 20.2) ...
    _write(landing / "burials" / "burials_2026-10.csv", "a\n1\n", age_seconds=120)
    (request,) = evaluate(cursor).run_requests
    assert request.asset_selection is None and request.tags[nightplan.FULL_TAG] == "1"
    assert "published" in request.tags[nightplan.PLAN_TAG]  # why: the published database is missing (never made)
    # ... and, once a publication holds every other source as it is now, the source and everything downstream
    published_but = {"roots": ["raw/funeral_burials"]}
    monkeypatch.setattr(nightplan, "plan_night", lambda *a, **k: nightplan.NightPlan(
        full=False, why="changed since the last publication", roots=list(published_but["roots"])))
    result = evaluate(cursor)
    (request,) = result.run_requests
    keys = {k.to_user_string() for k in request.asset_selection}
    assert {"raw/funeral_burials", "staging/stg_funeral__burials", "marts/kpi_observations",
            "analytics_database", "kpi_dashboard"} <= keys
    assert "raw/volunteer_volunteers" not in keys and "landing_files" not in keys
    check_assets = {ck.asset_key.to_user_string() for ck in request.asset_check_keys}
    assert "raw/funeral_burials" in check_assets and "raw/volunteer_volunteers" not in check_assets
    assert request.tags["trigger"] == "sensor" and request.tags["kpi/sources"] == "funeral_burials"
    assert operations.trigger_of(request.tags) == "sensor"
    cursor = result.cursor
    assert isinstance(evaluate(cursor), dg.SkipReason)  # handled: no second run for the same file

    # a burst of three files in two folders (one changed, two new): one run for both sources
    published_but["roots"] = ["raw/funeral_burials", "raw/volunteer_volunteers"]
    _write(landing / "burials" / "burials_2026-10.csv", "a\n1\n2\n", age_seconds=90)
    _write(landing / "volunteers" / "volunteers_2026-10.csv", "a\n1\n", age_seconds=90)
    _write(landing / "volunteers" / "volunteers_2026-10b.csv", "a\n1\n", age_seconds=80)
    _write(landing / "volunteers" / ".partial_upload.csv", "a\n", age_seconds=85)  # hidden: ignored
    (request,) = evaluate(cursor).run_requests
    assert request.tags["kpi/sources"] == "funeral_burials,volunteer_volunteers" and request.tags["kpi/files"] == "3"
    keys = {k.to_user_string() for k in request.asset_selection}
    assert {"raw/funeral_burials", "raw/volunteer_volunteers"} <= keys


# -- service configuration and atomic dashboard --------------------------------------------------------------


def test_dagster_yaml_runs_one_at_a_time_on_sqlite_under_the_warehouse(tmp_path, monkeypatch):
    """`kpi dagster-home` (the services' ExecStartPre) installs the project's instance settings."""
    env = {**os.environ, "KPI_WAREHOUSE_DIR": str(tmp_path / "warehouse")}
    out = subprocess.run([sys.executable, "-m", "daxing_kpi.cli", "dagster-home"], env=env, capture_output=True, text=True)
    home = tmp_path / "warehouse" / "dagster_home"
    assert out.returncode == 0 and out.stdout.strip() == str(home)
    assert (home / "dagster.yaml").read_text() == (PACKAGE_DIR / "dagster.yaml").read_text()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    cfg = yaml.safe_load((PACKAGE_DIR / "dagster.yaml").read_text())
    assert cfg["telemetry"]["enabled"] is False
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
        assert isinstance(instance.run_storage, SqliteRunStorage)  # Dagster's, its connections kept (daxing_kpi.dagster_storage)
        instance.get_runs()
    assert (home / "history" / "runs.db").exists()
    from daxing_kpi.definitions import defs

    assert defs.resolve_sensor_def("landing_files_sensor").default_status == dg.DefaultSensorStatus.RUNNING
    assert defs.resolve_schedule_def("refresh_kpis_job_schedule").execution_timezone == "Asia/Shanghai"


def test_dashboard_folder_is_switched_atomically(warehouse, tmp_path):
    """The dashboard folder is a link switched by one rename to a complete version folder;
    a page already open keeps its files; two versions are kept; leftovers are removed."""
    out = tmp_path / "dashboards" / "build"
    out.mkdir(parents=True)
    (out / "old.html").write_text("before versioning")  # the plain-folder layout is migrated
    first = build_dashboard(warehouse.analytics, out)
    assert first == out / "index.html" and out.is_symlink()
    v1 = atomic.current_version(out)
    assert published_run_id(warehouse) in v1.name and (v1 / "index.html").exists()
    held = open(first, encoding="utf-8")  # a browser reading the page while the next one is published
    (atomic.versions_dir(out) / "x.staging").mkdir()  # left by a killed build
    build_dashboard(warehouse.analytics, out)
    v2 = atomic.current_version(out)
    assert v2 != v1 and v1.exists() and not (atomic.versions_dir(out) / "x.staging").exists()
    assert "<!DOCTYPE html>" in held.read(100)
    held.close()
    build_dashboard(warehouse.analytics, out)
    versions = sorted(p.name for p in atomic.versions_dir(out).iterdir())
    assert len(versions) == 2 and atomic.current_version(out).name == versions[-1] and v2.name in versions
    assert (out / "index.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_failure_report_for_a_crash_names_the_stage_and_the_published_version(warehouse, tmp_path, monkeypatch):
    wh = clone(warehouse, tmp_path / "wh")
    monkeypatch.setenv("KPI_WAREHOUSE_DIR", str(wh.root))
    monkeypatch.setenv("KPI_DASHBOARD_DIR", str(wh.dashboard))
    monkeypatch.delenv("KPI_ON_FAILURE_COMMAND", raising=False)
    v0 = published_run_id(wh)
    report = operations.handle_crashed_run({"run_id": "r-crash", "pid": 4242, "host": "srv", "trigger": "schedule",
                                            "started_at": "2026-11-29T02:00:00"})
    text = report.read_text()
    assert report.name == "20261129-020000_r-crash.txt"
    assert "pid 4242 on srv" in text and f"still the version of run {v0}" in text
    assert f"shows run {v0} (same version as the database)" in text
    assert operations.read_run("r-crash")["status"] == "crashed"


@pytest.mark.parametrize("step,stage", [("landing_files", "ingest"), ("raw__funeral_burials", "ingest"),
                                        ("daxing_dbt_models", "dbt"), ("analytics_database", "publish"),
                                        ("kpi_dashboard", "dashboard")])
def test_stage_of_step(step, stage):
    assert operations.stage_of(step) == stage


def test_every_asset_check_step_is_in_the_checks_stage():
    from daxing_kpi.definitions import defs

    check_steps = [a.node_def.name for a in defs.resolve_asset_graph().assets_defs if a.check_keys and not a.keys]
    assert check_steps and {operations.stage_of(s) for s in check_steps} == {"checks"}


def test_run_guard_of_daemon_started_runs(tmp_path, monkeypatch):
    """Runs the daemon starts (not through `kpi run`) take the lock themselves: they wait for
    a holder and fail with a report when it stays; when free they record the run and release."""
    from daxing_kpi.defs.ingest import landing_files as landing_asset
    from daxing_kpi.defs.operations import RunGuard

    monkeypatch.setenv("KPI_WAREHOUSE_DIR", str(tmp_path / "wh"))
    monkeypatch.setenv("KPI_DASHBOARD_DIR", str(tmp_path / "dash"))
    monkeypatch.setenv("KPI_SAMPLE_ON_EMPTY", "0")
    monkeypatch.setenv("KPI_PII_KEY", TEST_PII_KEY)  # no sample: the run needs the person-key secret (issue 19.2)
    monkeypatch.delenv("KPI_ON_FAILURE_COMMAND", raising=False)
    lock_path = tmp_path / "wh" / "run.lock"
    lock_path.parent.mkdir(parents=True)
    holder = subprocess.Popen([  # a `kpi run` in another process
        sys.executable, "-c", "import sys, time; from daxing_kpi.runlock import RunLock\n"
        "RunLock(sys.argv[1]).acquire(run_id='nightly-in-progress'); time.sleep(120)", str(lock_path)])
    deadline = time.monotonic() + 30
    while (read_owner(lock_path) or {}).get("run_id") != "nightly-in-progress":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    with dg.instance_for_test() as instance:
        try:
            blocked = dg.materialize([landing_asset], instance=instance, resources={"run_guard": RunGuard(wait_seconds=1)},
                                     tags={"dagster/schedule_name": "refresh_kpis_job_schedule"}, raise_on_error=False)
        finally:
            holder.kill()
            holder.wait()
        assert not blocked.success
        (report,) = (tmp_path / "wh" / "failures").glob(f"*_{blocked.run_id}.txt")
        assert "could not start: the warehouse stayed locked" in report.read_text()
        assert "run nightly-in-progress" in report.read_text()

        result = dg.materialize([landing_asset], instance=instance, resources={"run_guard": RunGuard()},
                                tags={"dagster/schedule_name": "refresh_kpis_job_schedule"})
        assert result.success
        owner = read_owner(lock_path)
        assert (owner["state"], owner["run_id"], owner["trigger"], owner["pid"]) == ("released", result.run_id, "schedule", os.getpid())
        row = operations.read_run(result.run_id)
        assert (row["status"], row["trigger"], row["sources"]) == ("success", "schedule", "all")
        assert row["finished_at"] >= row["started_at"] and row["ingest_seconds"] > 0
        assert instance.get_run_by_id(result.run_id).tags["kpi/pid"] == str(os.getpid())
        # the holder was killed holding the lock: the run that took it over recorded the crash
        assert operations.read_run("nightly-in-progress")["status"] == "crashed"
        assert list((tmp_path / "wh" / "failures").glob("*_nightly-in-progress.txt"))
