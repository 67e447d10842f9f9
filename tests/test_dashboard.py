"""The dashboard's pure parts (labels, plan parts, number formats, small-count suppression, the
required path, quality and freshness, figures, plans and their default view, what a scorecard row
shows, town/street ranks, downloads) on hand-made frames; the pages of a tiny published database
written by hand (tests/dashboard_tiny.py: two plans, verdicts, gaps, shares, special zones) against
hand-computed values; and the build on a published database that lacks the optional tables."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import plotly.graph_objects as go
import pytest
import yaml

import dashboard_tiny as tiny
from daxing_kpi import dashboard_data as dd
from daxing_kpi import dashboard_plans as dp
from daxing_kpi.dashboard import Site, build_dashboard
from daxing_kpi.dashboard_exports import COLUMNS, digest_of, planner_frame, write_csv, write_xlsx, xlsx_digest
from daxing_kpi.dashboard_figures import STATUS_STYLE, sparkline_svg, towns_figure, trend_figure
from daxing_kpi.dashboard_towns import ranks

ROOT = Path(__file__).resolve().parents[1]
LABELS = dd.load_labels()


def kpi_row(**over) -> pd.Series:
    base = dict(kpi_id="eldercare.care_workers_per_10k_elderly", unit="per_10k", unit_zh="人/万老年人",
                unit_en="per 10,000 older people", direction="increase", comparator=">=", baseline_year=2020,
                target_year=2025, target_value=50.0, is_per_person=True, sources="eldercare_care_workers;statbureau_population")
    return pd.Series({**base, **over})


# -- formats, plan parts, labels ------------------------------------------------------------------------


def test_values_are_printed_as_planners_read_them():
    assert dd.format_value(6047.0, "count") == "6,047"
    assert dd.format_value(54.7342, "pct") == "54.7%"
    assert dd.format_value(45.598, "per_10k") == "45.6"
    assert dd.format_value(None, "pct") == dd.format_value(float("nan"), "count") == "—"
    assert dd.format_target(65.0, "pct") == "65%" and dd.format_target(6000.0, "count") == "6,000"
    assert dd.format_target(0.5, "per_10k") == "0.5"
    assert dd.format_count(17903.0) == "17,903"


def test_references_into_a_plan_sort_in_the_plan_order_and_read_in_each_language():
    part = dp.Plan("p", dd.Text("", ""), dd.Text("", ""), 2021, 2025, 2020, False, {"一": dd.Text("", ""), "二": dd.Text("", "")})
    assert part.section_of("一(三)3; 四(三)2") == "一" and part.section_of("二（一）1") == "二" and part.section_of("x1") == ""
    # 一(二) before 一(三) before 一(四), though 三 sorts before 二 as text
    ordered = sorted(["一(三)3; 四(三)2", "一(四)4", "一(二)2", "一(二)1", "十二(十)3"], key=dd.plan_section_key)
    assert ordered == ["一(二)1", "一(二)2", "一(三)3; 四(三)2", "一(四)4", "十二(十)3"]
    assert dd.plan_section_key("三(二)") == (3, 2, 0) and dd.numeral_value("二十一") == 21
    # on the pages: full-width brackets in Chinese, digits in English
    assert dd.plan_ref("一(三)3; 四(三)2") == dd.Text("一（三）3；四（三）2", "1(3)3; 4(3)2")
    assert dd.zh_punctuation("镇(街)养老照料中心") == "镇（街）养老照料中心" and dd.zh_punctuation("6,047 (x)") == "6,047 (x)"


def test_the_translation_file_covers_every_label_the_pages_use():
    catalog = pd.read_csv(ROOT / "seeds" / "kpi_catalog.csv")
    assert set(catalog.domain) <= set(LABELS.keys("domains"))
    scorecard = yaml.safe_load((ROOT / "dbt" / "models" / "marts" / "kpi_scorecard.yml").read_text(encoding="utf-8"))
    cols = {c["name"]: c for c in scorecard["models"][0]["columns"]}

    def accepted(col):
        return next(t["accepted_values"]["arguments"]["values"] for t in cols[col]["data_tests"] if isinstance(t, dict) and "accepted_values" in t)

    # every status the scorecard can publish, and every mark the pages can show, has its words and colours
    assert set(accepted("status")) <= set(dp.MARK_KEYS) <= set(LABELS.keys("statuses"))
    assert set(dp.PROGRESS_KEYS) | set(dp.MARK_KEYS) | {"suppressed", "not_reported"} == set(LABELS.keys("statuses")) == set(STATUS_STYLE)
    assert set(dp.VERDICT_KEYS.values()) <= set(dp.MARK_KEYS) and set(dp.TREND_KEYS.values()) == set(dp.PROGRESS_KEYS)
    assert set(accepted("method")) <= set(LABELS.keys("methods"))
    assert set(accepted("review")) | {"latest"} == set(LABELS.keys("reviews"))
    towns = pd.read_csv(ROOT / "seeds" / "townships.csv", dtype={"code": str})
    assert set(towns.code) | {"110115"} <= set(LABELS.keys("geographies"))
    assert set(COLUMNS) == set(LABELS.keys("download_columns"))
    # every ui.* key used by the templates and the code exists
    used = set()
    for path in list((ROOT / "dashboards" / "templates").glob("*.j2")) + list((ROOT / "dagster_project" / "daxing_kpi").glob("dashboard*.py")):
        used |= set(re.findall(r"""(?:L\(|\[)['"]((?:ui|quality|reviews|statuses)\.[a-z_]+)['"]""", path.read_text(encoding="utf-8")))
    assert len(used) > 80
    for key in used:
        LABELS[key]  # raises KeyError naming the entry


def test_nothing_in_the_code_or_the_templates_names_a_particular_plan():
    """Plans are data (issue 18): plan names, periods and target years come from the published tables."""
    names = re.compile(r"十[一二三四五六七八九]五|1[0-9]th Five|2025年目标|2021[-—–]2025|2026[-—–]2030|Target 2025|十四五|十五五")
    files = list((ROOT / "dashboards").rglob("*.j2")) + list((ROOT / "dashboards").rglob("*.yaml")) + \
        list((ROOT / "dashboards" / "static").glob("*")) + list((ROOT / "dagster_project" / "daxing_kpi").glob("dashboard*.py"))
    assert len(files) >= 12
    found = {str(p.relative_to(ROOT)): names.findall(p.read_text(encoding="utf-8")) for p in files}
    assert {p: f for p, f in found.items() if f} == {}


def test_a_label_without_english_is_rejected_naming_the_entry(tmp_path):
    spec = yaml.safe_load(dd.I18N_FILE.read_text(encoding="utf-8"))
    spec["statuses"]["on_track"] = {"zh": "进展顺利"}
    bad = tmp_path / "i18n.yaml"
    bad.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match=r"i18n.yaml: entry statuses.on_track has no 'en' text"):
        dd.load_labels(bad)


# -- small counts ------------------------------------------------------------------------------------------


def test_small_town_counts_of_per_person_kpis_are_suppressed_with_a_complement():
    catalog = pd.DataFrame({
        "kpi_id": ["a.rate", "b.persons", "c.sites"], "is_per_person": [True, True, False], "unit": ["pct", "count", "count"],
    })
    rows = [
        # a.rate 2024: one town below 5 in the numerator -> it and the next smallest numerator (t3) hidden
        ("a.rate", 2024, "district", "d", 40, 100), ("a.rate", 2024, "town_street", "t1", 3, 30),
        ("a.rate", 2024, "town_street", "t2", 20, 40), ("a.rate", 2024, "town_street", "t3", 17, 30),
        # a.rate 2025: two towns small (numerator 4, denominator 4): no complement needed
        ("a.rate", 2025, "town_street", "t1", 4, 30), ("a.rate", 2025, "town_street", "t2", 4, 4),
        ("a.rate", 2025, "town_street", "t3", 30, 40), ("a.rate", 2025, "district", "d", 2, 3),
        # b.persons: a count of persons (denominator 1 is not a denominator); 5 is shown, 0 and 2 hidden
        ("b.persons", 2025, "town_street", "t1", 5, 1), ("b.persons", 2025, "town_street", "t2", 0, 1),
        ("b.persons", 2025, "town_street", "t3", 2, 1),
        # c.sites: not about persons: never hidden
        ("c.sites", 2025, "town_street", "t1", 1, 1), ("c.sites", 2025, "town_street", "t2", 9, 1),
    ]
    obs = pd.DataFrame(rows, columns=["kpi_id", "period_year", "geo_level", "geo_code", "numerator", "denominator"])
    obs["value"] = obs.numerator / obs.denominator
    out = dd.suppress_small_counts(obs, catalog)
    hidden = {(r.kpi_id, r.period_year, r.geo_code) for r in out.itertuples() if r.is_suppressed}
    assert hidden == {("a.rate", 2024, "t1"), ("a.rate", 2024, "t3"), ("a.rate", 2025, "t1"), ("a.rate", 2025, "t2"),
                      ("b.persons", 2025, "t2"), ("b.persons", 2025, "t3")}
    assert out[out.is_suppressed][["numerator", "denominator", "value"]].isna().all().all()
    kept = out[~out.is_suppressed].set_index(["kpi_id", "period_year", "geo_code"])
    assert kept.loc[("a.rate", 2025, "d"), "numerator"] == 2  # the district is never hidden
    assert kept.loc[("b.persons", 2025, "t1"), "value"] == 5
    assert len(out) == len(obs) and not obs.columns.difference(out.columns).size  # keys kept, input untouched
    assert obs.numerator.notna().all()


# -- the required path ----------------------------------------------------------------------------------------


def test_required_path_is_the_compound_growth_path_of_the_progress_method():
    path = dd.required_path(2020, 30.0, 2025, 50.0, "cagr").set_index("period_year").value
    assert list(path.index) == [2020, 2021, 2022, 2023, 2024, 2025]
    assert path[2020] == 30.0 and path[2025] == pytest.approx(50.0)
    assert path[2023] == pytest.approx(40.7597, abs=1e-4)  # 30 * (50/30) ** (3/5) = 30 * exp(0.6 * 0.510826), by hand
    # an undefined growth rate (baseline 0) or method linear: the straight line
    assert dd.required_path(2020, 0.0, 2025, 10.0, "cagr").value.tolist() == pytest.approx([0, 2, 4, 6, 8, 10])
    assert dd.required_path(2020, 30.0, 2025, 50.0, "linear").value.tolist() == pytest.approx([30, 34, 38, 42, 46, 50])
    assert dd.required_path(2020, 30.0, 2025, None).empty and dd.required_path(2025, 1.0, 2025, 2.0).empty


# -- quality and freshness -----------------------------------------------------------------------------------


CATALOG = pd.DataFrame({"kpi_id": ["funeral.eco_burial_rate", "eldercare.care_workers_per_10k_elderly", "digital.online_service_rate"],
                        "sources": ["funeral_burials", "eldercare_care_workers;statbureau_population", "govservice_service_items"]})


def dq(rows):
    return pd.DataFrame(rows, columns=["run_id", "asset", "check_name", "severity", "passed", "observed_value", "expected", "checked_at"])


def test_quality_without_check_results_says_what_publication_guarantees():
    q = dd.kpi_quality(CATALOG, None)
    assert {v["state"] for v in q.values()} == {"blocking_passed"} and set(q) == set(CATALOG.kpi_id)


def test_quality_per_kpi_from_the_latest_runs_check_results():
    rows = dq([
        # an older run failed everything: ignored
        ("r1", "marts/kpi_observations", "kpi_values_within_bounds", "ERROR", False, "3", "0", "2026-11-01 02:00"),
        # the run of the publication
        ("r2", "marts/kpi_observations", "kpi_values_within_bounds", "ERROR", True, "0", "0", "2026-11-02 02:00"),
        ("r2", '["staging", "stg_funeral__burials"]', "burials_year_over_year_change", "WARN", False, "+48%", "<= 30%", "2026-11-02 02:00"),
        ("r2", "ingest/statbureau_population", "towns_present", "ERROR", False, "21", "22", "2026-11-02 02:00"),
        ("r2", "raw/govservice_service_items", "row_count", "WARN", True, "120", "> 60", "2026-11-02 02:00"),
    ])
    q = dd.kpi_quality(CATALOG, rows, run_id="r2")
    assert q["funeral.eco_burial_rate"]["state"] == "warn"
    assert q["funeral.eco_burial_rate"]["checks"] == 2  # the mart check and its own source's
    assert q["funeral.eco_burial_rate"]["failed"] == [{"check": "burials_year_over_year_change", "asset": '["staging", "stg_funeral__burials"]',
                                                       "severity": "WARN", "observed": "+48%", "expected": "<= 30%"}]
    assert q["eldercare.care_workers_per_10k_elderly"]["state"] == "failed"  # its denominator's source
    assert q["digital.online_service_rate"] == {"state": "passed", "checks": 2, "failed": []}
    # without the publication's run id: the latest run by time; a kpi_id column names the KPI directly
    rows2 = rows.assign(kpi_id=[None, None, None, None, "digital.online_service_rate"])
    rows2.loc[4, "passed"] = False
    q2 = dd.kpi_quality(CATALOG, rows2)
    assert q2["digital.online_service_rate"]["state"] == "warn" and q2["funeral.eco_burial_rate"]["checks"] == 2


def test_quality_prefers_the_quality_gates_own_verdict_per_kpi():
    status = pd.DataFrame({"kpi_id": ["funeral.eco_burial_rate", "eldercare.care_workers_per_10k_elderly"],
                           "status": ["warned", "passed"], "checks_evaluated": [14, 20],
                           "failed_checks": ["staging/stg_funeral__burials yoy_change: +48%\nmarts/kpi_observations bound: 1 row", None]})
    rows = dq([("r2", "marts/kpi_observations", "bounds", "ERROR", False, "1 row", "0", "2026-11-02 02:00")])
    q = dd.kpi_quality(CATALOG, rows, "r2", status)
    assert q["funeral.eco_burial_rate"]["state"] == "warn" and q["funeral.eco_burial_rate"]["checks"] == 14
    assert [f["check"] for f in q["funeral.eco_burial_rate"]["failed"]] == [
        "staging/stg_funeral__burials yoy_change: +48%", "marts/kpi_observations bound: 1 row"]
    assert q["eldercare.care_workers_per_10k_elderly"] == {"state": "passed", "checks": 20, "failed": []}
    assert q["digital.online_service_rate"]["state"] == "blocking_passed"  # not in the verdict table
    # dq_results' kpi_ids (comma-separated, set on failed mart checks) names the KPIs a mart check concerns
    named = dq([("r3", "marts/kpi_observations", "yoy_bound", "WARN", False, "+60%", "<= 40%", "2026-11-03 02:00")])
    named["kpi_ids"] = ["funeral.eco_burial_rate,digital.online_service_rate"]
    q3 = dd.kpi_quality(CATALOG, named)
    assert {k: v["state"] for k, v in q3.items()} == {
        "funeral.eco_burial_rate": "warn", "eldercare.care_workers_per_10k_elderly": "passed", "digital.online_service_rate": "warn"}


def test_source_freshness_uses_the_published_freshness_table_when_there_is_one():
    published = pd.DataFrame({"source_id": ["funeral_burials"], "title_zh": ["安葬记录"], "title_en": ["Burial records"],
                              "latest_record_date": pd.to_datetime(["2026-10-30"]), "rows_loaded": [150], "files": [2],
                              "last_delivery_at": pd.to_datetime(["2026-11-01 08:00"]), "last_loaded_at": pd.to_datetime(["2026-11-02 02:02"])})
    audit = pd.DataFrame({"source_id": ["funeral_burials", "funeral_burials"], "rows_loaded": [100, 50], "rows_quarantined": [2, 3],
                          "loaded_at": pd.to_datetime(["2026-11-02 02:01"] * 2), "file_modified_at": ["2026-11-01T08:00:00"] * 2})
    f = dd.source_freshness(audit, published).set_index("source_id")
    assert f.loc["funeral_burials", "latest_record_date"] == pd.Timestamp("2026-10-30")
    assert f.loc["funeral_burials", "rows_quarantined"] == 5 and f.loc["funeral_burials", "files"] == 2


def test_source_freshness_sums_the_files_of_each_source():
    audit = pd.DataFrame({
        "source_id": ["funeral_burials", "funeral_burials", "volunteer_volunteers"],
        "file_modified_at": ["2026-10-31T20:00:00", "2026-11-01T08:00:00", "2026-09-30T10:00:00"],
        "loaded_at": pd.to_datetime(["2026-11-02 02:01", "2026-11-02 02:02", "2026-11-02 02:03"]),
        "rows_loaded": [100, 50, 7], "rows_quarantined": [2, 0, 1],
    })
    f = dd.source_freshness(audit).set_index("source_id")
    assert f.loc["funeral_burials", "files"] == 2 and f.loc["funeral_burials", "rows_loaded"] == 150
    assert f.loc["funeral_burials", "rows_quarantined"] == 2
    assert f.loc["funeral_burials", "last_delivery"] == pd.Timestamp("2026-11-01 08:00")
    assert pd.isna(f.loc["volunteer_volunteers", "latest_record_date"])  # the audit has no such column
    assert dd.source_freshness(None).empty


# -- figures -----------------------------------------------------------------------------------------------------


def district_frame():
    return pd.DataFrame({"period_year": [2020, 2021, 2022, 2023, 2024], "value": [30.0, 33.0, 37.0, 40.0, 41.0],
                         "is_partial_year": [False, False, False, False, True],
                         "period_end_date": pd.to_datetime(["2020-12-31", "2021-12-31", "2022-12-31", "2023-12-31", "2024-06-30"])})


def scorecard_frame():
    return pd.DataFrame({
        "as_of_date": pd.to_datetime(["2023-12-31", "2024-06-30"]), "review": ["mid_term", None], "is_data_cutoff": [False, True],
        "baseline_year": [2020, 2020], "baseline_value": [30.0, 30.0], "latest_year": [2023, 2024], "latest_value": [40.0, 41.0],
        "target_year": [2025, 2025], "method": ["cagr", "cagr"], "projected_value": [46.0, 43.0], "status": ["on_track", "needs_acceleration"],
    })


def test_trend_figure_draws_target_required_path_and_one_projection_per_review_with_the_unit_upright():
    fig = go.Figure(trend_figure(district_frame(), kpi_row(), scorecard_frame(), LABELS, "en"))  # validates the plain figure
    by_name = {t.name: t for t in fig.data}
    assert list(by_name["District"].x) == [2020, 2021, 2022, 2023] and list(by_name["District"].y) == [30, 33, 37, 40]
    assert by_name["2024 (to 30 Jun)"].marker.symbol == "circle-open"
    target = [t for t in fig.data if t.name == "Target 2025 ≥ 50"]
    assert [(t.mode, list(t.x), list(t.y)) for t in target] == [("lines", [2020, 2025], [50, 50]), ("markers", [2025], [50])]
    path = by_name["Required path"]
    assert path.x[0] == 2020 and path.y[0] == 30 and path.y[-1] == pytest.approx(50)
    proj = {t.meta["review"]: t for t in fig.data if t.meta}
    assert set(proj) == {"latest", "mid_term"}
    assert list(proj["mid_term"].x) == [2023, 2025] and list(proj["mid_term"].y) == [40, 46] and proj["mid_term"].visible is False
    assert proj["latest"].visible is True
    # the unit is written upright above the axis, never as a rotated axis title
    assert fig.layout.yaxis.title.text is None
    assert [a.text for a in fig.layout.annotations] == ["Unit: per 10,000 older people"] and fig.layout.annotations[0].textangle is None
    zh = go.Figure(trend_figure(district_frame(), kpi_row(), None, LABELS, "zh"))
    assert [t.name for t in zh.data][:2] == ["全区", "2024年（截至6月30日）"] and not any(t.meta for t in zh.data)
    assert zh.layout.annotations[0].text == "单位：人/万老年人"


def test_trend_figure_draws_every_target_kind_as_the_plan_states_it():
    hold = kpi_row(target_kind="hold_every_year", target_value=95.0, unit="pct", unit_zh="%", unit_en="%")
    fig = go.Figure(trend_figure(district_frame(), hold, scorecard_frame(), LABELS, "zh", dp.target_text(hold, LABELS)))
    names = [t.name for t in fig.data]
    assert "2025年目标 每年 ≥ 95%" in names and "所需路径" not in names  # a target to hold has no path to reach
    band = kpi_row(target_kind="range", target_value=60.0, target_value_upper=80.0)
    lines = [t for t in go.Figure(trend_figure(district_frame(), band, None, LABELS, "en", dp.target_text(band, LABELS))).data if t.mode == "lines" and t.legendgroup == "target"]
    assert [list(t.y) for t in lines] == [[60, 60], [80, 80]] and [t.showlegend for t in lines] == [True, False]
    direction = kpi_row(target_kind="direction_only", target_value=None)
    assert [t.name for t in go.Figure(trend_figure(district_frame(), direction, None, LABELS, "zh")).data] == ["全区", "2024年（截至6月30日）"]


def test_towns_figure_sorts_towns_marks_suppressed_ones_and_draws_the_district():
    towns = pd.DataFrame({"name": ["A", "B", "C", "D"], "value": [55.0, 38.0, None, 61.0],
                          "is_suppressed": [False, False, True, False], "status": ["on_track", "deterioration", None, "target_achieved"]})
    fig = go.Figure(towns_figure(towns, 50.0, kpi_row(), "2024", LABELS, "zh"))
    bars = [t for t in fig.data if t.type == "bar"]  # one trace per status, named in the legend, best first
    assert [(t.name, list(t.y), list(t.x), t.marker.color) for t in bars] == [
        ("已实现目标", ["D"], [61], STATUS_STYLE["target_achieved"][0]), ("进展顺利", ["A"], [55], STATUS_STYLE["on_track"][0]),
        ("退步", ["B"], [38], STATUS_STYLE["deterioration"][0])]
    text = [t for t in fig.data if t.type == "scatter"]
    assert list(text[0].y) == ["C"] and text[0].text[0] == "已隐去（<5）" and text[0].showlegend is False
    assert list(fig.layout.yaxis.categoryarray) == ["C", "B", "A", "D"]  # ascending: the largest on top, suppressed below
    assert [s.x0 for s in fig.layout.shapes] == [50.0, 50.0]  # the district value and the target 50
    assert [a.text for a in fig.layout.annotations] == ["全区 50.0", "目标 50"]


def test_count_towns_are_drawn_on_their_own_axis_without_the_district_total():
    towns = pd.DataFrame({"name": ["A", "B"], "value": [133.0, 488.0], "is_suppressed": [False, False],
                          "status": ["trend_improving", "trend_worsening"]})
    fig = go.Figure(towns_figure(towns, 6047.0, kpi_row(unit="count", unit_zh="家", unit_en="organisations", target_value=6000.0), "2025", LABELS, "en"))
    assert list(fig.layout.shapes) == [] and list(fig.layout.annotations) == []  # no district line stretching the axis
    assert max(max(t.x) for t in fig.data) == 488 and fig.layout.xaxis.range is None
    assert [t.name for t in fig.data] == ["Improving", "Worsening"]  # the progress indication, never a status word


def test_sparkline_has_its_values_as_text_in_both_languages():
    svg = sparkline_svg(district_frame(), kpi_row(), LABELS)
    assert svg.startswith('<svg class="sparkline"') and 'role="img"' in svg
    assert 'aria-label="全区逐年数值：2020年: 30.0, 2021年: 33.0, 2022年: 37.0, 2023年: 40.0, 2024年（截至6月30日）: 41.0"' in svg
    assert 'data-en-aria-label="District values by year: 2020: 30.0' in svg
    assert svg.count("<polyline") == 1 and svg.count('fill="#fff"') == 1  # the partial year is an open circle


# -- plans, views and what a scorecard row shows -------------------------------------------------------------------


def plan(**over) -> dp.Plan:
    base = dict(plan_id="p", name=dd.Text("甲", "A"), short_name=dd.Text("甲", "A"), start_year=2021, end_year=2025,
                baseline_year=2020, is_example=False)
    return dp.Plan(**{**base, **over})


def views_of(*reviews, cutoff="2026-10-31", p=None):
    rows = [{"geo_level": "district", "review": r, "as_of_date": pd.Timestamp(d), "is_data_cutoff": False, "latest_year": None,
             "latest_period_end_date": None, "is_latest_partial_year": False} for r, d in reviews]
    c = pd.Timestamp(cutoff)
    rows.append({"geo_level": "district", "review": None, "as_of_date": c, "is_data_cutoff": True, "latest_year": c.year,
                 "latest_period_end_date": c, "is_latest_partial_year": not (c.month == 12 and c.day == 31)})
    return dp.plan_views(pd.DataFrame(rows), p or plan(), LABELS)


def test_the_default_view_is_the_final_review_once_every_target_year_has_passed():
    targets = pd.DataFrame({"target_year": [2025, 2025, 2023]})
    views = views_of(("mid_term", "2023-12-31"), ("final", "2025-12-31"))
    assert [v.key for v in views] == ["mid_term", "final", "latest"]
    assert dp.default_view(views, plan(), targets, pd.Timestamp("2026-10-31")) == "final"
    assert dp.default_view(views, plan(), targets, pd.Timestamp("2025-12-31")) == "final"  # the final review's own day
    assert dp.default_view(views, plan(), targets, pd.Timestamp("2025-10-31")) == "latest"  # the target year not over
    later = pd.DataFrame({"target_year": [2025, 2027]})  # one target still to come
    assert dp.default_view(views, plan(), later, pd.Timestamp("2026-10-31")) == "latest"
    no_final = views_of(("mid_term", "2023-12-31"))
    assert dp.default_view(no_final, plan(), targets, pd.Timestamp("2026-10-31")) == "latest"
    # the labels: review dates written out, the latest data after the plan period said so
    labels = {v.key: v.label for v in views}
    assert labels["final"] == dd.Text("总结评估（截至2025年12月31日）", "Final review (as of 31 Dec 2025)")
    assert labels["latest"] == dd.Text("2026年（截至10月31日），规划期后", "2026 (to 31 Oct), after the plan period")
    assert [v.after_plan for v in views] == [False, False, True]
    within = views_of(cutoff="2026-10-31", p=plan(start_year=2026, end_year=2030))
    assert within[-1].label == dd.Text("最新数据：2026年（截至10月31日）", "Latest data: 2026 (to 31 Oct)") and not within[-1].after_plan


def test_targets_read_as_the_plan_states_them_for_every_kind():
    assert dp.target_text(kpi_row(), LABELS) == dd.Text("≥ 50", "≥ 50")
    assert dp.target_text(kpi_row(target_kind="hold_every_year", unit="pct", target_value=95.0), LABELS) == dd.Text("每年 ≥ 95%", "≥ 95% every year")
    assert dp.target_text(kpi_row(target_kind="range", unit="pct", target_value=60.0, target_value_upper=80.0), LABELS) == dd.Text("60%—80%", "60% to 80%")
    assert dp.target_text(kpi_row(target_kind="direction_only", target_value=None), LABELS).zh == "提高（无量化目标）"
    assert dp.target_text(kpi_row(target_kind="not_yet_measurable"), LABELS).zh == "待建指标"
    assert dp.target_label(kpi_row(), LABELS) == dd.Text("2025年目标", "Target 2025")
    milestones = pd.DataFrame({"plan_id": ["p", "p"], "kpi_id": ["k", "k"], "milestone_year": [2028, 2027], "milestone_value": [55.0, 52.5]})
    assert dp.milestones_text(milestones, kpi_row(plan_id="p", kpi_id="k"), LABELS) == dd.Text(
        "阶段目标：2027年 ≥ 52.5；2028年 ≥ 55", "Milestones: 2027: ≥ 52.5; 2028: ≥ 55")


FINAL = dp.View("final", pd.Timestamp("2025-12-31"), dd.Text("", ""), False)
LATEST_AFTER = dp.View("latest", pd.Timestamp("2026-10-31"), dd.Text("", ""), True)
MID = dp.View("mid_term", pd.Timestamp("2023-12-31"), dd.Text("", ""), False)


def test_a_scorecard_row_shows_the_verdict_with_the_gap_after_the_target_year():
    pct = kpi_row(unit="pct", target_value=60.0)
    m = dp.mark({"geo_level": "district", "status": "target_not_achieved", "target_source": "catalog", "verdict": "not_achieved",
                 "gap_to_target": 6.1, "completion_rate": 0.907, "completion_basis": "completion_rate"}, pct, FINAL, LABELS)
    assert (m["key"], m["text"].zh, m["gap"].zh, m["completion"].zh) == ("target_not_achieved", "未实现目标", "差 6.1 个百分点", "完成 90.7%")
    assert (m["gap"].en, m["completion"].en) == ("6.1 points short", "90.7% complete")
    count = kpi_row(unit="count", unit_zh="所", unit_en="homes", target_value=20.0)
    m = dp.mark({"geo_level": "district", "status": "target_achieved", "verdict": "achieved", "gap_to_target": -1.0,
                 "progress_share": 0.75, "completion_basis": "progress_share"}, count, FINAL, LABELS)
    assert (m["key"], m["gap"].zh, m["completion"].zh) == ("target_achieved", "超出 1 所", "进展 75.0%")
    assert dp.mark({"geo_level": "district", "status": "deterioration", "verdict": "deterioration"}, count, FINAL, LABELS)["key"] == "deterioration"
    # before the target year: the pace status
    assert dp.mark({"geo_level": "district", "status": "on_track", "verdict": None}, count, MID, LABELS)["key"] == "on_track"


def test_a_gap_to_a_milestone_says_so():
    m = dp.mark({"geo_level": "district", "status": "on_track", "gap_to_target": 3.0, "is_milestone_target": True, "target_year": 2028},
                kpi_row(target_year=2030, target_value=70.0), dp.View("latest", pd.Timestamp("2026-10-31"), dd.Text("", ""), False), LABELS)
    assert (m["key"], m["gap"].zh, m["gap"].en) == ("on_track", "差 3.0 人/万老年人（对2028年阶段目标）", "3.0 short (to the 2028 milestone)")


def test_a_town_without_a_target_of_its_own_shows_its_share_and_trend_never_a_status_word():
    count = kpi_row(unit="count", unit_zh="家", target_value=6000.0)
    row = {"geo_level": "town_street", "status": "on_track", "target_source": "none", "verdict": None, "trend": "worsening",
           "contribution_share": 0.0806}
    m = dp.mark(row, count, FINAL, LABELS)
    assert (m["key"], m["text"].zh, m["share"].zh, m["gap"]) == ("trend_worsening", "趋势变差", "占全区 8.1%", None)
    assert dp.mark({**row, "trend": "improving"}, count, MID, LABELS)["key"] == "trend_improving"
    # a published scorecard from before issue 17 (no trend column): the growth status read as a trend
    old = {"geo_level": "town_street", "status": "on_track", "target_source": "none"}
    assert dp.mark(old, count, FINAL, LABELS)["key"] == "trend_improving"
    # a KPI without a numeric target: after the target year a pace status reads as the trend it is
    direction = kpi_row(target_value=None, target_kind="direction_only")
    assert dp.mark({"geo_level": "town_street", "status": "on_track", "target_source": "none"}, direction, FINAL, LABELS)["key"] == "trend_improving"
    assert dp.mark({"geo_level": "town_street", "status": "on_track", "target_source": "none"}, direction, MID, LABELS)["key"] == "on_track"


def test_the_latest_data_after_the_plan_says_whether_the_target_is_still_held():
    pct = kpi_row(unit="pct", target_value=60.0)
    held = dp.mark({"geo_level": "district", "status": "target_achieved", "is_target_held": True, "gap_to_target": -1.0}, pct, LATEST_AFTER, LABELS)
    assert (held["key"], held["text"].zh, held["gap"].zh) == ("target_held", "仍保持目标", "超出 1.0 个百分点")
    lost = dp.mark({"geo_level": "district", "status": "target_achieved", "is_target_held": False}, pct, LATEST_AFTER, LABELS)
    assert (lost["key"], lost["text"].en) == ("target_not_held", "Target no longer met")


def test_a_count_of_what_the_period_adds_shows_the_additions_beside_the_stock():
    built = kpi_row(unit="count", unit_zh="处", unit_en="institutions", target_value=2.0, count_basis="new_in_period")
    row = {"latest_year": 2025, "latest_value": 2.0, "assessed_value": 1.0, "is_latest_partial_year": False,
           "latest_period_end_date": pd.Timestamp("2025-12-31")}
    vp = dp.value_period(row, built, LABELS)
    assert (vp["value"], vp["value_text"], vp["note"].zh) == (1.0, "1", "规划期内新增（存量 2）")
    stock = dp.value_period(row, kpi_row(unit="count", unit_zh="处", count_basis="stock"), LABELS)
    assert (stock["value"], stock["note"]) == (2.0, None)
    sc = pd.DataFrame({"as_of_date": pd.to_datetime(["2024-12-31", "2025-12-31", "2026-10-31"]), "review": [None, "final", None],
                       "is_data_cutoff": [False, False, True], "baseline_year": [2020] * 3, "baseline_value": [1.0] * 3,
                       "assessed_baseline_value": [0.0] * 3, "latest_year": [2024, 2025, 2026], "latest_value": [1.0, 2.0, 2.0],
                       "assessed_value": [0.0, 1.0, 1.0], "target_year": [2025] * 3, "method": ["linear"] * 3,
                       "projected_value": [None] * 3, "status": ["limited_progress", "target_not_achieved", "target_not_achieved"]})
    district = pd.DataFrame({"period_year": [2020, 2024, 2025], "value": [1.0, 1.0, 2.0], "is_partial_year": [False] * 3,
                             "period_end_date": pd.to_datetime(["2020-12-31", "2024-12-31", "2025-12-31"])})
    fig = go.Figure(trend_figure(district, built, sc, LABELS, "zh", dp.target_text(built, LABELS)))
    by_name = {t.name: t for t in fig.data}
    assert list(by_name["存量（年末）"].y) == [1, 1, 2]
    assert list(by_name["规划期内累计新增"].x) == [2024, 2025] and list(by_name["规划期内累计新增"].y) == [0, 1]
    assert by_name["所需路径"].y[0] == 0  # the path to the target starts from nothing added
    assert fig.layout.yaxis.dtick == 1


def test_ranks_put_the_best_first_and_share_ties():
    assert ranks({"a": 3.0, "b": 5.0, "c": 5.0, "d": None, "e": 1.0}, "increase") == {"b": 1, "c": 1, "a": 3, "e": 4}
    assert ranks({"a": 3.0, "b": 5.0, "e": 1.0}, "decrease") == {"e": 1, "a": 2, "b": 3}


# -- the pages of a tiny published database written by hand -----------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory):
    return tiny.write(tmp_path_factory.mktemp("tiny") / "analytics.duckdb")


@pytest.fixture(scope="module")
def tiny_site(tiny_db):
    return Site(dd.load_data(tiny_db), LABELS)


def test_plans_come_from_the_published_tables_and_open_on_the_real_plan(tiny_site):
    a, b = tiny_site.plan_sites
    assert [p.plan_id for p in tiny_site.plans] == [tiny.PLAN_A, tiny.PLAN_B]
    assert tiny_site.main_plan.plan_id == tiny.PLAN_A  # the example plan is never the one the dashboard opens on
    assert (a.prefix, b.prefix) == ("", f"plan/{tiny.PLAN_B}/")
    assert a.plan.name == dd.Text("甲区民政事业发展规划", "Plan A for civil affairs") and b.plan.is_example
    assert a.plan.sections == {"一": dd.Text("甲规划第一部分", "Plan A, part one"), "二": dd.Text("甲规划第二部分", "Plan A, part two")}
    assert (a.default, b.default) == ("final", "latest")
    assert [v.key for v in a.views] == ["mid_term", "final", "latest"] and [v.key for v in b.views] == ["latest"]
    assert a.view_by_key["latest"].label.zh == "2026年（截至10月31日），规划期后"


def test_overview_cards_and_counts_of_the_final_review(tiny_site):
    a = tiny_site.plan_sites[0]
    ctx = a.overview_context()
    assert ctx["counts"] == {"target_achieved": 1, "target_held": 0, "on_track": 0, "needs_acceleration": 0, "target_not_achieved": 1}
    cards = {c["kpi_id"]: c for sec in ctx["sections"] for c in sec["cards"]}
    assert [sec["heading"] for sec in ctx["sections"]] == [dd.Text("一、甲规划第一部分", "1. Plan A, part one"),
                                                          dd.Text("二、甲规划第二部分", "2. Plan A, part two")]
    rate, count = cards["t.rate"]["now"], cards["t.count"]["now"]
    assert (rate["value_text"], rate["status"], rate["gap"]["zh"], rate["completion"]["zh"]) == ("57.0%", "target_not_achieved", "差 3.0 个百分点", "完成 95.0%")
    assert (count["value_text"], count["status"], count["gap"]["zh"]) == ("104", "target_achieved", "超出 4 个")
    latest = cards["t.rate"]["states"]["latest"]
    assert (latest["status"], latest["value_text"], latest["period"]["zh"]) == ("target_held", "61.0%", "2026年（截至10月31日）")
    assert cards["t.count"]["rejected"].zh == "1 个文件未能读取，见数据质量页" and cards["t.rate"]["rejected"] is None
    # 数据截至: the delivery cut-off of the source's loaded file, not of the file set aside
    assert cards["t.count"]["data_to"].zh == "2026年9月29日" and cards["t.rate"]["data_to"].zh == "2026年10月31日"


def test_town_table_and_town_page_show_the_verdicts_gaps_shares_and_ranks(tiny_site):
    a = tiny_site.plan_sites[0]
    m = a.overview_context()["matrix"]
    assert [c["kpi_id"] for c in m["columns"]] == ["t.rate", "t.count"]
    final = next(v for v in m["views"] if v["key"] == "final")
    rows = {r["geo_code"]: r for r in final["rows"]}
    xf, qy = rows["110115001"], rows["110115003"]
    assert [(c["key"], c["word"].zh, c["detail"].zh) for c in xf["cells"]] == [
        ("target_achieved", "已实现目标", "超出 2.0 个百分点"), ("trend_improving", "趋势向好", "52，占全区 50.0%")]
    assert [(c["key"], c["detail"].zh) for c in qy["cells"]] == [("target_not_achieved", "差 6.0 个百分点"), ("trend_worsening", "12，占全区 11.5%")]
    assert (xf["met"], xf["assessed"], xf["rank"], qy["met"], qy["rank"]) == (1, 1, 1, 0, 2)
    latest = {r["geo_code"]: r for r in next(v for v in m["views"] if v["key"] == "latest")["rows"]}
    assert [c["key"] for c in latest["110115003"]["cells"]] == ["target_not_held", "trend_improving"]  # 59 < 60 in 2026
    # no town/street shows a pace status (on track...) at a view after the target year
    for v in m["views"]:
        if v["key"] in ("final", "latest"):
            assert not {c["key"] for r in v["rows"] for c in r["cells"]} & set(dp.PACE_KEYS)
    from daxing_kpi.dashboard_towns import town_page_context

    page = town_page_context(a, 2)  # 清源街道
    assert page["name"].zh == "清源街道"
    fv = next(v for v in page["town_views"] if v["key"] == "final")
    assert fv["summary"].zh == "有本镇街目标的 1 项指标中，已达标 0 项。" and fv["rank_text"].zh == "按达标项数在 3 个镇街中排第 2 名。"
    r = {x["kpi_id"]: x for x in fv["rows"]}
    assert (r["t.rate"]["value"].zh, r["t.rate"]["district"], r["t.rate"]["rank"], r["t.rate"]["n"]) == ("54.0%", "57.0%", 3, 3)
    assert (r["t.count"]["value"].zh, r["t.count"]["target"].zh, r["t.count"]["rank"]) == ("12", "无本镇街目标（全区 ≥ 100）", 3)
    mid = next(v for v in page["town_views"] if v["key"] == "mid_term")
    assert {x["kpi_id"]: x["cell"]["key"] for x in mid["rows"]} == {"t.rate": "insufficient_data", "t.count": "insufficient_data"}


def test_kpi_page_states_the_special_zones_unassigned_records_and_what_the_target_counts(tiny_site):
    a = tiny_site.plan_sites[0]
    kpi = next(k for k in a.order.itertuples() if k.kpi_id == "t.count")
    ctx = a.kpi_context(kpi, 1)
    notes = ctx["geo_notes"]["final"]
    assert [(z["name"].zh, z["value"]) for z in notes["zones"]] == [("北京经济技术开发区", "6")]
    assert notes["sentence"].zh.startswith("全区年末在运营的站点数 104 = 3个镇街合计 94 + 功能区 6 + 未落地到镇街 4")
    assert ctx["count_basis"]["sentence"].zh == "本目标统计的是存量：2025年底全部已建成、在运营的数量。"
    final = next(v for v in ctx["towns_views"] if v["review"] == "final")
    assert [(r["name"].zh, r["rank"], r["mark"]["key"]) for r in final["rows"]] == [
        ("兴丰街道", "1", "trend_improving"), ("林校路街道", "2", "trend_stable"), ("清源街道", "3", "trend_worsening")]
    assert ctx["states"]["final"]["towns_district"]["zh"].startswith("全区合计（2025年）：104 个。")
    assert ctx["data_to_sentence"].zh.startswith("本指标数据截至 2026年9月29日")
    assert [s["cutoff"].zh for s in ctx["sources"]] == ["2026年9月29日"]
    # the year 2024 of 清源街道 was not reported: 未报送, not an empty cell
    wide = {r["name"].zh: r["cells"] for r in ctx["towns_wide"]["rows"]}
    assert wide["清源街道"][4].zh == "未报送"
    # ... and the district's 2024 value is the sum of those that reported, said so
    assert [r["partly"] for r in ctx["district_rows"]] == [False, False, False, False, True, False, False]


def test_a_hidden_special_zone_count_is_not_given_away_by_the_sums(tiny_db):
    site = Site(dd.load_data(tiny_db), LABELS)
    zone = (site.obs.geo_code == tiny.ZONE[0]) & (site.obs.period_year == 2025)
    site.obs.loc[zone, ["numerator", "value"]] = float("nan")
    site.obs.loc[zone, "is_suppressed"] = True  # as suppress_small_counts leaves a small count of persons
    site._obs_by_kpi = {k: g for k, g in site.obs.groupby("kpi_id", sort=False)}
    from daxing_kpi.dashboard_towns import kpi_geography_notes

    a = site.plan_sites[0]
    kpi = next(k for k in a.order.itertuples() if k.kpi_id == "t.count")
    notes = kpi_geography_notes(a, kpi, {v.key: a.state(kpi, v) for v in a.views})["final"]
    assert [(z["name"].zh, z["value"], z["suppressed"]) for z in notes["zones"]] == [("北京经济技术开发区", None, True)]
    assert notes["sentence"].zh == ("全区年末在运营的站点数 104 由3个镇街、功能区和未落地到镇街的记录合计而成；"
                                    "功能区人数较少，各部分合计不单独列出，以免识别到个人。")  # no 94, no 6, no 4


def test_the_example_plan_is_marked_on_every_page_and_each_plan_has_its_downloads(tiny_db, tmp_path):
    out = tmp_path / "dash"
    build_dashboard(tiny_db, out)
    b_pages = list((out / "plan" / tiny.PLAN_B).rglob("*.html"))
    assert len(b_pages) == 1 + 2 + 3  # overview, 2 KPIs, 3 towns/streets
    for p in b_pages:
        text = p.read_text(encoding="utf-8")
        assert 'class="example-banner"' in text and "示例规划：" in text, p
    a_pages = [p for p in out.glob("**/*.html") if "plan" not in p.relative_to(out).parts and p.parts[-2] in ("kpi", "town", out.name)]
    assert len(a_pages) == 6 and not any("example-banner" in p.read_text(encoding="utf-8") for p in a_pages)
    # the plan selector links each page to the same page of the other plan
    kpi_a = (out / "kpi" / "t.rate.html").read_text(encoding="utf-8")
    assert f'href="../plan/{tiny.PLAN_B}/kpi/t.rate.html" data-keep-lang' in kpi_a
    assert re.search(r'<option value="final"[^>]* selected>总结评估（截至2025年12月31日）</option>', kpi_a)
    # no internal id, run id or ISO timestamp outside the analysts' details block
    planner = re.sub(r'<details class="analyst">.*?</details>', "", kpi_a, flags=re.S)
    planner = re.sub(r"<script.*?</script>|<[^>]+>", " ", planner, flags=re.S)
    assert "t.rate" not in planner and "0123456789abcdef" not in planner and "src_a" not in planner
    assert not re.search(r"\d{4}-\d\d-\d\d", planner)
    for plan_dir in (out, out / "plan" / tiny.PLAN_B):
        assert (plan_dir / "data" / "all_kpis.csv").exists() and (plan_dir / "data" / "t.count.xlsx").exists()
    b = pd.read_csv(out / "plan" / tiny.PLAN_B / "data" / "all_kpis.csv", encoding="utf-8-sig")
    assert set(b["规划"]) == {"乙规划"} and set(b.loc[b["指标"] == "测试覆盖率", "目标"]) == {"每年 ≥ 58%"}


# -- downloads ----------------------------------------------------------------------------------------------------


def test_planner_downloads_carry_chinese_names_unit_target_gap_verdict_and_rounded_values(tiny_site, tmp_path):
    a = tiny_site.plan_sites[0]
    long = a.year_end_assessments()
    assert set(zip(long.kpi_id, long.period_year)) >= {("t.rate", 2023), ("t.rate", 2025), ("t.count", 2026)}
    obs = tiny_site.obs.copy()
    obs.loc[(obs.kpi_id == "t.rate") & (obs.geo_level == "district") & (obs.period_year == 2025), "value"] = 57.04999
    frame = planner_frame(obs, a.catalog, long, a.plan, LABELS, tiny_site.geo)
    assert list(frame.columns) == list(COLUMNS)
    assert len(frame) == len(obs)  # every row of kpi_observations of the plan's KPIs
    row = frame[(frame.kpi_id == "t.rate") & (frame.geo_code == "110115") & (frame.year == 2025)].iloc[0]
    assert (row.plan, row.kpi, row.unit, row.geography, row.geo_level) == ("甲规划", "测试覆盖率", "%", "大兴区", "全区")
    assert (row.value, row.target, row.target_year, row.gap, row.completion, row.assessment) == (
        57.0, "≥ 60%", 2025, "差 3.0 个百分点", "完成 95.0%", "未实现目标")
    town = frame[(frame.kpi_id == "t.count") & (frame.geo_code == "110115003") & (frame.year == 2025)].iloc[0]
    assert (town.value, town.denominator, town.assessment) == (12, None, "趋势变差（占全区 11.5%）")
    gone = frame[(frame.kpi_id == "t.count") & (frame.geo_code == "110115003") & (frame.year == 2024)].iloc[0]
    assert gone.reporting == "未报送" and gone.value is None
    part = frame[(frame.kpi_id == "t.count") & (frame.geo_code == "110115") & (frame.year == 2024)].iloc[0]
    assert (part.reporting, part.value) == ("部分镇街未报送", 96)
    zone = frame[frame.geo_code == tiny.ZONE[0]].iloc[0]
    assert (zone.geo_level, zone.value) == ("功能区", 6)
    write_csv(frame, tmp_path / "k.csv", LABELS)
    write_xlsx(frame, tmp_path / "k.xlsx", LABELS, a.about_lines())
    csv = pd.read_csv(tmp_path / "k.csv", encoding="utf-8-sig", dtype={"地区代码": str})
    xlsx = pd.read_excel(tmp_path / "k.xlsx", sheet_name="数据", dtype={"地区代码": str}, engine="openpyxl")
    assert list(csv.columns) == list(xlsx.columns) == [LABELS[f"download_columns.{c}"].zh for c in COLUMNS]
    assert len(csv) == len(xlsx) == len(frame)
    line = (tmp_path / "k.csv").read_text(encoding="utf-8-sig").splitlines()
    assert "甲规划,测试覆盖率,%,大兴区,全区,2025,2025年12月31日,57.0,570,1000,≥ 60%,2025,差 3.0 个百分点,完成 95.0%,未实现目标,,否,t.rate,110115" in line
    about = pd.read_excel(tmp_path / "k.xlsx", sheet_name="说明", engine="openpyxl")
    assert "数值按页面显示的精度取整" in " ".join(str(v) for v in about.iloc[:, 0].dropna())


def test_suppressed_cells_are_empty_in_the_downloads():
    catalog = pd.DataFrame([dict(plan_id="p", kpi_id="k.rate", name_zh="率", name_en="rate", unit="pct", unit_zh="%", unit_en="%",
                                 direction="increase", comparator=">=", target_value=60.0, target_year=2025, is_per_person=True)])
    obs = pd.DataFrame({"kpi_id": ["k.rate"] * 3, "period_year": [2025] * 3, "geo_level": ["district", "town_street", "town_street"],
                        "geo_code": ["110115", "110115001", "110115002"], "geo_name_zh": ["大兴区", "兴丰街道", "林校路街道"],
                        "numerator": [40.0, 3.0, 37.0], "denominator": [100.0, 30.0, 70.0], "value": [40.0, 10.0, 52.857],
                        "is_partial_year": [False] * 3, "period_end_date": pd.to_datetime(["2025-12-31"] * 3)})
    shown = dd.suppress_small_counts(obs, catalog)
    frame = planner_frame(shown, catalog, None, plan(), LABELS, lambda c, n: dd.Text(n, n))
    assert frame.suppressed.tolist() == ["否", "是", "是"]  # 3 < 5, and its complement
    assert frame.iloc[1:][["value", "numerator", "denominator", "gap", "assessment"]].isna().all().all()
    assert frame.value.iloc[0] == 40.0


def test_the_excel_download_shades_suppressed_rows_and_keeps_text_as_text(tmp_path):
    """The workbook as the planner opens it (read back with openpyxl): bold headers, the header row and the first two
    columns frozen, suppressed rows shaded with their numbers blank, numbers as numbers, and text that looks like a
    formula, a link or a number kept as the text it is."""
    from openpyxl import load_workbook

    catalog = pd.DataFrame([dict(plan_id="p", kpi_id="k.rate", name_zh="=率", name_en="rate", unit="pct", unit_zh="%",
                                 unit_en="%", direction="increase", comparator=">=", target_value=60.0, target_year=2025,
                                 is_per_person=True)])
    obs = pd.DataFrame({"kpi_id": ["k.rate"] * 3, "period_year": [2025] * 3, "geo_level": ["district", "town_street", "town_street"],
                        "geo_code": ["110115", "110115001", "110115002"], "geo_name_zh": ["大兴区", "http://x.example", "0012"],
                        "numerator": [40.0, 3.0, 37.0], "denominator": [100.0, 30.0, 70.0], "value": [40.0, 10.0, 52.857],
                        "is_partial_year": [False] * 3, "period_end_date": pd.to_datetime(["2025-12-31"] * 3)})
    frame = planner_frame(dd.suppress_small_counts(obs, catalog), catalog, None, plan(), LABELS, lambda c, n: dd.Text(n, n))
    write_xlsx(frame, tmp_path / "k.xlsx", LABELS, [("关于", "about")])
    wb = load_workbook(tmp_path / "k.xlsx")
    data, about = wb[LABELS["ui.sheet_data"].zh], wb[LABELS["ui.sheet_about"].zh]
    assert wb.sheetnames == ["数据", "说明"] and data.freeze_panes == "C2"
    header = [c.value for c in data[1]]
    assert header == [LABELS[f"download_columns.{c}"].zh for c in COLUMNS] and all(c.font.b for c in data[1])
    col = {c: i for i, c in enumerate(COLUMNS)}
    district, town, other = (list(r) for r in data.iter_rows(min_row=2, max_row=4))
    assert district[col["value"]].value == 40 and district[col["value"]].data_type == "n"
    assert district[col["kpi"]].value == "=率" and district[col["kpi"]].data_type == "s"  # not a formula
    assert (town[col["geography"]].value, town[col["geography"]].hyperlink) == ("http://x.example", None)
    assert other[col["geography"]].value == "0012" and other[col["geo_code"]].value == "110115002"
    assert district[col["value"]].fill.fill_type is None
    for row in (town, other):  # 3 < 5, and its complement: shaded across the row, numbers blank
        assert row[col["suppressed"]].value == "是" and row[col["value"]].value is None
        assert {c.fill.fill_type for c in row} == {"solid"} and {c.fill.fgColor.rgb[-6:] for c in row} == {"E5E7EB"}
    lines = [[c.value for c in r] for r in about.iter_rows()]
    assert lines[0] == [LABELS["ui.about_zh"].zh, LABELS["ui.about_en"].zh] and lines[1] == ["关于", "about"]
    assert lines[3] == [LABELS["ui.column"].zh, LABELS["ui.meaning"].zh] and about["A4"].font.b and not about["A2"].font.b
    assert len(lines) == 4 + len(COLUMNS)

    # the next dashboard version copies the workbook when its content is the same, and writes it when a cell changed
    assert write_xlsx(frame, tmp_path / "again.xlsx", LABELS, [("关于", "about")], previous=tmp_path / "k.xlsx") is True
    assert (tmp_path / "again.xlsx").read_bytes() == (tmp_path / "k.xlsx").read_bytes()
    assert write_xlsx(frame, tmp_path / "new_code.xlsx", LABELS, [("关于", "about")], previous=tmp_path / "k.xlsx",
                      code="another version of the code") is False
    changed = frame.copy()
    changed.loc[0, "value"] = 41
    assert write_xlsx(changed, tmp_path / "changed.xlsx", LABELS, [("关于", "about")], previous=tmp_path / "k.xlsx") is False
    assert load_workbook(tmp_path / "changed.xlsx")[LABELS["ui.sheet_data"].zh].cell(2, col["value"] + 1).value == 41
    assert write_xlsx(frame, tmp_path / "other_note.xlsx", LABELS, [("关于", "about!")], previous=tmp_path / "k.xlsx") is False
    assert digest_of(tmp_path / "k.xlsx") == xlsx_digest(frame, LABELS, [("关于", "about")], "") != digest_of(tmp_path / "changed.xlsx")
    assert digest_of(tmp_path / "missing.xlsx") is None


# -- the build on a database without the optional tables ------------------------------------------------------------


def test_build_degrades_without_scorecard_audit_and_runs_and_uses_dq_results(warehouse, tmp_path):
    db = tmp_path / "analytics.duckdb"
    shutil.copyfile(warehouse.analytics, db)
    with duckdb.connect(str(db)) as con:
        for t in ("kpi_scorecard", "ingest_audit", "pipeline_runs", "geographies", "kpi_long", "dq_results", "dq_kpi_status",
                  "source_freshness", "plans", "plan_sections", "plan_targets", "plan_target_milestones"):
            con.execute(f"DROP TABLE IF EXISTS {t}")
        con.execute("""CREATE TABLE dq_results AS SELECT * FROM (VALUES
            ('r', 'staging/stg_funeral__burials', 'burials_yoy', 'WARN', false, '+48%', '<= 30%', TIMESTAMP '2026-11-02 02:00'),
            ('r', 'marts/kpi_observations', 'bounds', 'ERROR', true, '0', '0', TIMESTAMP '2026-11-02 02:00'))
            AS t(run_id, asset, check_name, severity, passed, observed_value, expected, checked_at)""")
    out = tmp_path / "dash"
    index = build_dashboard(db, out)
    page = index.read_text(encoding="utf-8")
    catalog = warehouse.query("SELECT DISTINCT kpi_id FROM kpi_catalog")
    assert page.count('class="kpi-card"') == len(catalog)
    assert set(re.findall(r'data-status="([a-z_]+)"', page.split('<section class="plan-section"', 1)[1].split('id="towns-overview"')[0])) == {"insufficient_data"}
    assert re.findall(r'<option value="(latest|mid_term|final)"', page) == ["latest"]  # no scorecard: no reviews
    quality = dict(re.findall(r'data-kpi-id="([^"]+)".*?data-quality="([a-z_]+)"', page, flags=re.S))
    assert {k for k, v in quality.items() if v == "warn"} == {"funeral.eco_burial_rate"}  # its source's check warned
    assert set(quality.values()) == {"passed", "warn"}
    kpi_page = (out / "kpi" / "funeral.eco_burial_rate.html").read_text(encoding="utf-8")
    assert "burials_yoy" in kpi_page and "+48%" in kpi_page  # in the analysts' details
    assert (out / "assets" / "plotly.min.js").stat().st_size > 1_000_000 and (out / "data" / "all_kpis.xlsx").exists()
    # a database without a required table is refused, naming it
    with duckdb.connect(str(db)) as con:
        con.execute("DROP TABLE kpi_observations")
    with pytest.raises(ValueError, match="table 'kpi_observations' is missing"):
        build_dashboard(db, tmp_path / "dash2")


def test_build_shows_the_quality_gates_verdict_and_freshness_tables(warehouse, tmp_path):
    """dq_kpi_status (per KPI) and source_freshness (per source) of the quality gate, as published."""
    db = tmp_path / "analytics.duckdb"
    shutil.copyfile(warehouse.analytics, db)
    with duckdb.connect(str(db)) as con:
        con.execute("""CREATE OR REPLACE TABLE dq_kpi_status AS SELECT * FROM (VALUES
            ('funeral.eco_burial_rate', 'failed', 12, 'raw/funeral_burials towns_present: 21 of 22 towns', DATE '2026-10-30'),
            ('eldercare.care_workers_per_10k_elderly', 'passed', 20, NULL, DATE '2026-09-15'))
            AS t(kpi_id, status, checks_evaluated, failed_checks, latest_record_date)""")
        con.execute("""CREATE OR REPLACE TABLE source_freshness AS SELECT * FROM (VALUES
            ('funeral_burials', DATE '2026-10-30', TIMESTAMP '2026-11-01 08:00', TIMESTAMP '2026-11-02 02:01', 3, 777))
            AS t(source_id, latest_record_date, last_delivery_at, last_loaded_at, files, rows_loaded)""")
    out = tmp_path / "dash"
    page = build_dashboard(db, out).read_text(encoding="utf-8")
    cards = dict(re.findall(r'data-kpi-id="([^"]+)".*?data-quality="([a-z_]+)"', page, flags=re.S))
    assert len(cards) == len(warehouse.query("SELECT DISTINCT kpi_id FROM kpi_catalog"))
    assert cards["funeral.eco_burial_rate"] == "failed"
    assert cards["eldercare.care_workers_per_10k_elderly"] == "passed"
    assert cards["digital.online_service_rate"] == "blocking_passed"  # not in the verdict table
    kpi_page = (out / "kpi" / "funeral.eco_burial_rate.html").read_text(encoding="utf-8")
    assert "raw/funeral_burials towns_present: 21 of 22 towns" in kpi_page
    row = re.search(r'<tr data-source-id="funeral_burials">(.*?)</tr>', kpi_page, flags=re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
    assert cells[1:5] == ["2026年10月30日", "2026年11月1日", "3", "777"]  # latest record, last delivery, files, rows


def test_site_orders_cards_by_plan_part_and_subsection(warehouse):
    site = Site(dd.load_data(warehouse.analytics), LABELS)
    for ps in site.plan_sites:
        keys = [dd.plan_section_key(s) for s in ps.order.plan_section]
        assert keys == sorted(keys)
