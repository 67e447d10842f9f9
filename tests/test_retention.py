"""Bounded storage (issue 19.6): nights in a row keep the warehouse's dbt run folders, Dagster's home and the logs
within what the retained runs take: ten nights with a retention of three runs (about six minutes: marked
``slow``, run with ``pytest -m slow tests/test_retention.py``) and, in the default run, two nights with a
retention of one (the second night prunes everything of the first, the first everything of the session
warehouse's night); items older than the retention in days go too; build outputs are ignored by git.

The nights run on a copy of the session's warehouse (issue 20.5: no warehouse of its own to build); before each
night the planners' workbook of the example plan is saved again (touched), so the night plan (issue 20.2) runs
the plan workbooks and what is downstream of them: a real Dagster run with its dbt step and publication each
night, at a fraction of a whole night's cost. A last night with nothing new leaves only its line in the run
history.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import dagster as dg
import pytest
from conftest import clone_warehouse, touch_plan_workbook

from daxing_kpi import retention
from daxing_kpi.paths import PROJECT_ROOT


def dbt_run_folders(root: Path) -> list[Path]:
    target = root / "dbt_runs"
    return [p for p in target.iterdir() if p.is_dir() and p.name.startswith(retention.DBT_STEP_PREFIX)] if target.exists() else []


def sizes(root: Path) -> dict[str, int]:
    run_folders = dbt_run_folders(root)
    return {
        "dbt run folders": sum(retention.tree_size(p) for p in run_folders),
        "dagster_home": retention.tree_size(root / "dagster_home"),
        "logs": retention.tree_size(root / "logs"),
        "history": retention.tree_size(root / "history"),
    }


@pytest.mark.parametrize("NIGHTS,KEEP", [pytest.param(10, 3, marks=pytest.mark.slow, id="ten_nights_keep_3"),
                                         pytest.param(2, 1, id="two_nights_keep_1")])
def test_nights_in_a_row_stay_within_the_retention(warehouse, tmp_path, NIGHTS, KEEP):  # noqa: N803 - the docstring's names
    # the session's night, kept by the default retention
    wh = clone_warehouse(warehouse, tmp_path / "wh", KPI_RETENTION_RUNS=str(KEEP), KPI_RETENTION_DAYS="30")
    earlier = {json.loads(x)["run_id"] for x in (wh.root / "history" / "pipeline_runs.jsonl").read_text().splitlines()}
    with _instance(wh) as instance:
        assert {r.run_id for r in instance.get_runs()} == earlier and dbt_run_folders(wh.root)
    largest_folder = largest_log = home_at_keep = 0
    seen = []
    for night in range(1, NIGHTS + 1):
        touch_plan_workbook(wh)
        proc = wh.run("run", "--trigger", "schedule")
        assert "Only what changed" in proc.stdout + proc.stderr, proc.stdout[-2000:]
        run_id = [x for x in proc.stdout.splitlines() if x.startswith("kpi run ")][0].split()[2]
        seen.append(run_id)
        folders = dbt_run_folders(wh.root)
        logs = list(wh.root.joinpath("logs").glob("*.log"))
        with _instance(wh) as instance:
            runs = {r.run_id for r in instance.get_runs()}
        # what is kept: the newest KEEP runs, this night's included
        assert len(folders) <= KEEP and any(p.name.startswith(f"{retention.DBT_STEP_PREFIX}{run_id[:7]}-") for p in folders)
        assert runs == set(seen[-KEEP:]), (night, runs)
        assert {p.name.split("_", 1)[1].removesuffix(".log") for p in logs} == set(seen[-KEEP:])
        now = sizes(wh.root)
        if night <= KEEP:  # what one run leaves, measured while nothing of this warehouse is pruned yet
            largest_folder = max([largest_folder] + [retention.tree_size(p) for p in folders if p.name.startswith(
                tuple(f"{retention.DBT_STEP_PREFIX}{r[:7]}-" for r in seen))])
            largest_log = max([largest_log] + [retention.tree_size(p) for p in logs])
            home_at_keep = now["dagster_home"]
        else:
            assert now["dbt run folders"] <= KEEP * largest_folder * 1.1, (night, now)
            assert now["dagster_home"] <= home_at_keep * 1.25, (night, now, home_at_keep)
            assert now["logs"] <= KEEP * largest_log * 1.25, (night, now)
    # a night with nothing new: no Dagster run, no dbt folder, no log; its line in the run history
    proc = wh.run("run", "--trigger", "schedule")
    assert "): no new data." in proc.stdout
    with _instance(wh) as instance:
        assert {r.run_id for r in instance.get_runs()} == set(seen[-KEEP:])
    assert {p.name for p in dbt_run_folders(wh.root)} == {p.name for p in folders}
    # the run history keeps every night, one line each, the session warehouse's too
    lines = [json.loads(x) for x in (wh.root / "history" / "pipeline_runs.jsonl").read_text().splitlines()]
    assert [x["status"] for x in lines][-1:] == ["no_new_data"]
    assert {x["run_id"] for x in lines} - earlier == set(seen) | {lines[-1]["run_id"]} and len(seen) == NIGHTS
    published = wh.query("SELECT run_id, trigger FROM pipeline_runs")
    assert set(published.run_id) == set(seen) | earlier
    assert set(published[published.run_id.isin(seen)].trigger) == {"schedule"}


def _instance(wh):
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


def test_files_older_than_the_retention_in_days_go(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    now = time.time()
    for i, age_days in enumerate([0, 1, 29, 31, 45]):
        p = folder / f"run{i}.log"
        p.write_text("x" * 100)
        os.utime(p, (now - age_days * 86400, now - age_days * 86400))
    result = retention.PruneResult()
    retention.prune_files(folder, "*.log", retention.Retention(days=30, runs=30), "run logs", result)
    assert sorted(p.name for p in folder.iterdir()) == ["run0.log", "run1.log", "run2.log"]
    assert result.removed == {"run logs": 2} and result.freed_bytes == 200
    retention.prune_files(folder, "*.log", retention.Retention(days=30, runs=2), "run logs", result)
    assert sorted(p.name for p in folder.iterdir()) == ["run0.log", "run1.log"]


def test_retention_settings_have_defaults(monkeypatch):
    monkeypatch.delenv("KPI_RETENTION_DAYS", raising=False)
    monkeypatch.delenv("KPI_RETENTION_RUNS", raising=False)
    assert retention.Retention.from_env() == retention.Retention(days=30, runs=30)
    monkeypatch.setenv("KPI_RETENTION_DAYS", "7")
    monkeypatch.setenv("KPI_RETENTION_RUNS", "10")
    assert retention.Retention.from_env() == retention.Retention(days=7, runs=10)


def test_build_outputs_are_ignored_by_git():
    for path in ("dashboards/.build.versions/20261201T020000000000_run/index.html", "dashboards/build",
                 "dashboards/.build.link-123", "dbt/target/docs_site/index.html", "dbt/target/unit_tests.passed", "warehouse/dbt_runs/daxing_dbt_models-abc-def/run_results.json", "warehouse/analytics.duckdb"):
        proc = subprocess.run(["git", "check-ignore", "-q", path], cwd=PROJECT_ROOT)
        assert proc.returncode == 0, f"{path} is not ignored by git"
