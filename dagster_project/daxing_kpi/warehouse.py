"""DuckDB access for the working database and the atomic publication of the analyst database.

The working database (``warehouse/work/work.duckdb``) holds the raw layer (schema ``raw``),
the operator's audit and quarantine (schema ``audit``) and the dbt models (schemas
``staging``, ``intermediate``, ``marts``). The analyst database
(``warehouse/analytics.duckdb``) holds only the published marts and is replaced in one
``os.replace`` by :func:`publish`, so a reader sees the whole previous version or the whole
new one.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import duckdb
import pandas as pd

from daxing_kpi.ingest import Contract, IngestResult, raw_table_ddl
from daxing_kpi.paths import analytics_db_path, warehouse_dir, work_db_path

# Tables of the analyst contract, copied from the ``marts`` schema of the working database.
PUBLISHED_MARTS = ("kpi_catalog", "kpi_observations", "geographies")


def duckdb_settings() -> dict[str, str]:
    """Memory limit and spill folder from ``$KPI_DUCKDB_MEMORY_LIMIT`` (e.g. ``2GB``) and
    ``$KPI_DUCKDB_TEMP_DIR`` (default ``warehouse/tmp``)."""
    settings = {"temp_directory": os.environ.get("KPI_DUCKDB_TEMP_DIR") or str(warehouse_dir() / "tmp")}
    if os.environ.get("KPI_DUCKDB_MEMORY_LIMIT"):
        settings["memory_limit"] = os.environ["KPI_DUCKDB_MEMORY_LIMIT"]
    return settings


def connect_work(read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the working database (created if missing) with the configured memory settings."""
    path = work_db_path()
    if read_only and not path.exists():
        raise FileNotFoundError(f"working database {path} does not exist yet: run the nightly job first")
    return duckdb.connect(str(path), read_only=read_only, config=duckdb_settings())


def ensure_audit_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the operator's audit tables when missing (history kept across runs)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute("CREATE SCHEMA IF NOT EXISTS audit")
    con.execute(
        """CREATE TABLE IF NOT EXISTS audit.ingest_audit (
            run_id VARCHAR, source_id VARCHAR, file_name VARCHAR, sha256 VARCHAR, rows_read BIGINT,
            rows_loaded BIGINT, rows_quarantined BIGINT, status VARCHAR, reasons VARCHAR, loaded_at TIMESTAMP)"""
    )
    con.execute(
        """CREATE TABLE IF NOT EXISTS audit.quarantine (
            run_id VARCHAR, source_id VARCHAR, file_name VARCHAR, sheet VARCHAR, row_number BIGINT,
            "column" VARCHAR, reason VARCHAR, value VARCHAR, quarantined_at TIMESTAMP)"""
    )


def write_raw(contract: Contract, result: IngestResult, run_id: str) -> dict[str, int]:
    """Replace the raw table of a source with the accepted rows of this run, in one transaction,
    and record audit and quarantine rows. Returns ``rows_read, rows_loaded, rows_quarantined``."""
    now = dt.datetime.now()
    with connect_work() as con:
        ensure_audit_tables(con)
        con.execute("BEGIN")
        table = f'raw."{contract.source_id}"'
        con.execute(f"CREATE OR REPLACE TABLE {table} ({raw_table_ddl(contract)})")
        accepted = result.accepted
        if len(accepted):
            con.register("accepted_df", accepted)
            con.execute(f"INSERT INTO {table} SELECT * FROM accepted_df")
            con.unregister("accepted_df")
        con.execute("DELETE FROM audit.quarantine WHERE source_id = ?", [contract.source_id])
        if len(result.quarantine):
            q = result.quarantine.copy()
            q.insert(0, "run_id", run_id)
            q["quarantined_at"] = now
            con.register("q_df", q)
            con.execute("INSERT INTO audit.quarantine SELECT * FROM q_df")
            con.unregister("q_df")
        audit = pd.DataFrame(result.audit)
        if len(audit):
            audit.insert(0, "run_id", run_id)
            audit["loaded_at"] = now
            con.register("audit_df", audit)
            con.execute(
                "INSERT INTO audit.ingest_audit SELECT run_id, source_id, file_name, sha256, rows_read, rows_loaded,"
                " rows_quarantined, status, reasons, loaded_at FROM audit_df"
            )
            con.unregister("audit_df")
        con.execute("COMMIT")
    totals = {k: int(sum(a[k] for a in result.audit)) for k in ("rows_read", "rows_loaded", "rows_quarantined")}
    return totals


def query_work(sql: str, params: list | None = None) -> pd.DataFrame:
    """Run a read query on the working database and return a frame."""
    with connect_work(read_only=True) as con:
        return con.execute(sql, params or []).df()


def publish(run_id: str, tables: tuple[str, ...] = PUBLISHED_MARTS) -> Path:
    """Copy the marts into a new analyst database file and move it over the published one.

    The new file is built next to the target (same file system), closed, then swapped in with
    ``os.replace``: readers see the old or the new version, never a half-built one. Returns the
    published path. A ``publish_metadata`` table records the run id and time.
    """
    target = analytics_db_path()
    tmp = target.with_name(f".{target.name}.{run_id}.tmp")
    if tmp.exists():
        tmp.unlink()
    con = duckdb.connect(str(tmp), config=duckdb_settings())
    try:
        con.execute(f"ATTACH '{work_db_path()}' AS work (READ_ONLY)")
        for t in tables:
            con.execute(f'CREATE TABLE main."{t}" AS SELECT * FROM work.marts."{t}"')
        con.execute(
            "CREATE TABLE publish_metadata AS SELECT ? AS run_id, CAST(? AS TIMESTAMP) AS published_at",
            [run_id, dt.datetime.now()],
        )
        con.execute("DETACH work")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, target)
    wal = target.with_name(target.name + ".wal")
    if wal.exists():
        wal.unlink()
    return target


def copy_tree_atomically(src: Path, dst: Path) -> None:
    """Replace folder ``dst`` by ``src`` with renames (the old folder is removed afterwards)."""
    old = dst.with_name(dst.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if dst.exists():
        os.replace(dst, old)
    os.replace(src, dst)
    if old.exists():
        shutil.rmtree(old)
