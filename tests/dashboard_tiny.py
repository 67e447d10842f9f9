"""A tiny published database written by hand for the dashboard's hand-computed cases.

Two plans (甲规划 2021-2025, and 乙规划 2026-2030 marked as an example), two KPIs, three
towns/streets, one special zone and the unassigned geography, scorecard rows with the columns of
the agreed interface (``verdict``, ``gap_to_target``, ``completion_rate``, ``is_target_held``,
``contribution_share``, ``trend``...). Every number below is chosen by hand; the tests state what
the pages must show from them.

- ``t.rate`` (%, higher is better, 甲: at least 60 by 2025; 乙: at least 58 every year to 2030):
  district 50, 52, 54, 55, 56, 57 (2020-2025), 61 (2026 to 31 October); towns in 2025: 兴丰 62,
  林校路 55, 清源 54.
- ``t.count`` (units 个, 甲: at least 100 by 2025, counting the stock; 乙: 100 to 120 by 2030):
  district 80 ... 104 (2025), 106 (2026); 2025: 兴丰 52, 林校路 30, 清源 12, the development area
  6, not assigned 4 (52 + 30 + 12 + 6 + 4 = 104); 清源 sent no report for 2024 (the district's 2024 value
  is then partly reported).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

PLAN_A, PLAN_B = "plan_a", "plan_b"
TOWNS = {"110115001": "兴丰街道", "110115002": "林校路街道", "110115003": "清源街道"}
ZONE = ("110115403", "北京经济技术开发区")
UNASSIGNED = ("110115999", "未落地到镇街")
CUTOFF = pd.Timestamp("2026-10-31")

CATALOG_BASE = {
    "t.rate": dict(domain="eldercare", name_zh="测试覆盖率", name_en="Test coverage rate", unit="pct", unit_zh="%", unit_en="%",
                   direction="increase", numerator_zh="覆盖的社区数", numerator_en="communities covered",
                   denominator_zh="社区总数", denominator_en="all communities", definition_zh="覆盖的社区 ÷ 全部社区。",
                   definition_en="Communities covered divided by all communities.", scale_factor=100, is_additive=True,
                   has_town_street=True, is_per_person=False, sources="src_a"),
    "t.count": dict(domain="community", name_zh="测试站点数", name_en="Test sites", unit="count", unit_zh="个", unit_en="sites",
                    direction="increase", numerator_zh="年末在运营的站点数", numerator_en="sites operating at year end",
                    denominator_zh="1", denominator_en="1", definition_zh="年末在运营的站点数。", definition_en="Sites operating at year end.",
                    scale_factor=1, is_additive=True, has_town_street=True, is_per_person=False, sources="src_b"),
}
TARGETS = {  # (plan, kpi): target columns of kpi_catalog
    (PLAN_A, "t.rate"): dict(comparator=">=", baseline_year=2020, target_year=2025, target_value=60.0, target_kind="reach_by_year",
                             target_value_upper=None, count_basis=None, plan_section="一(二)1", source_clause_zh="到2025年，覆盖率达到60%。"),
    (PLAN_A, "t.count"): dict(comparator=">=", baseline_year=2020, target_year=2025, target_value=100.0, target_kind="reach_by_year",
                              target_value_upper=None, count_basis="stock", plan_section="二(一)1", source_clause_zh="到2025年，建成站点100个。"),
    (PLAN_B, "t.rate"): dict(comparator=">=", baseline_year=2025, target_year=2030, target_value=58.0, target_kind="hold_every_year",
                             target_value_upper=None, count_basis=None, plan_section="一(一)1", source_clause_zh="覆盖率每年保持在58%以上。"),
    (PLAN_B, "t.count"): dict(comparator=">=", baseline_year=2025, target_year=2030, target_value=100.0, target_kind="range",
                              target_value_upper=120.0, count_basis="stock", plan_section="一(一)2", source_clause_zh="站点保持在100至120个。"),
}
RATE = {2020: 50.0, 2021: 52.0, 2022: 54.0, 2023: 55.0, 2024: 56.0, 2025: 57.0, 2026: 61.0}
COUNT = {2020: 80, 2021: 84, 2022: 88, 2023: 92, 2024: 96, 2025: 104, 2026: 106}
RATE_TOWNS_2025 = {"110115001": 62.0, "110115002": 55.0, "110115003": 54.0}
COUNT_2025 = {"110115001": 52, "110115002": 30, "110115003": 12, ZONE[0]: 6, UNASSIGNED[0]: 4}


def _end(year: int) -> pd.Timestamp:
    return CUTOFF if year == 2026 else pd.Timestamp(year=year, month=12, day=31)


def observations() -> pd.DataFrame:
    rows = []
    for y in range(2020, 2027):
        common = dict(period_year=y, is_partial_year=y == 2026, period_end_date=_end(y), reporting_status=None)
        rows.append(dict(kpi_id="t.rate", geo_level="district", geo_code="110115", geo_name_zh="大兴区",
                         numerator=RATE[y] * 10, denominator=1000.0, value=RATE[y], **common))
        rows.append(dict(kpi_id="t.count", geo_level="district", geo_code="110115", geo_name_zh="大兴区",
                         numerator=float(COUNT[y]), denominator=1.0, value=float(COUNT[y]),
                         **{**common, "reporting_status": "partly_reported" if y == 2024 else "reported"}))
        for i, (code, name) in enumerate(TOWNS.items()):
            rate = RATE_TOWNS_2025[code] if y == 2025 else RATE[y] + (2 - 2 * i)
            rows.append(dict(kpi_id="t.rate", geo_level="town_street", geo_code=code, geo_name_zh=name,
                             numerator=rate, denominator=100.0, value=rate, **common))
            count = COUNT_2025[code] if y == 2025 else [COUNT[y] // 2, COUNT[y] // 4, COUNT[y] // 8][i]  # 2026: 53, 26, 13
            missing = y == 2024 and code == "110115003"
            rows.append(dict(kpi_id="t.count", geo_level="town_street", geo_code=code, geo_name_zh=name,
                             numerator=None if missing else float(count), denominator=None if missing else 1.0,
                             value=None if missing else float(count),
                             **{**common, "reporting_status": "not_reported" if missing else "reported"}))
        if y == 2025:
            for (code, name), level in ((ZONE, "special_zone"), (UNASSIGNED, "unassigned")):
                rows.append(dict(kpi_id="t.count", geo_level=level, geo_code=code, geo_name_zh=name,
                                 numerator=float(COUNT_2025[code]), denominator=1.0, value=float(COUNT_2025[code]), **common))
    return pd.DataFrame(rows)


def _sc(plan, kpi, level, code, name, as_of, review, cutoff, year, value, target_year, target, status, **extra) -> dict:
    base = dict(plan_id=plan, kpi_id=kpi, geo_level=level, geo_code=code, geo_name_zh=name, as_of_date=pd.Timestamp(as_of),
                review=review, is_data_cutoff=cutoff, unit="pct" if kpi == "t.rate" else "count", direction="increase",
                baseline_year=2020 if plan == PLAN_A else 2025, baseline_value=RATE[2020] if kpi == "t.rate" else float(COUNT[2020]),
                latest_year=year, latest_value=value, is_latest_partial_year=year == 2026, latest_period_end_date=_end(year),
                target_year=target_year, target_value=target, target_source="catalog", years_elapsed=None, years_planned=None,
                progress_ratio=None, method="target_year", status=status, projected_value=None, target_kind=None,
                target_value_upper=None, count_basis=None, assessed_value=value, verdict=None, gap_to_target=None,
                completion_rate=None, progress_share=None, completion_basis=None, is_target_held=None,
                contribution_share=None, trend=None)
    base.update(extra)
    return base


def scorecard() -> pd.DataFrame:
    d, A, B = "district", PLAN_A, PLAN_B
    rows = [
        # plan A, mid-term review: pace statuses
        _sc(A, "t.rate", d, "110115", "大兴区", "2023-12-31", "mid_term", False, 2023, 55.0, 2025, 60.0, "on_track",
            progress_ratio=0.97, method="cagr", projected_value=58.5),
        _sc(A, "t.count", d, "110115", "大兴区", "2023-12-31", "mid_term", False, 2023, 92.0, 2025, 100.0, "needs_acceleration",
            progress_ratio=0.8, method="cagr", projected_value=97.0),
        # plan A, final review: verdicts with the gap (57 against 60: 3 points short, 95% complete; 104 against 100: 4 over)
        _sc(A, "t.rate", d, "110115", "大兴区", "2025-12-31", "final", False, 2025, 57.0, 2025, 60.0, "target_not_achieved",
            verdict="not_achieved", gap_to_target=3.0, completion_rate=0.95, progress_share=0.7, completion_basis="completion_rate"),
        _sc(A, "t.count", d, "110115", "大兴区", "2025-12-31", "final", False, 2025, 104.0, 2025, 100.0, "target_achieved",
            verdict="achieved", gap_to_target=-4.0, completion_rate=1.04, progress_share=1.2, completion_basis="completion_rate"),
        # plan A, the latest data after the plan: is the target still held?
        _sc(A, "t.rate", d, "110115", "大兴区", CUTOFF, None, True, 2026, 61.0, 2025, 60.0, "target_achieved", is_target_held=True,
            gap_to_target=-1.0),
        _sc(A, "t.count", d, "110115", "大兴区", CUTOFF, None, True, 2026, 106.0, 2025, 100.0, "target_achieved", is_target_held=True,
            gap_to_target=-6.0),
        # plan B (example): the latest data within its period: pace statuses, no verdict
        _sc(B, "t.rate", d, "110115", "大兴区", CUTOFF, None, True, 2026, 61.0, 2030, 58.0, "on_track", method="target_met"),
        _sc(B, "t.count", d, "110115", "大兴区", CUTOFF, None, True, 2026, 106.0, 2030, 100.0, "on_track", method="target_met"),
    ]
    for i, (code, name) in enumerate(TOWNS.items()):
        v = RATE_TOWNS_2025[code]
        rows.append(_sc(A, "t.rate", "town_street", code, name, "2025-12-31", "final", False, 2025, v, 2025, 60.0,
                        "target_achieved" if v >= 60 else "target_not_achieved", verdict="achieved" if v >= 60 else "not_achieved",
                        gap_to_target=60.0 - v, completion_rate=v / 60.0, completion_basis="completion_rate"))
        c = float(COUNT_2025[code])
        # a district count is no target for one town/street: no verdict, its share and trend (the pace status is not shown)
        rows.append(_sc(A, "t.count", "town_street", code, name, "2025-12-31", "final", False, 2025, c, 2025, None, "on_track",
                        target_source="none", method="no_target_growth", contribution_share=c / 104.0,
                        trend={"110115001": "improving", "110115002": "stable", "110115003": "worsening"}[code]))
        rate_now = RATE[2026] + (2 - 2 * i)  # 63, 61, 59: 清源 no longer holds the target
        rows.append(_sc(A, "t.rate", "town_street", code, name, CUTOFF, None, True, 2026, rate_now, 2025, 60.0,
                        "target_achieved" if rate_now >= 60 else "target_not_achieved", is_target_held=rate_now >= 60,
                        gap_to_target=60.0 - rate_now))
        rows.append(_sc(A, "t.count", "town_street", code, name, CUTOFF, None, True, 2026, float([53, 26, 13][i]), 2025, None,
                        "on_track", target_source="none", method="no_target_growth", trend="improving",
                        contribution_share=[53, 26, 13][i] / 106.0))
    return pd.DataFrame(rows)


def catalog() -> pd.DataFrame:
    rows = []
    for (plan, kpi), target in TARGETS.items():
        rows.append(dict(plan_id=plan, kpi_id=kpi, **CATALOG_BASE[kpi], **target))
    return pd.DataFrame(rows)


def write(path: Path) -> Path:
    """Write the tiny published database to ``path``; returns it."""
    path = Path(path)
    plans = pd.DataFrame([
        dict(plan_id=PLAN_A, name_zh="甲区民政事业发展规划", name_en="Plan A for civil affairs", short_name_zh="甲规划",
             short_name_en="Plan A", period_start_year=2021, period_end_year=2025, baseline_year=2020, is_example=False),
        dict(plan_id=PLAN_B, name_zh="乙区民政事业发展规划（示例）", name_en="Plan B (example)", short_name_zh="乙规划",
             short_name_en="Plan B", period_start_year=2026, period_end_year=2030, baseline_year=2025, is_example=True),
    ])
    sections = pd.DataFrame([
        dict(plan_id=PLAN_A, section_code="一", title_zh="甲规划第一部分", title_en="Plan A, part one", sort_order=1),
        dict(plan_id=PLAN_A, section_code="二", title_zh="甲规划第二部分", title_en="Plan A, part two", sort_order=2),
        dict(plan_id=PLAN_B, section_code="一", title_zh="乙规划第一部分", title_en="Plan B, part one", sort_order=1),
    ])
    geographies = pd.DataFrame(
        [dict(geo_code="110115", geo_level="district", geo_name_zh="大兴区", geo_name_en="Daxing District", kind="district")]
        + [dict(geo_code=c, geo_level="town_street", geo_name_zh=n, geo_name_en=None, kind="street") for c, n in TOWNS.items()]
        + [dict(geo_code=ZONE[0], geo_level="special_zone", geo_name_zh=ZONE[1], geo_name_en=None, kind="special_zone"),
           dict(geo_code=UNASSIGNED[0], geo_level="unassigned", geo_name_zh=UNASSIGNED[1], geo_name_en="Not assigned to a town/street",
                kind="unassigned")])
    audit = pd.DataFrame([
        dict(source_id="src_a", file_name="a_20261101.csv", status="loaded", rows_read=10, rows_loaded=10, rows_quarantined=0,
             loaded_at=pd.Timestamp("2026-11-02 02:00"), file_modified_at="2026-11-01T08:00:00", delivery_cutoff_date=pd.Timestamp("2026-10-31")),
        dict(source_id="src_b", file_name="b_20260930.csv", status="loaded", rows_read=10, rows_loaded=10, rows_quarantined=1,
             loaded_at=pd.Timestamp("2026-11-02 02:00"), file_modified_at="2026-10-01T08:00:00", delivery_cutoff_date=pd.Timestamp("2026-09-29")),
        dict(source_id="src_b", file_name="b_broken.xls", status="rejected", rows_read=0, rows_loaded=0, rows_quarantined=0,
             loaded_at=pd.Timestamp("2026-11-02 02:00"), file_modified_at="2026-10-15T08:00:00", delivery_cutoff_date=pd.Timestamp("2026-10-14")),
    ])
    kpi_status = pd.DataFrame([dict(kpi_id="t.rate", status="passed", checks_evaluated=5, failed_checks=None, files_rejected=0,
                                    delivery_cutoff_date=pd.Timestamp("2026-10-31")),
                               dict(kpi_id="t.count", status="warned", checks_evaluated=5, failed_checks="1 file set aside", files_rejected=1,
                                    delivery_cutoff_date=pd.Timestamp("2026-09-29"))])
    freshness = pd.DataFrame([
        dict(source_id="src_a", title_zh="甲来源名册", title_en="Register A", latest_record_date=pd.Timestamp("2026-10-30"),
             rows_loaded=10, files=1, last_delivery_at=pd.Timestamp("2026-11-01 08:00"), last_loaded_at=pd.Timestamp("2026-11-02 02:00"),
             delivery_cutoff_date=pd.Timestamp("2026-10-31")),
        dict(source_id="src_b", title_zh="乙来源报表", title_en="Return B", latest_record_date=pd.Timestamp("2026-09-20"),
             rows_loaded=10, files=1, last_delivery_at=pd.Timestamp("2026-10-01 08:00"), last_loaded_at=pd.Timestamp("2026-11-02 02:00"),
             delivery_cutoff_date=pd.Timestamp("2026-09-29")),  # the file set aside (cut-off 14 October) is not used
    ])
    tables = {"kpi_catalog": catalog(), "source_freshness": freshness, "kpi_observations": observations(), "kpi_scorecard": scorecard(), "plans": plans,
              "plan_sections": sections, "geographies": geographies, "ingest_audit": audit, "dq_kpi_status": kpi_status,
              "publish_metadata": pd.DataFrame([dict(run_id="0123456789abcdef", published_at=pd.Timestamp("2026-11-02 02:05:00"))])}
    with duckdb.connect(str(path)) as con:
        for name, frame in tables.items():
            con.register("frame", frame)
            con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM frame")
            con.unregister("frame")
    return path
