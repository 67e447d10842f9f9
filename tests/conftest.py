"""Shared fixtures: one real run of the nightly Dagster job on a small generated sample.

The job runs in a subprocess through the product's command (``kpi run``), exactly as the
the README's Quick start command does, with the warehouse and dashboard in temporary folders.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest

TEST_SCALE = "0.05"  # about 100,000 residents: every town/street has records, runs in seconds
# The person-key secret of test warehouses (issue 19.2: a run refuses landing files other than the
# bundled sample without one); tests of the development key of the sample remove it.
TEST_PII_KEY = "test-person-key-secret-0123456789abcdef"


@dataclass
class Warehouse:
    root: Path
    dashboard: Path
    env: dict

    @property
    def analytics(self) -> Path:
        return self.root / "analytics.duckdb"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``kpi <args>`` against this warehouse."""
        proc = subprocess.run(
            [sys.executable, "-m", "daxing_kpi.cli", *args], env=self.env, capture_output=True, text=True, timeout=900
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kpi {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
        return proc

    def query(self, sql: str, params=None) -> pd.DataFrame:
        with duckdb.connect(str(self.analytics), read_only=True) as con:
            return con.execute(sql, params or []).df()

    def ground_truth(self) -> pd.DataFrame:
        return pd.read_csv(self.root / "sample_truth" / "ground_truth.csv", dtype={"geo_code": str})


def make_warehouse(base: Path, scale: str = TEST_SCALE, **extra_env) -> Warehouse:
    root = base / "warehouse"
    dash = base / "dashboard"
    env = {**os.environ, "KPI_WAREHOUSE_DIR": str(root), "KPI_DASHBOARD_DIR": str(dash), "KPI_SAMPLE_SCALE": scale,
           "KPI_PII_KEY": TEST_PII_KEY, **extra_env}
    return Warehouse(root, dash, env)


def clone_warehouse(src: Warehouse, base: Path, **extra_env) -> Warehouse:
    """A copy of a warehouse folder at ``base`` (work DB, landing files with their times, published DB, dashboard,
    Dagster home, run history), with ``extra_env`` set: the nights a test runs change only the copy."""
    shutil.copytree(src.root.parent, base, symlinks=True)
    return make_warehouse(base, **extra_env)


def touch_plan_workbook(wh: Warehouse) -> Path:
    """Give the next night something to do, short of ``kpi run --full``: the example plan's workbook in
    ``landing/plans/`` saved again (a new modification time), so the night plan (issue 20.2) runs the plan
    workbooks and what is downstream of them, publication included. (``--full``, the full rebuild an operator
    asks for, also runs the dbt unit tests and rebuilds the docs site: a test that only needs a night pays
    for neither.) Returns the workbook's path."""
    (workbook,) = (wh.root / "landing" / "plans").glob("*.xlsx")
    now = time.time_ns()
    os.utime(workbook, ns=(now, now))
    return workbook


def seed_landing(wh: Warehouse) -> None:
    """The generated sample (as the first run would write it) plus a filled explanations workbook
    (``report_sample``), so the one run of the session publishes planners' explanations (issue 17.5)."""
    from report_sample import write_filled_workbook

    from daxing_kpi.sample.generator import generate

    generate(wh.root, scale=float(wh.env["KPI_SAMPLE_SCALE"]))
    write_filled_workbook(wh.root / "landing")


# -- the order the workers take the test files in ---------------------------------------------------------------
#
# The default run gives each of three workers whole test files (``--dist loadfile``) in collection order
# (``--no-loadscope-reorder``), a file to whichever worker is free next. The longest files go first, so that no
# long file is left alone at the end: first the files that build warehouses of their own (they run while the
# session warehouse is built in the background), then the long files on copies of the session warehouse, then
# every other file in its usual (alphabetical) order. Only the order changes: every file runs in full.
LONG_FILES = [
    # their own warehouses: no need of the session warehouse
    "test_spark_parity.py", "test_messy_input.py", "test_benchmarks.py",
    # nights on copies of the session warehouse
    "test_run_safety.py", "test_quality_gate.py", "test_operations.py", "test_night.py", "test_daemon.py", "test_retention.py",
    "test_bad_files_night.py", "test_plans.py", "test_dashboard_browser.py", "test_analyst_cli.py", "test_report.py",
]


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FILES)))  # stable: a file's tests keep their order


# -- the session's warehouse: built once per test session, in the background ---------------------------------
#
# One real ``kpi run`` on the generated sample is what most test files read (``warehouse``). With pytest-xdist
# each worker is its own session: the first worker to need it starts the night in a background process in the
# folder the workers share (the file-lock pattern of pytest-xdist's docs, "making session-scoped fixtures execute
# only once"), keeps running tests that need no warehouse meanwhile, and every worker then takes its own copy of
# the built folder (copying is cheap against a night): the tests that run more nights on the session warehouse
# (a second, unchanged night) change only their worker's copy, as when each worker built its own.

SHARED_BUILD = "shared_warehouse"  # under the folder the workers share: warehouse/, dashboard/, output.txt, returncode
BUILD_NOTES = {"build.log", "output.txt", "returncode", "returncode.tmp"}  # not part of the warehouse copied


def _shared_base(tmp_path_factory) -> Path:
    """The folder all workers of this test session share (the session's own base folder without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def build_shared_warehouse(base: Path) -> None:
    """The background build (``python conftest.py <base>``): seed, ``kpi run``, then its output and exit code
    (written last, atomically: the sign that the folder is complete, whatever happened)."""
    output, code = "", "error"
    try:
        wh = make_warehouse(base)
        seed_landing(wh)
        proc = wh.run("run", check=False)
        output, code = proc.stdout + proc.stderr, str(proc.returncode)
    except BaseException:
        import traceback

        output += traceback.format_exc()
        raise
    finally:
        (base / "output.txt").write_text(output, encoding="utf-8")
        (base / "returncode.tmp").write_text(code)
        os.replace(base / "returncode.tmp", base / "returncode")


def _needs_warehouse(items) -> bool:
    return any("warehouse" in item.fixturenames for item in items)


@pytest.fixture(scope="session", autouse=True)
def _shared_warehouse_build(request, tmp_path_factory):
    """Starts the session warehouse's night as the session starts (one worker does, under the lock) when a
    collected test needs it; the worker that started it waits for it at the end of its session."""
    from filelock import FileLock

    if not _needs_warehouse(request.session.items):
        yield None
        return
    shared = _shared_base(tmp_path_factory)
    build = shared / SHARED_BUILD
    proc = None
    with FileLock(str(shared / f"{SHARED_BUILD}.lock")):
        if not build.exists():
            build.mkdir()
            with open(build / "build.log", "w") as log:
                proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), str(build)], stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
    yield build
    if proc is not None:  # this worker started it: it does not leave it running
        try:
            proc.wait(timeout=1800)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


@pytest.fixture(scope="session")
def warehouse(_shared_warehouse_build, tmp_path_factory) -> Warehouse:
    """A warehouse built by one real run of the nightly job (``kpi run``), this worker's own copy of it.

    ``first_run_output`` is that run's output; ``built_at`` the warehouse the run was made in (the paths it
    printed)."""
    build = _shared_warehouse_build
    deadline = time.monotonic() + 1800
    while not (build / "returncode").exists():
        assert time.monotonic() < deadline, "the session warehouse was not built in 30 minutes"
        time.sleep(1)
    output = (build / "output.txt").read_text(encoding="utf-8")
    if (build / "returncode").read_text() != "0":
        log = (build / "build.log").read_text(encoding="utf-8", errors="replace")
        raise AssertionError(f"kpi run of the session warehouse failed:\n{output[-8000:]}\n{log[-4000:]}")
    base = tmp_path_factory.mktemp("e2e")
    shutil.copytree(build, base, symlinks=True, dirs_exist_ok=True, ignore=lambda d, names: BUILD_NOTES & set(names) if d == str(build) else [])
    wh = make_warehouse(base)
    wh.first_run_output = output
    wh.built_at = make_warehouse(build)
    return wh


if __name__ == "__main__":  # the background build of the session warehouse (see _shared_warehouse_build)
    build_shared_warehouse(Path(sys.argv[1]))
