"""Staged rows kept between nights (issue 20.2): a landing file whose content was loaded is not read again.

A file's staged table (the set-based pass's result, :mod:`daxing_kpi.ingest.stage`) depends only on its
bytes (SHA-256) and :func:`daxing_kpi.ingest.stage.file_key` (contract and rules, the seeds the rules read,
the person-key fingerprint). The nightly ``raw/<source_id>`` asset keeps the table of every file it read in
the working database and, on the next night, hands the entries still valid to
:func:`daxing_kpi.ingest.ingest_source` as ``staged``: only new or changed files are read. Re-deliveries,
duplicates, the quarantine and the audit are worked out from all the files' rows as before, so what is
loaded does not depend on whether a file came from here (the audit's ``read_mode`` says ``stage_cache``).

Layout, in the working database's schema ``stage_cache``:

* one table per source and file, ``stage_cache."<source_id>__<sha256[:32]>"``: the file's staged rows,
  columns as the pass made them. One table per file rather than one per source with a file column: a
  file's rows are one unit, written once and never changed; ``ingest_source`` uses the table as it is
  (``FROM <table>`` in every query over the file) with no filter to scan past the other files' rows; and a
  file leaving is a ``DROP TABLE`` whose blocks DuckDB reuses, not deleted rows left inside a shared table.
  The price is one catalog entry per landing file.
* ``stage_cache.files``, one row per entry: ``source_id, sha256, table_name, file_key, code_digest, facts``
  (:meth:`FileStage.facts` as JSON), ``rows, run_id, cached_at``.

What is kept is what the raw layer and the quarantine already hold: the contract's kept columns (person
keys, no names, phones or addresses) and the faults with their masked values. Of the text above a file's
header only the delivery cut-off statement is kept (:func:`_kept_titles`), not a form's other lines (who
filled it in, a phone number).

Validity: an entry is used only under the same ``file_key`` and the same :func:`code_digest` (the code of
the pass and the versions of the libraries reading the files: an upgrade is a full rebuild anyway, but a
run started from the Dagster UI has no plan). After each successful load of the source (:meth:`StageCache.save`),
the entries of files no longer in the landing folder, or made under another key or code, are dropped, so the
schema holds at most one table per file present, under the rules of the day. A full rebuild (run tag
``kpi/full``, ``full=True``) uses no entry and rebuilds the source's entries from the files it read.

Crash safety: an entry (its table and its ``files`` row) is written and dropped in one transaction, after
the raw table's transaction has committed (:func:`daxing_kpi.warehouse.write_raw`). An entry's content
depends only on the file's bytes and the key, not on the raw table, so the order is free: a crash before
the cache's commit leaves the entries as they were (all valid) and the next night reads the new files
again. A file is cached only when its size and modification time are the same before it was hashed and
after the load (a file replaced while being read is not cached under the other file's SHA-256), and only
when the key is the same before and after the read (seeds or secret changed during the run: nothing is
cached). A failure writing the cache is rolled back and does not fail the night (:meth:`StageCache.save`
raises, the asset logs a warning).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from pathlib import Path

import duckdb

from daxing_kpi.ingest.contracts import Contract
from daxing_kpi.ingest.cutoff import cutoff_statement
from daxing_kpi.ingest.redelivery import landing_files
from daxing_kpi.ingest.sqlpass import q
from daxing_kpi.ingest.stage import FileStage, file_key

SCHEMA = "stage_cache"
INDEX = f"{SCHEMA}.files"
# libraries whose version can change what the pass makes of a file's bytes
READER_PACKAGES = ("duckdb", "pandas", "numpy", "pyarrow", "python-calamine", "lxml")


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """Digest of the code that turns a file's bytes into its staged table: the ``daxing_kpi.ingest`` package
    and :mod:`daxing_kpi.personkey` (their files' content), and the versions of Python and
    :data:`READER_PACKAGES`. Computed once per process, when this module is imported (with the ingestion code
it describes: a deployment during a run does not label the old code's tables with the new code's digest)."""
    from daxing_kpi.nightplan import package_versions
    from daxing_kpi.paths import PACKAGE_DIR

    h = hashlib.sha256()
    for p in sorted((PACKAGE_DIR / "ingest").glob("*.py")) + [PACKAGE_DIR / "personkey.py"]:
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    h.update(json.dumps(package_versions(READER_PACKAGES), sort_keys=True).encode())
    return h.hexdigest()[:32]


code_digest()


def table_name(source_id: str, digest: str) -> str:
    """Name (in :data:`SCHEMA`) of the table of one file of a source."""
    return f"{source_id}__{digest[:32]}"


def folder_state(contract: Contract, landing_root: Path) -> dict[str, tuple[int, int]]:
    """``label -> (size, modification time in ns)`` of the data files of a source's landing folder."""
    out = {}
    for p in landing_files(Path(landing_root) / contract.landing_dir):
        try:
            st = p.stat()
        except OSError:
            continue
        out[f"{contract.landing_dir}/{p.name}"] = (st.st_size, st.st_mtime_ns)
    return out


def _kept_titles(titles) -> list[str]:
    """Of the text above a file's header, what the delivery cut-off reads
    (:func:`daxing_kpi.ingest.cutoff.cutoff_statement`); nothing else of those lines is kept."""
    statement = cutoff_statement(tuple(titles))
    return [] if statement is None else [statement]


def _facts(f: FileStage) -> str:
    facts = f.facts()
    facts["titles"] = _kept_titles(facts.get("titles") or ())
    return json.dumps(facts, ensure_ascii=False)


def _ensure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    con.execute(f"""CREATE TABLE IF NOT EXISTS {INDEX} (
        source_id VARCHAR, sha256 VARCHAR, table_name VARCHAR, file_key VARCHAR, code_digest VARCHAR,
        facts VARCHAR, rows BIGINT, run_id VARCHAR, cached_at TIMESTAMP)""")


def entries(con: duckdb.DuckDBPyConnection, source_id: str | None = None) -> list[dict]:
    """The cache's ``files`` rows (of one source), oldest first; none when there is no cache yet."""
    try:
        cur = con.execute(f"SELECT * FROM {INDEX}" + (" WHERE source_id = ?" if source_id else "") + " ORDER BY cached_at, sha256",
                          [source_id] if source_id else [])
    except duckdb.CatalogException:
        return []
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


class StageCache:
    """The kept staged tables of one source for one load (see the module text).

    Made before :func:`ingest_source` (it notes the key, the code and the folder's files then);
    :attr:`staged` is what to pass as ``staged``; :meth:`save` after the raw table's commit."""

    def __init__(self, con: duckdb.DuckDBPyConnection, contract: Contract, landing_root: Path, full: bool = False):
        self.con = con
        self.contract = contract
        self.landing_root = Path(landing_root)
        self.full = full
        self.key = file_key(contract)
        self.code = code_digest()
        self.before = folder_state(contract, self.landing_root)
        self.staged: dict[str, FileStage] = {} if full else self._load()

    def _load(self) -> dict[str, FileStage]:
        """The valid entries of the source: same key and code, table present."""
        try:
            rows = self.con.execute(
                f"SELECT i.sha256, i.table_name, i.facts FROM {INDEX} i JOIN duckdb_tables() t ON t.schema_name = ?"
                " AND t.table_name = i.table_name AND t.database_name = current_database()"
                " WHERE i.source_id = ? AND i.file_key = ? AND i.code_digest = ?",
                [SCHEMA, self.contract.source_id, self.key, self.code]).fetchall()
        except duckdb.CatalogException:  # no cache yet
            return {}
        return {digest: FileStage.from_facts(json.loads(facts), f"{SCHEMA}.{q(name)}") for digest, name, facts in rows}

    def save(self, result, run_id: str) -> dict[str, int]:
        """Keep the staged tables of the files ``result`` read now and drop the entries no longer valid, in one
        transaction; call it after the raw table's commit, on the same connection, before ``result`` is
        closed. Returns ``kept`` (entries now), ``added``, ``dropped``; raises (after a rollback) when the
        cache cannot be written."""
        con, sid = self.con, self.contract.source_id
        after = folder_state(self.contract, self.landing_root)
        same_rules = file_key(self.contract) == self.key
        created = set(result.stage.created) if result.stage is not None else set()
        new: dict[str, FileStage] = {}
        for f in result.files:
            stat = self.before.get(f.label)
            if (same_rules and f.table in created and f.rejection is None and f.known_rows is None
                    and stat is not None and after.get(f.label) == stat):
                new.setdefault(f.digest, f)
        present = {a["sha256"] for a in result.audit}
        now = dt.datetime.now()
        con.execute("BEGIN")
        try:
            _ensure(con)
            dropped = 0
            for e in entries(con, sid):
                if (self.full or e["file_key"] != self.key or e["code_digest"] != self.code
                        or e["sha256"] not in present or e["sha256"] in new):
                    con.execute(f"DROP TABLE IF EXISTS {SCHEMA}.{q(e['table_name'])}")
                    con.execute(f"DELETE FROM {INDEX} WHERE source_id = ? AND sha256 = ?", [sid, e["sha256"]])
                    dropped += e["sha256"] not in new
            index_rows = []
            for digest, f in new.items():
                name = table_name(sid, digest)
                con.execute(f"CREATE OR REPLACE TABLE {SCHEMA}.{q(name)} AS SELECT * FROM {f.table}")
                index_rows.append([sid, digest, name, self.key, self.code, _facts(f), f.rows, run_id, now])
            for k in range(0, len(index_rows), 100):  # the index rows in one statement per hundred
                chunk = index_rows[k:k + 100]
                con.execute(f"INSERT INTO {INDEX} VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk)),
                            [v for row in chunk for v in row])
            # tables of this source without an entry (none unless written by hand or an older version)
            listed = {e["table_name"] for e in entries(con, sid)}
            prefix = f"{sid}__"
            for (name,) in con.execute(f"SELECT table_name FROM duckdb_tables() WHERE schema_name = ? AND database_name = current_database()"
                                       " AND starts_with(table_name, ?)", [SCHEMA, prefix]).fetchall():
                if name not in listed and len(name) == len(prefix) + 32:
                    con.execute(f"DROP TABLE {SCHEMA}.{q(name)}")
            kept = len(listed)
            con.execute("COMMIT")
        except BaseException:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass
            raise
        return {"kept": kept, "added": len(new), "dropped": dropped}
