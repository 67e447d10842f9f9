"""Shared fixtures: one real run of the nightly Dagster job on a small generated sample.

The job runs in a subprocess through the product's command (``kpi run``), exactly as the
the README's Quick start command does, with the warehouse and dashboard in temporary folders.
"""

from __future__ import annotations

import os
import subprocess
import sys
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


def seed_landing(wh: Warehouse) -> None:
    """The generated sample (as the first run would write it) plus a filled explanations workbook
    (``report_sample``), so the one run of the session publishes planners' explanations (issue 17.5)."""
    from report_sample import write_filled_workbook

    from daxing_kpi.sample.generator import generate

    generate(wh.root, scale=float(wh.env["KPI_SAMPLE_SCALE"]))
    write_filled_workbook(wh.root / "landing")


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory) -> Warehouse:
    """A warehouse built once per test session by one real run of the nightly job."""
    wh = make_warehouse(tmp_path_factory.mktemp("e2e"))
    seed_landing(wh)
    proc = wh.run("run")
    wh.first_run_output = proc.stdout + proc.stderr
    return wh
