"""Self-healing state (issue 19.5): the working database is derived data, rebuilt when it cannot be used.

The landing files are the source of truth; the working database (``work/work.duckdb``: raw layer,
audit, quarantine, dbt models) is rebuilt from them by any run that starts with an empty one. Each run,
holding the warehouse lock and before anything else touches the database, calls :func:`heal`:

* **damaged working database** (DuckDB cannot open it or read its catalog and tables: truncated,
  overwritten, not a DuckDB file, a write-ahead log that cannot be replayed): the file (and its log) is
  moved aside to ``work/damaged/work-<time>.duckdb`` for diagnosis, and the run rebuilds it from the
  landing files. The quality gate's check history (``audit.dq_results``) is restored from the published
  database's ``dq_results``; the run history lives outside the database
  (``history/pipeline_runs.jsonl``, :mod:`daxing_kpi.operations`) and is not touched;
* **changed person-key secret** (the fingerprint in ``work/person_key.fingerprint`` differs from the key
  the run uses, :mod:`daxing_kpi.personkey`): person keys made with two keys cannot be linked, so the
  working database is moved aside the same way and rebuilt with the new key;
* **damaged published database** (``analytics.duckdb`` cannot be read): noted; this run's publication
  replaces it and the run says so.

Each repair returns one sentence; the run prints it, logs it and stores it in ``pipeline_runs.notes``.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb

from daxing_kpi.paths import analytics_db_path, work_db_path

KEEP_DAMAGED = 1  # damaged copies kept for diagnosis (they hold personal data: owner-only folder)
FINGERPRINT_FILE = "person_key.fingerprint"
# DuckDB's words when a file is damaged (shared with the analysts' messages)
DAMAGED_MESSAGES = ("not a valid DuckDB database file", "Corrupt database file", "Could not read enough bytes",
                    "checksum", "Failure while replaying WAL", "INTERNAL Error", "database has been invalidated",
                    "Serialization Error", "Invalid Input Error: Could not read")


def is_damaged(exc: BaseException) -> bool:
    """Whether a DuckDB error says the database file is damaged (not locked, not a wrong query)."""
    text = str(exc).lower()
    return any(m.lower() in text for m in DAMAGED_MESSAGES)


def probe(path: Path, read_only: bool = False) -> str | None:
    """``None`` when the DuckDB file ``path`` opens and its catalog and every table's first rows read;
    else DuckDB's first message line. A file locked by another process is not damaged: that error
    is raised."""
    try:
        with duckdb.connect(str(path), read_only=read_only) as con:
            tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT internal").fetchall()
            for schema, table in tables:
                con.execute(f'SELECT * FROM "{schema}"."{table}" LIMIT 1').fetchall()
    except duckdb.Error as exc:
        if "lock" in str(exc).lower() and not is_damaged(exc):
            raise
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


def damaged_folder() -> Path:
    return work_db_path().parent / "damaged"


def move_aside(reason: str) -> Path:
    """Move the working database (and its log) to ``work/damaged/`` and keep the newest
    :data:`KEEP_DAMAGED` copies; returns the new path."""
    src = work_db_path()
    folder = damaged_folder()
    folder.mkdir(mode=0o700, exist_ok=True)
    dst = folder / f"work-{dt.datetime.now():%Y%m%d-%H%M%S}-{reason}.duckdb"
    os.replace(src, dst)
    wal = src.with_name(src.name + ".wal")
    if wal.exists():
        os.replace(wal, dst.with_name(dst.name + ".wal"))
    copies = sorted((p for p in folder.glob("work-*.duckdb")), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in copies[KEEP_DAMAGED:]:
        old.unlink(missing_ok=True)
        old.with_name(old.name + ".wal").unlink(missing_ok=True)
    return dst


def restore_check_history() -> int:
    """Copy the published ``dq_results`` into a new working database's ``audit.dq_results`` (the gate
    compares with earlier runs' checks); returns the rows copied (0 when nothing could be read)."""
    from daxing_kpi import dq
    from daxing_kpi.warehouse import connect_work

    pub = analytics_db_path()
    if not pub.exists() or probe(pub, read_only=True) is not None:
        return 0
    with connect_work() as con:
        dq.ensure_dq_tables(con)
        con.execute(f"ATTACH '{pub}' AS pub (READ_ONLY)")
        try:
            have = {r[0] for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = 'pub' AND table_name = 'dq_results'").fetchall()}
            cols = [c for c in dq.DQ_COLUMN_NAMES if c in have]
            if not cols:
                return 0
            names = ", ".join(f'"{c}"' for c in cols)
            con.execute(f"INSERT INTO audit.dq_results ({names}) SELECT {names} FROM pub.main.dq_results")
            return con.execute("SELECT count(*) FROM audit.dq_results").fetchone()[0]
        finally:
            con.execute("DETACH pub")


def rebuild_marker() -> Path:
    """``work/.rebuild-requested``: written by a run that failed on a damaged working database (a
    damaged block found in the middle of a step); the next run moves the file aside and rebuilds."""
    return work_db_path().parent / ".rebuild-requested"


def request_rebuild(error: str) -> Path:
    marker = rebuild_marker()
    marker.write_text(error.splitlines()[0][:300] + "\n", encoding="utf-8")
    return marker


def _fingerprint_path() -> Path:
    return work_db_path().parent / FINGERPRINT_FILE


def heal(key_fingerprint: str | None = None) -> list[str]:
    """Check and repair the warehouse's state before a run (see the module docstring); returns the
    sentences saying what was done (empty when nothing was needed). Call holding the run lock."""
    notes: list[str] = []
    work = work_db_path()
    rebuilt = False
    requested = rebuild_marker()
    if work.exists() and requested.exists():
        reason = requested.read_text(encoding="utf-8").strip() or "a run found it damaged"
        moved = move_aside("damaged")
        rebuilt = True
        notes.append(f"The working database {work} was found damaged by the previous run ({reason}): it was moved aside "
                     f"to {moved} and this run rebuilds it from the landing files; the run history is kept.")
    requested.unlink(missing_ok=True)
    if work.exists():
        problem = probe(work)
        if problem is not None:
            moved = move_aside("damaged")
            rebuilt = True
            notes.append(f"The working database {work} was damaged ({problem}): it was moved aside to {moved} and this "
                         "run rebuilds it from the landing files; the run history is kept.")
    fp_file = _fingerprint_path()
    if key_fingerprint is not None:
        recorded = fp_file.read_text(encoding="utf-8").strip() if fp_file.exists() else None
        if work.exists() and recorded is not None and recorded != key_fingerprint:
            moved = move_aside("key-changed")
            rebuilt = True
            notes.append(f"The person-key secret changed (fingerprint {recorded} -> {key_fingerprint}): the working "
                         f"database made with the old key was moved aside to {moved} and this run rebuilds every person "
                         "key from the landing files with the new one.")
        fp_file.write_text(key_fingerprint + "\n", encoding="utf-8")
    if rebuilt:
        restored = restore_check_history()
        if restored:
            notes.append(f"The quality checks' history ({restored} results) was restored from the published database.")
    pub = analytics_db_path()
    if pub.exists():
        problem = probe(pub, read_only=True)
        if problem is not None:
            notes.append(f"The published database {pub} is damaged ({problem}); analysts cannot read it until this run "
                         "publishes a new one, which replaces it.")
    return notes
