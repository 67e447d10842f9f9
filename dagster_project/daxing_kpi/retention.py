"""Bounded storage (issue 19.6): what each run leaves behind is kept for a retention the operator sets.

Settings (read at every run; checked first by :mod:`daxing_kpi.preflight`):

* ``KPI_RETENTION_RUNS`` (default 30): at most this many runs' leftovers are kept;
* ``KPI_RETENTION_DAYS`` (default 30): nothing older than this many days is kept.

Both limits apply: an item goes when it is beyond the newest ``KPI_RETENTION_RUNS`` or older than
``KPI_RETENTION_DAYS``. The run in progress and runs not finished are never touched. At the end of
every run (holding the warehouse lock) :func:`prune` removes, beyond the retention:

* dbt's per-run target folders ``<warehouse>/dbt_runs/<dbt step>-<run>-<id>/`` (about 20 MB each;
  :func:`daxing_kpi.paths.dbt_runs_dir`);
* Dagster's runs in ``$DAGSTER_HOME`` (run records, their event logs and per-run event database files,
  their asset-check evaluations, compute logs), then the SQLite files are compacted (``VACUUM``) when
  nothing else holds them;
* ``kpi run``'s logs (``<warehouse>/logs/*.log``) and the failure reports (``<warehouse>/failures/*.txt``);
* the run history ``history/pipeline_runs.jsonl`` is compacted to one line per run (the history
  itself is small and kept whole: it is the record of every run).

Not pruned, because already bounded: the dashboard's versions (the current and the previous one,
:mod:`daxing_kpi.atomic`), damaged working databases moved aside (the newest one,
:mod:`daxing_kpi.selfheal`), dbt's own ``dbt/logs/dbt.log`` (rotated by dbt), Dagster's tick history
(``retention`` in ``dagster.yaml``).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from daxing_kpi.paths import dbt_runs_dir, failures_dir, logs_dir

DAYS_ENV, RUNS_ENV = "KPI_RETENTION_DAYS", "KPI_RETENTION_RUNS"
DEFAULT_DAYS, DEFAULT_RUNS = 30, 30
DBT_STEP_PREFIX = "daxing_dbt_models-"  # dagster-dbt names each run's target folder <step>-<run id[:7]>-<id>


@dataclass(frozen=True)
class Retention:
    days: int
    runs: int

    @classmethod
    def from_env(cls) -> Retention:
        return cls(int(os.environ.get(DAYS_ENV) or DEFAULT_DAYS), int(os.environ.get(RUNS_ENV) or DEFAULT_RUNS))

    def expired(self, items: list[tuple[object, float]], now: float | None = None) -> list[object]:
        """Items (key, time in seconds) beyond the newest ``runs`` or older than ``days``."""
        cutoff = (now or time.time()) - self.days * 86400
        ordered = sorted(items, key=lambda kv: kv[1], reverse=True)
        return [k for i, (k, t) in enumerate(ordered) if i >= self.runs or t < cutoff]


@dataclass
class PruneResult:
    removed: dict[str, int] = field(default_factory=dict)  # what -> how many
    freed_bytes: int = 0

    def add(self, what: str, n: int = 1, size: int = 0) -> None:
        if n:
            self.removed[what] = self.removed.get(what, 0) + n
        self.freed_bytes += size

    def describe(self) -> str:
        parts = ", ".join(f"{n} {what}" for what, n in self.removed.items())
        return f"retention: removed {parts} ({self.freed_bytes / 1e6:.1f} MB)"


def tree_size(path: Path) -> int:
    """Bytes of the files under ``path`` (a file: its size; missing: 0)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def prune_dbt_targets(retention: Retention, current_run_id: str | None, result: PruneResult) -> None:
    target = dbt_runs_dir()
    if not target.is_dir():
        return
    current = f"{DBT_STEP_PREFIX}{current_run_id[:7]}-" if current_run_id else None
    folders = [(p, p.stat().st_mtime) for p in target.iterdir() if p.is_dir() and p.name.startswith(DBT_STEP_PREFIX)
               and not (current and p.name.startswith(current))]
    # the current run's folder counts as one of the kept runs
    keep = Retention(retention.days, max(0, retention.runs - (1 if current_run_id else 0)))
    for p in keep.expired(folders):
        size = tree_size(p)
        shutil.rmtree(p, ignore_errors=True)
        result.add("dbt target folders", 1, size)


def _vacuum(db: Path) -> None:
    if not db.exists():
        return
    try:
        con = sqlite3.connect(str(db), timeout=2)
        try:
            con.execute("VACUUM")
        finally:
            con.close()
    except sqlite3.Error:
        pass  # busy (the webserver or daemon reading it): compacted at a later run


def prune_dagster_runs(instance, retention: Retention, current_run_id: str | None, result: PruneResult) -> None:
    import dagster as dg

    finished = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
    records = instance.get_run_records(dg.RunsFilter(statuses=finished))
    items = [(r.dagster_run.run_id, r.create_timestamp.timestamp()) for r in records if r.dagster_run.run_id != current_run_id]
    keep = Retention(retention.days, max(0, retention.runs - (1 if current_run_id else 0)))
    expired = keep.expired(items)
    if not expired:
        return
    home = Path(instance.root_directory) if getattr(instance, "root_directory", None) else None
    _delete_check_executions(instance, expired)
    for run_id in expired:
        size = 0
        instance.delete_run(run_id)
        if home is not None:
            for p in [home / "history" / "runs" / f"{run_id}.db{s}" for s in ("", "-wal", "-shm")] + [home / "storage" / run_id]:
                if p.exists():
                    size += tree_size(p)
                    shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        result.add("Dagster runs", 1, size)
    if home is not None:
        before = sum(tree_size(home / "history" / n) for n in ("runs.db", "runs/index.db"))
        _vacuum(home / "history" / "runs.db")
        _vacuum(home / "history" / "runs" / "index.db")
        result.add("", 0, max(0, before - sum(tree_size(home / "history" / n) for n in ("runs.db", "runs/index.db"))))


def _delete_check_executions(instance, run_ids: list[str]) -> None:
    """Dagster's ``delete_run`` keeps the runs' rows of ``asset_check_executions`` (about 1.4 MB a run
    here: every check's evaluation): they go with their runs."""
    try:
        from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable

        storage = instance.event_log_storage
        with storage.index_connection() as conn:
            conn.execute(AssetCheckExecutionsTable.delete().where(AssetCheckExecutionsTable.c.run_id.in_(run_ids)))
    except Exception:  # noqa: BLE001 - another storage (Postgres) or a changed schema: the runs still go
        pass


def prune_files(folder: Path, pattern: str, retention: Retention, what: str, result: PruneResult,
                protect: str | None = None) -> None:
    files = [(p, p.stat().st_mtime) for p in folder.glob(pattern) if p.is_file() and not (protect and protect in p.name)]
    keep = Retention(retention.days, max(0, retention.runs - (1 if protect else 0)))
    for p in keep.expired(files):
        size = p.stat().st_size
        p.unlink(missing_ok=True)
        result.add(what, 1, size)


def prune(instance=None, current_run_id: str | None = None, retention: Retention | None = None) -> PruneResult:
    """Remove what is beyond the retention (see the module docstring); call holding the run lock.
    ``instance``: the Dagster instance whose runs are pruned (skipped when ``None``)."""
    from daxing_kpi import operations

    retention = retention or Retention.from_env()
    result = PruneResult()
    prune_dbt_targets(retention, current_run_id, result)
    if instance is not None:
        prune_dagster_runs(instance, retention, current_run_id, result)
    prune_files(logs_dir(), "*.log", retention, "run logs", result, protect=current_run_id)
    prune_files(failures_dir(), "*.txt", retention, "failure reports", result, protect=current_run_id)
    operations.compact_history()
    return result
