"""One setting bounds the memory of the nightly job: ``KPI_MEMORY_LIMIT``.

``KPI_MEMORY_LIMIT`` (e.g. ``2GiB``, ``1500MB``, ``4G``; the former name ``KPI_DUCKDB_MEMORY_LIMIT`` is read
when it is unset, with the same meaning) is the memory the job's whole process tree may use: the
Python process (Dagster, ingestion, checks, dashboard) with its DuckDB connections, and the dbt process
with its own DuckDB. Unset, nothing is bounded beyond DuckDB's default (80% of the machine).

How the budget is kept (:func:`duckdb_memory_limit`):

* every DuckDB database of the job gets ``memory_limit`` = the budget less what the Python process
  needs besides DuckDB (:data:`PROCESS_RESERVE`, the libraries and Dagster), half of it at most, and a
  spill folder ``temp_directory`` (``KPI_DUCKDB_TEMP_DIR``, default ``warehouse/tmp``): beyond its limit
  DuckDB writes to disk instead of growing. Only one DuckDB instance works at a time (the job runs
  its steps one after the other; the dbt process's DuckDB works while the Python process waits);
* ingestion keeps no file whole in Python: CSV files go from DuckDB's reader through the set-based
  pass into DuckDB (:mod:`daxing_kpi.ingest.sqlpass`), the Python CSV reader works in pieces of
  :data:`daxing_kpi.ingest.readers.ROWS_PER_PIECE` records;
* not bounded by the setting: a workbook (``.xlsx``/``.xls``), an HTML table saved as ``.xls`` and a
  SpreadsheetML file are read whole by their libraries (an Excel sheet has at most 1,048,576 rows; the
  department files of this kind are rosters and return forms), and Dagster's own bookkeeping.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

MEMORY_ENV = "KPI_MEMORY_LIMIT"
FORMER_MEMORY_ENV = "KPI_DUCKDB_MEMORY_LIMIT"
TEMP_DIR_ENV = "KPI_DUCKDB_TEMP_DIR"
MiB = 1 << 20
# What the Python process of the job holds besides DuckDB's buffers (Dagster, dbt's manifest, pandas,
# pyarrow, the dashboard's data), measured at scale 16: kept out of DuckDB's share of the budget.
PROCESS_RESERVE = 700 * MiB
MIN_DUCKDB = 256 * MiB
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3, "t": 1000**4, "tb": 1000**4,
          "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}


def parse_size(text: str) -> int:
    """Bytes of a size written ``2GiB``, ``1500MB``, ``4G``, ``2 gb`` (1000-based KB/MB/GB, 1024-based
    KiB/MiB/GiB). Raises ``ValueError`` naming the text otherwise."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(f"{text!r} is not a memory size: write it as 2GiB, 1500MB or 4G")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def memory_limit() -> int | None:
    """The job's memory budget in bytes (:data:`MEMORY_ENV`, else :data:`FORMER_MEMORY_ENV`), None when unset."""
    text = os.environ.get(MEMORY_ENV) or os.environ.get(FORMER_MEMORY_ENV)
    return parse_size(text) if text else None


def duckdb_memory_limit() -> str | None:
    """DuckDB's ``memory_limit`` for one database of the job (see the module text), e.g. ``'650MiB'``;
    None when no budget is set."""
    budget = memory_limit()
    if budget is None:
        return None
    share = max(MIN_DUCKDB, min(budget - PROCESS_RESERVE, budget // 2))
    return f"{share // MiB}MiB"


def temp_directory() -> Path:
    """DuckDB's spill folder, also where ingestion writes transcoded copies of text files:
    ``$KPI_DUCKDB_TEMP_DIR``, default ``warehouse/tmp``."""
    from daxing_kpi.paths import warehouse_dir

    return Path(os.environ.get(TEMP_DIR_ENV) or warehouse_dir() / "tmp")


def duckdb_config() -> dict[str, str]:
    """Settings of every DuckDB connection of the job: ``temp_directory`` and, with a budget,
    ``memory_limit`` (:func:`duckdb_memory_limit`)."""
    settings = {"temp_directory": str(temp_directory())}
    limit = duckdb_memory_limit()
    if limit:
        settings["memory_limit"] = limit
    return settings


def subprocess_env() -> dict[str, str]:
    """Environment a DuckDB-using child process (dbt) needs to stay within the budget: its spill folder
    and ``KPI_DUCKDB_MEMORY`` (its DuckDB's limit, read by ``dbt/profiles.yml``)."""
    env = {TEMP_DIR_ENV: str(temp_directory())}
    limit = duckdb_memory_limit()
    env["KPI_DUCKDB_MEMORY"] = limit or ""
    return env
