"""Results of the quality gate: ``dq_results``, per-KPI status, data freshness, the publication gate.

Every asset check of a run (the landed-file and mart checks of :mod:`daxing_kpi.checks`, and
each dbt test, which dagster-dbt turns into an asset check) leaves an ``ASSET_CHECK_EVALUATION``
in Dagster's event log. :func:`record_check_results` copies them into ``audit.dq_results`` of
the working database, one row per check and run (history kept across runs); the publish step
calls it just before it builds the new analyst database, and the end of every run calls it again
(failed runs included), so the published ``dq_results`` holds the current run and all earlier ones.

Published tables written here (working database ``audit`` schema, copied by
:func:`daxing_kpi.warehouse.publish`):

* ``dq_results``: one row per check and run, columns :data:`DQ_RESULTS_COLUMNS`.
* ``dq_kpi_status``: one row per KPI (the publishing run): whether the data behind the KPI passed
  every check of its lineage (raw sources, staging and intermediate models, the mart), columns
  :data:`KPI_STATUS_COLUMNS`.
* ``source_freshness``: one row per source: its 数据截至 (``delivery_cutoff_date``: the cut-off date of the
  delivery the figures use, from ``ingest_audit.delivery_cutoff_date``; issue 17.8), the latest record date
  (shown apart) and the latest delivery, columns :data:`FRESHNESS_COLUMNS`.

:func:`failure_summary` turns a failed run's results into the one-paragraph summary of the
failure report (:mod:`daxing_kpi.operations`) that ``kpi run`` prints.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import duckdb
import pandas as pd

from daxing_kpi.ingest import load_contracts

# audit.dq_results (working DB) = dq_results (published DB): one row per check and run.
DQ_RESULTS_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("run_id", "VARCHAR", "Dagster run id of the run that evaluated the check"),
    ("asset", "VARCHAR", "asset checked: raw/<source_id> (a landed source), staging/..., intermediate/..., marts/..."),
    ("check_name", "VARCHAR", "name of the check: the rule that must hold (a dbt test's name for dbt tests)"),
    ("check_level", "VARCHAR", "landed_file, dbt_test or mart"),
    ("severity", "VARCHAR", "ERROR (blocking: publication waits for it) or WARN (advisory)"),
    ("passed", "BOOLEAN", "whether the check passed"),
    ("observed_value", "VARCHAR", "what the check found, in words with counts"),
    ("expected", "VARCHAR", "what the check expects (the rule and its threshold)"),
    ("offending_keys", "VARCHAR", "a few keys of offending rows (file and row, KPI-year-geography, ...); NULL when passed"),
    ("kpi_ids", "VARCHAR", "comma-separated KPIs a failed mart check concerns; NULL otherwise"),
    ("checked_at", "TIMESTAMP", "local time the check was evaluated"),
)
DQ_COLUMN_NAMES = tuple(c[0] for c in DQ_RESULTS_COLUMNS)

KPI_STATUS_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("kpi_id", "VARCHAR", "KPI"),
    ("run_id", "VARCHAR", "the publishing run"),
    ("status", "VARCHAR", "passed (every check of its lineage passed), warned (only advisory checks failed) or failed"),
    ("checks_evaluated", "BIGINT", "checks on the KPI's lineage, latest result of each"),
    ("checks_failed", "BIGINT", "blocking (ERROR) checks failed"),
    ("checks_warned", "BIGINT", "advisory (WARN) checks failed"),
    ("failed_checks", "VARCHAR", "the failed checks: asset check: observed value; separated by newlines"),
    ("sources", "VARCHAR", "data contracts the KPI is computed from (catalog sources, ';'-separated)"),
    ("latest_record_date", "DATE", "the oldest of its sources' latest record dates (source_freshness)"),
    ("checked_at", "TIMESTAMP", "time of the latest check result considered"),
    ("files_rejected", "BIGINT", "landing files of the KPI's sources set aside at their latest load (issue 15; names in failed_checks)"),
    ("delivery_cutoff_date", "DATE", "数据截至 of the KPI: the oldest of its sources' delivery cut-off dates"
     " (source_freshness.delivery_cutoff_date): its figures are complete up to that day"),
    ("checks_carried_over", "BIGINT", "checks of checks_evaluated whose latest result is from an earlier run: their inputs did"
     " not change since, so the night that only redid what changed did not run them again (issue 20.2)"),
)
FRESHNESS_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("source_id", "VARCHAR", "data contract"),
    ("title_zh", "VARCHAR", "name of the source"),
    ("title_en", "VARCHAR", "English name of the source"),
    ("latest_record_date", "DATE", "latest date carried by a record (not after the run day); year-only records: 31 December of the latest year"),
    ("record_date_columns", "VARCHAR", "contract columns the latest record date is taken from"),
    ("rows_loaded", "BIGINT", "rows in the raw layer"),
    ("files", "BIGINT", "landing files of the latest load (re-sent copies not counted)"),
    ("last_delivery_at", "TIMESTAMP", "modification time of the newest landing file"),
    ("last_loaded_at", "TIMESTAMP", "time the source was last loaded"),
    ("run_id", "VARCHAR", "run that last loaded the source"),
    ("delivery_cutoff_date", "DATE", "数据截至: the cut-off date of the delivery the figures use, i.e. the latest"
     " ingest_audit.delivery_cutoff_date of the source's files whose rows are loaded at its latest load (a file wholly"
     " superseded or skipped does not count); the one meaning of 数据截至 in kpi status, the dashboard and the report"),
    ("delivery_cutoff_source", "VARCHAR", "how that cut-off is known (ingest_audit.delivery_cutoff_source of that file:"
     " a statement in the file's title rows, the date in its name, or its modification date)"),
)
YEAR_COLUMNS = ("period_year", "catalog_year")  # integer year columns a record may carry instead of a date


def _ensure(con: duckdb.DuckDBPyConnection, table: str, columns: tuple[tuple[str, str, str], ...]) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS audit")
    cols = ", ".join(f'"{n}" {t}' for n, t, _ in columns)
    con.execute(f"CREATE TABLE IF NOT EXISTS audit.{table} ({cols})")
    existing = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'audit' AND table_name = ?", [table]
    ).fetchall()}
    for name, typ, _ in columns:  # later versions add columns, never rename
        if name not in existing:
            con.execute(f'ALTER TABLE audit.{table} ADD COLUMN "{name}" {typ}')


def ensure_dq_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``audit.dq_results`` and ``audit.source_baselines`` when missing (history kept)."""
    _ensure(con, "dq_results", DQ_RESULTS_COLUMNS)
    con.execute(
        "CREATE TABLE IF NOT EXISTS audit.source_baselines (source_id VARCHAR PRIMARY KEY, rows_loaded BIGINT,"
        " run_id VARCHAR, published_at TIMESTAMP)"
    )


# -- from Dagster's event log ----------------------------------------------------------------------------


def _meta_value(v):
    return getattr(v, "value", v)


def evaluation_rows(instance, run_id: str) -> list[dict]:
    """One ``dq_results`` row per asset check evaluated in a run (the latest evaluation of each)."""
    import dagster as dg

    rows: dict[tuple[str, str], dict] = {}
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        ev = entry.dagster_event.event_specific_data
        meta = {k: _meta_value(v) for k, v in (ev.metadata or {}).items()}
        asset = ev.asset_key.to_user_string()
        is_dbt = any(k.startswith("dagster_dbt") for k in meta) or "unique_id" in meta
        level = meta.get("level") or ("dbt_test" if is_dbt else "other")
        if is_dbt and "observed" not in meta:
            failing = meta.get("dagster_dbt/failed_row_count")
            observed = f"{failing} failing rows" if failing is not None else f"dbt status {meta.get('status', '?')}"
            expected = "no failing rows (dbt test)"
        else:
            observed, expected = meta.get("observed"), meta.get("expected")
        offending = meta.get("offending_keys")
        rows[(asset, ev.check_name)] = {
            "run_id": run_id,
            "asset": asset,
            "check_name": ev.check_name,
            "check_level": level,
            "severity": ev.severity.value if hasattr(ev.severity, "value") else str(ev.severity),
            "passed": bool(ev.passed),
            "observed_value": None if observed is None else str(observed)[:2000],
            "expected": None if expected is None else str(expected)[:1000],
            "offending_keys": None if ev.passed or offending in (None, "none") else str(offending)[:2000],
            "kpi_ids": None if ev.passed else meta.get("kpi_ids"),
            "checked_at": dt.datetime.fromtimestamp(entry.timestamp),
        }
    return list(rows.values())


def store_results(con: duckdb.DuckDBPyConnection, run_id: str, rows: list[dict]) -> int:
    """Replace a run's rows of ``audit.dq_results`` by ``rows`` (one transaction); returns their number."""
    ensure_dq_tables(con)
    con.execute("BEGIN")
    con.execute("DELETE FROM audit.dq_results WHERE run_id = ?", [run_id])
    if rows:
        df = pd.DataFrame(rows, columns=list(DQ_COLUMN_NAMES))
        con.register("dq_df", df)
        con.execute(f"INSERT INTO audit.dq_results ({', '.join(DQ_COLUMN_NAMES)}) SELECT {', '.join(DQ_COLUMN_NAMES)} FROM dq_df")
        con.unregister("dq_df")
    con.execute("COMMIT")
    return len(rows)


def record_check_results(instance, run_id: str) -> int:
    """Copy the run's check evaluations from Dagster's event log into ``audit.dq_results``."""
    from daxing_kpi.operations import _connect_work

    rows = evaluation_rows(instance, run_id)
    with _connect_work() as con:
        return store_results(con, run_id, rows)


def run_results(run_id: str) -> pd.DataFrame:
    """``audit.dq_results`` rows of a run (empty without the table)."""
    from daxing_kpi.operations import _connect_work

    with _connect_work() as con:
        ensure_dq_tables(con)
        return con.execute(
            f"SELECT {', '.join(DQ_COLUMN_NAMES)} FROM audit.dq_results WHERE run_id = ? ORDER BY checked_at, asset, check_name", [run_id]
        ).df()


# -- the failure paragraph ----------------------------------------------------------------------------------


def failure_summary(results: pd.DataFrame, max_checks: int = 6) -> str | None:
    """One paragraph naming the failed checks of a run and why (blocking first), or ``None`` when
    every evaluated check passed. ``results``: the run's ``dq_results`` rows."""
    if results is None or not len(results):
        return None
    failed = results[~results.passed.astype(bool)].copy()
    if not len(failed):
        return None
    failed["order"] = (failed.severity != "ERROR").astype(int)
    failed = failed.sort_values(["order", "checked_at"])
    blocking = int((failed.severity == "ERROR").sum())
    advisory = len(failed) - blocking
    head = (f"Quality gate: {blocking} blocking check{'s' if blocking != 1 else ''} failed"
            + (f" (and {advisory} advisory)" if advisory else "") + f" of {len(results)} evaluated"
            + (", so nothing was published." if blocking else "; advisory results do not stop publication."))
    parts = []
    for r in failed.head(max_checks).itertuples():
        observed, expected, keys = (None if pd.isna(v) else str(v) for v in (r.observed_value, r.expected, r.offending_keys))
        text = f"{r.asset} {r.check_name} [{r.severity}]: {observed or 'failed'}"
        if expected:
            text += f"; expected {expected}"
        if keys:
            text += f" (e.g. {keys[:240]})"
        parts.append(text.rstrip(".") + ".")
    more = f" And {len(failed) - max_checks} more." if len(failed) > max_checks else ""
    return " ".join([head, *parts]) + more


def run_failure_summary(run_id: str) -> str | None:
    """:func:`failure_summary` of a run from ``audit.dq_results``; ``None`` when unavailable."""
    try:
        return failure_summary(run_results(run_id))
    except duckdb.Error:
        return None


# -- the publication gate -----------------------------------------------------------------------------------


def latest_results(con: duckdb.DuckDBPyConnection, check_keys: Iterable[tuple[str, str]] | None = None) -> pd.DataFrame:
    """The latest ``dq_results`` row of every check (of ``check_keys`` = (asset, check) pairs, when given)."""
    ensure_dq_tables(con)
    df = con.execute(
        f"SELECT {', '.join(DQ_COLUMN_NAMES)} FROM audit.dq_results"
        " QUALIFY row_number() OVER (PARTITION BY asset, check_name ORDER BY checked_at DESC) = 1"
    ).df()
    if check_keys is not None:
        keys = set(check_keys)
        df = df[[(a, c) in keys for a, c in zip(df.asset, df.check_name)]]
    return df.reset_index(drop=True)


class StaleFailureError(RuntimeError):
    """A blocking check failed in an earlier run and has not passed since (its asset was not refreshed)."""


def assert_no_stale_failures(con: duckdb.DuckDBPyConnection, run_id: str, check_keys: Iterable[tuple[str, str]]) -> None:
    """Refuse to publish while a blocking check's latest result, from an earlier run, is a failure.

    A run refreshing some sources only (the landing sensor) re-checks only those; data that failed a
    blocking check in an earlier run is still in the raw layer and would be published. Raises
    :class:`StaleFailureError` naming the checks, the run that failed them and what they observed."""
    latest = latest_results(con, check_keys)
    stale = latest[(latest.run_id != run_id) & (latest.severity == "ERROR") & ~latest.passed.astype(bool)]
    if len(stale):
        lines = [f"{r.asset} {r.check_name} (failed in run {r.run_id}: {r.observed_value})" for r in stale.itertuples()]
        raise StaleFailureError(
            f"{len(stale)} blocking check(s) failed in an earlier run and were not re-run since, so their data is"
            " still the data that failed: " + "; ".join(lines[:8]) + ". Refresh those sources: fix the files, then"
            " `kpi run` (it redoes every source changed since the last publication) or `kpi run --full` (every source)."
        )


# -- per-KPI status and freshness ---------------------------------------------------------------------------


def source_freshness_frame(con: duckdb.DuckDBPyConnection, today: dt.date | None = None) -> pd.DataFrame:
    """One row per source (columns :data:`FRESHNESS_COLUMNS`) from the raw layer and the ingest audit.

    The latest record date is the latest value of the contract's date columns not after ``today``
    (a later date is a planned closing date or a typing error), or 31 December of the latest year of a
    ``period_year``/``catalog_year`` column for sources whose records carry only a year; a contract
    may name the columns with ``freshness_columns: [...]``."""
    today = today or dt.date.today()
    rows = []
    audit_cols = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'audit' AND table_name = 'ingest_audit'").fetchall()}
    if {"delivery_cutoff_date", "delivery_cutoff_source"} <= audit_cols:
        # the files whose rows the figures use: loaded, wholly or in part (issue 17.8)
        used = "status IN ('loaded', 'partly_superseded') AND coalesce(rows_loaded, 0) > 0"
        cutoff_sql = (f"max(CAST(delivery_cutoff_date AS DATE)) FILTER (WHERE {used}),"
                      f" arg_max(delivery_cutoff_source, CAST(delivery_cutoff_date AS DATE)) FILTER (WHERE {used})")
    else:  # a working database from before ingestion recorded delivery cut-offs
        cutoff_sql = "CAST(NULL AS DATE), CAST(NULL AS VARCHAR)"
    for c in load_contracts().values():
        table = f'raw."{c.source_id}"'
        exists = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'raw' AND table_name = ?", [c.source_id]
        ).fetchone()[0]
        kept = {col.name: col for col in c.kept_columns}
        named = c.extra.get("freshness_columns")
        date_cols = [n for n in (named or kept) if n in kept and kept[n].type == "date"]
        year_cols = [n for n in (named or YEAR_COLUMNS) if n in kept and kept[n].type == "integer"] if named or not date_cols else []
        latest, n_rows = None, 0
        if exists:
            parts = [f'max("{n}") FILTER (WHERE "{n}" <= ?)' for n in date_cols]
            parts += [f'make_date(CAST(max("{n}") AS INTEGER), 12, 31)' for n in year_cols]
            params = [today] * len(date_cols)
            if parts:
                sql = f"SELECT greatest({', '.join(parts)}), count(*) FROM {table}" if len(parts) > 1 else f"SELECT {parts[0]}, count(*) FROM {table}"
                latest, n_rows = con.execute(sql, params).fetchone()
            else:
                n_rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        audit = con.execute(
            f"""SELECT count(*) FILTER (WHERE status <> 'skipped_duplicate_file'), max(file_modified_at), max(loaded_at), any_value(run_id),
                      {cutoff_sql}
               FROM audit.ingest_audit WHERE source_id = ? AND run_id = (SELECT max_by(run_id, loaded_at) FROM audit.ingest_audit WHERE source_id = ?)""",
            [c.source_id, c.source_id],
        ).fetchone()
        rows.append({
            "source_id": c.source_id, "title_zh": c.title_zh, "title_en": c.title_en, "latest_record_date": latest,
            "record_date_columns": ", ".join(date_cols + [f"{n} (31 December)" for n in year_cols]) or None,
            "rows_loaded": int(n_rows), "files": int(audit[0] or 0),
            "last_delivery_at": pd.to_datetime(audit[1]) if audit[1] else None, "last_loaded_at": audit[2], "run_id": audit[3],
            "delivery_cutoff_date": audit[4], "delivery_cutoff_source": audit[5],
        })
    return pd.DataFrame(rows, columns=[c[0] for c in FRESHNESS_COLUMNS])


def kpi_lineage_checks(graph, kpi_ids: Iterable[str]) -> dict[str, set[tuple[str, str]]]:
    """For each KPI, the (asset, check) pairs on its lineage: the checks of its intermediate model
    ``int_kpi_<domain>__<name>`` (for ``<domain>.<name>``), of every asset upstream of it (staging
    models, raw sources, seeds), and of ``marts/kpi_observations``. ``graph``: Dagster's asset graph."""
    import dagster as dg

    by_model = {k.path[-1]: k for k in graph.get_all_asset_keys()}
    checks_by_asset: dict[dg.AssetKey, set[str]] = {}
    for ck in graph.asset_check_keys:
        checks_by_asset.setdefault(ck.asset_key, set()).add(ck.name)
    mart = dg.AssetKey(["marts", "kpi_observations"])
    out = {}
    for kpi in kpi_ids:
        domain, _, name = kpi.partition(".")
        model = by_model.get(f"int_kpi_{domain}__{name}")
        assets = {mart}
        if model is not None:
            todo = [model]
            while todo:
                k = todo.pop()
                if k in assets:
                    continue
                assets.add(k)
                todo.extend(graph.get(k).parent_keys)
        out[kpi] = {(a.to_user_string(), c) for a in assets for c in checks_by_asset.get(a, ())}
    return out


def kpi_status_frame(con: duckdb.DuckDBPyConnection, run_id: str, graph, freshness: pd.DataFrame) -> pd.DataFrame:
    """One row per catalog KPI (columns :data:`KPI_STATUS_COLUMNS`): the latest result of every check
    on its lineage (:func:`kpi_lineage_checks`). A failed check that names the KPIs it concerns
    (``kpi_ids``: the mart checks) counts only for those; ``status`` is ``failed`` when a blocking
    check failed, ``warned`` when only advisory ones did, else ``passed``."""
    catalog = con.execute("SELECT DISTINCT kpi_id, sources FROM marts.kpi_catalog ORDER BY kpi_id").df()  # a row per plan and KPI
    lineage = kpi_lineage_checks(graph, catalog.kpi_id)
    all_keys = set().union(*lineage.values()) if lineage else set()
    latest = latest_results(con, all_keys)
    fresh = freshness.set_index("source_id").latest_record_date if len(freshness) else pd.Series(dtype=object)
    from daxing_kpi.ingest.report import rejected_files

    rejected = rejected_files(con)
    cutoffs = freshness.set_index("source_id").delivery_cutoff_date if len(freshness) else pd.Series(dtype=object)
    rows = []
    for kpi, srcs in zip(catalog.kpi_id, catalog.sources):
        mine = latest[[(a, c) in lineage[kpi] for a, c in zip(latest.asset, latest.check_name)]]
        concerned = mine[mine.kpi_ids.isna() | mine.kpi_ids.fillna("").map(lambda s: kpi in s.split(","))]
        failed = concerned[~concerned.passed.astype(bool)]
        n_err = int((failed.severity == "ERROR").sum())
        n_warn = len(failed) - n_err
        source_list = [s for s in str(srcs or "").split(";") if s]
        dates = [fresh.get(s) for s in source_list if s in fresh.index and pd.notna(fresh.get(s))]
        set_aside = rejected[rejected.source_id.isin(source_list)] if len(rejected) else rejected
        lines = [f"{r.asset} {r.check_name} [{r.severity}]: {r.observed_value}" for r in failed.itertuples()]
        if len(set_aside):  # issue 15: a source with a file set aside flags its KPIs (advisory: the rest was published)
            lines.append(f"{len(set_aside)} file(s) set aside, see the quality page (文件被搁置 {len(set_aside)} 个，见数据质量页): "
                         + ", ".join(set_aside.file_name))
        cut = [cutoffs.get(s) for s in source_list if s in cutoffs.index and pd.notna(cutoffs.get(s))]
        rows.append({
            "kpi_id": kpi, "run_id": run_id,
            "status": "failed" if n_err else ("warned" if n_warn or len(set_aside) else "passed"),
            "checks_evaluated": len(concerned), "checks_failed": n_err, "checks_warned": n_warn,
            "files_rejected": len(set_aside),
            "failed_checks": "\n".join(lines) or None,
            "sources": srcs, "latest_record_date": min(dates) if dates else None,
            "checked_at": concerned.checked_at.max() if len(concerned) else None,
            "delivery_cutoff_date": min(cut) if cut else None,
            "checks_carried_over": int((concerned.run_id != run_id).sum()),
        })
    return pd.DataFrame(rows, columns=[c[0] for c in KPI_STATUS_COLUMNS])


def _replace_table(con: duckdb.DuckDBPyConnection, table: str, columns, df: pd.DataFrame) -> None:
    cols = ", ".join(f'"{n}" {t}' for n, t, _ in columns)
    con.execute(f"CREATE OR REPLACE TABLE audit.{table} ({cols})")
    if len(df):
        con.register("frame_df", df)
        names = ", ".join(f'"{n}"' for n, _, _ in columns)
        con.execute(f"INSERT INTO audit.{table} ({names}) SELECT {names} FROM frame_df")
        con.unregister("frame_df")


def prepare_publication(instance, run_id: str, graph) -> dict:
    """Everything the quality gate adds to a publication, in the working database, just before
    :func:`daxing_kpi.warehouse.publish` copies it: this run's check results into ``audit.dq_results``,
    the gate against stale failures (:func:`assert_no_stale_failures`), ``audit.source_freshness`` and
    ``audit.dq_kpi_status``. Returns counts for the step's metadata."""
    from daxing_kpi.operations import _connect_work

    rows = evaluation_rows(instance, run_id)
    defined = {(ck.asset_key.to_user_string(), ck.name) for ck in graph.asset_check_keys}
    with _connect_work() as con:
        store_results(con, run_id, rows)
        assert_no_stale_failures(con, run_id, defined)
        freshness = source_freshness_frame(con)
        status = kpi_status_frame(con, run_id, graph, freshness)
        con.execute("BEGIN")
        _replace_table(con, "source_freshness", FRESHNESS_COLUMNS, freshness)
        _replace_table(con, "dq_kpi_status", KPI_STATUS_COLUMNS, status)
        con.execute("COMMIT")
    return {
        "checks_recorded": len(rows),
        "checks_failed": sum(not r["passed"] for r in rows),
        "kpis_passed": int((status.status == "passed").sum()),
        "kpis_warned": int((status.status == "warned").sum()),
        "kpis_failed": int((status.status == "failed").sum()),
    }


def record_source_baselines(run_id: str) -> None:
    """After a publication: the rows of every raw table become the baseline of the next run's
    ``row_count_is_plausible_against_the_last_delivery`` (``audit.source_baselines``)."""
    from daxing_kpi.operations import _connect_work

    now = dt.datetime.now()
    with _connect_work() as con:
        ensure_dq_tables(con)
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw'").fetchall()]
        con.execute("BEGIN")
        for t in tables:
            n = con.execute(f'SELECT count(*) FROM raw."{t}"').fetchone()[0]
            con.execute(
                "INSERT OR REPLACE INTO audit.source_baselines VALUES (?, ?, ?, ?)", [t, n, run_id, now]
            )
        con.execute("COMMIT")
