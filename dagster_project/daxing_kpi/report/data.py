"""What the review report says, read from the published database (``analytics.duckdb``) only.

:func:`load_report_data` returns a :class:`ReportData` for one plan and one review:

* the plan (``plans``: names, period; titles and dates are never written in code) and the review:
  ``final`` (总结评估) or ``mid_term`` (中期评估), the as-of dates of ``kpi_scorecard.review``, or
  ``latest`` (the scorecard at the data cut-off, ``is_data_cutoff``);
* one :class:`Target` per district target of the plan (``kpi_scorecard`` district rows at the
  review's as-of date, joined with ``kpi_catalog``): baseline, assessed value, target, gap, completion
  and verdict, with units, and the planners' explanation when one was filled in
  (``review_explanations``);
* the yearly district series of every KPI (``kpi_observations``) for the charts;
* the towns/streets at the same date (``kpi_scorecard`` ``town_street`` rows) for the annex, with the
  values the dashboard hides as small counts marked (``is_suppressed``, :mod:`daxing_kpi.smallcounts`);
* the data cut-off of the sources (``source_freshness``) and the reading problems of the
  explanations workbook (``ingest_audit``).

Verdicts, gaps and completion rates are the scorecard's (``verdict``, ``gap_to_target``,
``completion_rate``, ``progress_share``, ``completion_basis``, ``trend``, ``contribution_share``, and the
value a target is judged on, ``assessed_value``); nothing of the method is recomputed here. Raises :class:`ReportError` when the plan or the review is
not in the database.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from daxing_kpi.smallcounts import SUPPRESSED_LEVELS, suppress_small_counts

# kpi_scorecard.verdict values (after a plan's target year), best first
VERDICTS = ("achieved", "not_achieved", "deterioration")
# verdicts that need the planners' explanation (情况说明) in the report
NEEDS_EXPLANATION = ("not_achieved", "deterioration")
REVIEWS = ("final", "mid_term", "latest")


class ReportError(Exception):
    """The report cannot be made from this database (unknown plan or review, tables missing)."""


@dataclass(frozen=True)
class Plan:
    plan_id: str
    name_zh: str
    short_name_zh: str
    period_start_year: int | None
    period_end_year: int | None
    baseline_year: int | None
    is_example: bool = False


@dataclass(frozen=True)
class Review:
    kind: str  # final, mid_term or latest
    as_of_date: dt.date


@dataclass
class Target:
    """One district target of the plan at the review's date (one row of the report's main table)."""

    kpi_id: str
    name_zh: str
    unit: str  # unit code: pct, per_10k, count, ...
    unit_zh: str
    plan_section: str
    source_clause_zh: str
    direction: str
    comparator: str | None
    target_kind: str
    target_value: float | None
    target_value_upper: float | None
    target_year: int | None
    baseline_year: int | None
    baseline_value: float | None
    value_year: int | None
    value: float | None
    is_partial_year: bool
    status: str | None
    verdict: str | None
    gap: float | None
    completion_rate: float | None
    progress_share: float | None
    completion_basis: str | None
    explanation: str | None = None
    next_steps: str | None = None
    responsible_unit: str | None = None

    @property
    def needs_explanation(self) -> bool:
        return self.verdict in NEEDS_EXPLANATION


@dataclass
class ReportData:
    plan: Plan
    review: Review
    targets: list[Target]
    series: pd.DataFrame  # kpi_id, period_year, value, is_partial_year, period_end_date (district)
    towns: pd.DataFrame  # geo_code, geo_name_zh, kpi_id, value, target_value, verdict, trend, gap, contribution_share, is_suppressed
    data_cutoff: tuple  # (earliest, latest) delivery cut-off of the plan's KPIs (数据截至, see data_cutoff)
    published_at: dt.datetime | None
    unmeasurable: list[Target] = field(default_factory=list)  # targets no KPI measures yet (待建指标), from plan_targets
    explanation_files: pd.DataFrame = field(default_factory=pd.DataFrame)  # ingest_audit rows of the workbooks
    unmatched_explanations: pd.DataFrame = field(default_factory=pd.DataFrame)  # rows naming no target of the plan


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ?", [table]).fetchall()}


def _none(v):
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _year(v) -> int | None:
    v = _none(v)
    return None if v is None else int(v)


# -- plans and reviews ---------------------------------------------------------------------------


def list_plans(con: duckdb.DuckDBPyConnection) -> list[Plan]:
    """Every plan of the published database (``plans``; before it was published: the plans named by
    ``kpi_catalog.plan_id``, whose names are then their ids)."""
    tables = _tables(con)
    if "plans" in tables:
        cols = _columns(con, "plans")
        pick = lambda c, d="NULL": c if c in cols else d  # noqa: E731
        rows = con.execute(
            f"SELECT plan_id, {pick('name_zh')}, {pick('short_name_zh')}, {pick('period_start_year')},"
            f" {pick('period_end_year')}, {pick('baseline_year')}, {pick('is_example', 'false')} FROM plans ORDER BY plan_id"
        ).fetchall()
        return [Plan(r[0], r[1] or r[0], r[2] or r[1] or r[0], _year(r[3]), _year(r[4]), _year(r[5]),
                     bool(r[6]) if r[6] is not None and not isinstance(r[6], str) else str(r[6]).lower() in ("true", "yes", "1"))
                for r in rows]
    rows = con.execute(
        "SELECT plan_id, min(baseline_year), max(target_year) FROM kpi_catalog GROUP BY plan_id ORDER BY plan_id").fetchall()
    return [Plan(r[0], r[0], r[0], _year(r[1]) + 1 if r[1] is not None else None, _year(r[2]), _year(r[1])) for r in rows]


def review_dates(con: duckdb.DuckDBPyConnection, plan_id: str) -> dict[str, dt.date]:
    """As-of date of each review of a plan: ``final``, ``mid_term`` (``kpi_scorecard.review``) and
    ``latest`` (the scorecard's data cut-off row)."""
    out = dict(con.execute(
        "SELECT review, max(as_of_date) FROM kpi_scorecard WHERE plan_id = ? AND review IS NOT NULL GROUP BY review",
        [plan_id]).fetchall())
    latest = con.execute(
        "SELECT max(as_of_date) FROM kpi_scorecard WHERE plan_id = ?"
        + (" AND is_data_cutoff" if "is_data_cutoff" in _columns(con, "kpi_scorecard") else ""), [plan_id]).fetchone()[0]
    if latest is not None:
        out["latest"] = latest
    return out


def cutoff_date_sql(con) -> str:
    """SQL for the scorecard's data cut-off date: a review dated after it has not come yet."""
    if "is_data_cutoff" in _columns(con, "kpi_scorecard"):
        return "(SELECT max(as_of_date) FROM kpi_scorecard WHERE is_data_cutoff)"
    return "(SELECT max(as_of_date) FROM kpi_scorecard)"


def default_plan(con: duckdb.DuckDBPyConnection, review: str = "final") -> str:
    """The plan whose ``review`` (default: the final review) is the latest that has come (dated on or before
    the data cut-off); raises :class:`ReportError` when no plan has had that review."""
    row = con.execute(
        f"SELECT plan_id FROM kpi_scorecard WHERE review = ? AND as_of_date <= {cutoff_date_sql(con)}"
        " GROUP BY plan_id ORDER BY max(as_of_date) DESC, plan_id LIMIT 1",
        [review]).fetchone() if review != "latest" else con.execute(
        "SELECT plan_id FROM kpi_scorecard GROUP BY plan_id ORDER BY max(as_of_date) DESC, plan_id LIMIT 1").fetchone()
    if row is None:
        raise ReportError(f"no plan in the published database has a {review} review (kpi_scorecard.review)")
    return row[0]


# -- the targets ----------------------------------------------------------------------------------


def _scorecard(con, plan_id: str, as_of: dt.date, geo_level: str) -> pd.DataFrame:
    """The scorecard's rows of a plan at one date and level (the columns the report shows)."""
    return con.execute(
        """SELECT kpi_id, geo_code, geo_name_zh, unit, direction, baseline_year, baseline_value, latest_year, latest_value,
                  is_latest_partial_year, target_year, target_value, target_source, status, verdict, gap_to_target,
                  completion_rate, progress_share, completion_basis, trend, contribution_share, target_kind,
                  target_value_upper, assessed_value, assessed_baseline_value, is_target_held, count_basis
           FROM kpi_scorecard
           WHERE plan_id = ? AND as_of_date = ? AND geo_level = ?
           ORDER BY kpi_id, geo_code""", [plan_id, as_of, geo_level]).df()


def _section_key(section: str) -> tuple:
    """Order of plan sections such as 一(二)1: by part, chapter and item (Chinese numerals)."""
    numerals = "一二三四五六七八九十"
    first = (section or "").split(";")[0].strip()
    key = []
    for token in re.findall(r"[一二三四五六七八九十]+|\d+", first):
        if token.isdigit():
            key.append(int(token))
        else:
            value = 0
            for ch in token:
                value = value * 10 + numerals.index(ch) + 1 if ch != "十" else (value or 1) * 10
            key.append(value)
    return tuple(key)


def load_targets(con, plan_id: str, review: Review) -> list[Target]:
    """One :class:`Target` per district row of the plan's scorecard at the review's date, in the order of
    the plan's sections; explanations joined from ``review_explanations`` when published."""
    sc = _scorecard(con, plan_id, review.as_of_date, "district")
    if sc.empty:
        raise ReportError(f"kpi_scorecard has no district rows for plan {plan_id} as of {review.as_of_date}")
    cat_cols = _columns(con, "kpi_catalog")
    cat = con.execute(
        "SELECT kpi_id, name_zh, unit_zh, plan_section, source_clause_zh, "
        + ("comparator" if "comparator" in cat_cols else "NULL AS comparator")
        + " FROM kpi_catalog WHERE plan_id = ?", [plan_id]).df().set_index("kpi_id")
    expl = load_explanations(con, plan_id)
    targets = []
    for r in sc.itertuples(index=False):
        c = cat.loc[r.kpi_id] if r.kpi_id in cat.index else None
        e = expl.get(r.kpi_id, {})
        kind = _none(r.target_kind) or ("direction_only" if _none(r.target_value) is None else "reach_by_year")
        verdict = _none(r.verdict)  # NULL before the target (or a milestone) year
        targets.append(Target(
            kpi_id=r.kpi_id, name_zh=c.name_zh if c is not None else r.kpi_id, unit=r.unit,
            unit_zh=(c.unit_zh if c is not None else "") or "", plan_section=(c.plan_section if c is not None else "") or "",
            source_clause_zh=(c.source_clause_zh if c is not None else "") or "", direction=r.direction,
            comparator=_none(c.comparator) if c is not None else None, target_kind=kind,
            target_value=_none(r.target_value), target_value_upper=_none(r.target_value_upper),
            target_year=_year(r.target_year), baseline_year=_year(r.baseline_year),
            baseline_value=_none(r.assessed_baseline_value) if _none(r.assessed_baseline_value) is not None else _none(r.baseline_value),
            value_year=_year(r.latest_year),
            value=_none(r.assessed_value) if _none(r.assessed_value) is not None else _none(r.latest_value),
            is_partial_year=bool(_none(r.is_latest_partial_year) or False), status=_none(r.status), verdict=verdict,
            gap=_none(r.gap_to_target), completion_rate=_none(r.completion_rate), progress_share=_none(r.progress_share),
            completion_basis=_none(r.completion_basis),
            explanation=e.get("explanation_zh"), next_steps=e.get("next_steps_zh"), responsible_unit=e.get("responsible_unit"),
        ))
    return sorted(targets, key=lambda t: (_section_key(t.plan_section), t.kpi_id))


def load_unmeasurable(con, plan_id: str) -> list[Target]:
    """The plan's targets that no KPI measures yet (``plan_targets.measurement_status = 'not_yet_measurable'``,
    待建指标): listed with their clause so the report shows the whole plan, without figures or verdict."""
    if "plan_targets" not in _tables(con) or "measurement_status" not in _columns(con, "plan_targets"):
        return []
    cols = _columns(con, "plan_targets")
    pick = lambda c, d="NULL": c if c in cols else f"{d} AS {c}"  # noqa: E731
    df = con.execute(
        f"""SELECT coalesce({pick('indicator_name_zh')}, {pick('name_zh')}) AS name, {pick('unit')}, {pick('unit_zh')},
                   {pick('direction')}, {pick('target_kind')}, {pick('comparator')}, {pick('target_value')},
                   {pick('target_value_upper')}, {pick('target_year')}, {pick('plan_section')}, {pick('source_clause_zh')}
            FROM plan_targets WHERE plan_id = ? AND measurement_status = 'not_yet_measurable'""", [plan_id]).df()
    out = []
    for r in df.itertuples(index=False):
        kind = _none(r.target_kind) or ("direction_only" if _none(r.target_value) is None else "reach_by_year")
        out.append(Target(
            kpi_id="", name_zh=r.name or "", unit=_none(r.unit) or "", unit_zh=_none(r.unit_zh) or "",
            plan_section=_none(r.plan_section) or "", source_clause_zh=_none(r.source_clause_zh) or "",
            direction=_none(r.direction) or "increase", comparator=_none(r.comparator), target_kind=kind,
            target_value=_none(r.target_value), target_value_upper=_none(r.target_value_upper), target_year=_year(r.target_year),
            baseline_year=None, baseline_value=None, value_year=None, value=None, is_partial_year=False, status=None,
            verdict=None, gap=None, completion_rate=None, progress_share=None, completion_basis=None))
    return sorted(out, key=lambda t: (_section_key(t.plan_section), t.name_zh))


def load_explanations(con, plan_id: str) -> dict[str, dict]:
    """The planners' explanations of a plan by KPI (``review_explanations``), empty before any was filled in."""
    if "review_explanations" not in _tables(con):
        return {}
    df = con.execute(
        "SELECT kpi_id, explanation_zh, next_steps_zh, responsible_unit FROM review_explanations"
        " WHERE plan_id = ? AND is_known_target", [plan_id]).df()
    return {r.kpi_id: {k: _none(getattr(r, k)) for k in ("explanation_zh", "next_steps_zh", "responsible_unit")}
            for r in df.itertuples(index=False)}


def town_suppression(con, plan_id: str) -> pd.DataFrame:
    """``kpi_id, period_year, geo_code, is_suppressed`` of the plan's town/street and special-zone
    observations under the small-count rule the dashboard applies
    (:func:`daxing_kpi.smallcounts.suppress_small_counts`, on the same rows: a place hidden on the dashboard
    for a KPI and year is hidden in the report)."""
    cols = _columns(con, "kpi_catalog")
    per_person = "is_per_person" if "is_per_person" in cols else "false AS is_per_person"
    catalog = con.execute(f"SELECT DISTINCT kpi_id, {per_person}, unit FROM kpi_catalog WHERE plan_id = ?", [plan_id]).df()
    obs = con.execute(
        f"""SELECT kpi_id, period_year, geo_level, geo_code, numerator, denominator, value FROM kpi_observations
            WHERE geo_level IN ({', '.join(f"'{lv}'" for lv in SUPPRESSED_LEVELS)})
              AND kpi_id IN (SELECT kpi_id FROM kpi_catalog WHERE plan_id = ?)""", [plan_id]).df()
    return suppress_small_counts(obs, catalog)[["kpi_id", "period_year", "geo_code", "is_suppressed"]]


def load_towns(con, plan_id: str, review: Review) -> pd.DataFrame:
    """Town/street rows of the scorecard at the review's date, with their own verdict (a town with a target
    of its own), or their progress (``trend``) and share of the district (``contribution_share``) where the
    district's target is none of theirs; ``is_suppressed`` where the dashboard hides the town's value of that
    year (``latest_year``) as a small count (:func:`town_suppression`)."""
    df = _scorecard(con, plan_id, review.as_of_date, "town_street")
    if df.empty:
        df["is_suppressed"] = pd.Series(dtype=bool)
        return df
    df["value"] = df.assessed_value.where(df.assessed_value.notna(), df.latest_value)
    hidden = town_suppression(con, plan_id)
    hidden = hidden[hidden.is_suppressed.astype(bool)]
    keys = set(zip(hidden.kpi_id, hidden.period_year.astype(int), hidden.geo_code.astype(str)))
    df["is_suppressed"] = [pd.notna(y) and (k, int(y), str(g)) in keys
                           for k, y, g in zip(df.kpi_id, df.latest_year, df.geo_code, strict=True)]
    return df


def load_series(con, plan_id: str, until: dt.date) -> pd.DataFrame:
    """District values per KPI and year up to ``until`` (the review's date; the latest review: the cut-off)."""
    return con.execute(
        """SELECT o.kpi_id, o.period_year, o.value, o.is_partial_year, o.period_end_date
           FROM kpi_observations o
           WHERE o.geo_level = 'district' AND o.period_end_date <= ?
             AND o.kpi_id IN (SELECT kpi_id FROM kpi_catalog WHERE plan_id = ?)
           ORDER BY o.kpi_id, o.period_year""", [until, plan_id]).df()


def data_cutoff(con, plan_id: str) -> tuple[dt.date | None, dt.date | None]:
    """数据截至 of the plan's figures: the earliest and the latest of its KPIs' delivery cut-offs
    (``dq_kpi_status.delivery_cutoff_date``: each KPI's is the oldest of its sources'), equal when every source
    was delivered to the same day. Workbooks of planners (explanations, plans) are no data of a figure and do
    not count. Before cut-offs were published: the latest ``period_end_date`` of the observations."""
    if "dq_kpi_status" in _tables(con) and "delivery_cutoff_date" in _columns(con, "dq_kpi_status"):
        lo, hi = con.execute(
            "SELECT min(delivery_cutoff_date), max(delivery_cutoff_date) FROM dq_kpi_status"
            " WHERE kpi_id IN (SELECT kpi_id FROM kpi_catalog WHERE plan_id = ?)", [plan_id]).fetchone()
        if hi is not None:
            return lo, hi
    latest = con.execute("SELECT max(period_end_date) FROM kpi_observations").fetchone()[0]
    return latest, latest


def load_report_data(con: duckdb.DuckDBPyConnection, plan_id: str | None = None, review: str = "final") -> ReportData:
    """Everything the report shows, for ``plan_id`` (default :func:`default_plan`) and ``review``."""
    if review not in REVIEWS:
        raise ReportError(f"unknown review {review!r}: use one of {', '.join(REVIEWS)}")
    missing = {"kpi_scorecard", "kpi_catalog", "kpi_observations"} - _tables(con)
    if missing:
        raise ReportError(f"the published database lacks {', '.join(sorted(missing))}")
    plans = {p.plan_id: p for p in list_plans(con)}
    plan_id = plan_id or default_plan(con, review)
    if plan_id not in plans:
        raise ReportError(f"unknown plan {plan_id!r}: the published plans are {', '.join(plans) or 'none'}")
    dates = review_dates(con, plan_id)
    if review not in dates:
        known = ", ".join(f"{k} ({v})" for k, v in sorted(dates.items())) or "none"
        planned = None
        if review in ("final", "mid_term") and f"{review}_review_date" in _columns(con, "plans"):
            planned = con.execute(f"SELECT {review}_review_date FROM plans WHERE plan_id = ?", [plan_id]).fetchone()[0]
        if planned is not None and "latest" in dates and planned > dates["latest"]:
            raise ReportError(f"the {review} review of plan {plan_id} is on {planned}, after the data cut-off ({dates['latest']}):"
                              " it has not come yet; use --review latest for the progress so far")
        raise ReportError(f"plan {plan_id} has no {review} review in kpi_scorecard (its reviews: {known})")
    cutoff = dates.get("latest")
    if review != "latest" and cutoff is not None and dates[review] > cutoff:
        raise ReportError(f"the {review} review of plan {plan_id} is dated {dates[review]}, after the data cut-off ({cutoff}):"
                          " it has not come yet; use --review latest for the progress so far")
    rv = Review(review, dates[review])
    published = con.execute("SELECT max(published_at) FROM publish_metadata").fetchone()[0] if "publish_metadata" in _tables(con) else None
    files = pd.DataFrame()
    if "ingest_audit" in _tables(con):
        reason = "rejected_reason_zh" if "rejected_reason_zh" in _columns(con, "ingest_audit") else "CAST(NULL AS VARCHAR) AS rejected_reason_zh"
        files = con.execute(
            f"SELECT file_name, status, rows_read, rows_loaded, rows_quarantined, quarantine_reasons, {reason} FROM ingest_audit"
            " WHERE source_id = 'review_explanations' ORDER BY file_name").df()
    unmatched = pd.DataFrame()
    if "review_explanations" in _tables(con):
        unmatched = con.execute(
            "SELECT plan_id, kpi_id, source_file, sheet, row_number FROM review_explanations"
            " WHERE NOT is_known_target AND plan_id = ? ORDER BY source_file, row_number", [plan_id]).df()
    return ReportData(
        plan=plans[plan_id], review=rv, targets=load_targets(con, plan_id, rv),
        series=load_series(con, plan_id, rv.as_of_date if review != "latest" else dt.date.max),
        towns=load_towns(con, plan_id, rv), data_cutoff=data_cutoff(con, plan_id), published_at=published,
        unmeasurable=load_unmeasurable(con, plan_id),
        explanation_files=files, unmatched_explanations=unmatched,
    )
