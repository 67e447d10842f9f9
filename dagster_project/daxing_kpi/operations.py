"""Run history, failure notices, crash recovery and stale-file cleanup of the nightly job.

Every run of ``refresh_kpis_job`` (``kpi run``, the 02:00 schedule, the landing sensor, a run
started in Dagster's UI) leaves one row in the run history ``<warehouse>/history/pipeline_runs.jsonl``
(one JSON object a line, appended at each change of the run's state, the last line of a run wins;
outside the working database so that rebuilding that database never loses it, issue 19.5); the
publish step copies the history into each published ``analytics.duckdb`` as ``pipeline_runs``, the
current run included (with status ``published``). Columns: see :data:`PIPELINE_RUNS_COLUMNS`.

A failed run, including one refused before its job starts (a wrong setting, a missing person-key
secret), writes a short report to ``warehouse/failures/<started>_<run_id>.txt`` (its cause in one
sentence on the ``Cause:`` line, which step failed and why, exactly which run the published database
and the dashboard show now) and, when ``$KPI_ON_FAILURE_COMMAND`` is set, runs that shell command with
the report path as ``$1`` and in ``$KPI_FAILURE_REPORT``. When the warehouse folder itself cannot be
written the report goes to :func:`fallback_failures_dir`. A run that died (``kill -9``, power cut) is
found by the next run through the lock file (:mod:`daxing_kpi.runlock`) and gets the same treatment
with status ``crashed``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import textwrap
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import duckdb

from daxing_kpi import atomic
from daxing_kpi.paths import analytics_db_path, dashboard_dir, failures_dir, logs_dir, warehouse_dir, work_db_path

# Stages of the job, in order; :func:`stage_of` maps each Dagster step to one of them.
STAGES = ("ingest", "checks", "dbt", "publish", "dashboard")
TRIGGERS = ("schedule", "sensor", "manual")
FAILURE_COMMAND_ENV = "KPI_ON_FAILURE_COMMAND"
FAILURE_COMMAND_TIMEOUT = 120  # seconds

# history/pipeline_runs.jsonl (warehouse folder) = pipeline_runs (published DB): one row per run.
PIPELINE_RUNS_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("run_id", "VARCHAR", "Dagster run id"),
    ("trigger", "VARCHAR", "what started the run: schedule, sensor or manual"),
    ("status", "VARCHAR", "running, published (this run's own copy, written as it publishes), success, failed, crashed, "
                          "or no_new_data (nothing new since the last publication: nothing rebuilt, nothing published; why in notes)"),
    ("started_at", "TIMESTAMP", "local time the job started executing (holding the run lock)"),
    ("finished_at", "TIMESTAMP", "local time the run ended (NULL while running or when it crashed)"),
    ("duration_seconds", "DOUBLE", "finished_at - started_at, seconds"),
    ("sources", "VARCHAR", "sources refreshed: 'all' (the whole job), a comma-separated list of source ids (only what changed), "
                           "or 'none'"),
    ("files_loaded", "BIGINT", "landing files loaded, per source (a re-sent duplicate of an earlier file is not counted)"),
    ("rows_loaded", "BIGINT", "rows accepted into the raw layer, all sources"),
    ("rows_quarantined", "BIGINT", "rows set aside in audit.quarantine, all sources"),
    ("checks_failed", "BIGINT", "asset checks (Great Expectations, dbt tests, row accounting) that failed"),
    ("failed_step", "VARCHAR", "Dagster step that failed (NULL on success)"),
    ("error", "VARCHAR", "first lines of the error (NULL on success)"),
) + tuple((f"{s}_seconds", "DOUBLE", f"time spent in the {s} stage, seconds") for s in STAGES) + (
    ("notes", "VARCHAR", "what the run repaired or noticed before it started: a damaged working database rebuilt, "
                         "a changed person-key secret, a damaged published database replaced (NULL when nothing)"),
)
COLUMN_NAMES = tuple(c[0] for c in PIPELINE_RUNS_COLUMNS)
COLUMN_TYPES = {c[0]: c[1] for c in PIPELINE_RUNS_COLUMNS}


STAGE_OF_STEP = {"daxing_dbt_models": "dbt", "analytics_database": "publish", "kpi_dashboard": "dashboard"}


STAGE_OF_GROUP = {"landing": "ingest", "ingest": "ingest", "seeds": "dbt", "staging": "dbt", "intermediate": "dbt",
                  "marts": "dbt", "dbt": "dbt", "publish": "publish"}


@lru_cache(maxsize=1)
def _step_stages() -> dict[str, str]:
    """Stage of every step of the code location: asset-check steps are ``checks``; asset steps
    take the stage of their Dagster group (:data:`STAGE_OF_GROUP`, default ``ingest``)."""
    from daxing_kpi.definitions import defs

    graph = defs.resolve_asset_graph()
    out = {}
    for a in graph.assets_defs:
        if a.check_keys and not a.keys:
            out[a.node_def.name] = "checks"
        else:
            groups = sorted({graph.get(k).group_name for k in a.keys})
            out[a.node_def.name] = STAGE_OF_GROUP.get(groups[0], "ingest") if groups else "ingest"
    return out


def stage_of(step_key: str) -> str:
    """The stage of a Dagster step: ``dbt``, ``publish`` and ``dashboard`` by name
    (:data:`STAGE_OF_STEP`), ``checks`` for asset-check steps, else by the asset's group."""
    if step_key in STAGE_OF_STEP:
        return STAGE_OF_STEP[step_key]
    return _step_stages().get(step_key, "ingest")


def trigger_of(tags: Mapping[str, str]) -> str:
    """``schedule``, ``sensor`` or ``manual`` from a Dagster run's tags."""
    if tags.get("trigger") in TRIGGERS:
        return tags["trigger"]
    if tags.get("dagster/schedule_name"):
        return "schedule"
    if tags.get("dagster/sensor_name"):
        return "sensor"
    return "manual"


# -- facts about a run, from Dagster's event log --------------------------------------------------


@dataclass
class RunFacts:
    """What Dagster's event log says about one run."""

    run_id: str
    planned_steps: list[str] = field(default_factory=list)
    step_start: dict[str, float] = field(default_factory=dict)
    step_end: dict[str, float] = field(default_factory=dict)
    failed_steps: list[tuple[str, str]] = field(default_factory=list)  # (step key, error text)
    failed_checks: list[str] = field(default_factory=list)
    checks_passed: int = 0
    tags: dict = field(default_factory=dict)
    asset_selection: list[str] | None = None

    @property
    def running_steps(self) -> list[str]:
        return [s for s in self.step_start if s not in self.step_end]

    @property
    def not_run(self) -> list[str]:
        return [s for s in self.planned_steps if s not in self.step_start]

    @property
    def published(self) -> bool:
        return "analytics_database" in self.step_end and "analytics_database" not in dict(self.failed_steps)

    def stage_seconds(self, now: float | None = None) -> dict[str, float]:
        now = now or time.time()
        out = {s: 0.0 for s in STAGES}
        for step, start in self.step_start.items():
            out[stage_of(step)] += max(0.0, self.step_end.get(step, now) - start)
        return {s: round(v, 3) for s, v in out.items()}


def run_facts(instance, run_id: str) -> RunFacts:
    """Steps planned, started, finished and failed, and asset check results, of one run."""
    import dagster as dg

    facts = RunFacts(run_id)
    run = instance.get_run_by_id(run_id)
    if run is not None:
        facts.tags = dict(run.tags)
        facts.asset_selection = sorted(k.to_user_string() for k in run.asset_selection) if run.asset_selection else None
        if run.execution_plan_snapshot_id:
            snap = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
            keys = snap.step_keys_to_execute or [s.key for s in snap.steps]
            facts.planned_steps = list(keys)
    T = dg.DagsterEventType
    for entry in instance.all_logs(run_id):
        ev = entry.dagster_event
        if ev is None:
            continue
        kind = ev.event_type
        if kind == T.STEP_START:
            facts.step_start[entry.step_key] = entry.timestamp
        elif kind == T.STEP_SKIPPED:
            facts.step_start.setdefault(entry.step_key, entry.timestamp)
            facts.step_end[entry.step_key] = entry.timestamp
        elif kind in (T.STEP_SUCCESS, T.STEP_FAILURE):
            facts.step_end[entry.step_key] = entry.timestamp
            if kind == T.STEP_FAILURE:
                err = ev.step_failure_data.error if ev.step_failure_data else None
                facts.failed_steps.append((entry.step_key, error_text(err) if err else entry.message))
        elif kind == T.ASSET_CHECK_EVALUATION:
            evaluation = ev.event_specific_data
            if evaluation.passed:
                facts.checks_passed += 1
            else:
                facts.failed_checks.append(f"{evaluation.asset_key.to_user_string()} {evaluation.check_name}")
    return facts


def error_text(err) -> str:
    """Message of a Dagster ``SerializableErrorInfo`` and of its causes (no stack frames)."""
    parts = []
    while err is not None and len(parts) < 4:
        if not (err.cls_name == "DagsterExecutionStepExecutionError" and err.cause is not None):  # only a wrapper
            parts.append((err.message or "").strip())
        err = err.cause
    return "\n".join(p for p in parts if p)


def refreshed_sources(facts: RunFacts) -> str:
    """``all`` or the comma-separated source ids a run selected."""
    if not facts.asset_selection:
        return "all"
    raws = [k.split("/", 1)[1] for k in facts.asset_selection if k.startswith("raw/")]
    return ",".join(raws) if raws else "none"


# -- run history: warehouse/history/pipeline_runs.jsonl ----------------------------------------------------


def history_path() -> Path:
    """The run history: ``<warehouse>/history/pipeline_runs.jsonl``, outside the working database so
    that rebuilding that database (:mod:`daxing_kpi.selfheal`) never loses it (issue 19.5)."""
    folder = warehouse_dir() / "history"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "pipeline_runs.jsonl"


def _to_json(value):
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="microseconds")
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def _from_json(name: str, value):
    if value is None:
        return None
    typ = COLUMN_TYPES.get(name)
    if typ == "TIMESTAMP":
        return dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if typ == "BIGINT":
        return int(value)
    if typ == "DOUBLE":
        return float(value)
    return value


def _append_history(rows: list[dict]) -> None:
    """Append full rows (one JSON object a line, fsync'd): the last line of a run wins."""
    payload = "".join(
        json.dumps({c: _to_json(r.get(c)) for c in COLUMN_NAMES}, ensure_ascii=False) + "\n" for r in rows
    ).encode("utf-8")
    fd = os.open(history_path(), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, payload)
        os.fsync(fd)
    finally:
        os.close(fd)


def _migrate_history() -> None:
    """First use after the move out of the working database: import ``audit.pipeline_runs`` of the
    working database, or, when that cannot be read, the published ``pipeline_runs``."""
    for path, table in ((work_db_path(), "audit.pipeline_runs"), (analytics_db_path(), "main.pipeline_runs")):
        if not path.exists():
            continue
        try:
            with duckdb.connect(str(path), read_only=True) as con:
                have = {r[0] for r in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND table_name = 'pipeline_runs'",
                    [table.split(".")[0]]).fetchall()}
                if not have:
                    continue
                cols = [c for c in COLUMN_NAMES if c in have]
                cur = con.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY started_at")
                rows = [dict(zip(cols, r)) for r in cur.fetchall()]
        except duckdb.Error:
            continue
        _append_history(rows)
        return
    history_path().touch()


def read_history() -> dict[str, dict]:
    """Every run's latest row, by run id, in the order the runs were first recorded. A line that
    cannot be read (a write cut by a kill) is skipped."""
    path = history_path()
    if not path.exists():
        _migrate_history()
    runs: dict[str, dict] = {}
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                data = json.loads(line)
                row = {c: _from_json(c, data.get(c)) for c in COLUMN_NAMES}
            except (ValueError, TypeError):
                continue
            if row.get("run_id"):
                runs[row["run_id"]] = row
    return runs


def compact_history() -> int:
    """Rewrite the history with one line per run (atomically); returns the number of runs. Call
    while holding the run lock."""
    runs = read_history()
    path = history_path()
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps({c: _to_json(r.get(c)) for c in COLUMN_NAMES}, ensure_ascii=False) + "\n"
                           for r in runs.values()), encoding="utf-8")
    os.replace(tmp, path)
    return len(runs)


def history_frame():
    """The run history as a pandas frame with :data:`PIPELINE_RUNS_COLUMNS`, by start time (for publication)."""
    import pandas as pd

    rows = list(read_history().values())
    frame = pd.DataFrame(rows, columns=list(COLUMN_NAMES))
    return frame.sort_values("started_at", kind="stable", na_position="first").reset_index(drop=True)


def read_run(run_id: str) -> dict | None:
    """The history row of a run, or ``None``."""
    return read_history().get(run_id)


def upsert_run(row: dict) -> None:
    """Store the row of ``row['run_id']`` (appended to the history; it replaces the run's earlier row)."""
    previous = read_run(row["run_id"]) or {}
    _append_history([{**previous, **row}])


def _connect_work(wait_seconds: float = 60) -> duckdb.DuckDBPyConnection:
    """Open the working database, retrying while another process (a dbt still shutting down
    after a failure) holds its write lock."""
    from daxing_kpi.warehouse import connect_work

    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return connect_work()
        except duckdb.IOException as e:
            if "lock" not in str(e).lower() or time.monotonic() > deadline:
                raise
            time.sleep(1)


def ingest_totals(run_id: str) -> dict[str, int]:
    """Files loaded and rows loaded / quarantined by a run, from ``audit.ingest_audit``."""
    zero = {"files_loaded": 0, "rows_loaded": 0, "rows_quarantined": 0}
    try:
        return _ingest_totals(run_id, zero)
    except duckdb.Error:  # a damaged or missing working database: the run's row is still recorded
        return zero


def _ingest_totals(run_id: str, zero: dict) -> dict[str, int]:
    with _connect_work() as con:
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'audit' AND table_name = 'ingest_audit'"
        ).fetchone()[0]
        if not exists:
            return zero
        r = con.execute(
            """SELECT count(*) FILTER (WHERE status <> 'skipped_duplicate_file'), coalesce(sum(rows_loaded), 0),
                      coalesce(sum(rows_quarantined), 0)
               FROM audit.ingest_audit WHERE run_id = ?""",
            [run_id],
        ).fetchone()
    return {"files_loaded": int(r[0]), "rows_loaded": int(r[1]), "rows_quarantined": int(r[2])}


def record_run_start(run_id: str, trigger: str, sources: str = "all", notes: str | None = None) -> dict:
    """Write the ``running`` row of a run that just took the lock (``notes``: what it repaired first)."""
    row = {"run_id": run_id, "trigger": trigger, "status": "running", "started_at": dt.datetime.now(), "sources": sources,
           "notes": notes}
    upsert_run(row)
    return row


def record_run(instance, run_id: str, status: str, finished: bool = False, facts: RunFacts | None = None) -> dict:
    """Recompute a run's row from Dagster's event log and the ingest audit, and store it.

    ``status`` is written as given (``published`` by the publish step just before it copies
    the history into the new file, ``success``/``failed`` at the end). Returns the row.
    """
    facts = facts or run_facts(instance, run_id)
    row = read_run(run_id) or {"run_id": run_id, "trigger": trigger_of(facts.tags), "started_at": dt.datetime.now()}
    now = dt.datetime.now()
    row.update(status=status, sources=refreshed_sources(facts), checks_failed=len(facts.failed_checks))
    row.update(ingest_totals(run_id))
    row.update({f"{s}_seconds": v for s, v in facts.stage_seconds().items()})
    if finished:
        row["finished_at"] = now
        row["duration_seconds"] = round((now - row["started_at"]).total_seconds(), 3)
    if facts.failed_steps:
        step, err = facts.failed_steps[0]
        row["failed_step"] = step
        row["error"] = err[:1000]
    upsert_run(row)
    return row


# -- what is published now ------------------------------------------------------------------------------


def published_state() -> dict:
    """Run id and time of the published database, and the run id of the dashboard's version.

    ``db_error`` is set when the published file cannot be read (damaged); ``error`` when the
    warehouse folder itself cannot be used. Never raises."""
    state: dict = {"db_path": None, "db_run_id": None, "db_published_at": None, "dashboard_path": None,
                   "dashboard_run_id": None}
    try:
        db = analytics_db_path()
        state["db_path"] = str(db)
        state["dashboard_path"] = str(dashboard_dir() / "index.html")
    except OSError as e:
        state["error"] = f"{type(e).__name__}: {e}"
        return state
    if db.exists():
        try:
            with duckdb.connect(str(db), read_only=True) as con:
                r = con.execute("SELECT run_id, published_at FROM publish_metadata").fetchone()
            state["db_run_id"], state["db_published_at"] = r[0], str(r[1])[:19]
        except duckdb.Error as e:  # a damaged file: the next good run replaces it
            state["db_error"] = str(e).splitlines()[0]
    try:
        version = atomic.current_version(dashboard_dir())
    except OSError:
        version = None
    if version is not None and "_" in version.name:
        state["dashboard_run_id"] = version.name.split("_", 1)[1]
    return state


def describe_published(state: dict, this_run: str, published_by_this_run: bool | None = None) -> list[str]:
    """Report lines saying exactly which run's database and which run's dashboard analysts see now,
    read from the files themselves (``published_by_this_run`` is kept for callers; the files decide)."""
    if state.get("error"):
        return [f"  Unknown: the warehouse folder cannot be used ({state['error']})."]
    lines = []
    if state.get("db_error"):
        lines.append(f"  Database  {state['db_path']}: DAMAGED, analysts cannot read it ({state['db_error']});"
                     " the next successful run replaces it.")
    elif state["db_run_id"] is None:
        lines.append(f"  Database  {state['db_path']}: nothing has been published yet.")
    elif state["db_run_id"] == this_run:
        lines.append(f"  Database  {state['db_path']}: CHANGED, published by THIS run at {state['db_published_at']}"
                     " (its blocking checks passed).")
    else:
        lines.append(f"  Database  {state['db_path']}: unchanged, still the version of run {state['db_run_id']}"
                     f" published {state['db_published_at']}.")
    if state["dashboard_run_id"] is None:
        lines.append(f"  Dashboard {state['dashboard_path']}: not published yet.")
    elif state["dashboard_run_id"] == this_run:
        lines.append(f"  Dashboard {state['dashboard_path']}: CHANGED, shows THIS run.")
    else:
        same = " (same version as the database)" if state["dashboard_run_id"] == state["db_run_id"] else ""
        lines.append(f"  Dashboard {state['dashboard_path']}: unchanged, shows run {state['dashboard_run_id']}{same}.")
    if state["db_run_id"] and state["dashboard_run_id"] and state["db_run_id"] != state["dashboard_run_id"]:
        lines.append("  The database and the dashboard show different runs until the next successful run.")
    return lines


# -- failure notice ---------------------------------------------------------------------------------------


def run_log_path(run_id: str) -> Path | None:
    """The full log ``kpi run`` wrote for a run, if any."""
    try:
        hits = sorted(logs_dir().glob(f"*_{run_id}.log"))
    except OSError:
        return None
    return hits[-1] if hits else None


def _quality_summary(run_id: str) -> str | None:
    """The quality gate's one-paragraph summary of a run's failed checks (:func:`daxing_kpi.dq.failure_summary`)."""
    try:
        from daxing_kpi import dq

        return dq.run_failure_summary(run_id)
    except Exception:  # noqa: BLE001 - the report must be written even if the results cannot be read
        return None


def _rejected_file_lines() -> list[str]:
    """The files set aside by ingestion (:func:`daxing_kpi.ingest.report.report_lines`); [] if unreadable."""
    try:
        from daxing_kpi.ingest.report import report_lines

        return report_lines()
    except Exception:  # noqa: BLE001 - the report must be written even if the audit cannot be read
        return []


def fallback_failures_dir() -> Path:
    """Where failure reports go when the warehouse folder cannot be written: ``$XDG_STATE_HOME`` (default
    ``~/.local/state``) ``/daxing-kpi/failures``, else ``<system temp>/daxing-kpi-failures-<uid>``."""
    import tempfile

    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    for folder in (Path(base) / "daxing-kpi" / "failures", Path(tempfile.gettempdir()) / f"daxing-kpi-failures-{os.getuid()}"):
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            probe = folder / f".probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
            return folder
        except OSError:
            continue
    return Path(tempfile.gettempdir())


def one_sentence(text: str, limit: int = 400) -> str:
    """The first sentence of ``text`` (its first line, cut after the first full stop), at most ``limit`` characters."""
    line = next((x.strip() for x in (text or "").strip().splitlines() if x.strip()), "") or "no message"
    depth = 0  # a full stop inside brackets or quotes ("e.g.", a quoted message) does not end the sentence
    quoted = False
    for i, ch in enumerate(line):
        depth += ch in "([{" and 1 or 0
        depth -= ch in ")]}" and 1 or 0
        quoted = quoted != (ch == "`")
        if depth <= 0 and not quoted and ch in ".。" and (i + 1 == len(line) or line[i + 1] == " ") and i > 20 \
                and not line[max(0, i - 3):i + 1].lower().endswith(("e.g.", "i.e.")):
            line = line[: i + 1]
            break
    if len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return line if line.endswith((".", "。", "…", "!", "?")) else line + "."


def failure_cause(why: str, facts: RunFacts | None) -> str:
    """The cause of a failed step in one sentence: the failed blocking checks by name, else the first
    sentence of the error without Dagster's module path."""
    if "DagsterAssetCheckFailedError" in why and facts is not None and facts.failed_checks:
        shown = "; ".join(facts.failed_checks[:3]) + (f" and {len(facts.failed_checks) - 3} more" if len(facts.failed_checks) > 3 else "")
        return one_sentence(f"Blocking quality checks failed, so this delivery was not published: {shown}")
    return one_sentence(why.replace("dagster._core.errors.", ""))


DEFAULT_NEXT = "fix the cause, then run `kpi run` (or wait for the next scheduled run); the next run removes what this one left."


def write_failure_report(row: dict, facts: RunFacts | None, headline: str, why: str, cause: str | None = None,
                         next_step: str | None = None) -> Path:
    """Write the short human-readable failure report of a run; returns its path.

    ``cause``: the cause in one sentence (default: the first sentence of ``why``), on the report's
    ``Cause:`` line. The report goes to ``<warehouse>/failures/`` or, when that folder cannot be
    written (the warehouse setting itself is wrong), to :func:`fallback_failures_dir`."""
    started = row.get("started_at") or dt.datetime.now()
    name = f"{started:%Y%m%d-%H%M%S}_{row['run_id']}.txt"
    state = published_state()
    lines = [
        "夜间指标运行失败 Nightly KPI run FAILED",
        "=" * 40,
        f"Run:       {row['run_id']} (trigger {row.get('trigger') or 'manual'}, host {socket.gethostname()})",
        f"Started:   {str(started)[:19]}",
        f"Ended:     {str(row.get('finished_at'))[:19] if row.get('finished_at') else 'did not finish'}",
        f"Failed:    {headline}",
        f"Cause:     {cause or one_sentence(why)}",
        "Why:",
        textwrap.indent("\n".join(why.strip().splitlines()[:25]) or "(no message)", "    "),
    ]
    if row.get("notes"):
        lines.append(f"Notes:     {row['notes']}")
    quality_summary = _quality_summary(row["run_id"])  # issue 6: which checks failed and why, one paragraph
    if quality_summary:
        lines += ["Quality:", textwrap.fill(quality_summary, width=110, initial_indent="    ", subsequent_indent="    ")]
    lines += _rejected_file_lines()  # issue 15: every file set aside, with its reasons
    if facts is not None:
        if facts.failed_checks:
            lines.append(f"Failed checks ({len(facts.failed_checks)}): " + "; ".join(facts.failed_checks[:10]))
        if facts.not_run:
            shown = ", ".join(facts.not_run[:8]) + (f" and {len(facts.not_run) - 8} more" if len(facts.not_run) > 8 else "")
            lines.append(f"Not run:   {shown}")
    lines += ["", "现有发布数据 What analysts see now:"]
    lines += describe_published(state, row["run_id"])
    log = run_log_path(row["run_id"])
    lines += [
        "",
        f"Full log:  {log if log else 'Dagster UI (dagster-webserver), run ' + row['run_id']}",
        f"Next:      {next_step or DEFAULT_NEXT}",
        "",
    ]
    text = "\n".join(lines)
    try:
        folder = failures_dir()
    except OSError:
        folder = fallback_failures_dir()
    for attempt in (folder, fallback_failures_dir()):
        path = attempt / name
        try:
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
            return path
        except OSError:
            continue
    raise OSError(f"no folder could hold the failure report of run {row['run_id']}")


def notify_failure(report: Path) -> str:
    """Run ``$KPI_ON_FAILURE_COMMAND`` (through ``/bin/sh``) with the report path as ``$1`` and
    in ``$KPI_FAILURE_REPORT``. Never raises; returns what happened, for the log."""
    command = os.environ.get(FAILURE_COMMAND_ENV, "").strip()
    if not command:
        return f"no {FAILURE_COMMAND_ENV} configured"
    try:
        proc = subprocess.run(
            ["/bin/sh", "-c", command, "kpi-on-failure", str(report)],
            env={**os.environ, "KPI_FAILURE_REPORT": str(report)},
            capture_output=True, text=True, timeout=FAILURE_COMMAND_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{FAILURE_COMMAND_ENV} could not run: {e}"
    tail = (proc.stderr or proc.stdout).strip()[-300:]
    return f"{FAILURE_COMMAND_ENV} exited {proc.returncode}" + (f": {tail}" if tail else "")


def finish_run(instance, run_id: str) -> tuple[dict, Path | None]:
    """Record the end of a run (``success`` or ``failed``); on failure write the report and
    notify. Returns the row and the report path (``None`` on success)."""
    facts = run_facts(instance, run_id)
    try:  # issue 6: every check result of the run into audit.dq_results (history), before the report reads them
        from daxing_kpi import dq

        dq.record_check_results(instance, run_id)
    except Exception:  # noqa: BLE001 - recording the run and its report come first
        pass
    interrupted = [s for s in facts.running_steps if s not in dict(facts.failed_steps)]
    failed = bool(facts.failed_steps or interrupted or facts.not_run)
    history_error = None
    try:
        row = record_run(instance, run_id, "failed" if failed else "success", finished=True, facts=facts)
    except Exception as e:  # the report below must still be written
        history_error = f"{type(e).__name__}: {e}"
        row = {"run_id": run_id, "trigger": trigger_of(facts.tags), "status": "failed", "finished_at": dt.datetime.now()}
        failed = True
    if not failed:
        return row, None
    if facts.failed_steps:
        step, why = facts.failed_steps[0]
        headline = f"stage {stage_of(step)}, step {step}"
    elif interrupted:
        step, why = interrupted[0], "the run was interrupted (stopped or terminated) while this step ran"
        headline = f"stage {stage_of(step)}, step {step} (interrupted)"
    elif facts.not_run:
        step, why = facts.not_run[0], "the run ended before this step started"
        headline = f"stage {stage_of(step)}, step {step} (not run)"
    else:
        step, why, headline = "-", f"recording the run in the run history failed: {history_error}", "run history"
    if history_error:
        why += f"\n(also: the run history could not be written: {history_error})" if step != "-" else ""
    elif not row.get("failed_step"):
        row.update(failed_step=step, error=why[:1000])
        upsert_run(row)
    next_step = None
    from daxing_kpi import selfheal

    if selfheal.is_damaged(why) and "analytics.duckdb" not in why:
        selfheal.request_rebuild(why)  # a damaged block of the working database, found in the middle of a step
        next_step = ("nothing to do by hand: the working database is damaged, and the next run moves it aside and "
                     "rebuilds it from the landing files (start it with `kpi run`, or wait for the schedule).")
    report = write_failure_report(row, facts, headline, why, cause=failure_cause(why, facts), next_step=next_step)
    notify_failure(report)
    return row, report


def handle_crashed_run(owner: dict, instance=None, detected_by: str | None = None) -> Path:
    """Record a run that died holding the lock (found by the next run or the sweep sensor).

    Marks its Dagster run failed (so the run queue is not blocked by a dead run), stores status
    ``crashed`` in ``audit.pipeline_runs``, writes the failure report and notifies. Returns the
    report path.
    """
    run_id = owner.get("run_id") or f"unknown-pid{owner.get('pid')}"
    facts = None
    if instance is not None and owner.get("run_id"):
        facts = run_facts(instance, owner["run_id"])
        run = instance.get_run_by_id(owner["run_id"])
        if run is not None and not run.is_finished:
            instance.report_run_failed(
                run, message=f"run worker pid {owner.get('pid')} on {owner.get('host')} stopped without finishing"
                f" (killed or power loss); found by {detected_by or 'the next run'}"
            )
    where, crash_step = "", None
    if facts is not None and facts.running_steps:
        crash_step = facts.running_steps[0]
        where = f" during stage {stage_of(crash_step)}, step {crash_step}"
    from daxing_kpi.warehouse import recover_publication

    publication = recover_publication()  # a kill between the two switches: the publication is completed now
    why = (
        f"The process (pid {owner.get('pid')} on {owner.get('host')}, started {owner.get('started_at')}) stopped"
        f" without finishing{where}: killed (kill -9), out of memory, or a power cut. Found at"
        f" {dt.datetime.now():%Y-%m-%d %H:%M:%S} by {detected_by or 'the next run'}. "
        + (publication or "It had not switched the published database or dashboard: what it had built but not"
           " published was discarded; the next run rebuilds from the landing files.")
    )
    row = None
    try:
        row = read_run(run_id)
    except OSError:
        pass
    started = dt.datetime.fromisoformat(owner["started_at"]) if owner.get("started_at") else dt.datetime.now()
    row = row or {"run_id": run_id, "trigger": owner.get("trigger") or "manual", "started_at": started}
    row.update(status="crashed", finished_at=None, duration_seconds=None, failed_step=crash_step, error=why[:1000])
    if facts is not None:
        row.update({f"{s}_seconds": v for s, v in facts.stage_seconds(now=max(facts.step_start.values(), default=0)).items()})
        row["checks_failed"] = len(facts.failed_checks)
    try:
        upsert_run(row)
    except OSError:  # pragma: no cover - the report below still tells the operator
        pass
    report = write_failure_report(row, facts, f"crashed{where}", why)
    notify_failure(report)
    return report


def report_unguarded_failure(instance, run) -> Path:
    """A run of the job that Dagster ended failed before the run guard started (its process exited
    while loading the code, the launcher could not start it): history row, report and notification,
    from Dagster's own messages. Found by the sweep (``stale_run_sensor``). Returns the report path."""
    messages = [e.message for e in instance.all_logs(run.run_id) if e.level >= 40 and e.message]  # ERROR and above
    why = "\n".join(messages[-5:]) or "Dagster ended the run before it started executing (no message)."
    record = instance.get_run_record_by_id(run.run_id)
    started = (record.create_timestamp.astimezone().replace(tzinfo=None) if record is not None else dt.datetime.now())
    row = {"run_id": run.run_id, "trigger": trigger_of(run.tags), "status": "failed", "started_at": started,
           "finished_at": dt.datetime.now(), "failed_step": "start", "error": why[:1000], "sources": "all"}
    try:
        upsert_run(row)
    except OSError:
        pass
    report = write_failure_report(row, None, "the run process ended before the run started",
                                  why, cause=one_sentence(messages[-1] if messages else why))
    notify_failure(report)
    return report


# -- leftovers of killed runs ----------------------------------------------------------------------------


def clean_stale_files(spill_age_seconds: float = 3600) -> list[Path]:
    """Remove what killed runs leave behind; call only while holding the run lock.

    Half-built publication files (``.analytics.duckdb.*.tmp``), dashboard staging folders and
    old versions, fault-point markers, and DuckDB spill files in ``warehouse/tmp`` untouched for
    ``spill_age_seconds``. The working database needs nothing: DuckDB replays or discards its
    write-ahead log when it is opened. Returns the removed paths.
    """
    from daxing_kpi.warehouse import recover_publication

    recover_publication()  # a publication cut between its two switches is completed first (issue 19.7)
    removed: list[Path] = []
    wh = warehouse_dir()
    target = analytics_db_path()
    for p in list(wh.glob(f".{target.name}.*.tmp")) + list(wh.glob(f".{target.name}.*.tmp.wal")) + list(wh.glob(".hold-*")):
        p.unlink(missing_ok=True)
        removed.append(p)
    removed += atomic.prune_versions(dashboard_dir())
    spill = wh / "tmp"
    if spill.is_dir():
        cutoff = time.time() - spill_age_seconds
        for p in spill.iterdir():
            if p.is_file() and p.stat().st_mtime < cutoff:
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed
