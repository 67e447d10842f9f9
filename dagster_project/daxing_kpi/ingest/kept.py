"""Files staged at an earlier night, kept in the working database: a later night does not read them again
(issue 20.2: "landing files whose content was already loaded are not read again").

A file's staged table (:class:`daxing_kpi.ingest.stage.FileStage`: the pass's typed and checked rows) depends
only on the file's bytes and on :func:`kept_key`: the contract and rules, the seeds and the person-key secret
(:func:`daxing_kpi.ingest.stage.file_key`), the ingestion code and the DuckDB version. After a raw asset has
loaded its source, :func:`keep` copies the table of every file read now into schema ``ingest_kept`` of the
working database (one table per source and SHA-256, its facts in ``ingest_kept.files``); the next night
:func:`kept_stages` hands them to :func:`daxing_kpi.ingest.ingest_source` (``staged=``), which takes their rows
instead of reading the files, and works out re-deliveries, duplicates, audit and quarantine as if it had read
them. Kept tables of files no longer in the landing folder, wholly superseded, or kept under another key are dropped; a full
rebuild (``kpi run --full``) reads every file again and replaces the kept tables of the sources it loads.

The kept rows are those of the raw layer and the quarantine (personal fields already keyed or dropped by
the pass), bounded by the files in the landing folder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import duckdb

from daxing_kpi.ingest.contracts import Contract
from daxing_kpi.ingest.source import IngestResult
from daxing_kpi.ingest.stage import FileStage, file_key

SCHEMA = "ingest_kept"
_CODE_DIGEST: str | None = None


def _ingest_code_digest() -> str:
    """The ingestion code (this package, the person keys) and the DuckDB version the pass runs on."""
    global _CODE_DIGEST
    if _CODE_DIGEST is None:
        here = Path(__file__).resolve().parent
        h = hashlib.sha256(duckdb.__version__.encode())
        for p in sorted([*here.glob("*.py"), here.parent / "personkey.py"]):
            h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
        _CODE_DIGEST = h.hexdigest()
    return _CODE_DIGEST


def kept_key(contract: Contract) -> str:
    """What a kept table of ``contract`` must have been staged under to stand in for reading its file."""
    return hashlib.sha256((file_key(contract) + _ingest_code_digest()).encode()).hexdigest()[:32]


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    con.execute(f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.files (
        source_id VARCHAR, sha256 VARCHAR, kept_key VARCHAR, table_name VARCHAR, facts VARCHAR, run_id VARCHAR, kept_at TIMESTAMP)""")


def _table_name(source_id: str, digest: str) -> str:
    return f"{source_id}__{digest[:24]}"


def _rows(con: duckdb.DuckDBPyConnection, source_id: str) -> list[tuple[str, str, str, str]]:
    """``(sha256, kept_key, table_name, facts)`` of the source's kept files whose table exists."""
    try:
        rows = con.execute(f"SELECT sha256, kept_key, table_name, facts FROM {SCHEMA}.files WHERE source_id = ?", [source_id]).fetchall()
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = ? AND database_name = current_database()",
                                            [SCHEMA]).fetchall()}
    except duckdb.CatalogException:  # nothing kept yet
        return []
    return [r for r in rows if r[2] in tables]


def kept_stages(con: duckdb.DuckDBPyConnection, contract: Contract) -> dict[str, FileStage]:
    """SHA-256 -> the kept :class:`FileStage` of every file of ``contract`` staged under the current
    :func:`kept_key` (for :func:`daxing_kpi.ingest.ingest_source`'s ``staged``)."""
    key = kept_key(contract)
    out = {}
    for digest, k, table, facts in _rows(con, contract.source_id):
        if k == key:
            out[digest] = FileStage.from_facts(json.loads(facts), f"{SCHEMA}.{table}")
    return out


def keep(con: duckdb.DuckDBPyConnection, contract: Contract, result: IngestResult, run_id: str, replace: bool = False) -> dict[str, int]:
    """After ``result`` was loaded: keep the table of every file read now (not set aside), drop the kept
    tables of files no longer in the landing folder, wholly superseded by later files (not read any more) or
    kept under another key (all of them with ``replace``: a full rebuild). One transaction. Returns ``kept``
    (tables written) and ``dropped``."""
    key = kept_key(contract)
    # files still needing their rows: in the landing folder, not wholly superseded without being read, not set aside
    current = {a["sha256"] for a in result.audit if a["status"] not in ("superseded", "rejected", "skipped_duplicate_file")}
    current |= {f.digest for f in result.files if f.rejection is None}
    ensure(con)
    kept, dropped = 0, 0
    con.execute("BEGIN")
    try:
        have = set()
        for digest, k, table, _ in _rows(con, contract.source_id):
            if replace or k != key or digest not in current:
                con.execute(f"DROP TABLE IF EXISTS {SCHEMA}.{table}")
                con.execute(f"DELETE FROM {SCHEMA}.files WHERE source_id = ? AND sha256 = ?", [contract.source_id, digest])
                dropped += 1
            else:
                have.add(digest)
        # rows of files whose table went missing
        con.execute(f"DELETE FROM {SCHEMA}.files WHERE source_id = ? AND table_name NOT IN (SELECT table_name FROM duckdb_tables()"
                    f" WHERE schema_name = '{SCHEMA}' AND database_name = current_database())", [contract.source_id])
        now = dt.datetime.now()
        for f in result.files:
            if f.rejection is not None or f.table is None or f.known_rows is not None or f.digest in have:
                continue
            if f.table.startswith(f"{SCHEMA}."):  # taken from a kept table of another key: never the case, but never copy onto itself
                continue
            table = _table_name(contract.source_id, f.digest)
            con.execute(f"CREATE OR REPLACE TABLE {SCHEMA}.{table} AS SELECT * FROM {f.table}")
            con.execute(f"INSERT INTO {SCHEMA}.files VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [contract.source_id, f.digest, key, table, json.dumps(f.facts(), ensure_ascii=False, default=str), run_id, now])
            have.add(f.digest)
            kept += 1
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return {"kept": kept, "dropped": dropped}
