"""What ``kpi run`` shows while the job runs: concise stage lines, and the full log in a file.

:class:`RunProgress` follows a run's Dagster event log from a background thread. On the
console it prints one line when a stage starts, one per finished source or publication step
(with rows loaded and quarantined), progress of the dbt build by quarters, every failed step
or check, and how many steps of the run are done. Every event, at every level (Dagster's
DEBUG included, with full error stacks), goes to ``warehouse/logs/<started>_<run_id>.log``.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from daxing_kpi.operations import stage_of


def _meta_value(metadata: dict, key: str):
    v = metadata.get(key)
    return getattr(v, "value", v)


class RunProgress(threading.Thread):
    """Print the progress of run ``run_id`` to ``out`` and write its full log to ``log_path``, reading the run's
    event log every ``interval`` seconds (each read opens Dagster's SQLite file: once a second is often enough
    for lines stamped to the second, and leaves the job's own thread the processor)."""

    def __init__(self, instance, run_id: str, log_path: Path, out: TextIO | None = None, interval: float = 1.0):
        super().__init__(name=f"progress-{run_id[:8]}", daemon=True)
        self.instance, self.run_id, self.log_path = instance, run_id, Path(log_path)
        self.out = out or sys.stdout
        self.interval = interval
        self._halt = threading.Event()
        self._cursor: str | None = None
        self._t0 = time.monotonic()
        self._planned: list[str] | None = None
        self._stage_steps: dict[str, int] = {}
        self._stages_started: set[str] = set()
        self._done = 0
        self._dbt_outputs = 0
        self._dbt_built = 0
        self._dbt_quarter = 0
        self._checks_passed = 0
        self.failed_checks: list[str] = []
        self.failed_steps: list[str] = []
        self._materialized: dict[str, list[str]] = {}
        self._last_meta: dict = {}
        self._log = None

    # -- console ------------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        elapsed = int(time.monotonic() - self._t0)
        total = len(self._planned) if self._planned else "?"
        print(f"  {elapsed // 60:d}:{elapsed % 60:02d} [{self._done:>3}/{total}] {text}", file=self.out, flush=True)

    def _load_plan(self) -> None:
        run = self.instance.get_run_by_id(self.run_id)
        if run is None or not run.execution_plan_snapshot_id:
            return
        snap = self.instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
        keys = list(snap.step_keys_to_execute or [s.key for s in snap.steps])
        self._planned = keys
        for k in keys:
            st = stage_of(k)
            self._stage_steps[st] = self._stage_steps.get(st, 0) + 1
        for s in snap.steps:
            if s.key == "daxing_dbt_models":
                self._dbt_outputs = sum(
                    1 for o in s.outputs
                    if o.properties is not None and o.properties.asset_key is not None and o.properties.asset_check_key is None
                )

    # -- events -----------------------------------------------------------------------------------------

    def handle(self, entry) -> None:
        self._write_log(entry)
        ev = entry.dagster_event
        if ev is None:
            return
        if self._planned is None:
            self._load_plan()
        kind = ev.event_type_value
        step = entry.step_key
        if kind == "STEP_START":
            st = stage_of(step)
            if st not in self._stages_started and st != "checks":
                self._stages_started.add(st)
                n = self._stage_steps.get(st, 0)
                extra = f", {self._dbt_outputs} models and seeds" if st == "dbt" and self._dbt_outputs else ""
                self.say(f"{st}: started ({n} step{'s' if n != 1 else ''}{extra})")
        elif kind == "ASSET_MATERIALIZATION":
            mat = ev.event_specific_data.materialization
            self._materialized.setdefault(step, []).append(mat.asset_key.to_user_string())
            if step == "daxing_dbt_models" and self._dbt_outputs:
                self._dbt_built += 1
                quarter = min(4, self._dbt_built * 4 // self._dbt_outputs)
                if quarter > self._dbt_quarter and quarter < 4:
                    self._dbt_quarter = quarter
                    self.say(f"dbt: {self._dbt_built}/{self._dbt_outputs} models built")
            self._last_meta = dict(mat.metadata or {})
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = ev.event_specific_data
            if evaluation.passed:
                self._checks_passed += 1
            else:
                name = f"{evaluation.asset_key.to_user_string()} {evaluation.check_name}"
                self.failed_checks.append(name)
                self.say(f"check FAILED: {name}")
        elif kind == "STEP_SUCCESS":
            self._done += 1
            st = stage_of(step)
            if st == "checks":
                return
            secs = ev.event_specific_data.duration_ms / 1000 if getattr(ev.event_specific_data, "duration_ms", None) else None
            assets = self._materialized.get(step, [])
            label = assets[0] if len(assets) == 1 else step
            detail = ""
            meta = self._last_meta if len(assets) == 1 else {}
            if st == "ingest" and _meta_value(meta, "rows_loaded") is not None:
                detail = f", {int(_meta_value(meta, 'rows_loaded')):,} rows loaded"
                q = _meta_value(meta, "rows_quarantined")
                if q:
                    detail += f", {int(q):,} quarantined"
            if step == "daxing_dbt_models":
                detail = f", {len(assets)} models and seeds built"
            self.say(f"{st}: {label} done" + (f" in {secs:.1f} s" if secs is not None else "") + detail)
        elif kind == "STEP_FAILURE":
            self._done += 1
            self.failed_steps.append(step)
            err = ev.step_failure_data.error if ev.step_failure_data else None
            first = (err.message if err else entry.message or "").strip().splitlines()
            self.say(f"{stage_of(step)}: {step} FAILED: {first[0][:200] if first else ''}")
        elif kind == "STEP_SKIPPED":
            self._done += 1

    def summary(self) -> str:
        """One line: checks passed and failed."""
        return f"checks: {self._checks_passed} passed, {len(self.failed_checks)} failed"

    # -- log file -------------------------------------------------------------------------------------------

    def _write_log(self, entry) -> None:
        if self._log is None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "a", encoding="utf-8")
        ts = dt.datetime.fromtimestamp(entry.timestamp).isoformat(sep=" ", timespec="milliseconds")
        ev = entry.dagster_event
        kind = ev.event_type_value if ev is not None else "LOG"
        line = f"{ts} {logging.getLevelName(entry.level):<7} {entry.step_key or '-'} {kind} - {entry.user_message or entry.message}"
        if ev is not None and kind == "STEP_FAILURE" and ev.step_failure_data and ev.step_failure_data.error:
            line += "\n" + ev.step_failure_data.error.to_string()
        elif ev is not None and kind == "ENGINE_EVENT" and getattr(ev.engine_event_data, "error", None):
            line += "\n" + ev.engine_event_data.error.to_string()
        self._log.write(line.rstrip() + "\n")
        self._log.flush()

    # -- thread ----------------------------------------------------------------------------------------------

    def poll(self) -> None:
        while True:
            conn = self.instance.get_records_for_run(self.run_id, cursor=self._cursor, limit=1000)
            for rec in conn.records:
                self.handle(rec.event_log_entry)
            self._cursor = conn.cursor
            if not conn.has_more:
                return

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            try:
                self.poll()
            except Exception as e:  # a busy SQLite file: try again on the next tick
                if self._log is not None:
                    self._log.write(f"(progress: event log not readable this time: {e})\n")

    def stop(self) -> None:
        """Stop following, after reading the events left."""
        self._halt.set()
        self.join(timeout=10)
        try:
            self.poll()
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None

