"""The quality gate's rules on landed files and on the marts (issue 6), as plain functions.

Each function takes an open connection to the working database and returns a
:class:`CheckOutcome`: passed or not, severity (``ERROR`` blocks publication, ``WARN`` is
advisory), the observed value and the expectation in words, a few offending keys, the KPIs a
failure concerns, and the Great Expectations result it rests on. The Dagster asset checks
(:mod:`daxing_kpi.defs.quality`) are thin shells around them.

Every rule validates a bounded batch with GX (:mod:`daxing_kpi.quality`): DuckDB aggregates the
large tables first (one row per file, per town/street and year, per source, or the mart
``kpi_observations`` of a few thousand rows), so memory stays bounded at any scale. Row-level
rules on large tables (keys unique and not null, relationships, code lists) are dbt tests.

Landed files (asset ``raw/<source_id>``; thresholds per source, :func:`source_rules`):

* ``every_row_is_loaded_or_quarantined``: rows read = loaded + quarantined + superseded, per file.
* ``every_town_street_is_present_and_known``: every town/street of the plan's 22 has records
  (per year too with ``coverage_by: period_year``), and every code is a known unit. Only for
  contracts with ``coverage: every_town_street``.
* ``records_conform_to_the_contract``: the share of a file's records quarantined for breaking the
  contract (unknown town, unreadable date, a value below its minimum ...) is at most
  ``max_rejected_share``; totals/signature rows and duplicate records are not counted here.
* ``no_record_is_delivered_twice``: the share of a file's records that repeat a record of an
  earlier file still in force (same key, or identical content for sources without a key) is at
  most ``max_duplicate_share``: a duplicated delivery.
* ``row_count_is_plausible_against_the_last_delivery``: rows loaded differ from the rows loaded
  at the last publication by at most ``max_row_count_change`` (a share). An operator accepts a
  genuine change for one run with ``KPI_ACCEPT_ROW_COUNT_CHANGE=<source_id>[,...]``.

Marts (asset ``marts/kpi_observations``; per-KPI rules in ``seeds/kpi_quality_rules.csv``):

* ``every_kpi_has_a_value_for_every_year_and_geography`` (ERROR), ``rates_are_between_0_and_100``
  (ERROR), ``counts_and_per_10k_values_are_not_negative`` (ERROR), ``denominators_are_positive``
  (ERROR; district and town/street rows, and special-zone or unassigned rows that have a denominator: a
  special zone has volunteers but no residents of its own), ``town_street_numerators_sum_to_the_district``
  (ERROR, additive KPIs: district = town_street + special_zone + unassigned rows),
  ``year_over_year_changes_are_within_bounds`` (WARN, district, full years),
  ``persons_with_several_active_records_are_few`` (WARN, issue 16.1: ``marts.kpi_person_duplicates``, the
  district's share of persons standing on several active records at most
  :data:`MAX_PERSON_DUPLICATE_SHARE` %, so a platform that registers people twice is seen).
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache

import duckdb
import pandas as pd

from daxing_kpi import quality
from daxing_kpi.ingest import NOT_REJECTIONS, SOURCE_RULE_DEFAULTS, Contract, Reason, source_rules  # noqa: F401  (re-exported)
from daxing_kpi.paths import SEEDS_DIR

ERROR, WARN = "ERROR", "WARN"
OFFENDING_SHOWN = 5  # offending keys kept in a check's metadata and in dq_results

ACCEPT_ROW_COUNT_CHANGE_ENV = "KPI_ACCEPT_ROW_COUNT_CHANGE"
# Quarantine reasons that are not a broken record (NOT_REJECTIONS, from ingestion): rows that are no records,
# and duplicates (counted by no_record_is_delivered_twice when they repeat another file).
MARKER_REASONS = (Reason.TOTALS_ROW, Reason.NOTE_ROW)
ADDITIVITY_TOLERANCE = 1e-9  # relative gap between the district and the sum of its towns/streets
# Persons counted by a per-person KPI who stand on several active records that day (a second registration with
# another team, two employers at once), % of the district's persons: above it the source platform is suspected
# of registering people twice (WARN). A few percent is normal: people do join a second team.
MAX_PERSON_DUPLICATE_SHARE = 5.0

LANDED_FILE_CHECKS = (
    "every_row_is_loaded_or_quarantined",
    "every_town_street_is_present_and_known",
    "records_conform_to_the_contract",
    "no_record_is_delivered_twice",
    "row_count_is_plausible_against_the_last_delivery",
)
MART_CHECKS = {  # name -> severity
    "every_kpi_has_a_value_for_every_year_and_geography": ERROR,
    "rates_are_between_0_and_100": ERROR,
    "counts_and_per_10k_values_are_not_negative": ERROR,
    "denominators_are_positive": ERROR,
    "town_street_numerators_sum_to_the_district": ERROR,
    "year_over_year_changes_are_within_bounds": WARN,
    "persons_with_several_active_records_are_few": WARN,
}


@dataclass
class CheckOutcome:
    """Result of one rule on one asset, ready for Dagster and for ``dq_results``."""

    name: str
    passed: bool
    severity: str
    observed: str
    expected: str
    offending: list[str] = field(default_factory=list)
    kpi_ids: list[str] = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    level: str = "landed_file"
    gx: quality.SuiteResult | None = None

    def metadata(self) -> dict:
        """Metadata of the Dagster check result (plain values; see :mod:`daxing_kpi.dq`)."""
        meta = {
            "level": self.level,
            "observed": self.observed,
            "expected": self.expected,
            "offending_keys": "; ".join(self.offending[:OFFENDING_SHOWN]) or "none",
            **{k: v for k, v in self.counts.items()},
        }
        if self.kpi_ids:
            meta["kpi_ids"] = ",".join(self.kpi_ids)
        if self.gx is not None:
            meta["gx_suite"] = self.gx.suite
            meta["gx_summary"] = self.gx.summary()[:2000]
        return meta


def _share(x: float) -> str:
    return f"{x:.1%}" if x >= 0.001 or x == 0 else f"{x:.2%}"


# -- helpers --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def townships() -> pd.DataFrame:
    """``seeds/townships.csv``: code, name_zh, kind, in_town_street_denominator (yes/no)."""
    with open(SEEDS_DIR / "townships.csv", encoding="utf-8") as f:
        return pd.DataFrame(list(csv.DictReader(f)))


def plan_towns() -> list[str]:
    """Codes of the 22 towns/streets counted by the plan's 镇(街) targets."""
    t = townships()
    return t.loc[t.in_town_street_denominator == "yes", "code"].tolist()


def town_name(code) -> str:
    t = townships().set_index("code")
    return str(t.name_zh.get(code, "")) if code is not None else ""


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?", [schema, table]
    ).fetchone()[0]) or bool(con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE schema_name = ? AND view_name = ?", [schema, table]
    ).fetchone()[0])


def audit_rows(con: duckdb.DuckDBPyConnection, source_id: str, run_id: str | None) -> pd.DataFrame:
    """The ``audit.ingest_audit`` rows (one per landing file) of ``run_id`` for a source, or of the
    source's latest load when that run did not load it."""
    cols = ("file_name, status, rows_read, rows_loaded, rows_quarantined, coalesce(rows_superseded, 0) AS rows_superseded,"
            " reasons, file_modified_at, loaded_at, run_id")
    df = con.execute(f"SELECT {cols} FROM audit.ingest_audit WHERE source_id = ? AND run_id = ? ORDER BY file_modified_at, file_name",
                     [source_id, run_id]).df() if run_id else pd.DataFrame()
    if len(df) or not run_id:
        return df[df.status != "rejected"].reset_index(drop=True) if len(df) else df
    if not len(df):
        df = con.execute(
            f"SELECT {cols} FROM audit.ingest_audit WHERE source_id = ? AND run_id = "
            "(SELECT max_by(run_id, loaded_at) FROM audit.ingest_audit WHERE source_id = ?) ORDER BY file_modified_at, file_name",
            [source_id, source_id],
        ).df()
    # files set aside (status rejected) are no part of the load: ingestion accounted for them, none of their rows is loaded
    return df[df.status != "rejected"].reset_index(drop=True)


def _reason_rows(reasons_json: str | None, reasons: tuple[str, ...]) -> int:
    counts = json.loads(reasons_json or "{}")
    return int(sum(v for k, v in counts.items() if k in reasons))


# -- landed files ------------------------------------------------------------------------------------


def check_row_accounting(con, contract: Contract, run_id: str | None) -> CheckOutcome:
    """Rows read = loaded + quarantined + superseded, for every file of the source's load."""
    df = audit_rows(con, contract.source_id, run_id)
    frame = df[["file_name", "rows_read", "rows_loaded", "rows_quarantined", "rows_superseded"]].copy()
    frame["unaccounted"] = frame.rows_read - frame.rows_loaded - frame.rows_quarantined - frame.rows_superseded
    res = quality.validate_frame(frame, f"raw_{contract.source_id}_accounting", quality.accounting_expectations(), ["file_name"])
    bad = frame[frame.unaccounted != 0]
    counts = {k: int(frame[k].sum()) for k in ("rows_read", "rows_loaded", "rows_quarantined", "rows_superseded")}
    observed = (
        f"{len(frame)} files, rows read {counts['rows_read']:,} = loaded {counts['rows_loaded']:,} + quarantined"
        f" {counts['rows_quarantined']:,} + superseded {counts['rows_superseded']:,}"
        if not len(bad) else f"{len(bad)} of {len(frame)} files unbalanced ({int(bad.unaccounted.abs().sum()):,} rows unaccounted)"
    )
    return CheckOutcome(
        "every_row_is_loaded_or_quarantined", res.success, ERROR, observed,
        "every file: rows read = loaded + quarantined + superseded",
        [f"{r.file_name}: read {r.rows_read}, loaded {r.rows_loaded}, quarantined {r.rows_quarantined},"
         f" superseded {r.rows_superseded}" for r in bad.itertuples()],
        counts={"files": len(frame), **counts}, gx=res,
    )


def check_town_coverage(con, contract: Contract, run_id: str | None) -> CheckOutcome:
    """Every plan town/street has records (in every year with ``coverage_by: period_year``), and
    every town/street code is a unit of ``seeds/townships.csv``. Aggregated in DuckDB: one row per
    (year and) town/street."""
    expected = plan_towns()
    known = townships().code.tolist()
    by = contract.extra.get("coverage_by")
    table = f'raw."{contract.source_id}"'
    if by:
        agg = con.execute(f'SELECT CAST("{by}" AS VARCHAR) AS period, geo_code, count(*) AS rows_count FROM {table}'
                          " WHERE geo_code IS NOT NULL GROUP BY ALL").df()
        periods = sorted(agg.period.dropna().unique().tolist())
        grid = pd.DataFrame([(p, g) for p in periods for g in expected], columns=["period", "geo_code"])
        frame = grid.merge(agg, on=["period", "geo_code"], how="outer")
        keys = ["period", "geo_code"]
    else:
        # a NULL town/street is a field fault logged by ingestion (the record counts as not assigned): not an unknown code
        agg = con.execute(f"SELECT geo_code, count(*) AS rows_count FROM {table} WHERE geo_code IS NOT NULL GROUP BY ALL").df()
        frame = pd.DataFrame({"geo_code": expected}).merge(agg, on="geo_code", how="outer")
        keys = ["geo_code"]
    frame["rows_count"] = frame.rows_count.fillna(0).astype("int64")
    res = quality.validate_frame(frame, f"raw_{contract.source_id}_towns", quality.town_coverage_expectations(expected, known), keys)
    missing = frame[frame.geo_code.isin(expected) & (frame.rows_count == 0)]
    unknown = frame[~frame.geo_code.isin(known)]
    cells = len(frame[frame.geo_code.isin(expected)])
    where = "town/street" + (f" and {by}" if by else "")
    if res.success:
        observed = f"all {len(expected)} towns/streets present" + (f" in each of {frame.period.nunique()} years" if by else "")
    else:
        parts = []
        if len(missing):
            parts.append(f"{len(missing)} of {cells} {where} cells without records"
                         + (f" (towns/streets missing: {', '.join(f'{c} {town_name(c)}' for c in sorted(missing.geo_code.unique())[:5])})"))
        if len(unknown):
            parts.append(f"{len(unknown)} unknown town/street codes: {', '.join(map(str, unknown.geo_code.head(5)))}")
        observed = "; ".join(parts) or res.summary()
    offending = [(f"{r['period']} " if by else "") + f"{r['geo_code']} {town_name(r['geo_code'])}: no records" for _, r in missing.iterrows()]
    offending += [f"{r['geo_code']}: unknown code" for _, r in unknown.iterrows()]
    return CheckOutcome(
        "every_town_street_is_present_and_known", res.success, ERROR, observed,
        f"every one of the plan's {len(expected)} towns/streets has records" + (f" in every {by}" if by else "")
        + "; every code is a unit of seeds/townships.csv (records without a readable town/street, NULL, are not assigned to one)",
        offending, counts={"towns_seen": int((frame.rows_count > 0).sum()), "missing": len(missing), "unknown": len(unknown)}, gx=res,
    )


def check_conformance(con, contract: Contract, run_id: str | None, rules: dict) -> CheckOutcome:
    """Per file: records quarantined for breaking the contract ÷ records in force (rows read minus
    superseded rows and totals/signature rows) at most ``max_rejected_share``."""
    limit = rules["max_rejected_share"]
    files = audit_rows(con, contract.source_id, run_id)
    q = con.execute(
        f"""SELECT file_name, reason, "column", count(DISTINCT (coalesce(sheet, ''), row_number)) AS rows_count,
                   min(row_number) AS first_row
            FROM audit.quarantine WHERE source_id = ? AND reason NOT IN ({', '.join('?' * len(NOT_REJECTIONS))})
              AND coalesce(disposition, 'quarantined') = 'quarantined'
            GROUP BY ALL ORDER BY file_name, first_row""",
        [contract.source_id, *NOT_REJECTIONS],
    ).df()
    rejected_rows = con.execute(
        f"""SELECT file_name, count(DISTINCT (coalesce(sheet, ''), row_number)) AS rejected FROM audit.quarantine
            WHERE source_id = ? AND reason NOT IN ({', '.join('?' * len(NOT_REJECTIONS))})
              AND coalesce(disposition, 'quarantined') = 'quarantined' GROUP BY ALL""",
        [contract.source_id, *NOT_REJECTIONS],
    ).df()
    frame = files[["file_name", "rows_read", "rows_superseded", "reasons"]].copy()
    frame["records"] = frame.rows_read - frame.rows_superseded - frame.reasons.map(lambda r: _reason_rows(r, MARKER_REASONS)).astype("int64")
    frame = frame.merge(rejected_rows, on="file_name", how="left")
    q = q[q.file_name.isin(set(frame.file_name))]  # files set aside are not part of the load
    frame["rejected"] = frame.rejected.fillna(0).astype("int64")
    frame["rejected_share"] = (frame.rejected / frame.records.where(frame.records > 0)).astype("float64")
    frame = frame.drop(columns=["reasons"])
    res = quality.validate_frame(frame, f"raw_{contract.source_id}_conformance", quality.conformance_expectations(limit), ["file_name"])
    records, rejected = int(frame.records.sum()), int(frame.rejected.sum())
    by_reason = q.groupby("reason").rows_count.sum().sort_values(ascending=False)
    reasons_text = ", ".join(f"{r} ×{n}" for r, n in by_reason.items())
    observed = f"{rejected:,} of {records:,} records ({_share(rejected / records if records else 0)}) quarantined for breaking the contract"
    if reasons_text:
        observed += f": {reasons_text}"
    bad_files = frame[frame.rejected_share > limit]
    if len(bad_files) and len(frame) > 1:
        observed += f"; over the limit in {', '.join(bad_files.file_name.head(3))}"
    offending = [f"{r.file_name} row {r.first_row}: {r.column} ({r.reason})" for r in q.itertuples()]
    return CheckOutcome(
        "records_conform_to_the_contract", res.success, ERROR, observed,
        f"at most {_share(limit)} of each file's records quarantined for breaking the contract"
        f" (contract {contract.source_id}, quality.max_rejected_share)",
        offending, counts={"records": records, "rejected": rejected}, gx=res,
    )


# "same as <file>[ [sheet <name>]] row <n>": the value ingestion writes for a duplicate record
# (daxing_kpi.ingest.ingest_source); the first file is the one the record repeats.
_DUPLICATE_OF = re.compile(r"^same as (?P<file>.+?)(?: \[sheet .*\])? row \d+$")


def check_duplicate_delivery(con, contract: Contract, run_id: str | None, rules: dict) -> CheckOutcome:
    """Per file: records repeating a record of an earlier file still in force, at most
    ``max_duplicate_share`` of its records. Keyed sources: duplicate-key rows whose first occurrence
    is in another file (ingestion quarantines them). Every source: loaded rows identical in every
    contract column to a row of an earlier file (DuckDB hashes and aggregates the rows; one row per pair
    of files comes back)."""
    limit = rules["max_duplicate_share"]
    files = audit_rows(con, contract.source_id, run_id)
    order = {f: i for i, f in enumerate(files.file_name)}
    repeats: dict[str, int] = {}
    first_of: dict[str, set] = {}
    dups = con.execute(
        "SELECT file_name, value, count(DISTINCT (coalesce(sheet, ''), row_number)) AS n FROM audit.quarantine"
        " WHERE source_id = ? AND reason = ? GROUP BY ALL",
        [contract.source_id, Reason.DUPLICATE],
    ).df()
    if len(dups):
        dups["first_file"] = dups.value.map(lambda v: (m.group("file") if (m := _DUPLICATE_OF.match(str(v))) else None))
        cross = dups[dups.first_file.notna() & (dups.first_file != dups.file_name)]
        for r in cross.groupby(["file_name", "first_file"]).n.sum().reset_index().itertuples():
            repeats[r.file_name] = repeats.get(r.file_name, 0) + int(r.n)
            first_of.setdefault(r.file_name, set()).add(r.first_file)
    cols = [c.name for c in contract.kept_columns]
    if cols and len(files) > 1:
        h = ", ".join(f'"{c}"' for c in cols)
        con.register("file_order_df", pd.DataFrame({"file_name": list(order), "pos": list(order.values())}))
        try:  # aggregated in DuckDB: one row per (later file, earlier file it repeats), whatever the table's size
            same = con.execute(
                f"""WITH per_file AS (
                        SELECT hash({h}) AS row_hash, _source_file AS file_name, count(*) AS n
                        FROM raw."{contract.source_id}" GROUP BY ALL),
                    ordered AS (SELECT per_file.*, o.pos FROM per_file JOIN file_order_df o USING (file_name)),
                    firsts AS (SELECT row_hash, arg_min(file_name, pos) AS first_file, min(pos) AS first_pos
                               FROM ordered GROUP BY row_hash HAVING count(*) > 1)
                    SELECT o.file_name, f.first_file, sum(o.n) AS n
                    FROM ordered o JOIN firsts f USING (row_hash) WHERE o.pos > f.first_pos GROUP BY ALL"""
            ).df()
        finally:
            con.unregister("file_order_df")
        for r in same.itertuples():
            repeats[r.file_name] = repeats.get(r.file_name, 0) + int(r.n)
            first_of.setdefault(r.file_name, set()).add(r.first_file)
    frame = files[["file_name", "rows_read", "rows_superseded", "reasons", "status"]].copy()
    frame["records"] = frame.rows_read - frame.rows_superseded - frame.reasons.map(lambda r: _reason_rows(r, MARKER_REASONS)).astype("int64")
    frame["repeated"] = frame.file_name.map(lambda f: repeats.get(f, 0)).astype("int64")
    frame["duplicate_share"] = (frame.repeated / frame.records.where(frame.records > 0)).astype("float64")
    frame = frame.drop(columns=["reasons"])
    res = quality.validate_frame(frame, f"raw_{contract.source_id}_duplicates", quality.duplicate_delivery_expectations(limit), ["file_name"])
    skipped = files[files.status == "skipped_duplicate_file"]
    repeated = int(frame.repeated.sum())
    observed = f"{repeated:,} of {int(frame.records.sum()):,} records repeat an earlier file's records"
    worst = frame.sort_values("duplicate_share", ascending=False).head(1)
    if repeated and len(worst):
        w = worst.iloc[0]
        observed += f" (worst: {w.file_name}, {int(w.repeated):,} of {int(w.records):,} = {_share(w.duplicate_share)})"
    if len(skipped):
        observed += f"; {len(skipped)} byte-identical re-sent files skipped"
    offending = [
        f"{r.file_name}: {r.repeated:,} of {r.records:,} records repeat {', '.join(sorted(str(x) for x in first_of.get(r.file_name, ())))}"
        for r in frame[frame.repeated > 0].sort_values("duplicate_share", ascending=False).itertuples()
    ]
    return CheckOutcome(
        "no_record_is_delivered_twice", res.success, ERROR, observed,
        f"at most {_share(limit)} of each file's records repeat an earlier file still in force"
        f" (contract {contract.source_id}, quality.max_duplicate_share)",
        offending, counts={"files": len(frame), "repeated": repeated, "skipped_duplicate_files": len(skipped)}, gx=res,
    )


def accepted_row_count_changes() -> set[str]:
    """Source ids named in ``$KPI_ACCEPT_ROW_COUNT_CHANGE`` (comma-separated) for this run."""
    return {s.strip() for s in os.environ.get(ACCEPT_ROW_COUNT_CHANGE_ENV, "").split(",") if s.strip()}


def check_row_count(con, contract: Contract, rules: dict) -> CheckOutcome:
    """Rows loaded now against the rows loaded when the database was last published
    (``audit.source_baselines``): the change, as a share of the earlier count, within
    ± ``max_row_count_change``. Passes without an earlier publication, and for a source named in
    ``$KPI_ACCEPT_ROW_COUNT_CHANGE``."""
    limit = rules["max_row_count_change"]
    now = con.execute(f'SELECT count(*) FROM raw."{contract.source_id}"').fetchone()[0]
    prev = None
    if table_exists(con, "audit", "source_baselines"):
        prev = con.execute(
            "SELECT rows_loaded, run_id, published_at FROM audit.source_baselines WHERE source_id = ?", [contract.source_id]
        ).fetchone()
    # no baseline yet, or none loaded then (a source delivered for the first time): nothing to compare with
    change = None if prev is None or not prev[0] else (now - prev[0]) / prev[0]
    frame = pd.DataFrame({"source_id": [contract.source_id], "rows_loaded": [now], "previous_rows_loaded": [prev[0] if prev else None],
                          "change_share": [change]})
    frame["change_share"] = frame.change_share.astype("float64")
    res = quality.validate_frame(frame, f"raw_{contract.source_id}_row_count", quality.row_count_expectations(limit), ["source_id"])
    passed = res.success
    if prev is None:
        observed = f"{now:,} rows loaded; no earlier publication to compare with"
    elif not prev[0]:
        observed = f"{now:,} rows loaded; none at the last publication (run {prev[1]}), nothing to compare with"
    else:
        observed = (f"{now:,} rows loaded, {prev[0]:,} at the last publication (run {prev[1]}, {str(prev[2])[:16]}):"
                    f" {'+' if (change or 0) >= 0 else '−'}{_share(abs(change or 0))}")
    if not passed and contract.source_id in accepted_row_count_changes():
        passed = True
        observed += f" (accepted for this run by {ACCEPT_ROW_COUNT_CHANGE_ENV})"
    return CheckOutcome(
        "row_count_is_plausible_against_the_last_delivery", passed, ERROR, observed,
        f"within ±{_share(limit)} of the rows loaded at the last publication (contract {contract.source_id},"
        f" quality.max_row_count_change; {ACCEPT_ROW_COUNT_CHANGE_ENV}={contract.source_id} accepts a genuine change for one run)",
        [] if res.success else [f"{contract.source_id}: {prev[0] if prev else '?'} → {now} rows"],
        counts={"rows_loaded": int(now), "previous_rows_loaded": int(prev[0]) if prev else -1}, gx=res,
    )


def landed_file_outcomes(con, contract: Contract, run_id: str | None, names: set[str] | None = None) -> list[CheckOutcome]:
    """Every landed-file check of a source (or those in ``names``), in :data:`LANDED_FILE_CHECKS` order."""
    rules = source_rules(contract)
    want = set(names) if names is not None else set(landed_file_check_names(contract))
    fns = {
        "every_row_is_loaded_or_quarantined": lambda: check_row_accounting(con, contract, run_id),
        "every_town_street_is_present_and_known": lambda: check_town_coverage(con, contract, run_id),
        "records_conform_to_the_contract": lambda: check_conformance(con, contract, run_id, rules),
        "no_record_is_delivered_twice": lambda: check_duplicate_delivery(con, contract, run_id, rules),
        "row_count_is_plausible_against_the_last_delivery": lambda: check_row_count(con, contract, rules),
    }
    return [fns[n]() for n in LANDED_FILE_CHECKS if n in want and n in fns]


def landed_file_check_names(contract: Contract) -> list[str]:
    """The landed-file checks that apply to a source (town coverage only with ``coverage: every_town_street``)."""
    return [n for n in LANDED_FILE_CHECKS
            if n != "every_town_street_is_present_and_known" or contract.extra.get("coverage") == "every_town_street"]


# -- marts ---------------------------------------------------------------------------------------------


def _observations(con) -> pd.DataFrame:
    return con.execute(
        """SELECT o.kpi_id, o.period_year, o.geo_level, o.geo_code, o.numerator, o.denominator, o.value,
                  o.is_partial_year, c.unit, c.is_additive,
                  CASE WHEN c.unit = 'pct' THEN o.value END AS pct_value,
                  CASE WHEN c.unit = 'per_10k' THEN o.value END AS per_10k_value,
                  CASE WHEN c.unit = 'count' THEN o.value END AS count_value
           FROM marts.kpi_observations o JOIN (SELECT DISTINCT kpi_id, unit, is_additive FROM marts.kpi_catalog) c USING (kpi_id)
           ORDER BY o.kpi_id, o.period_year, o.geo_code"""
    ).df()


def _key_text(k: dict, extra: tuple[str, ...] = ()) -> str:
    geo = k.get("geo_code")
    text = f"{k.get('kpi_id')} {k.get('period_year')}"
    if geo is not None:
        text += f" {geo}" + (f" {town_name(geo)}" if town_name(geo) else "")
    for e in extra:
        if e in k and k[e] is not None:
            text += f" {e}={k[e]:.6g}" if isinstance(k[e], float) else f" {e}={k[e]}"
    return text


def _mart_outcome(name: str, res: quality.SuiteResult, observed_ok: str, expected: str, counts: dict,
                  extra: tuple[str, ...] = ()) -> CheckOutcome:
    keys = res.offending_keys()
    kpis = sorted({str(k.get("kpi_id")) for k in keys if k.get("kpi_id") is not None})
    if res.success:
        observed = observed_ok
    else:
        n = sum(int(f.get("unexpected_count") or 0) for f in res.failures) or len(keys)
        observed = f"{n} offending rows in {len(kpis)} KPIs: " + ", ".join(kpis[:5]) + (" ..." if len(kpis) > 5 else "")
    return CheckOutcome(name, res.success, MART_CHECKS[name], observed, expected,
                        [_key_text(k, extra) for k in keys], kpis, counts=counts, level="mart", gx=res)


def check_completeness(con) -> CheckOutcome:
    """Exactly one row per expected KPI, year and geography: the district every year from the KPI's
    first year (``kpi_quality_rules.first_year``, else the catalog's baseline year) to the current
    year (``int_periods``), and the towns/streets its ``town_street_coverage`` names."""
    frame = con.execute(
        """
        WITH rules AS (
            SELECT c.kpi_id, coalesce(r.first_year, c.baseline_year) AS first_year, r.town_street_coverage
            FROM (SELECT kpi_id, min(baseline_year) AS baseline_year FROM marts.kpi_catalog GROUP BY kpi_id) c LEFT JOIN seeds.kpi_quality_rules r USING (kpi_id)
        ),
        years AS (SELECT period_year FROM intermediate.int_periods),
        geos AS (SELECT geo_code, geo_level, kind, is_in_town_street_denominator FROM marts.geographies),
        expected AS (
            SELECT rules.kpi_id, years.period_year, geos.geo_code
            FROM rules
            JOIN years ON years.period_year >= rules.first_year
            JOIN geos ON geos.geo_level = 'district'
                OR (geos.is_in_town_street_denominator AND (
                    rules.town_street_coverage = 'every_town_street'
                    OR (rules.town_street_coverage = 'towns_only' AND geos.kind IN ('town', 'area'))))
        ),
        present AS (
            SELECT kpi_id, period_year, geo_code, count(*) AS rows_count FROM marts.kpi_observations GROUP BY ALL
        )
        SELECT e.kpi_id, e.period_year, e.geo_code, coalesce(p.rows_count, 0) AS rows_count
        FROM expected e LEFT JOIN present p USING (kpi_id, period_year, geo_code)
        UNION ALL
        SELECT p.kpi_id, p.period_year, p.geo_code, p.rows_count
        FROM present p ANTI JOIN expected e USING (kpi_id, period_year, geo_code)
        WHERE p.rows_count > 1
        ORDER BY 1, 2, 3
        """
    ).df()
    res = quality.validate_frame(frame, "marts_kpi_observations_completeness", quality.completeness_expectations(),
                                 ["kpi_id", "period_year", "geo_code"])
    missing = int((frame.rows_count == 0).sum())
    duplicated = int((frame.rows_count > 1).sum())
    out = _mart_outcome(
        "every_kpi_has_a_value_for_every_year_and_geography", res,
        f"all {len(frame):,} expected KPI × year × geography rows present once",
        "one row per catalog KPI, every year from its first year to the current one, for the district and the"
        " towns/streets its town_street_coverage names (seeds/kpi_quality_rules.csv)",
        {"expected_rows": len(frame), "missing_rows": missing, "duplicated_rows": duplicated}, ("rows_count",),
    )
    if not res.success:
        out.observed = f"{missing} expected rows missing, {duplicated} duplicated, in {len(out.kpi_ids)} KPIs: " + ", ".join(out.kpi_ids[:5])
    return out


def check_rates(con, obs: pd.DataFrame | None = None) -> CheckOutcome:
    obs = _observations(con) if obs is None else obs
    frame = obs[["kpi_id", "period_year", "geo_code", "pct_value"]]
    res = quality.validate_frame(frame, "marts_kpi_observations_rates", quality.rate_expectations(), ["kpi_id", "period_year", "geo_code"])
    n = int(frame.pct_value.notna().sum())
    return _mart_outcome("rates_are_between_0_and_100", res, f"all {n:,} values in % within [0, 100]",
                         "values of KPIs in % (unit pct) within [0, 100]", {"values": n}, ("pct_value",))


def check_non_negative(con, obs: pd.DataFrame | None = None) -> CheckOutcome:
    obs = _observations(con) if obs is None else obs
    frame = obs[["kpi_id", "period_year", "geo_code", "numerator", "per_10k_value", "count_value"]]
    res = quality.validate_frame(frame, "marts_kpi_observations_non_negative", quality.non_negative_expectations(),
                                 ["kpi_id", "period_year", "geo_code"])
    return _mart_outcome("counts_and_per_10k_values_are_not_negative", res, f"all {len(frame):,} numerators, counts and per-10,000 values ≥ 0",
                         "numerators (persons, burials, sites ...), counts and per-10,000 values ≥ 0", {"rows": len(frame)},
                         ("numerator", "per_10k_value", "count_value"))


def check_denominators(con, obs: pd.DataFrame | None = None) -> CheckOutcome:
    """Denominators present and > 0 on district and town/street rows; a special zone or the unassigned
    geography may have none (people but no residents of its own), only a present one must be > 0."""
    obs = _observations(con) if obs is None else obs
    below = obs["geo_level"].isin(["special_zone", "unassigned"])
    frame = obs.loc[~below | obs["denominator"].notna(), ["kpi_id", "period_year", "geo_code", "denominator", "numerator"]]
    res = quality.validate_frame(frame, "marts_kpi_observations_denominators", quality.denominator_expectations(),
                                 ["kpi_id", "period_year", "geo_code", "numerator"])
    out = _mart_outcome("denominators_are_positive", res, f"all {len(frame):,} denominators > 0",
                        "every denominator (residents, burials, items, towns ...) present and > 0", {"rows": len(frame)},
                        ("numerator", "denominator"))
    if not res.success:
        zero = int((frame.denominator.fillna(0) <= 0).sum())
        out.observed = f"{zero} rows with a denominator of 0 or none, in {len(out.kpi_ids)} KPIs: " + ", ".join(out.kpi_ids[:5])
    return out


def check_additivity(con) -> CheckOutcome:
    """Additive KPIs (``is_additive``): the district's numerator and denominator equal the sum over
    every geography below it, towns/streets, special zones and the unassigned geography (PLAN.md
    Geographies), every year (relative gap at most :data:`ADDITIVITY_TOLERANCE`)."""
    frame = con.execute(
        """
        WITH o AS (
            SELECT o.* FROM marts.kpi_observations o JOIN (SELECT DISTINCT kpi_id, is_additive FROM marts.kpi_catalog) c USING (kpi_id) WHERE c.is_additive
        ),
        towns AS (
            SELECT kpi_id, period_year, sum(numerator) AS towns_numerator, sum(denominator) AS towns_denominator
            FROM o WHERE geo_level <> 'district' GROUP BY ALL
        )
        SELECT d.kpi_id, d.period_year, d.numerator AS district_numerator, t.towns_numerator,
               d.denominator AS district_denominator, t.towns_denominator,
               (d.numerator - coalesce(t.towns_numerator, 0)) / greatest(abs(d.numerator), 1) AS numerator_gap,
               (d.denominator - coalesce(t.towns_denominator, 0)) / greatest(abs(d.denominator), 1) AS denominator_gap
        FROM o d LEFT JOIN towns t USING (kpi_id, period_year)
        WHERE d.geo_level = 'district'
        ORDER BY 1, 2
        """
    ).df()
    res = quality.validate_frame(frame, "marts_kpi_observations_additivity", quality.additivity_expectations(ADDITIVITY_TOLERANCE),
                                 ["kpi_id", "period_year", "district_numerator", "towns_numerator"])
    return _mart_outcome(
        "town_street_numerators_sum_to_the_district", res,
        f"{frame.kpi_id.nunique()} additive KPIs: district = sum of towns/streets in all {len(frame)} KPI-years",
        "for KPIs with is_additive: district numerator and denominator = the sums over its towns/streets, special zones"
        " and the unassigned geography",
        {"kpi_years": len(frame)}, ("district_numerator", "towns_numerator"),
    )


def check_year_over_year(con) -> CheckOutcome:
    """District values of consecutive full years (the partial current year is left out): the change
    (``points`` in the KPI's unit, or ``relative`` to the previous value) within the KPI's
    ``max_yoy_change`` (``seeds/kpi_quality_rules.csv``). Advisory: WARN."""
    frame = con.execute(
        """
        WITH d AS (
            SELECT o.kpi_id, o.period_year, o.value,
                   lag(o.value) OVER (PARTITION BY o.kpi_id ORDER BY o.period_year) AS previous_value,
                   lag(o.period_year) OVER (PARTITION BY o.kpi_id ORDER BY o.period_year) AS previous_year
            FROM marts.kpi_observations o
            WHERE o.geo_level = 'district' AND NOT o.is_partial_year AND o.value IS NOT NULL
        )
        SELECT d.kpi_id, d.period_year, d.previous_value, d.value, r.yoy_measure, r.max_yoy_change AS bound,
               CASE WHEN r.yoy_measure = 'points' THEN d.value - d.previous_value
                    WHEN d.previous_value <> 0 THEN (d.value - d.previous_value) / abs(d.previous_value) END AS change
        FROM d JOIN seeds.kpi_quality_rules r USING (kpi_id)
        WHERE d.previous_year = d.period_year - 1
        ORDER BY 1, 2
        """
    ).df()
    frame["excess"] = (frame.change.abs() - frame.bound).astype("float64")
    res = quality.validate_frame(frame, "marts_kpi_observations_year_over_year", quality.year_over_year_expectations(),
                                 ["kpi_id", "period_year"])
    out = _mart_outcome(
        "year_over_year_changes_are_within_bounds", res,
        f"all {int(frame.change.notna().sum())} district year-over-year changes within their bounds",
        "district value change between consecutive full years within the KPI's max_yoy_change"
        " (seeds/kpi_quality_rules.csv: points in the KPI's unit, or relative to the previous year)",
        {"changes": int(frame.change.notna().sum())},
    )
    bad = frame[frame.excess > 0]
    out.offending = [
        f"{r.kpi_id} {int(r.period_year)}: {r.previous_value:.4g} → {r.value:.4g} ("
        + (f"{r.change:+.3g} points" if r.yoy_measure == "points" else f"{r.change:+.1%}")
        + f", bound {r.bound:g}{'' if r.yoy_measure == 'points' else ' relative'})"
        for r in bad.itertuples()
    ]
    if len(bad):
        out.observed = f"{len(bad)} district changes beyond their bound: " + "; ".join(out.offending[:3])
    return out


def check_person_duplicates(con) -> CheckOutcome:
    """Per-person KPIs (``marts.kpi_person_duplicates``, district rows): the share of persons counted who stand
    on several active records that day at most :data:`MAX_PERSON_DUPLICATE_SHARE` %. Advisory: WARN. The figures
    (persons, records, persons with several records, records without a usable ID number) of each KPI's latest
    year ride along in the stored GX result for the quality page (:mod:`daxing_kpi.quality_docs`)."""
    cols = ["kpi_id", "period_year", "persons", "records", "persons_with_several_records", "records_without_usable_id",
            "share", "is_partial_year"]
    if table_exists(con, "marts", "kpi_person_duplicates"):
        frame = con.execute(
            f"SELECT {', '.join(cols)} FROM marts.kpi_person_duplicates WHERE geo_level = 'district' ORDER BY 1, 2"
        ).df()
    else:
        frame = pd.DataFrame(columns=cols)
    frame["share"] = frame["share"].astype("float64")
    res = quality.validate_frame(frame, "marts_kpi_person_duplicates",
                                 [quality.E.ExpectColumnValuesToBeBetween(column="share", min_value=0, max_value=MAX_PERSON_DUPLICATE_SHARE)],
                                 ["kpi_id", "period_year"])
    worst = frame.loc[frame["share"].idxmax()] if frame["share"].notna().any() else None
    keyless = int(frame.groupby("kpi_id")["records_without_usable_id"].last().sum()) if len(frame) else 0
    observed_ok = (f"at most {worst.share:.2f}% of persons stand on several active records ({worst.kpi_id} {int(worst.period_year)});"
                   f" {keyless} records without a usable ID number counted as one person each in the latest year"
                   if worst is not None else "no per-person KPI has data")
    out = _mart_outcome(
        "persons_with_several_active_records_are_few", res, observed_ok,
        f"per KPI and year, persons with several active records at most {MAX_PERSON_DUPLICATE_SHARE:g}% of the persons counted"
        " (district; marts.kpi_person_duplicates): above it the source platform registers people twice",
        {"kpi_years": len(frame), "max_share_pct": float(worst.share) if worst is not None else 0.0, "records_without_usable_id": keyless},
    )
    bad = frame[frame["share"] > MAX_PERSON_DUPLICATE_SHARE]
    out.offending = [f"{r.kpi_id} {int(r.period_year)}: {int(r.persons_with_several_records):,} of {int(r.persons):,} persons"
                     f" ({r.share:.1f}%) stand on several active records" for r in bad.itertuples()]
    if len(bad):
        out.observed = f"{len(bad)} KPI-years above {MAX_PERSON_DUPLICATE_SHARE:g}%: " + "; ".join(out.offending[:3])
    latest = frame.sort_values(["kpi_id", "period_year"]).groupby("kpi_id").tail(1)
    figures = [{"kpi_id": r.kpi_id, "period_year": int(r.period_year), "is_partial_year": bool(r.is_partial_year),
                "persons": int(r.persons), "records": int(r.records), "persons_with_several_records": int(r.persons_with_several_records),
                "records_without_usable_id": int(r.records_without_usable_id), "share": float(r.share)} for r in latest.itertuples()]
    if res.result_json is not None:
        res.result_json.setdefault("meta", {})[PERSON_FIGURES_META] = figures
    return out


PERSON_FIGURES_META = "daxing_kpi_person_duplicates"  # key of the figures in the stored GX result's meta


def mart_outcomes(con, names: set[str] | None = None) -> list[CheckOutcome]:
    """The mart checks on ``marts.kpi_observations`` (or those in ``names``), in :data:`MART_CHECKS` order."""
    want = set(MART_CHECKS) if names is None else set(names)
    obs = _observations(con) if want & {"rates_are_between_0_and_100", "counts_and_per_10k_values_are_not_negative",
                                        "denominators_are_positive"} else None
    fns = {
        "every_kpi_has_a_value_for_every_year_and_geography": lambda: check_completeness(con),
        "rates_are_between_0_and_100": lambda: check_rates(con, obs),
        "counts_and_per_10k_values_are_not_negative": lambda: check_non_negative(con, obs),
        "denominators_are_positive": lambda: check_denominators(con, obs),
        "town_street_numerators_sum_to_the_district": lambda: check_additivity(con),
        "year_over_year_changes_are_within_bounds": lambda: check_year_over_year(con),
        "persons_with_several_active_records_are_few": lambda: check_person_duplicates(con),
    }
    return [fns[n]() for n in MART_CHECKS if n in want]
