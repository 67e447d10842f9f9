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
import pyarrow as pa

from daxing_kpi import raw_parquet
from daxing_kpi.atomic import hold_point
from daxing_kpi.memory import duckdb_config
from daxing_kpi.ingest import AUDIT_COLUMNS_ADDED as INGEST_AUDIT_COLUMNS
from daxing_kpi.ingest import Contract, IngestResult, raw_table_ddl
from daxing_kpi.paths import analytics_db_path, warehouse_dir, work_db_path

# Operator tables copied from the ``audit`` schema of the working database into each publication.
OPERATOR_TABLES = ("pipeline_runs", "dq_results", "dq_kpi_status", "source_freshness")  # dq_*, source_freshness: issue 6
# Order of the rows of each operator table in the published file.
OPERATOR_TABLE_ORDER = {"pipeline_runs": "started_at", "dq_results": "checked_at, asset, check_name",
                        "dq_kpi_status": "kpi_id", "source_freshness": "source_id"}
# Tables of the analyst contract, copied from the ``marts`` schema of the working database.
PUBLISHED_MARTS = ("kpi_catalog", "kpi_observations", "geographies", "kpi_scorecard", "ingest_audit",
                   "kpi_long", "data_dictionary",  # kpi_long, data_dictionary: analysts' access (issue 9)
                   "review_explanations",  # the planners' explanations of a review (issue 17.5)
                   "plans", "plan_sections", "plan_targets", "plan_target_milestones",  # plans as data (issue 18)
                   "kpi_person_duplicates")  # persons on several active records per KPI, year, geography (issue 16.1)


def duckdb_settings() -> dict[str, str]:
    """Memory limit and spill folder of every DuckDB connection of the job: the share of
    ``$KPI_MEMORY_LIMIT`` (formerly ``$KPI_DUCKDB_MEMORY_LIMIT``) one DuckDB database may use and
    ``$KPI_DUCKDB_TEMP_DIR`` (default ``warehouse/tmp``); see :mod:`daxing_kpi.memory`."""
    return duckdb_config()


def connect_work(read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the working database (created if missing) with the configured memory settings."""
    path = work_db_path()
    if read_only and not path.exists():
        raise FileNotFoundError(f"working database {path} does not exist yet: run the nightly job first")
    return duckdb.connect(str(path), read_only=read_only, config=duckdb_settings())


AUDIT_COLUMNS_ADDED = (
    ("rows_superseded", "BIGINT"), ("sheets", "VARCHAR"), ("delivery_scope", "VARCHAR"),
    ("superseded_by", "VARCHAR"), ("duplicate_of", "VARCHAR"), ("file_modified_at", "VARCHAR"),
) + INGEST_AUDIT_COLUMNS + (  # field faults, rejected files, delivery cut-off (issue 15)
    ("read_mode", "VARCHAR"),  # read, stage_cache or not_read (issue 20.2, daxing_kpi.ingest.source)
)


_AUDIT_COLUMNS = {("ingest_audit", c) for c in ("run_id", "source_id", "file_name", "sha256", "rows_read", "rows_loaded",
                                                "rows_quarantined", "status", "reasons", "loaded_at")}
_AUDIT_COLUMNS |= {("ingest_audit", c) for c, _ in AUDIT_COLUMNS_ADDED}
_AUDIT_COLUMNS |= {("quarantine", c) for c in ("run_id", "source_id", "file_name", "sheet", "row_number", "column", "reason",
                                              "value", "quarantined_at", "disposition")}


def ensure_audit_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the operator's audit tables when missing (history kept across runs), and add the columns
    later versions added; one look at the catalog when nothing is missing."""
    have = set(con.execute("SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = current_database()"
                           " AND schema_name = 'audit' AND table_name IN ('ingest_audit', 'quarantine')").fetchall())
    if _AUDIT_COLUMNS <= have:
        con.execute("CREATE SCHEMA IF NOT EXISTS raw")
        return
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
    # columns added by the re-delivery rules (issue 5); older working databases get them here
    for col, typ in AUDIT_COLUMNS_ADDED:
        con.execute(f"ALTER TABLE audit.ingest_audit ADD COLUMN IF NOT EXISTS {col} {typ}")
    # quarantined (the record is not loaded) or field_fault (loaded with this field NULL): issue 15
    con.execute("ALTER TABLE audit.quarantine ADD COLUMN IF NOT EXISTS disposition VARCHAR")


def write_raw(contract: Contract, result: IngestResult, run_id: str, con: duckdb.DuckDBPyConnection | None = None,
              audit_parquet: bool = True) -> dict[str, int]:
    """Replace the raw table of a source with the accepted rows of this run, in one transaction,
    and record audit and quarantine rows (the quarantine of the source is replaced, the audit
    appended); then write the source and (unless ``audit_parquet`` is false: the nightly job writes it
    once, after every source, in the ``audit/ingest_audit`` asset) the audit as Parquet
    (:mod:`daxing_kpi.raw_parquet`). Returns ``rows_read, rows_loaded, rows_quarantined, rows_superseded``.

    ``con``: an open connection to the working database (default: one is opened). When ``result`` was
    staged on that same connection (:func:`daxing_kpi.ingest.ingest_source` with ``con``) the rows are
    copied inside DuckDB; otherwise they stream over in Arrow batches."""
    now = dt.datetime.now()
    own = con is None
    if own:
        con = connect_work()
    try:
        ensure_audit_tables(con)
        con.execute("BEGIN")
        table = f'raw."{contract.source_id}"'
        con.execute(f"CREATE OR REPLACE TABLE {table} ({raw_table_ddl(contract)})")
        same = result.stage is not None and result.stage.con is con
        # rows in the Parquet copy's order (deliveries by SHA-256, then sheet and row): no sort afterwards
        if same:  # consecutive parts in one INSERT (UNION ALL keeps the order): fewer statements for many small files
            for sql in result.raw_queries():
                con.execute(f"INSERT INTO {table} {sql}")
        else:
            for _, sql in result.ordered_parts():
                for batch in result.stage.con.sql(sql).to_arrow_reader(100_000):
                    con.register("accepted_batch", pa.Table.from_batches([batch]))
                    con.execute(f"INSERT INTO {table} SELECT * FROM accepted_batch")
                    con.unregister("accepted_batch")
        con.execute("DELETE FROM audit.quarantine WHERE source_id = ?", [contract.source_id])
        if result.quarantine_query is not None:
            if same:
                con.execute(f"INSERT INTO audit.quarantine BY NAME SELECT ?::VARCHAR AS run_id, *, ?::TIMESTAMP AS quarantined_at"
                            f" FROM ({result.quarantine_query})", [run_id, now])
            else:
                qdf = result.quarantine.copy()
                qdf.insert(0, "run_id", run_id)
                qdf["quarantined_at"] = now
                con.register("q_df", qdf)
                con.execute("INSERT INTO audit.quarantine BY NAME SELECT * FROM q_df")
                con.unregister("q_df")
        rows = result.audit_rows()
        if rows:  # as Arrow columns (a frame of a few rows cost more to build and scan than the insert itself)
            names = ["run_id"] + list(dict.fromkeys(k for r in rows for k in r)) + ["loaded_at"]
            rows = [{**r, "run_id": run_id, "loaded_at": now} for r in rows]
            con.register("audit_rows", pa.table({k: pa.array([r.get(k) for r in rows]) for k in names}))
            con.execute("INSERT INTO audit.ingest_audit BY NAME SELECT * FROM audit_rows")
            con.unregister("audit_rows")
        con.execute("COMMIT")
        # the engine-neutral copy of the raw layer, read by the Spark target (issue 11)
        # each delivery straight from the staged rows when they are on this connection (no reading back)
        loaded = {a["sha256"]: a["rows_loaded"] for a in result.audit}
        deliveries = [(d, sql) for d, sql in result.ordered_parts() if loaded.get(d)] if same else None
        raw_parquet.write_source(con, contract.source_id, deliveries=deliveries)
        if audit_parquet:
            raw_parquet.write_audit(con)
    finally:
        if own:
            con.close()
    totals = {k: int(sum(a.get(k, 0) for a in result.audit)) for k in ("rows_read", "rows_loaded", "rows_quarantined", "rows_superseded")}
    return totals


def loaded_file_facts(source_id: str, con: duckdb.DuckDBPyConnection | None = None) -> dict[str, dict]:
    """What the latest load of each file of a source recorded, by SHA-256: ``rows_read``,
    ``delivery_scope`` (text of the audit) and ``sheets``; files loaded, superseded or partly superseded
    only. Lets :func:`daxing_kpi.ingest.ingest_source` leave unread a file that later files wholly
    supersede. Empty when the working database or its audit does not exist yet. ``con``: an open
    connection to the working database (default: one is opened, read-only)."""
    sql = ("SELECT sha256, rows_read, delivery_scope, sheets FROM audit.ingest_audit"
           " WHERE source_id = ? AND status IN ('loaded', 'superseded', 'partly_superseded') AND rows_read IS NOT NULL"
           " QUALIFY row_number() OVER (PARTITION BY sha256 ORDER BY loaded_at DESC) = 1")
    rows = _audit_query(sql, [source_id], con)
    return {r[0]: {"rows_read": r[1], "delivery_scope": r[2], "sheets": r[3]} for r in rows}


def rejected_file_facts(source_id: str, con: duckdb.DuckDBPyConnection | None = None) -> dict[str, dict]:
    """Files of a source set aside at their latest reading, by SHA-256: ``rejected_reason_zh``,
    ``rejected_reason_en``, ``rules_digest``, ``rows_read``. Lets :func:`daxing_kpi.ingest.ingest_source`
    set them aside again without reading them until they change (or the contract or rules do). ``con``:
    as for :func:`loaded_file_facts`."""
    sql = ("SELECT sha256, status, rejected_reason_zh, rejected_reason_en, rules_digest, rows_read FROM audit.ingest_audit"
           " WHERE source_id = ? AND status <> 'skipped_duplicate_file'"
           " QUALIFY row_number() OVER (PARTITION BY sha256 ORDER BY loaded_at DESC) = 1")
    rows = _audit_query(sql, [source_id], con)
    return {r[0]: {"rejected_reason_zh": r[2], "rejected_reason_en": r[3], "rules_digest": r[4], "rows_read": r[5]}
            for r in rows if r[1] == "rejected"}


def _audit_query(sql: str, params: list, con: duckdb.DuckDBPyConnection | None) -> list[tuple]:
    """Rows of a query on the audit; none when the working database or the table (or one of its columns,
    in an audit from before issue 15) does not exist."""
    if con is None:
        if not work_db_path().exists():
            return []
        try:
            with connect_work(read_only=True) as own:
                return own.execute(sql, params).fetchall()
        except duckdb.Error:
            return []
    try:
        return con.execute(sql, params).fetchall()
    except duckdb.Error:
        return []


def query_work(sql: str, params: list | None = None) -> pd.DataFrame:
    """Run a read query on the working database and return a frame."""
    with connect_work(read_only=True) as con:
        return con.execute(sql, params or []).df()


def staged_db_path(run_id: str) -> Path:
    """Where :func:`stage_publication` builds the next analyst database (same folder as the target)."""
    target = analytics_db_path()
    return target.with_name(f".{target.name}.{run_id}.tmp")


def publication_journal_path() -> Path:
    """The journal of a publication in progress (``<warehouse>/.publication.json``), see :func:`publish_together`."""
    return warehouse_dir() / ".publication.json"


def stage_publication(run_id: str, tables: tuple[str, ...] = PUBLISHED_MARTS) -> Path:
    """Build the next analyst database in a new file beside the published one and return its path;
    nothing analysts see changes (:func:`publish_together` or :func:`publish` switches it in).

    The file holds the marts, the SQL macros of ``marts``, a ``publish_metadata`` table (run id and
    time), ``pipeline_runs`` (the run history, :func:`daxing_kpi.operations.history_frame`, this run
    included) and the quality gate's ``dq_results``, ``dq_kpi_status`` and ``source_freshness``
    (:mod:`daxing_kpi.dq`)."""
    from daxing_kpi.operations import PIPELINE_RUNS_COLUMNS, history_frame

    tmp = staged_db_path(run_id)
    if tmp.exists():
        tmp.unlink()
    con = duckdb.connect(str(tmp), config=duckdb_settings())
    try:
        con.execute(f"ATTACH '{work_db_path()}' AS work (READ_ONLY)")
        for t in tables:
            con.execute(f'CREATE TABLE main."{t}" AS SELECT * FROM work.marts."{t}"')
        copy_sql_macros(con, "work", "marts")
        runs = history_frame()
        con.register("runs_df", runs)
        casts = ", ".join(f'CAST("{n}" AS {t}) AS "{n}"' for n, t, _ in PIPELINE_RUNS_COLUMNS)
        con.execute(f"CREATE TABLE main.pipeline_runs AS SELECT {casts} FROM runs_df ORDER BY started_at")
        con.unregister("runs_df")
        for t in OPERATOR_TABLES:
            if t == "pipeline_runs":
                continue
            if con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'work' AND schema_name = 'audit' AND table_name = ?", [t]
            ).fetchone()[0]:
                con.execute(f'CREATE TABLE main."{t}" AS SELECT * FROM work.audit."{t}" ORDER BY {OPERATOR_TABLE_ORDER[t]}')
        con.execute(
            "CREATE TABLE publish_metadata AS SELECT ? AS run_id, CAST(? AS TIMESTAMP) AS published_at",
            [run_id, dt.datetime.now()],
        )
        con.execute("DETACH work")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return tmp


def _replace_db(staged: Path) -> Path:
    target = analytics_db_path()
    wal = target.with_name(target.name + ".wal")
    wal.unlink(missing_ok=True)  # a stale log must never be replayed onto the new file
    os.replace(staged, target)
    wal.unlink(missing_ok=True)
    return target


def publish(run_id: str, tables: tuple[str, ...] = PUBLISHED_MARTS) -> Path:
    """Build the analyst database (:func:`stage_publication`) and move it over the published one
    with one ``os.replace``: readers see the old or the new version, never a half-built one, and
    analysts holding the old file open keep reading it undisturbed. Returns the published path.
    The nightly job publishes the database together with the dashboard (:func:`publish_together`)."""
    staged = stage_publication(run_id, tables)
    hold_point("publish:before-replace")  # crash tests kill the run here: new file built, not swapped in
    return _replace_db(staged)


def publish_together(run_id: str, staged: Path, build_dashboard) -> tuple[Path, Path]:
    """Publish the staged database and the dashboard drawn from it as one step (issue 19.7).

    ``build_dashboard(db)`` draws the dashboard from the staged file into a new version folder and
    switches the dashboard link to it (:func:`daxing_kpi.atomic.staged_folder`); the database file
    is renamed over the published one right after. Before anything is switched, the journal
    :func:`publication_journal_path` records the run and the staged file; it is removed once both
    are switched. A run killed between the two renames leaves the journal, and the next run (or
    the sweep of dead runs) completes the publication with :func:`recover_publication`: analysts
    end up with both of a run or neither, and the failure report says which. Returns the database
    and dashboard paths."""
    journal = publication_journal_path()
    _write_journal(journal, {"run_id": run_id, "staged_db": str(staged), "target": str(analytics_db_path()),
                             "started_at": dt.datetime.now().isoformat(timespec="seconds")})
    hold_point("publish:before-replace")  # killed here: the new file and nothing switched
    try:
        dashboard = build_dashboard(staged)
    except BaseException:
        recover_publication()  # the link was not switched: the staged file is discarded (or, if it was, published)
        raise
    hold_point("publish:between-switches")  # killed here: the dashboard switched, the database not yet
    db = _replace_db(staged)
    journal.unlink(missing_ok=True)
    return db, dashboard


def _write_journal(path: Path, data: dict) -> None:
    import json

    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def recover_publication() -> str | None:
    """Finish or undo the publication a killed run left half done (its journal); call while holding
    the run lock. Returns one sentence for the failure report, ``None`` when there was none."""
    import json

    from daxing_kpi import atomic
    from daxing_kpi.paths import dashboard_dir

    journal = publication_journal_path()
    if not journal.exists():
        return None
    try:
        data = json.loads(journal.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        journal.unlink(missing_ok=True)
        return None
    run_id, staged = data.get("run_id"), Path(data.get("staged_db", ""))
    version = atomic.current_version(dashboard_dir())
    dashboard_run = version.name.split("_", 1)[1] if version is not None and "_" in version.name else None
    if dashboard_run == run_id:
        if staged.is_file():
            _replace_db(staged)
            journal.unlink(missing_ok=True)
            return (f"It was killed between the two switches of its publication: the dashboard already showed run {run_id} "
                    "while the database still held the previous version; the recovery has now published the database "
                    f"file the run had finished, so both show run {run_id}.")
        journal.unlink(missing_ok=True)
        return f"It had switched both the database and the dashboard to run {run_id} before it stopped."
    if staged.exists():
        staged.unlink()
    journal.unlink(missing_ok=True)
    return None


def copy_sql_macros(con: duckdb.DuckDBPyConnection, database: str, schema: str) -> list[str]:
    """Recreate in ``main`` of ``con`` the scalar SQL macros of ``database.schema`` (the progress
    method's ``progress_status``, ``progress_ratio``, ... created by dbt in ``marts``), from their
    definitions in ``duckdb_functions()``; overloads are kept. Returns the macro names copied."""
    rows = con.execute(
        "SELECT function_name, parameters, macro_definition FROM duckdb_functions()"
        " WHERE database_name = ? AND schema_name = ? AND function_type = 'macro' ORDER BY function_name",
        [database, schema],
    ).fetchall()
    overloads: dict[str, list[str]] = {}
    for name, params, definition in rows:
        overloads.setdefault(name, []).append(f"({', '.join(params)}) AS {definition}")
    for name, bodies in overloads.items():
        con.execute(f'CREATE OR REPLACE MACRO main."{name}"' + ", ".join(bodies))
    return list(overloads)


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
