"""Runs that are safe unattended (issue 19.2, 19.4, 19.5, 19.7): the person-key policy, the
configuration checked first with a report naming the setting, the working and published databases
healed by the next run, and the database and dashboard published as one step.

Runs are real ``kpi run`` processes on copies of the session warehouse (``conftest.warehouse``);
damage is done to real files (truncation, garbage over the header) and kills are real ``kill -9``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import TEST_PII_KEY, Warehouse, clone_warehouse, make_warehouse, touch_plan_workbook

from daxing_kpi import atomic, personkey, preflight
from daxing_kpi.warehouse import PUBLISHED_MARTS

RUN_TIMEOUT = 900


def clone(src: Warehouse, base: Path, drop: tuple[str, ...] = (), **extra_env) -> Warehouse:
    """A copy of a warehouse (landing, work DB, published DB, dashboard, Dagster home, history)."""
    wh = clone_warehouse(src, base, **extra_env)
    for name in drop:
        wh.env.pop(name, None)
    return wh


def published_run_id(wh: Warehouse) -> str:
    return wh.query("SELECT run_id FROM publish_metadata").run_id.item()


def run_id_of(stdout: str) -> str:
    (line,) = [x for x in stdout.splitlines() if x.startswith("kpi run ")]
    return line.split()[2]


def dashboard_run_id(wh: Warehouse) -> str:
    return atomic.current_version(wh.dashboard).name.split("_", 1)[1]


def history(wh: Warehouse) -> dict[str, dict]:
    """The run history file, last line per run."""
    runs = {}
    for line in (wh.root / "history" / "pipeline_runs.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        runs[row["run_id"]] = row
    return runs


def marts(wh: Warehouse) -> dict[str, pd.DataFrame]:
    out = {}
    for t in PUBLISHED_MARTS:
        if t == "ingest_audit":  # run ids and load times
            continue
        df = wh.query(f'SELECT * FROM "{t}"')
        out[t] = df.sort_values(list(df.columns)).reset_index(drop=True)
    return out


def single_report(folder: Path, run_id: str) -> str:
    (report,) = folder.glob(f"*_{run_id}.txt")
    return report.read_text(encoding="utf-8")


def cause_line(report: str) -> str:
    (line,) = [x for x in report.splitlines() if x.startswith("Cause:")]
    return line.removeprefix("Cause:").strip()


# -- the person-key policy (19.2) --------------------------------------------------------------------------


def test_key_settings_are_checked(tmp_path, monkeypatch):
    monkeypatch.delenv("KPI_PII_KEY", raising=False)
    monkeypatch.delenv("KPI_PII_KEY_FILE", raising=False)
    landing = tmp_path / "landing"
    landing.mkdir()
    real = landing / "volunteers" / "volunteers_2026.csv"
    real.parent.mkdir()
    real.write_text("姓名,身份证号码\n张三,110115199001011234\n", encoding="utf-8")
    with pytest.raises(personkey.PiiKeyError, match="no person-key secret is set") as e:
        personkey.run_key_policy(landing, sample_on_empty=True)
    assert e.value.setting == "KPI_PII_KEY"
    for value, words in (("", "is set but its value is empty"), ("x" * 31, "is 31 bytes, fewer than the 32 required")):
        monkeypatch.setenv("KPI_PII_KEY", value)
        with pytest.raises(personkey.PiiKeyError, match=words):
            personkey.pii_key()  # ingestion never hashes with an empty or short key either
    monkeypatch.setenv("KPI_PII_KEY", "k" * 32)
    assert personkey.pii_key() == b"k" * 32 and personkey.run_key_policy(landing, True).source == "KPI_PII_KEY"
    key_file = tmp_path / "key"
    key_file.write_bytes(b"s" * 40 + b"\n")
    monkeypatch.setenv("KPI_PII_KEY_FILE", str(key_file))
    with pytest.raises(personkey.PiiKeyError, match="both KPI_PII_KEY and KPI_PII_KEY_FILE are set"):
        personkey.pii_key()
    monkeypatch.delenv("KPI_PII_KEY")
    key_file.chmod(0o644)
    with pytest.raises(personkey.PiiKeyError, match=r"can be read by other users \(mode 644\): run `chmod 600") as e:
        personkey.pii_key()
    assert e.value.setting == "KPI_PII_KEY_FILE"
    key_file.chmod(0o600)
    assert personkey.pii_key() == b"s" * 40  # the trailing newline is not part of the key
    os.chown(key_file, 65534, 65534)  # nobody's file: the product's user must own its key
    with pytest.raises(personkey.PiiKeyError, match="belongs to user id 65534"):
        personkey.pii_key()
    monkeypatch.setenv("KPI_PII_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(personkey.PiiKeyError, match="cannot be read"):
        personkey.pii_key()


def test_the_bundled_sample_is_recognised_by_its_files(tmp_path, monkeypatch):
    monkeypatch.delenv("KPI_PII_KEY", raising=False)
    monkeypatch.delenv("KPI_PII_KEY_FILE", raising=False)
    from daxing_kpi.sample.generator import generate

    landing = tmp_path / "landing"
    assert personkey.run_key_policy(landing, sample_on_empty=True).is_development  # empty: the run generates the sample
    with pytest.raises(personkey.PiiKeyError):
        personkey.run_key_policy(landing, sample_on_empty=False)  # empty and no sample: nothing to allow it
    generate(tmp_path, scale=0.01)
    with pytest.raises(personkey.PiiKeyError, match="not the bundled sample"):
        personkey.run_key_policy(landing, True)  # generated files, but not by a run: no marker
    personkey.mark_bundled_sample(landing, "test")
    assert personkey.run_key_policy(landing, True).is_development
    csv = next((landing / "burials").glob("*.csv"))
    original = csv.read_bytes()
    csv.write_bytes(original.replace(b"\n", b"\r\n", 1))  # one changed byte sequence
    with pytest.raises(personkey.PiiKeyError, match=rf"burials/{csv.name} \(changed\)"):
        personkey.run_key_policy(landing, True)
    csv.write_bytes(original)
    (landing / "burials" / "burials_real.csv").write_bytes(original)
    with pytest.raises(personkey.PiiKeyError, match=r"burials_real.csv \(added\)"):
        personkey.run_key_policy(landing, True)
    (landing / "burials" / "burials_real.csv").unlink()
    csv.unlink()
    with pytest.raises(personkey.PiiKeyError, match=r"\(removed\)"):
        personkey.run_key_policy(landing, True)


def test_personal_data_folders_are_owner_only(warehouse, tmp_path, monkeypatch):
    for name in preflight.PERSONAL_DATA_DIRS:
        assert stat.S_IMODE((warehouse.root / name).stat().st_mode) == 0o700, name
    assert stat.S_IMODE(warehouse.analytics.stat().st_mode) & 0o044  # the published file stays readable by analysts
    monkeypatch.setenv("KPI_WAREHOUSE_DIR", str(tmp_path / "new"))
    monkeypatch.setenv("KPI_PII_KEY", TEST_PII_KEY)
    monkeypatch.delenv("KPI_DUCKDB_TEMP_DIR", raising=False)
    monkeypatch.delenv("KPI_RAW_PARQUET_DIR", raising=False)
    preflight.validate()
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "new").iterdir()}
    assert {n: modes[n] for n in preflight.PERSONAL_DATA_DIRS} == dict.fromkeys(preflight.PERSONAL_DATA_DIRS, 0o700)


def test_real_files_without_a_key_are_refused_before_the_run_starts(warehouse, tmp_path):
    notified = tmp_path / "notified.txt"
    wh = clone(warehouse, tmp_path / "wh", drop=("KPI_PII_KEY",), KPI_ON_FAILURE_COMMAND=f'cp "$1" {notified}')
    personkey.mark_bundled_sample(wh.root / "landing", "test")  # as the product marks the sample it generates
    before = wh.analytics.read_bytes()
    src = next((wh.root / "landing" / "volunteers").glob("*.csv"))
    shutil.copyfile(src, src.with_name("volunteers_from_the_department.csv"))
    proc = wh.run("run", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "RUN NOT STARTED: no person-key secret is set (KPI_PII_KEY or KPI_PII_KEY_FILE)" in proc.stderr
    run_id = run_id_from_report_line(proc.stderr, wh.root / "failures")
    report = single_report(wh.root / "failures", run_id)
    assert "volunteers_from_the_department.csv (added)" in cause_line(report)
    assert "Failed:    could not start: configuration (KPI_PII_KEY)" in report
    assert notified.read_text(encoding="utf-8") == report
    row = history(wh)[run_id]
    assert (row["status"], row["failed_step"]) == ("failed", "start") and "no person-key secret" in row["error"]
    assert wh.analytics.read_bytes() == before  # nothing was loaded, nothing published


def run_id_from_report_line(stderr: str, folder: Path) -> str:
    (line,) = [x for x in stderr.splitlines() if x.startswith("Report: ")]
    path = Path(line.removeprefix("Report: "))
    assert path.parent == folder, path
    return path.stem.split("_", 1)[1]


# -- configuration checked first (19.4) ---------------------------------------------------------------------


@pytest.mark.parametrize("setting,value,words", [
    ("KPI_MEMORY_LIMIT", "lots", "KPI_MEMORY_LIMIT='lots' is not a memory size: write for example 4GB"),
    ("KPI_MEMORY_LIMIT", "1MB", "KPI_MEMORY_LIMIT='1MB' (1.0 MiB) is below the 256 MB a run needs"),  # 10^6 bytes
    ("KPI_DUCKDB_MEMORY_LIMIT", "2 lots", "KPI_DUCKDB_MEMORY_LIMIT='2 lots' is not a memory size"),  # the former name
    ("KPI_RETENTION_RUNS", "0", "KPI_RETENTION_RUNS='0' is below its minimum 1"),
    ("KPI_RETENTION_DAYS", "a month", "KPI_RETENTION_DAYS='a month' is not a whole number"),
    ("KPI_SENSOR_INTERVAL_SECONDS", "half a minute", "KPI_SENSOR_INTERVAL_SECONDS='half a minute' is not a whole number"),
    ("KPI_PII_KEY", "short", "KPI_PII_KEY: the person-key secret in its value is 5 bytes, fewer than the 32 required"),
    ("KPI_WAREHOUSE_DIR", "FILE", "KPI_WAREHOUSE_DIR: the warehouse folder {value} is a file, not a folder"),
    ("KPI_WAREHOUSE_DIR", "WORK_IS_A_FILE", "KPI_WAREHOUSE_DIR: the folder {value}/work is a file, not a folder"),
    ("KPI_DUCKDB_TEMP_DIR", "UNDER_A_FILE", "KPI_DUCKDB_TEMP_DIR: the folder {value} cannot be created or written"),
])
def test_a_wrong_setting_stops_the_run_with_a_report_naming_it(tmp_path, setting, value, words):
    base = tmp_path / "base"
    wh = make_warehouse(base, XDG_STATE_HOME=str(tmp_path / "state"))
    wh.root.mkdir(parents=True)
    fallback = False
    if value == "FILE":
        value = str(tmp_path / "a_file")
        Path(value).write_text("not a folder")
        fallback = True  # the warehouse cannot hold the report
    elif value == "WORK_IS_A_FILE":
        (wh.root / "work").write_text("not a folder")
        value = str(wh.root)
    elif value == "UNDER_A_FILE":
        (tmp_path / "a_file").write_text("x")
        value = str(tmp_path / "a_file" / "spill")
    wh.env[setting] = value
    proc = wh.run("run", check=False)
    expected = words.format(value=value)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"RUN NOT STARTED: {expected}" in proc.stderr
    folder = tmp_path / "state" / "daxing-kpi" / "failures" if fallback else wh.root / "failures"
    run_id = run_id_from_report_line(proc.stderr, folder)
    report = single_report(folder, run_id)
    assert cause_line(report).startswith(expected) and setting.split("(")[0] in report.split("Failed:")[1].splitlines()[0]
    assert not (wh.root / "dagster_home" / "history").exists()  # Dagster was never started


def test_the_daemons_dagster_home_is_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("KPI_WAREHOUSE_DIR", str(tmp_path / "wh"))
    monkeypatch.setenv("KPI_PII_KEY", TEST_PII_KEY)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "nowhere"))
    with pytest.raises(preflight.ConfigError, match=r"DAGSTER_HOME=.*nowhere is not an existing folder: run `kpi dagster-home`"):
        preflight.validate()
    (tmp_path / "nowhere").mkdir()
    with pytest.raises(preflight.ConfigError, match="holds no dagster.yaml"):
        preflight.validate()


# -- self-healing (19.5) and the development key of the sample (19.2) ---------------------------------------


def test_damaged_databases_are_rebuilt_and_replaced_and_the_run_says_so(warehouse, tmp_path):
    """The working database overwritten at its header and the published one truncated: the next run
    (on the bundled sample, without a key: the development key) moves the working database aside, rebuilds
    it from the landing files with the same results, keeps the run history, replaces the published file, and
    says all of it in its output and in ``pipeline_runs.notes``. (A rotated key, the other reason a working
    database is moved aside: ``tests/test_night.py``, the full rebuild.)"""
    wh = clone(warehouse, tmp_path / "wh", drop=("KPI_PII_KEY",))
    personkey.mark_bundled_sample(wh.root / "landing", "test")  # as the product marks the sample it generates
    v0 = published_run_id(wh)
    clean = marts(wh)
    # every run so far, from the run history: the published table has them up to its own run; nights with
    # nothing new (status no_new_data) join it at the next publication
    runs_before = set(history(wh))
    assert set(wh.query("SELECT run_id FROM pipeline_runs").run_id) <= runs_before
    work = wh.root / "work" / "work.duckdb"
    with open(work, "r+b") as fh:
        fh.write(os.urandom(16384))
    with open(wh.analytics, "r+b") as fh:
        fh.truncate(wh.analytics.stat().st_size // 3)
    status = wh.run("status", check=False)
    assert status.returncode == 4 and "is damaged and cannot be read" in status.stderr and "{" not in status.stderr

    proc = wh.run("run", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    run_id = run_id_of(proc.stdout)
    assert "Person keys: the bundled sample's DEVELOPMENT key is used" in proc.stdout
    assert f"The working database {work} was damaged (" in out and "this run rebuilds it from the landing files" in out
    assert f"The published database {wh.analytics} is damaged" in out and "which replaces it" in out
    assert "The person-key secret changed" not in out  # the damaged database was already moved aside
    (moved,) = (wh.root / "work" / "damaged").glob("work-*-damaged.duckdb")
    assert moved.stat().st_size > 0
    # the rebuilt warehouse publishes the same figures, and the history survived
    assert published_run_id(wh) == run_id and dashboard_run_id(wh) == run_id
    after = marts(wh)
    for t, df in clean.items():
        pd.testing.assert_frame_equal(after[t], df, check_dtype=False, obj=t)
    pub = wh.query("SELECT run_id, status, notes FROM pipeline_runs").set_index("run_id")
    assert runs_before | {run_id} == set(pub.index) and v0 in pub.index
    assert "was damaged" in pub.loc[run_id, "notes"] and "published database" in pub.loc[run_id, "notes"]
    assert wh.run("status").returncode == 0


# -- the database and the dashboard published as one step (19.7) --------------------------------------------


def test_kill_between_the_two_switches_is_completed_and_reported_exactly(warehouse, tmp_path):
    wh = clone(warehouse, tmp_path / "wh")
    v0 = published_run_id(wh)
    out, err = tmp_path / "killed.out", tmp_path / "killed.err"
    touch_plan_workbook(wh)  # the inputs are v0's: a night needs something new to do (issue 20.2)
    proc = subprocess.Popen([sys.executable, "-m", "daxing_kpi.cli", "run"], env={**wh.env, "KPI_FAULT_HOLD": "publish:between-switches"},
                            stdout=open(out, "w"), stderr=open(err, "w"), start_new_session=True)
    marker = wh.root / ".hold-publish-between-switches"
    deadline = time.monotonic() + RUN_TIMEOUT
    while not marker.exists():
        assert proc.poll() is None, err.read_text()[-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    killed = run_id_of(out.read_text())
    # the moment of the kill: the dashboard is the killed run's, the database still v0, the journal says so
    assert dashboard_run_id(wh) == killed and published_run_id(wh) == v0
    journal = json.loads((wh.root / ".publication.json").read_text())
    assert journal["run_id"] == killed and Path(journal["staged_db"]).exists()

    nxt = wh.run("run")
    assert "died without finishing" in nxt.stdout
    report = single_report(wh.root / "failures", killed)
    assert "killed between the two switches of its publication" in report
    assert f"the dashboard already showed run {killed} while the database still held the previous version" in report
    assert f"Database  {wh.analytics}: CHANGED, published by THIS run" in report
    assert f"Dashboard {wh.dashboard / 'index.html'}: CHANGED, shows THIS run." in report
    assert "discarded" not in report and "different runs" not in report
    assert history(wh)[killed]["status"] == "crashed"
    # the next run published both, together
    new = run_id_of(nxt.stdout)
    assert published_run_id(wh) == dashboard_run_id(wh) == new
    assert not (wh.root / ".publication.json").exists() and not list(wh.root.glob(".analytics.duckdb.*.tmp"))


def test_a_run_that_ended_before_the_run_guard_is_reported_by_the_sweep(tmp_path, monkeypatch):
    """A daemon run whose process exits while loading the code (as pyspark's exit did) never reaches
    the run guard; the sweep of dead runs writes its report, history row and notification."""
    import dagster as dg
    from dagster._core.test_utils import create_run_for_test

    from daxing_kpi.defs.operations import stale_run_sensor

    notified = tmp_path / "notified.txt"
    monkeypatch.setenv("KPI_WAREHOUSE_DIR", str(tmp_path / "wh"))
    monkeypatch.setenv("KPI_DASHBOARD_DIR", str(tmp_path / "dash"))
    monkeypatch.setenv("KPI_ON_FAILURE_COMMAND", f'cp "$1" {notified}')
    with dg.instance_for_test() as instance:
        run = create_run_for_test(instance, job_name="refresh_kpis_job", status=dg.DagsterRunStatus.STARTED,
                                  tags={"dagster/sensor_name": "landing_files_sensor"})
        instance.report_run_failed(run, message=f"Run execution process for {run.run_id} unexpectedly exited with code 0.")
        assert run.run_id in str(stale_run_sensor(dg.build_sensor_context(instance=instance)))
        report = single_report(tmp_path / "wh" / "failures", run.run_id)
        assert cause_line(report) == f"Run execution process for {run.run_id} unexpectedly exited with code 0."
        assert "Failed:    the run process ended before the run started" in report
        assert notified.read_text(encoding="utf-8") == report
        from daxing_kpi import operations

        row = operations.read_run(run.run_id)
        assert (row["status"], row["trigger"], row["failed_step"]) == ("failed", "sensor", "start")
        assert "no dead runs" in str(stale_run_sensor(dg.build_sensor_context(instance=instance)))  # reported once
