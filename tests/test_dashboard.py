"""The dashboard's pure parts (labels, plan parts, number formats, small-count suppression, the
required path, quality and freshness, figures, downloads) on hand-made frames, and the build on a
published database that lacks the optional tables (graceful degradation)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import plotly.graph_objects as go
import pytest
import yaml

from daxing_kpi import dashboard_data as dd
from daxing_kpi.dashboard import Site, build_dashboard, download_frame, write_csv, write_xlsx
from daxing_kpi.dashboard_figures import STATUS_STYLE, sparkline_svg, towns_figure, trend_figure

ROOT = Path(__file__).resolve().parents[1]
LABELS = dd.load_labels()
# the plan the pages show until the plan selector comes (daxing_kpi.plans.bundled.default_plan_id)
SHOWN_PLAN = "SELECT plan_id FROM plans WHERE NOT is_example ORDER BY period_start_year DESC, plan_id DESC LIMIT 1"


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


def test_plan_parts_come_from_the_plan_text_in_the_plan_order():
    assert dd.plan_sections() == {
        "一": "建设公平可持续的基本民生保障体系",
        "二": "建设活力有序的基层社会治理体系",
        "三": "建设均等高质量的基本社会服务体系",
        "四": "建设智慧多元的民政基础支撑体系",
        "五": "建设精准高效的民政监管体系",
    }
    assert dd.section_of("一(三)3; 四(三)2") == "一"
    with pytest.raises(ValueError, match="plan_section 'x1'"):
        dd.section_of("x1")
    # 一(二) before 一(三) before 一(四), though 三 sorts before 二 as text
    ordered = sorted(["一(三)3; 四(三)2", "一(四)4", "一(二)2", "一(二)1", "十二(十)3"], key=dd.plan_section_key)
    assert ordered == ["一(二)1", "一(二)2", "一(三)3; 四(三)2", "一(四)4", "十二(十)3"]
    assert dd.plan_section_key("三(二)") == (3, 2, 0) and dd.numeral_value("二十一") == 21


def test_the_translation_file_covers_every_label_the_pages_use():
    catalog = pd.read_csv(ROOT / "seeds" / "kpi_catalog.csv")
    assert set(catalog.domain) <= set(LABELS.keys("domains"))
    scorecard = yaml.safe_load((ROOT / "dbt" / "models" / "marts" / "kpi_scorecard.yml").read_text(encoding="utf-8"))
    cols = {c["name"]: c for c in scorecard["models"][0]["columns"]}

    def accepted(col):
        return next(t["accepted_values"]["arguments"]["values"] for t in cols[col]["data_tests"] if isinstance(t, dict) and "accepted_values" in t)

    assert set(LABELS.keys("statuses")) == set(accepted("status")) == set(STATUS_STYLE)
    assert set(accepted("method")) <= set(LABELS.keys("methods"))
    assert set(accepted("review")) | {"latest"} == set(LABELS.keys("reviews"))
    towns = pd.read_csv(ROOT / "seeds" / "townships.csv", dtype={"code": str})
    assert set(towns.code) | {"110115"} == set(LABELS.keys("geographies"))
    sections = pd.read_csv(ROOT / "seeds" / "plan_targets.csv").plan_section  # the bundled plans' targets
    assert set(sections.map(dd.section_of)) <= set(LABELS.keys("sections"))
    # every ui.* key used by the templates and the code exists
    used = set()
    for path in list((ROOT / "dashboards" / "templates").glob("*.j2")) + list((ROOT / "dagster_project" / "daxing_kpi").glob("dashboard*.py")):
        used |= set(re.findall(r"""(?:L\(|\[)['"]((?:ui|quality|reviews)\.[a-z_]+)['"]""", path.read_text(encoding="utf-8")))
    assert len(used) > 40
    for key in used:
        LABELS[key]  # raises KeyError naming the entry


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


def test_trend_figure_draws_target_required_path_and_one_projection_per_review():
    fig = trend_figure(district_frame(), kpi_row(), scorecard_frame(), LABELS, "en")
    go.Figure(fig.to_dict())  # a valid plotly figure (the build skips validation for speed)
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
    zh = trend_figure(district_frame(), kpi_row(), None, LABELS, "zh")
    assert [t.name for t in zh.data][:2] == ["全区", "2024年（截至6月30日）"] and not any(t.meta for t in zh.data)


def test_towns_figure_sorts_towns_marks_suppressed_ones_and_draws_the_district():
    towns = pd.DataFrame({"name": ["A", "B", "C", "D"], "value": [55.0, 38.0, None, 61.0],
                          "is_suppressed": [False, False, True, False], "status": ["on_track", "deterioration", None, "target_achieved"]})
    fig = towns_figure(towns, 50.0, kpi_row(), "2024", LABELS, "zh")
    go.Figure(fig.to_dict())
    bars = [t for t in fig.data if t.type == "bar"]  # one trace per status, named in the legend, best first
    assert [(t.name, list(t.y), list(t.x), t.marker.color) for t in bars] == [
        ("已实现目标", ["D"], [61], STATUS_STYLE["target_achieved"][0]), ("进展顺利", ["A"], [55], STATUS_STYLE["on_track"][0]),
        ("退步", ["B"], [38], STATUS_STYLE["deterioration"][0])]
    text = [t for t in fig.data if t.type == "scatter"]
    assert list(text[0].y) == ["C"] and text[0].text[0] == "已隐去（<5）" and text[0].showlegend is False
    assert list(fig.layout.yaxis.categoryarray) == ["C", "B", "A", "D"]  # ascending: the largest on top, suppressed below
    assert [s.x0 for s in fig.layout.shapes] == [50.0, 50.0]  # the district value and the target 50
    assert [a.text for a in fig.layout.annotations] == ["全区 50.0", "目标 50"]
    counts = towns_figure(towns, 50.0, kpi_row(unit="count", target_value=6000.0), "2024", LABELS, "en")
    assert len(counts.layout.shapes) == 1  # a district count is no target for one town/street


def test_sparkline_has_its_values_as_text_in_both_languages():
    svg = sparkline_svg(district_frame(), kpi_row(), LABELS)
    assert svg.startswith('<svg class="sparkline"') and 'role="img"' in svg
    assert 'aria-label="全区逐年数值：2020年: 30.0, 2021年: 33.0, 2022年: 37.0, 2023年: 40.0, 2024年（截至6月30日）: 41.0"' in svg
    assert 'data-en-aria-label="District values by year: 2020: 30.0' in svg
    assert svg.count("<polyline") == 1 and svg.count('fill="#fff"') == 1  # the partial year is an open circle


# -- downloads ----------------------------------------------------------------------------------------------------


def test_downloads_round_trip_with_counts_as_integers_and_suppressed_cells_empty(tmp_path):
    obs = pd.DataFrame({
        "kpi_id": ["k.count", "k.count", "k.rate", "k.rate"], "period_year": [2025, 2025, 2025, 2025],
        "geo_level": ["district", "town_street", "district", "town_street"],
        "geo_code": ["110115", "110115001", "110115", "110115001"], "geo_name_zh": ["大兴区", "兴丰街道", "大兴区", "兴丰街道"],
        "numerator": [306.0, 9.0, 337.0, None], "denominator": [1.0, 1.0, 598.0, None], "value": [306.0, 9.0, 337 / 598, None],
        "is_partial_year": [False] * 4, "period_end_date": pd.to_datetime(["2025-12-31"] * 4), "is_suppressed": [False, False, False, True],
    })
    frame = download_frame(obs, {"k.count": "count", "k.rate": "pct"}, LABELS)
    assert list(frame.geo_name_en) == ["Daxing District", "Xingfeng Street"] * 2
    write_csv(frame, tmp_path / "k.csv")
    write_xlsx(frame, tmp_path / "k.xlsx", [("kpi_id", "k", "k")])
    text = (tmp_path / "k.csv").read_text(encoding="utf-8-sig")
    assert "k.count,2025,district,110115,大兴区,Daxing District,306,1,306,count,False,2025-12-31,False" in text
    assert "k.rate,2025,town_street,110115001,兴丰街道,Xingfeng Street,,,,pct,False,2025-12-31,True" in text
    for back in (pd.read_csv(tmp_path / "k.csv", dtype={"geo_code": str}), pd.read_excel(tmp_path / "k.xlsx", sheet_name="data", dtype={"geo_code": str})):
        assert back.value.iloc[2] == 337 / 598  # every digit
        assert back.is_suppressed.tolist() == [False, False, False, True] and back.iloc[3][["numerator", "denominator", "value"]].isna().all()
    assert pd.read_excel(tmp_path / "k.xlsx", sheet_name="about").columns.tolist() == ["field", "中文", "English"]


# -- the build on a database without the optional tables ------------------------------------------------------------


def test_build_degrades_without_scorecard_audit_and_runs_and_uses_dq_results(warehouse, tmp_path):
    db = tmp_path / "analytics.duckdb"
    shutil.copyfile(warehouse.analytics, db)
    with duckdb.connect(str(db)) as con:
        for t in ("kpi_scorecard", "ingest_audit", "pipeline_runs", "geographies", "kpi_long", "dq_results", "dq_kpi_status",
                  "source_freshness"):
            con.execute(f"DROP TABLE IF EXISTS {t}")
        con.execute("""CREATE TABLE dq_results AS SELECT * FROM (VALUES
            ('r', 'staging/stg_funeral__burials', 'burials_yoy', 'WARN', false, '+48%', '<= 30%', TIMESTAMP '2026-11-02 02:00'),
            ('r', 'marts/kpi_observations', 'bounds', 'ERROR', true, '0', '0', TIMESTAMP '2026-11-02 02:00'))
            AS t(run_id, asset, check_name, severity, passed, observed_value, expected, checked_at)""")
    out = tmp_path / "dash"
    index = build_dashboard(db, out)
    page = index.read_text(encoding="utf-8")
    catalog = warehouse.query(f"SELECT kpi_id, domain FROM kpi_catalog WHERE plan_id = ({SHOWN_PLAN})")
    assert page.count('class="kpi-card"') == len(catalog)
    assert set(re.findall(r'data-status="([a-z_]+)"', page.split('<section class="plan-section"', 1)[1])) == {"insufficient_data"}
    assert re.findall(r'<option value="(latest|mid_term|final)"', page) == ["latest"]  # no scorecard: no reviews
    quality = dict(re.findall(r'data-kpi-id="([^"]+)".*?data-quality="([a-z_]+)"', page, flags=re.S))
    assert {k for k, v in quality.items() if v == "warn"} == {"funeral.eco_burial_rate"}  # its source's check warned
    assert set(quality.values()) == {"passed", "warn"}
    kpi_page = (out / "kpi" / "funeral.eco_burial_rate.html").read_text(encoding="utf-8")
    assert "burials_yoy" in kpi_page and "+48%" in kpi_page
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
    found = re.findall(r'data-kpi-id="([^"]+)".*?data-quality="([a-z_]+)".*?class="freshness">.*?(\d{4}-\d\d-\d\d)</p>', page, flags=re.S)
    cards = {k: (q, d) for k, q, d in found}
    assert len(cards) == len(warehouse.query(f"SELECT kpi_id FROM kpi_catalog WHERE plan_id = ({SHOWN_PLAN})"))
    assert cards["funeral.eco_burial_rate"] == ("failed", "2026-10-30")
    assert cards["eldercare.care_workers_per_10k_elderly"] == ("passed", "2026-09-15")
    assert cards["digital.online_service_rate"][0] == "blocking_passed"  # not in the verdict table
    kpi_page = (out / "kpi" / "funeral.eco_burial_rate.html").read_text(encoding="utf-8")
    assert "raw/funeral_burials towns_present: 21 of 22 towns" in kpi_page
    row = re.search(r'<tr data-source-id="funeral_burials">(.*?)</tr>', kpi_page, flags=re.S).group(1)
    assert [c.strip() for c in re.findall(r"<td>(.*?)</td>", row)][:5] == ["3", "2026-11-01 08:00", "2026-11-02 02:01", "2026-10-30", "777"]


def test_site_orders_cards_by_plan_part_and_subsection(warehouse):
    site = Site(dd.load_data(warehouse.analytics), LABELS)
    keys = [dd.plan_section_key(s) for s in site.order.plan_section]
    assert keys == sorted(keys)
    assert list(dict.fromkeys(site.order.section)) == ["一", "二", "三", "四"][: site.order.section.nunique()]
