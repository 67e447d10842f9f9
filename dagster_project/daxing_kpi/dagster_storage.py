"""Cheaper writes to Dagster's SQLite run history (issue 20.3).

Dagster's SQLite event log opens a new connection for every event it stores (a run of the nightly job
stores about 2,000: each step, each asset materialization and asset check, each planned one) and commits
each in WAL mode with ``synchronous=FULL``: one fsync per commit, and, as the last connection to the file
closes, a checkpoint with more fsyncs. On a disk shared with other work that is seconds to minutes of a
night spent waiting for the disk.

:func:`install` registers one SQLAlchemy ``connect`` listener for the SQLite files under ``$DAGSTER_HOME``:

* ``PRAGMA synchronous=NORMAL``: in WAL mode a commit no longer waits for the disk; the database stays
  consistent after a power cut (SQLite's documented guarantee), at worst losing the last events written
  before it, which the run history of the warehouse (``history/pipeline_runs.jsonl``, fsync'd) does not
  depend on;
* one connection kept open per file for the life of the process, so closing the others does not
  checkpoint and delete the write-ahead log each time (SQLite still checkpoints every 1,000 pages).

Other SQLite files and other databases are left alone. Called by the code location
(:mod:`daxing_kpi.definitions`) and by ``kpi run`` before it opens the Dagster instance.
"""

from __future__ import annotations

import os
import sqlite3
import threading

_KEPT: dict[str, sqlite3.Connection] = {}  # path -> connection, oldest first
MAX_KEPT = 8  # a long-lived process (the code server) touches many runs' files: keep the latest few
_LOCK = threading.Lock()
_INSTALLED = False


def _home() -> str | None:
    home = os.environ.get("DAGSTER_HOME")
    return os.path.realpath(home) if home else None


def _on_connect(dbapi_connection, _record) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    home = _home()
    if home is None:
        return
    try:
        row = dbapi_connection.execute("PRAGMA database_list").fetchone()
    except sqlite3.Error:
        return
    path = row[2] if row else ""
    if not path or not os.path.realpath(path).startswith(home + os.sep):
        return
    try:
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.Error:
        return
    with _LOCK:
        if path in _KEPT:
            try:  # a read by the kept connection: it holds the write-ahead log open (the file may have become WAL since)
                _KEPT[path].execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.Error:
                pass
            return
        try:
            keeper = sqlite3.connect(path, check_same_thread=False, timeout=30)
            keeper.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens the WAL: this connection now counts
            _KEPT[path] = keeper
        except sqlite3.Error:
            return
        while len(_KEPT) > MAX_KEPT:
            oldest = next(iter(_KEPT))
            try:
                _KEPT.pop(oldest).close()
            except sqlite3.Error:
                pass


def install() -> None:
    """Register the listener (once per process)."""
    global _INSTALLED
    if _INSTALLED:
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    event.listen(Engine, "connect", _on_connect)
    _INSTALLED = True


def release() -> None:
    """Close the connections kept open (tests; a process that ends closes them itself)."""
    with _LOCK:
        for con in _KEPT.values():
            try:
                con.close()
            except sqlite3.Error:
                pass
        _KEPT.clear()
