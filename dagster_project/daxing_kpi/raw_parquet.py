"""The engine-neutral raw layer: every source's accepted rows as Parquet files (原始层 Parquet 副本).

Ingestion (:func:`daxing_kpi.warehouse.write_raw`) loads the accepted rows of a source into the DuckDB
table ``raw.<source_id>`` of the working database (the default engine reads them there) and, in the
same step, writes them here, so any engine can read the same raw layer::

    warehouse/raw_parquet/<source_id>/delivery=<sha256 of the landing file>/part-0.parquet
    warehouse/raw_parquet/_audit/ingest_audit/part-0.parquet      (the ingestion audit, audit.ingest_audit)

Grain and columns are those of the raw table: one row per accepted record, the contract's columns typed
as in the contract (text, BIGINT, DOUBLE, DATE, BOOLEAN) plus the lineage columns ``_source_file``,
``_sheet``, ``_row_number``, ``_file_sha256``. The Hive-style partition column ``delivery`` (one
partition per landing file, the file's SHA-256) is added by the readers. A source without accepted rows
is one empty file in ``delivery=__HIVE_DEFAULT_PARTITION__`` so its schema is still known. Personal data
is already removed (the raw table never holds any).

Each source folder is written beside its old version and swapped in by renames: readers see the old
or the new folder, never a half-written one. The dbt on-run-start macro ``register_parquet_sources``
(``dbt/macros/parquet_sources.sql``) makes the folders the dbt sources ``raw.<source_id>`` and
``audit.ingest_audit`` on Spark (and on DuckDB with ``--vars '{raw_from_parquet: true}'``).
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import duckdb

from daxing_kpi.paths import warehouse_dir

# Folder, under the raw Parquet root, of the tables of the dbt source schema ``audit``.
AUDIT_FOLDER = "_audit"
# Partition value of a source without rows (Hive's marker of a NULL partition value).
EMPTY_PARTITION = "__HIVE_DEFAULT_PARTITION__"


def _is_remote(location: str) -> bool:
    return "://" in location


def raw_parquet_dir() -> Path:
    """Local root of the Parquet raw layer, where ingestion writes: ``$KPI_RAW_PARQUET_DIR`` when it is a
    local folder (a share the cluster also mounts, say), default ``<warehouse>/raw_parquet``."""
    configured = os.environ.get("KPI_RAW_PARQUET_DIR") or ""
    if configured and not _is_remote(configured):
        return Path(configured).resolve()
    return (warehouse_dir() / "raw_parquet").resolve()


def engine_location() -> str:
    """Where the dbt engine reads the raw layer: ``$KPI_RAW_PARQUET_DIR`` as given when it is a URL
    (``hdfs://...``, ``s3a://...``: a copy of the local folder on the cluster's storage), else the local
    root :func:`raw_parquet_dir`."""
    configured = os.environ.get("KPI_RAW_PARQUET_DIR") or ""
    return configured if _is_remote(configured) else str(raw_parquet_dir())


def source_dir(source_id: str, root: Path | None = None) -> Path:
    """Folder of one source's Parquet files (partitions ``delivery=<sha256>``)."""
    return (root or raw_parquet_dir()) / source_id


def _swap_in(new: Path, dst: Path) -> None:
    """Replace folder ``dst`` by the complete folder ``new`` (same parent) with renames; also removes
    the half-written or replaced folders a killed run left beside it (``.<name>.tmp-*``, ``.<name>.old-*``)."""
    for leftover in list(dst.parent.glob(f".{dst.name}.tmp-*")) + list(dst.parent.glob(f".{dst.name}.old-*")):
        if leftover != new:
            shutil.rmtree(leftover, ignore_errors=True)
    old = dst.with_name(f".{dst.name}.old-{uuid.uuid4().hex[:8]}")
    if dst.exists():
        os.replace(dst, old)
    os.replace(new, dst)
    shutil.rmtree(old, ignore_errors=True)


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


# How the raw layer's Parquet files are written: zstd (level 1) is smaller than the default snappy and no
# slower; a column with more distinct values than fit a 4 KB dictionary (IDs, person keys) is written plain
# instead of first trying a dictionary (a quarter less CPU on the largest rosters).
PARQUET_OPTIONS = "FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, DICTIONARY_SIZE_LIMIT 4096"


def write_source(con: duckdb.DuckDBPyConnection, source_id: str, root: Path | None = None,
                 deliveries: list[tuple[str, str]] | None = None) -> Path:
    """Write table ``raw.<source_id>`` of the open working database ``con`` as the source's Parquet
    folder, partitioned by delivery (the landing file's SHA-256), replacing the previous folder whole.

    ``deliveries``: ``(sha256, query)`` of each delivery, the query giving exactly that delivery's rows of
    the raw table in the table's order (by ``_sheet, _row_number``), as :func:`daxing_kpi.warehouse.write_raw`
    has them at hand: each is copied as it stands, one file per delivery, without reading the table back
    or sorting it (the same rows in the same order). Without them the table itself is read and sorted.
    Returns the folder. Raises ``duckdb.CatalogException`` when the raw table does not exist.
    """
    dst = source_dir(source_id, root)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{source_id}.tmp-{uuid.uuid4().hex[:8]}")
    table = f'raw."{source_id}"'
    try:
        rows = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        if rows and deliveries is not None:
            tmp.mkdir(parents=True)
            for digest, query in deliveries:
                part = tmp / f"delivery={digest or EMPTY_PARTITION}"
                part.mkdir(exist_ok=True)
                con.execute(f"COPY ({query}) TO '{_sql_path(part / 'part-0.parquet')}' ({PARQUET_OPTIONS})")
        elif rows:
            con.execute(
                f"COPY (SELECT *, coalesce(_file_sha256, '{EMPTY_PARTITION}') AS delivery FROM {table}"
                f" ORDER BY _file_sha256, _source_file, _sheet, _row_number) TO '{_sql_path(tmp)}'"
                f" ({PARQUET_OPTIONS}, PARTITION_BY (delivery), FILENAME_PATTERN 'part-{{i}}')"
            )
        else:
            empty = tmp / f"delivery={EMPTY_PARTITION}"
            empty.mkdir(parents=True)
            con.execute(f"COPY (SELECT * FROM {table} LIMIT 0) TO '{_sql_path(empty / 'part-0.parquet')}' ({PARQUET_OPTIONS})")
        _swap_in(tmp, dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dst


def write_audit(con: duckdb.DuckDBPyConnection, root: Path | None = None) -> Path:
    """Write the ingestion audit ``audit.ingest_audit`` (the dbt source of the published
    ``ingest_audit``) as ``_audit/ingest_audit/part-0.parquet``, replacing the previous file."""
    dst = (root or raw_parquet_dir()) / AUDIT_FOLDER / "ingest_audit"
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".ingest_audit.tmp-{uuid.uuid4().hex[:8]}")
    try:
        tmp.mkdir()
        con.execute(
            f"COPY (SELECT * FROM audit.ingest_audit ORDER BY loaded_at, source_id, file_name)"
            f" TO '{_sql_path(tmp / 'part-0.parquet')}' (FORMAT parquet)"
        )
        _swap_in(tmp, dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dst


def export_all(work_db: Path | None = None, root: Path | None = None) -> dict[str, int]:
    """(Re)write the whole Parquet raw layer from a working database: every table of schema ``raw``
    and ``audit.ingest_audit``. For a warehouse built before the Parquet layer existed, or after the
    folder was removed. Returns rows written per source id. Raises ``FileNotFoundError`` when the
    working database does not exist."""
    from daxing_kpi.paths import work_db_path

    path = Path(work_db or work_db_path())
    if not path.exists():
        raise FileNotFoundError(f"working database {path} does not exist: run the nightly job (kpi run) first")
    counts: dict[str, int] = {}
    with duckdb.connect(str(path), read_only=True) as con:
        sources = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw' AND database_name = current_database()"
            " ORDER BY table_name"
        ).fetchall()]
        for source_id in sources:
            write_source(con, source_id, root)
            counts[source_id] = con.execute(f'SELECT count(*) FROM raw."{source_id}"').fetchone()[0]
        write_audit(con, root)
    return counts
