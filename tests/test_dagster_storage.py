"""Dagster's SQLite run history with kept connections (``daxing_kpi/dagster_storage.py``, issue 20.3).

The storage the project's ``dagster.yaml`` configures must write the same files as Dagster's own
``storage: sqlite`` (an existing warehouse's history, the stock webserver), open a connection per file
rather than per event, and never keep a deleted run's file open."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from daxing_kpi import dagster_storage, paths

STOCK = "storage:\n  sqlite:\n    base_dir:\n      env: DAGSTER_HOME\n"


def _home(tmp_path: Path, name: str, stock: bool = False) -> Path:
    home = tmp_path / name
    home.mkdir()
    text = (paths.PACKAGE_DIR / "dagster.yaml").read_text(encoding="utf-8")
    if stock:
        text, n = re.subn(r"storage:\n  custom:.*?env: DAGSTER_HOME\n", STOCK, text, flags=re.S)
        assert n == 1
    (home / "dagster.yaml").write_text(text, encoding="utf-8")
    return home


@dg.op
def _noop():
    return None


@dg.job
def _job():
    _noop()


@pytest.fixture
def connections():
    """Every new SQLite connection opened through SQLAlchemy while the test runs (its file's name)."""
    opened: list[str] = []

    def count(dbapi_connection, _record):
        if isinstance(dbapi_connection, sqlite3.Connection):
            opened.append(Path(dbapi_connection.execute("PRAGMA database_list").fetchone()[2]).name)

    event.listen(Engine, "connect", count)
    yield opened
    event.remove(Engine, "connect", count)


def _store(instance: dg.DagsterInstance, n: int) -> dg.DagsterRun:
    run = instance.create_run_for_job(_job)
    for i in range(n):
        instance.report_engine_event(f"event {i}", run)
    return run


def test_the_projects_dagster_yaml_keeps_one_connection_per_file_instead_of_one_per_event(tmp_path, monkeypatch, connections):
    home = _home(tmp_path, "home")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.event_log_storage, dagster_storage.KeptConnectionsEventLogStorage)
        assert isinstance(instance.run_storage, dagster_storage.KeptConnectionsRunStorage)
        opened_before = len(connections)
        run = _store(instance, 200)
        assert [e.dagster_event.message for e in instance.all_logs(run.run_id)][-1] == "event 199"
        assert len(instance.all_logs(run.run_id)) == 200
        # 200 events (and the run's creation) through at most a few connections per file, not 200+
        new = connections[opened_before:]
        assert 1 <= new.count(f"{run.run_id}.db") <= 2, new
        assert len(new) <= 8, new
        with instance.event_log_storage.index_connection() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    # the files are where Dagster's storage: sqlite keeps them
    assert (home / "history" / "runs.db").exists()
    assert (home / "history" / "runs" / "index.db").exists()
    assert (home / "history" / "runs" / f"{run.run_id}.db").exists()


def test_dagsters_stock_sqlite_storage_and_the_kept_one_read_each_others_history(tmp_path, monkeypatch):
    home = _home(tmp_path, "home", stock=True)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.from_config(str(home)) as stock:  # an existing warehouse's history, written by Dagster itself
        assert type(stock.event_log_storage).__name__ == "SqliteEventLogStorage"
        old = _store(stock, 5)
    shutil.copyfile(paths.PACKAGE_DIR / "dagster.yaml", home / "dagster.yaml")  # the project's config, as `kpi run` copies it
    with dg.DagsterInstance.from_config(str(home)) as kept:
        assert isinstance(kept.event_log_storage, dagster_storage.KeptConnectionsEventLogStorage)
        assert [e.dagster_event.message for e in kept.all_logs(old.run_id)] == [f"event {i}" for i in range(5)]
        new = _store(kept, 7)
    (home / "dagster.yaml").write_text(_home(tmp_path, "stock2", stock=True).joinpath("dagster.yaml").read_text())
    with dg.DagsterInstance.from_config(str(home)) as stock:  # the stock webserver reads what the kept storage wrote
        assert {r.run_id for r in stock.get_runs()} == {old.run_id, new.run_id}
        assert len(stock.all_logs(new.run_id)) == 7


def test_a_deleted_run_is_not_kept_open_and_only_the_latest_run_files_are(tmp_path, monkeypatch):
    home = _home(tmp_path, "home")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        storage = instance.event_log_storage
        runs = [_store(instance, 2) for _ in range(dagster_storage.MAX_KEPT + 3)]
        kept = set(storage._engines) - {"index"}
        assert kept == {r.run_id for r in runs[-dagster_storage.MAX_KEPT:]}  # the oldest were closed
        gone = runs[-1]
        instance.delete_run(gone.run_id)
        assert gone.run_id not in storage._engines
        # retention then deletes the run's file; a later run stores its events as before
        (home / "history" / "runs" / f"{gone.run_id}.db").unlink()
        after = _store(instance, 3)
        assert len(instance.all_logs(after.run_id)) == 3
        assert {r.run_id for r in instance.get_runs()} == {r.run_id for r in runs[:-1]} | {after.run_id}
