"""Progress assessment (issues 4, 17, 18): the SQL macros of the published database and ``kpi_scorecard``.

The method's branches are pinned by the dbt unit tests in ``dbt/models/marts/kpi_scorecard.yml``;
here the real nightly job's output is checked: the macros analysts call in ``analytics.duckdb``
give the issue's examples and every hand-computed case of each target kind (the unit test's rows,
run through the published macros), and every scorecard row of the bundled plan equals a status,
verdict, gap and trend recomputed from the sample generator's ground truth by the independent
implementation below.
"""

from __future__ import annotations

import datetime as dt
import math

import duckdb
import pandas as pd
import pytest
import yaml

from daxing_kpi.paths import DBT_PROJECT_DIR, SEEDS_DIR
from daxing_kpi.plans.bundled import catalog_with_targets
from daxing_kpi.sample.generator import CUTOFF, DISTRICT_CODE
from daxing_kpi.warehouse import copy_sql_macros
from progress_reference import assess, judged_series, trend_of

PLAN_14 = "daxing_civil_affairs_14th_fyp"  # the bundled plan: reach-by-year targets for 2025, baseline 2020
# the judged values (assessed_*: the KPI's value, or its additions for count_basis new_in_period)
ARGS = "assessed_baseline_value, baseline_year, assessed_value, latest_year, target_value, target_year, direction"
KIND_ARGS = ("target_kind, assessed_baseline_value, baseline_year, assessed_value, latest_year, target_value, target_year,"
             " direction, target_value_upper, years_not_held")

# (case, baseline value, baseline year, latest value, latest year, target, target year, direction,
#  expected status, expected ratio or None)
ISSUE_EXAMPLES = [
    ("care workers 30 -> 40, target 50", 30, 2020, 40, 2023, 50, 2025, "increase", "needs_acceleration", 0.936),
    ("eco-burial 40 -> 44, target 65", 40, 2020, 44, 2024, 65, 2025, "increase", "limited_progress", 0.236),
    ("villages converted 0 -> 60, target 130 (linear)", 0, 2020, 60, 2023, 130, 2025, "increase", "needs_acceleration", 0.769),
    ("online rate 70 -> 94.9 in 2025, target 95", 70, 2020, 94.9, 2025, 95, 2025, "increase", "target_not_achieved", None),
    ("baseline 70 above target 65, then 60", 70, 2020, 60, 2023, 65, 2025, "increase", "deterioration", None),
    # R is 0.95 exactly in decimal arithmetic, 0.9499999999999988 in floating point: still on_track
    ("floating-point noise on the 0.95 bound", 100, 2020, 109.5, 2021, 121, 2022, "increase", "on_track", 0.95),
]


def _published(warehouse) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(warehouse.analytics), read_only=True)


@pytest.mark.parametrize("case", ISSUE_EXAMPLES, ids=[c[0] for c in ISSUE_EXAMPLES])
def test_published_sql_macros_give_the_issue_examples(warehouse, case):
    _, y0, t0, yi, ti, yt, tt, direction, status, ratio = case
    args = [y0, t0, yi, ti, yt, tt, direction]
    with _published(warehouse) as con:
        got_status, got_ratio = con.execute(
            "SELECT progress_status(?, ?, ?, ?, ?, ?, ?), progress_ratio(?, ?, ?, ?, ?, ?, ?)", args + args
        ).fetchone()
    assert got_status == status
    if ratio is None:
        assert got_ratio is None
    else:
        assert got_ratio == pytest.approx(ratio, abs=1e-3)


def test_published_sql_macros_give_the_scorecard_answer_on_every_row(warehouse):
    with _published(warehouse) as con:
        n_rows, n_different, n_reach, n_reach_different = con.execute(
            f"""SELECT count(*),
                       count(*) FILTER (WHERE
                           status IS DISTINCT FROM target_status({KIND_ARGS})
                           OR method IS DISTINCT FROM target_method({KIND_ARGS})
                           OR progress_ratio IS DISTINCT FROM target_ratio({KIND_ARGS})
                           OR projected_value IS DISTINCT FROM target_projection({KIND_ARGS})
                           OR gap_to_target IS DISTINCT FROM target_gap(target_kind, assessed_value, target_value, direction, target_value_upper)
                           OR completion_rate IS DISTINCT FROM target_completion_rate(target_kind, assessed_value, target_value, direction)
                           OR progress_share IS DISTINCT FROM target_progress_share(target_kind, assessed_baseline_value, assessed_value, target_value, direction)
                           OR completion_basis IS DISTINCT FROM target_completion_basis(target_kind, target_value, direction)
                           OR trend IS DISTINCT FROM target_trend(assessed_baseline_value, baseline_year, assessed_value, latest_year, direction)
                           OR verdict IS DISTINCT FROM CASE WHEN verdict_year IS NOT NULL THEN target_verdict(
                               target_kind, assessed_baseline_value, verdict_value, verdict_target_value, direction,
                               target_value_upper, years_not_held) END),
                       count(*) FILTER (WHERE target_kind IN ('reach_by_year', 'direction_only')),
                       count(*) FILTER (WHERE target_kind IN ('reach_by_year', 'direction_only') AND (
                           status IS DISTINCT FROM progress_status({ARGS})
                           OR method IS DISTINCT FROM progress_method({ARGS})
                           OR progress_ratio IS DISTINCT FROM progress_ratio({ARGS})
                           OR projected_value IS DISTINCT FROM progress_projection({ARGS})))
                FROM kpi_scorecard"""
        ).fetchone()
    assert n_rows > 0 and n_different == 0
    assert n_reach > 0 and n_reach_different == 0


def kind_cases() -> tuple[list[dict], list[dict]]:
    """The hand-computed rows of the dbt unit test ``kpi_scorecard_applies_every_target_kind``: (given, expected)."""
    spec = yaml.safe_load((DBT_PROJECT_DIR / "models" / "marts" / "kpi_scorecard.yml").read_text(encoding="utf-8"))
    test = next(t for t in spec["unit_tests"] if t["name"] == "kpi_scorecard_applies_every_target_kind")
    return test["given"][0]["rows"], test["expect"]["rows"]


def test_hand_computed_cases_of_every_target_kind_pass_through_the_published_macros(warehouse):
    given, expected = kind_cases()
    assert {g["target_kind"] for g in given} >= {"reach_by_year", "hold_every_year", "range", "direction_only"}
    assert len(given) == len(expected) >= 20
    with _published(warehouse) as con:
        frame = pd.DataFrame(given)
        con.register("given_cases", frame)
        got = con.execute(
            f"""SELECT kpi_id,
                   target_status({KIND_ARGS}) AS status,
                   target_method({KIND_ARGS}) AS method,
                   target_ratio({KIND_ARGS}) AS progress_ratio,
                   CASE WHEN verdict_year IS NOT NULL AND (target_source <> 'none' OR target_kind = 'direction_only') THEN
                       target_verdict(target_kind, assessed_baseline_value, verdict_value, verdict_target_value, direction,
                                      target_value_upper, years_not_held) END AS verdict,
                   CASE WHEN target_source <> 'none' OR target_kind = 'direction_only' THEN verdict_year END AS verdict_year,
                   target_gap(target_kind, assessed_value, target_value, direction, target_value_upper) AS gap_to_target,
                   target_completion_rate(target_kind, assessed_value, target_value, direction) AS completion_rate,
                   target_progress_share(target_kind, assessed_baseline_value, assessed_value, target_value, direction) AS progress_share,
                   target_completion_basis(target_kind, target_value, direction) AS completion_basis,
                   CASE WHEN latest_year > final_target_year THEN
                       target_is_met(target_kind, assessed_value, final_target_value, direction, target_value_upper) END AS is_target_held,
                   target_trend(assessed_baseline_value, baseline_year, assessed_value, latest_year, direction) AS trend
               FROM given_cases"""
        ).df().set_index("kpi_id")
    wrong = []
    for row in expected:
        for col, want in row.items():
            if col == "kpi_id":
                continue
            have = got.loc[row["kpi_id"], col]
            if want is None:
                ok = have is None or pd.isna(have)
            elif isinstance(want, str):
                ok = have == want
            elif isinstance(want, bool):
                ok = not pd.isna(have) and bool(have) == want
            else:
                ok = not pd.isna(have) and math.isclose(float(have), float(want), rel_tol=0, abs_tol=1e-12)
            if not ok:
                wrong.append((row["kpi_id"], col, want, have))
    assert not wrong, wrong


def test_the_issue_example_of_gap_and_completion_through_the_published_macros(warehouse):
    # 持证社工 1,377 of 1,500 at the final review: gap 123, completion 91.8 %, verdict not achieved
    with _published(warehouse) as con:
        row = con.execute(
            "SELECT target_gap('reach_by_year', 1377, 1500, 'increase', NULL),"
            " target_completion_rate('reach_by_year', 1377, 1500, 'increase'),"
            " target_verdict('reach_by_year', 1000, 1377, 1500, 'increase', NULL, NULL),"
            " target_completion_basis('reach_by_year', 1500, 'increase')"
        ).fetchone()
    assert row[0] == 123 and round(row[1] * 100, 1) == 91.8 and row[2] == "not_achieved" and row[3] == "completion_rate"


def test_copy_sql_macros_recreates_macros_with_overloads(tmp_path):
    source = tmp_path / "work.duckdb"
    with duckdb.connect(str(source)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE MACRO marts.pace(a, b) AS CASE WHEN b <> 0 THEN a / b END, (a) AS a * 'x'")
        con.execute("CREATE MACRO marts.label(d) AS CASE d WHEN 'increase' THEN 'up' ELSE 'down' END")
        con.execute("CREATE MACRO main.not_copied(a) AS a")
    with duckdb.connect(str(tmp_path / "published.duckdb")) as con:
        con.execute(f"ATTACH '{source}' AS work (READ_ONLY)")
        assert copy_sql_macros(con, "work", "marts") == ["label", "pace"]
        con.execute("DETACH work")
    with duckdb.connect(str(tmp_path / "published.duckdb"), read_only=True) as con:
        assert con.execute("SELECT pace(6, 3), pace(6, 0), label('increase'), label('decrease')").fetchone() == (
            2.0, None, "up", "down")
        assert con.execute("SELECT count(*) FROM duckdb_functions() WHERE function_name = 'not_copied'").fetchone()[0] == 0


# ---------------------------------------------------------------------------------------------
# Independent implementation of the method, written from the issue text (not from the SQL).

AS_OF_DATES = [dt.date(y, 12, 31) for y in range(2021, 2026)] + [CUTOFF]
REVIEWS = {dt.date(2023, 12, 31): "mid_term", dt.date(2025, 12, 31): "final"}


def test_assess_reproduces_the_issue_examples():
    """The test's own implementation agrees with the issue before it is used as the reference."""
    for _, y0, t0, yi, ti, yt, tt, direction, status, ratio in ISSUE_EXAMPLES:
        got_status, _, got_ratio, _ = assess(y0, t0, yi, ti, yt, tt, direction)
        assert got_status == status
        assert (got_ratio is None) if ratio is None else got_ratio == pytest.approx(ratio, abs=1e-3)


def expected_scorecard(truth: pd.DataFrame, catalog: pd.DataFrame, town_targets: pd.DataFrame,
                       first_year: int) -> pd.DataFrame:
    """Every KPI x geography of the ground truth x default as-of date, assessed by :func:`assess`, with the
    verdict after the target year, the gap, completion, trend and a town/street's contribution (issue 17). The
    scorecard assesses the district and the towns/streets only (PLAN.md Geographies: special zones and the
    unassigned geography count in the district, they have no progress of their own)."""
    from daxing_kpi.sample.generator import towns

    truth = truth[truth.geo_code.isin({DISTRICT_CODE} | {t.code for t in towns()})].copy()
    truth["period_end"] = [min(dt.date(int(y), 12, 31), CUTOFF) for y in truth.period_year]
    own = {(r.kpi_id, r.geo_code): r for r in town_targets.itertuples()}
    judged = {key: judged_series(g, catalog.loc[key[0]].count_basis, first_year, first_year - 1)
              for key, g in truth.groupby(["kpi_id", "geo_code"])}
    rows = []
    for (kpi_id, geo_code), series in judged.items():
        kpi = catalog.loc[kpi_id]
        d = {"increase": 1, "decrease": -1}[kpi.direction]
        target_value = None if pd.isna(kpi.target_value) else float(kpi.target_value)
        target_year = None if pd.isna(kpi.target_year) else int(kpi.target_year)
        if geo_code != DISTRICT_CODE and (kpi_id, geo_code) in own:
            t = own[(kpi_id, geo_code)]
            target_value = float(t.target_value)
            target_year = int(t.target_year) if not pd.isna(t.target_year) else target_year
        elif geo_code != DISTRICT_CODE and kpi.unit == "count":
            target_value = None  # a district total is no target for one town/street
        known = series.dropna(subset=["value"])
        district = judged[(kpi_id, DISTRICT_CODE)].set_index("period_year").value
        for as_of in AS_OF_DATES:
            usable = known[(known.period_end <= as_of) & (known.period_year >= kpi.baseline_year)]
            y0 = t0 = yi = ti = None
            if len(usable):
                t0, y0 = int(usable.period_year.iloc[0]), float(usable.value.iloc[0])
                ti, yi = int(usable.period_year.iloc[-1]), float(usable.value.iloc[-1])
            status, method, ratio, projection = assess(y0, t0, yi, ti, target_value, target_year, kpi.direction)
            verdict = None
            if ti is not None and target_year is not None and ti >= target_year:
                at_target = usable[usable.period_year == target_year]
                v = float(at_target.value.iloc[0]) if len(at_target) else None
                if v is None:
                    verdict = None
                elif kpi.target_kind == "direction_only":
                    verdict = "achieved" if d * (v - y0) > 0 else ("deterioration" if d * (v - y0) < 0 else "not_achieved")
                elif target_value is not None:
                    verdict = ("achieved" if d * (v - target_value) >= 0
                               else "deterioration" if d * (v - y0) < 0 else "not_achieved")
            with_target = target_value is not None and yi is not None
            rows.append({
                "kpi_id": kpi_id, "geo_code": geo_code, "as_of_date": as_of, "review": REVIEWS.get(as_of),
                "baseline_year": t0, "assessed_baseline_value": y0, "latest_year": ti, "assessed_value": yi,
                "target_value": target_value, "status": status, "method": method,
                "progress_ratio": ratio, "projected_value": projection, "verdict": verdict,
                "gap_to_target": d * (target_value - yi) if with_target else None,
                "completion_rate": yi / target_value if with_target and d == 1 and target_value > 0 else None,
                "is_target_held": (d * (yi - target_value) >= 0) if with_target and ti > target_year else None,
                "trend": trend_of(y0, t0, yi, ti, d),
                "contribution_share": (yi / district[ti] if geo_code != DISTRICT_CODE and kpi.unit == "count"
                                       and yi is not None and district.get(ti) else None),
            })
    return pd.DataFrame(rows)


def _text(x):
    return None if x is None or pd.isna(x) else str(x)


def _same(a, b, tol=1e-9) -> bool:
    """Equal numbers (to ``tol``), or both missing."""
    if a is None or pd.isna(a) or b is None or pd.isna(b):
        return (a is None or pd.isna(a)) and (b is None or pd.isna(b))
    return math.isclose(float(a), float(b), rel_tol=tol, abs_tol=tol)


def test_every_scorecard_row_equals_the_status_recomputed_from_ground_truth(warehouse):
    catalog = catalog_with_targets(PLAN_14)
    town_targets = pd.read_csv(SEEDS_DIR / "kpi_town_street_targets.csv", dtype={"geo_code": str})
    town_targets = town_targets[town_targets.plan_id == PLAN_14]
    expected = expected_scorecard(warehouse.ground_truth(), catalog, town_targets, first_year=2021)
    actual = warehouse.query("SELECT * FROM kpi_scorecard WHERE plan_id = ?", [PLAN_14])
    actual["as_of_date"] = pd.to_datetime(actual.as_of_date).dt.date
    key = ["kpi_id", "geo_code", "as_of_date"]
    assert not actual.duplicated(key).any()
    merged = expected.merge(actual, on=key, how="outer", suffixes=("", "_mart"), indicator=True)
    one_sided = merged[merged._merge != "both"]
    assert one_sided.empty, f"rows on one side only:\n{one_sided[key + ['_merge']].head(10)}"
    mismatches = []
    for row in merged.itertuples():
        for col in ("status", "method", "review", "verdict", "trend"):
            exp, got = (_text(getattr(row, c)) for c in (col, f"{col}_mart"))
            if exp != got:
                mismatches.append((row.kpi_id, row.geo_code, row.as_of_date, col, exp, got))
        for col in ("baseline_year", "latest_year", "assessed_baseline_value", "assessed_value", "target_value",
                    "progress_ratio", "projected_value", "gap_to_target", "completion_rate", "is_target_held",
                    "contribution_share"):
            exp, got = getattr(row, col), getattr(row, f"{col}_mart")
            if not _same(exp, got):
                mismatches.append((row.kpi_id, row.geo_code, row.as_of_date, col, exp, got))
    assert not mismatches, f"{len(mismatches)} differences, first: {mismatches[:10]}"
    # the sample is meant to exercise the method: several categories occur, and both reviews are there
    assert {"on_track", "needs_acceleration", "target_achieved", "target_not_achieved"} <= set(actual.status)
    assert actual.groupby("review").as_of_date.first().astype(str).to_dict() == {
        "mid_term": "2023-12-31", "final": "2025-12-31"}


def test_after_the_target_year_every_geography_has_a_verdict_or_a_contribution(warehouse):
    """Issue 17.1: at the final review and at the latest data after it, every assessed geography with a target
    of its own has achieved / not achieved / deterioration; a town/street without one for a district count
    has no verdict, but its contribution share and its trend."""
    rows = warehouse.query(
        "SELECT * FROM kpi_scorecard WHERE plan_id = ? AND (review = 'final' OR is_data_cutoff)", [PLAN_14])
    assert len(rows) > 2 * 29
    own = rows[(rows.target_source != "none") | (rows.target_kind == "direction_only")]
    assert set(own.verdict) == {"achieved", "not_achieved", "deterioration"}
    assert own.verdict.notna().all() and (own.verdict_year == 2025).all()
    without = rows[(rows.target_source == "none") & (rows.target_kind != "direction_only")]
    # a town/street that sent no return form (未报送, issue 16.3) has no value to assess: no contribution, no trend
    silent = without.latest_value.isna()
    assert (without[silent].kpi_id.isin(["community.secretary_studio_demo_sites", "community.building_governance_demo_sites"])).all()
    assert without[silent].contribution_share.isna().all() and without[silent].trend.isna().all()
    without = without[~silent]
    assert len(without) >= 2 * 22 * 6 and set(without.unit) == {"count"} and set(without.geo_level) == {"town_street"}
    assert without.verdict.isna().all() and without.verdict_year.isna().all() and without.gap_to_target.isna().all()
    # a town/street that never reported (return forms 未报送) has no data: no trend, no share
    assert (without.trend.notna() == (without.status != "insufficient_data")).all()
    assert (without.status == "insufficient_data").sum() < len(without) / 10
    # a share of the district's judged value: none where the district has none (no additions since the plan began)
    district = rows[rows.geo_level == "district"].set_index(["kpi_id", "as_of_date"]).assessed_value
    at_district = [district.get((r.kpi_id, r.as_of_date)) for r in without.itertuples()]
    defined = [bool(v) and pd.notna(r.assessed_value) for v, r in zip(at_district, without.itertuples())]
    assert without.contribution_share[defined].between(0, 1).all() and without.contribution_share[[not d for d in defined]].isna().all()
    assert sum(defined) > len(without) / 2
    # the towns' shares add up to the district (the district total counts every town/street)
    shares = without[without.review == "final"].groupby("kpi_id").contribution_share.sum()
    assert (shares <= 1 + 1e-9).all() and (shares > 0.5).all()
    # a numeric target is judged achieved or not once its year has data, never "on track"
    assert set(own[own.target_source != "none"].status) <= {"target_achieved", "target_not_achieved"}


def test_scorecard_has_the_default_as_of_dates_and_flags_the_data_cutoff(warehouse):
    dates = warehouse.query(
        "SELECT DISTINCT as_of_date, review, is_data_cutoff FROM kpi_scorecard WHERE plan_id = ? ORDER BY as_of_date",
        [PLAN_14])
    assert [d.date() if hasattr(d, "date") else d for d in dates.as_of_date] == AS_OF_DATES
    assert dates.is_data_cutoff.tolist() == [False] * 5 + [True]
    cutoff_rows = warehouse.query(
        "SELECT latest_year, is_latest_partial_year FROM kpi_scorecard"
        " WHERE is_data_cutoff AND geo_level = 'district' AND kpi_id = 'funeral.eco_burial_rate' AND plan_id = ?", [PLAN_14])
    # at the data cut-off the partial year 2026 is the latest, measured year to date
    assert cutoff_rows.latest_year.tolist() == [2026] and cutoff_rows.is_latest_partial_year.tolist() == [True]
