"""Where the product reads and writes: one place for every path.

All output lands under the warehouse folder, ``$KPI_WAREHOUSE_DIR`` (default
``<repo>/warehouse``); the dashboard is written to ``$KPI_DASHBOARD_DIR`` (default
``<repo>/dashboards/build``). Functions, not constants, so tests can point the
environment variables at temporary folders.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = Path(__file__).resolve().parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
SEEDS_DIR = PROJECT_ROOT / "seeds"
CONTRACTS_DIR = PACKAGE_DIR / "contracts"


def contracts_dir() -> Path:
    """Folder of the data contracts: ``$KPI_CONTRACTS_DIR`` (tests, a deployment's own copy), default
    the package's ``contracts/``."""
    return Path(os.environ.get("KPI_CONTRACTS_DIR") or CONTRACTS_DIR).resolve()


def warehouse_dir() -> Path:
    """The warehouse folder (``$KPI_WAREHOUSE_DIR``, default ``<repo>/warehouse``), created if missing."""
    path = Path(os.environ.get("KPI_WAREHOUSE_DIR") or PROJECT_ROOT / "warehouse").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def landing_dir() -> Path:
    """Folder where department files land, one sub-folder per source (``landing/<source>/``)."""
    return warehouse_dir() / "landing"


def sample_truth_dir() -> Path:
    """Where the sample generator writes the ground truth of the files it generated."""
    return warehouse_dir() / "sample_truth"


def work_db_path() -> Path:
    """The operator's working DuckDB database: raw layer, dbt models, quarantine."""
    path = warehouse_dir() / "work"
    path.mkdir(parents=True, exist_ok=True)
    return path / "work.duckdb"


def analytics_db_path() -> Path:
    """The published, PII-free analyst database (replaced atomically by the publish step)."""
    return warehouse_dir() / "analytics.duckdb"


def dashboard_dir() -> Path:
    """Folder of the static dashboard (``$KPI_DASHBOARD_DIR``, default ``<repo>/dashboards/build``).

    Once published it is a symbolic link to the current version folder (see
    :mod:`daxing_kpi.atomic`); the link itself is returned, not the folder it points to.
    """
    path = Path(os.environ.get("KPI_DASHBOARD_DIR") or PROJECT_ROOT / "dashboards" / "build")
    path = path.parent.resolve() / path.name
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_lock_path() -> Path:
    """Lock file of the nightly job (``warehouse/run.lock``): who runs now, or who ran last."""
    return warehouse_dir() / "run.lock"


def logs_dir() -> Path:
    """Full logs of the runs started by ``kpi run`` (one file per run), created if missing."""
    path = warehouse_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def dbt_runs_dir() -> Path:
    """``<warehouse>/dbt_runs/``: the target folders of this warehouse's ``dbt build`` runs (compiled SQL,
    ``run_results.json``, ``dbt.log``), pruned by :mod:`daxing_kpi.retention`."""
    return warehouse_dir() / "dbt_runs"


def failures_dir() -> Path:
    """Failure reports (one short text file per failed run), created if missing."""
    path = warehouse_dir() / "failures"
    path.mkdir(parents=True, exist_ok=True)
    return path


def dagster_home() -> Path:
    """DAGSTER_HOME for runs started by ``kpi``: run storage (SQLite) under the warehouse folder."""
    path = warehouse_dir() / "dagster_home"
    path.mkdir(parents=True, exist_ok=True)
    return path


def reports_dir() -> Path:
    """Review reports (总结评估报告 .docx and PDF) and their explanations workbooks, one folder per plan."""
    path = warehouse_dir() / "reports"
    path.mkdir(parents=True, exist_ok=True)
    return path
