"""Dagster's SQLite run history, written without a new database connection per event (issue 20.3).

Dagster's SQLite storages (``storage: sqlite``) build a new SQLAlchemy engine and open a new SQLite
connection for every read and every event they store, and a night stores about 2,000 events (each step,
log line, asset materialization, asset check and planned one; asset events twice: the run's file and the
index). Each new connection reads the schema again and, as the last connection to a file closes, checkpoints
its write-ahead log; with Dagster's default ``synchronous=FULL`` each commit also waits for the disk. In
the profile of a small night this was a fifth of the Dagster process's time.

:class:`KeptConnectionsSqliteStorage` is the same storage (same files, same tables: ``dagster_home/history/
runs.db``, ``history/runs/<run id>.db`` and ``index.db``, ``schedules/schedules.db``; the stock
``storage: sqlite`` reads them, and reads what it wrote before) with two differences:

* one engine per file, kept for the life of the process (the latest :data:`MAX_KEPT` run files of the event
  log, so a long-lived code server or daemon does not keep every run's file open), whose pool keeps the
  connections open between events;
* ``PRAGMA synchronous=NORMAL`` on each connection: in WAL mode a commit no longer waits for the disk; the
  database stays consistent after a power cut (SQLite's documented guarantee), at worst losing the last
  events written before it, which the warehouse's own run history (``history/pipeline_runs.jsonl``,
  fsync'd) does not depend on.

Configured in the project's ``dagster.yaml`` (``storage: custom``), so every process that opens the
instance (``kpi run``, the daemon, the webserver) uses it. Tests: ``tests/test_dagster_storage.py``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

MAX_KEPT = 8  # run files of the event log kept open at once (besides index.db); the oldest is closed first

_ENGINES: list[Engine] = []  # every engine built here: disposed in a forked child (its connections are the parent's)


def _on_connect(dbapi_connection, _record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def kept_engine(conn_string: str) -> Engine:
    """An engine on one SQLite file whose pool keeps its connections open (``synchronous=NORMAL`` on each).

    At most one connection is normally in use at a time (the event log holds a lock around its use); a few
    threads of one process (the run's progress printer, the daemon's threads) may each take one."""
    engine = create_engine(
        conn_string,
        poolclass=QueuePool,
        pool_size=2,
        max_overflow=8,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
    )
    event.listen(engine, "connect", _on_connect)
    _ENGINES.append(engine)
    return engine


def _after_fork_in_child() -> None:
    for engine in _ENGINES:
        engine.dispose(close=False)  # the parent's connections stay the parent's: the child opens its own


os.register_at_fork(after_in_child=_after_fork_in_child)


class KeptConnectionsEventLogStorage(SqliteEventLogStorage):
    """Dagster's run-sharded SQLite event log (one file per run and ``index.db``) with kept engines."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()  # shard -> engine, most recently used last
        self._engines_lock = threading.Lock()
        super().__init__(base_dir, inst_data)

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            engine = self._engines.pop(shard, None) or kept_engine(self.conn_string_for_shard(shard))
            self._engines[shard] = engine
            for old in [s for s in self._engines if s != INDEX_SHARD_NAME][:-MAX_KEPT]:
                self._forget(old)
            return engine

    def _forget(self, shard: str) -> None:
        engine = self._engines.pop(shard, None)
        if engine is not None:
            engine.dispose()
            if engine in _ENGINES:
                _ENGINES.remove(engine)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:  # as Dagster's: one connection in use at a time per storage
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def has_table(self, table_name: str) -> bool:
        engine = self._engine(INDEX_SHARD_NAME)
        with engine.connect() as conn:
            return bool(engine.dialect.has_table(conn, table_name))

    def delete_events(self, run_id: str) -> None:
        super().delete_events(run_id)
        with self._engines_lock:  # the run's file may be deleted next (retention): do not keep it open
            self._forget(run_id)

    def wipe(self) -> None:
        with self._engines_lock:
            for shard in [s for s in self._engines if s != INDEX_SHARD_NAME]:
                self._forget(shard)
        super().wipe()

    def dispose(self) -> None:
        with self._engines_lock:
            for shard in list(self._engines):
                self._forget(shard)
        super().dispose()


class _OneKeptEngine:
    """``connect`` of a single-file SQLite storage (``_conn_string``) through one engine made on first use and kept
    (closed by ``dispose``)."""

    @property
    def _kept(self) -> Engine:
        engine = self.__dict__.get("_kept_engine")
        if engine is None:
            engine = self.__dict__["_kept_engine"] = kept_engine(self._conn_string)
        return engine

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self._kept.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        engine = self.__dict__.pop("_kept_engine", None)
        if engine is not None:
            engine.dispose()
        super().dispose()


class KeptConnectionsRunStorage(_OneKeptEngine, SqliteRunStorage):
    """Dagster's SQLite run storage (``history/runs.db``) with one kept engine."""


class KeptConnectionsScheduleStorage(_OneKeptEngine, SqliteScheduleStorage):
    """Dagster's SQLite schedule and sensor storage (``schedules/schedules.db``) with one kept engine."""


class KeptConnectionsSqliteStorage(DagsterSqliteStorage):
    """``storage: custom`` of the project's ``dagster.yaml``: the SQLite storage of ``storage: sqlite``
    (same ``base_dir``, same files) with the kept engines above. Config: ``base_dir`` (``$DAGSTER_HOME``)."""

    def __init__(self, base_dir: str, inst_data=None):  # noqa: D107 - as DagsterSqliteStorage, with the kept storages
        self.base_dir = base_dir
        self._run_storage = KeptConnectionsRunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = KeptConnectionsEventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = KeptConnectionsScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> KeptConnectionsSqliteStorage:
        return cls(inst_data=inst_data, **config_value)
