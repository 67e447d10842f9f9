"""Runs the Dagster daemon starts (issue 19.3): the real ``dagster-daemon`` on a copy of the session
warehouse, in this install (the ``--test`` install, with the Spark extra, as CI installs it), lets the
landing sensor launch runs in the code server's run processes, and checks their outcome: a run that
succeeds publishes and records ``success``; a run that fails writes the same failure report,
``pipeline_runs`` row and notification as ``kpi run``.

Before the fix, Great Expectations imported pyspark in the spawned run process, pyspark took the bare
``__main__`` of a spawned process for doctests and called ``sys.exit(0)``: the run died silently
("Run execution process ... unexpectedly exited with code 0"). See :mod:`daxing_kpi.gxload`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster._core.scheduler.instigation import TickStatus
from conftest import Warehouse, clone_warehouse

DAEMON = Path(sys.executable).parent / "dagster-daemon"
TIMEOUT = 900


def instance_of(home: Path) -> dg.DagsterInstance:
    from dagster._core.instance.ref import InstanceRef

    saved = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    finally:
        if saved is None:
            del os.environ["DAGSTER_HOME"]
        else:
            os.environ["DAGSTER_HOME"] = saved


def sensor_ticks(instance: dg.DagsterInstance, name: str) -> list:
    for state in instance.all_instigator_state():
        if state.instigator_name == name:
            return instance.get_ticks(state.instigator_origin_id, state.selector_id)
    return []


def wait_until(predicate, what: str, daemon: subprocess.Popen, log: Path, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert daemon.poll() is None, f"the daemon stopped: {log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"timeout waiting for {what}: {log.read_text()[-3000:]}"
        time.sleep(2)


def sensor_runs(instance: dg.DagsterInstance) -> list:
    return instance.get_runs(dg.RunsFilter(tags={"dagster/sensor_name": "landing_files_sensor"}))


def finished_run(instance: dg.DagsterInstance, known: set[str]):
    for run in sensor_runs(instance):
        if run.run_id not in known and run.is_finished:
            return run
    return None


def history(wh: Warehouse) -> dict[str, dict]:
    rows = {}
    for line in (wh.root / "history" / "pipeline_runs.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        rows[row["run_id"]] = row
    return rows


def test_sensor_launched_runs_in_the_daemon_complete_or_fail_with_a_report(warehouse, tmp_path):
    assert importlib.util.find_spec("pyspark") is not None, "this test belongs to the install with the Spark extra (CI's)"
    notified = tmp_path / "notified.txt"
    wh = clone_warehouse(warehouse, tmp_path / "wh", KPI_SENSOR_QUIET_SECONDS="1", KPI_SENSOR_INTERVAL_SECONDS="2",
                         KPI_ON_FAILURE_COMMAND=f'cp "$1" {notified}')
    home = Path(wh.run("dagster-home").stdout.strip())
    v0 = wh.query("SELECT run_id FROM publish_metadata").run_id.item()
    log = tmp_path / "daemon.log"
    daemon = subprocess.Popen([str(DAEMON), "run", "-m", "daxing_kpi.definitions"], env={**wh.env, "DAGSTER_HOME": str(home)},
                              stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path)
    try:
        instance = instance_of(home)
        # 1. the sensor's first tick takes the landing folder as its baseline
        wait_until(lambda: any(t.status == TickStatus.SKIPPED for t in sensor_ticks(instance, "landing_files_sensor")),
                   "the landing sensor's baseline tick", daemon, log)
        # 2. a department re-sends the volunteers file: the sensor starts a run of that source and downstream
        (src,) = (wh.root / "landing" / "volunteers").glob("*.csv")
        src.write_bytes(src.read_bytes())
        os.utime(src, (time.time() - 5, time.time() - 5))
        ok = wait_until(lambda: finished_run(instance, set()), "the first sensor run", daemon, log)
        assert ok.status == dg.DagsterRunStatus.SUCCESS, _run_errors(instance, ok.run_id)
        assert ok.tags["kpi/sources"] == "volunteer_volunteers"
        row = history(wh)[ok.run_id]
        assert (row["trigger"], row["status"], row["sources"]) == ("sensor", "success", "volunteer_volunteers"), row
        assert row["finished_at"] and row["rows_loaded"] > 0
        published = wh.query("SELECT run_id FROM publish_metadata").run_id.item()
        assert published == ok.run_id != v0
        assert wh.query("SELECT status FROM pipeline_runs WHERE run_id = ?", [ok.run_id]).status.item() == "published"
        assert not list((wh.root / "failures").glob(f"*_{ok.run_id}.txt")) and not notified.exists()

        # 3. a burials delivery without one town/street arrives: the sensor's run fails its blocking check,
        #    with the report, the row and the notice
        (burials,) = (wh.root / "landing" / "burials").glob("*.csv")
        df = pd.read_csv(burials, dtype=str)
        df[df["户籍所在镇街"] != "礼贤镇"].to_csv(burials, index=False, encoding="utf-8")
        bad = wait_until(lambda: finished_run(instance, {ok.run_id}), "the second sensor run", daemon, log)
        assert bad.status == dg.DagsterRunStatus.FAILURE
        (report,) = (wh.root / "failures").glob(f"*_{bad.run_id}.txt")
        text = report.read_text(encoding="utf-8")
        assert f"Run:       {bad.run_id} (trigger sensor" in text
        assert "Failed:    stage checks, step raw__funeral_burials__landed_file_checks" in text
        (cause,) = [x for x in text.splitlines() if x.startswith("Cause:")]
        assert cause.endswith("raw/funeral_burials every_town_street_is_present_and_known.")
        assert f"Database  {wh.analytics}: unchanged, still the version of run {ok.run_id}" in text
        assert notified.read_text(encoding="utf-8") == text
        row = history(wh)[bad.run_id]
        assert (row["trigger"], row["status"], row["failed_step"]) == ("sensor", "failed", "raw__funeral_burials__landed_file_checks")
        assert wh.query("SELECT run_id FROM publish_metadata").run_id.item() == ok.run_id
        assert "unexpectedly exited" not in log.read_text()
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(timeout=30)


def _run_errors(instance: dg.DagsterInstance, run_id: str) -> str:
    return "\n".join(str(e.message)[:500] for e in instance.all_logs(run_id) if e.level >= 40)[-4000:]

