"""Community-based KPIs (plan 二(一), 二(二), 二(五)2, 三(三), 三(四)): the towns' return-form template and
its ingestion (cover sheet 报送情况: a report of zero is 0, no report is 未报送), and the generator's ground truth
counted by hand on tiny registers (counts as stock and new_in_year, issue 16.5)."""

from __future__ import annotations

import datetime as dt
import hashlib
from types import SimpleNamespace

import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from daxing_kpi import returnforms
from daxing_kpi.ingest import ingest_source, load_contracts
from daxing_kpi.sample.domains import communities
from daxing_kpi.sample.generator import SampleGenerator, Town

STUDIOS = "townreturn_secretary_studio_sites"
BUILDINGS = "townreturn_building_demo_sites"
COVERS = "townreturn_submissions"
MY_KPIS = {
    "community.secretary_studio_demo_sites", "community.building_governance_demo_sites",
    "community.direct_election_share", "community.lajiachang_council_coverage",
    "community.new_community_service_space_share", "community.villages_converted", "volunteer.station_coverage",
    "psych.community_coverage", "psych.town_center_coverage", "charity.station_community_coverage",
}


def _sheets(path) -> dict[str, list[list]]:
    wb = CalamineWorkbook.from_path(str(path))
    return {name: wb.get_sheet_by_name(name).to_python() for name in wb.sheet_names}


# -- the template ------------------------------------------------------------------------------------


def test_committed_template_is_the_one_the_contracts_give(tmp_path):
    """The committed workbook equals a freshly built one, and its headers are the contracts' columns."""
    fresh = returnforms.write_template(tmp_path / "fresh.xlsx")
    committed = _sheets(returnforms.TEMPLATE_PATH)
    assert committed == _sheets(fresh), "regenerate with: python -m daxing_kpi.returnforms"
    contracts = load_contracts()
    assert list(committed) == ["报送情况", "社区书记工作室示范点", "楼门院治理示范点"]
    assert committed["报送情况"][2] == [c.header_zh for c in contracts[COVERS].columns]
    assert committed["社区书记工作室示范点"][2] == [c.header_zh for c in contracts[STUDIOS].columns]
    assert committed["楼门院治理示范点"][2] == [c.header_zh for c in contracts[BUILDINGS].columns]
    assert committed["楼门院治理示范点"][0][0] == "大兴区城乡社区楼门院治理示范点情况表"


def test_same_content_gives_byte_identical_workbooks(tmp_path):
    """Fixed timestamps inside the file: a re-sent identical form is recognised by its SHA-256."""
    a = returnforms.write_template(tmp_path / "a.xlsx")
    b = returnforms.write_template(tmp_path / "b.xlsx")
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()


# -- reading filled-in forms -------------------------------------------------------------------------


def _fill(path, studios=(), buildings=(), town="黄村地区", through=dt.date(2026, 10, 31)):
    rows = {STUDIOS: [list(r) for r in studios], BUILDINGS: [list(r) for r in buildings]}
    rows[COVERS] = returnforms.cover_rows(town, rows, through)
    return returnforms.write_workbook(path, rows, unit_name=town, filled_date=through + dt.timedelta(days=1))


def test_filled_form_is_loaded_through_its_contract(tmp_path):
    """Title rows skipped, a town alias resolved, date cells typed, the totals row accounted for;
    each contract reads only its own sheet."""
    folder = tmp_path / "landing" / "town_returns"
    _fill(folder / "黄村地区_示范点报表.xlsx",
          studios=[(1, "黄村地区", "枣园社区", "110115005001", "枣园社区书记工作室", dt.date(2021, 1, 1), ""),
                   (2, "黄村镇", "康庄社区", "110115005002", "康庄社区书记工作室", dt.date(2023, 5, 6), "")],
          buildings=[(1, "黄村地区", "三合村", "110115005201", "三合村东院", "院落", dt.date(2022, 3, 1), "")])
    contracts = load_contracts()
    studios = ingest_source(contracts[STUDIOS], tmp_path / "landing")
    acc = studios.accepted
    assert acc.geo_code.tolist() == ["110115005", "110115005"]
    assert [str(d) for d in acc.designated_date] == ["2021-01-01", "2023-05-06"]
    assert acc._sheet.unique().tolist() == ["社区书记工作室示范点"]
    assert acc._row_number.tolist() == [4, 5]  # title, unit/date and header rows above
    assert studios.quarantine.row_number.tolist() == [6] and studios.quarantine.reason.str.contains("totals").all()
    audit = studios.audit[0]
    assert audit["rows_read"] == audit["rows_loaded"] + audit["rows_quarantined"] == 3
    buildings = ingest_source(contracts[BUILDINGS], tmp_path / "landing")
    assert buildings.accepted.site_type_zh.tolist() == ["院落"]
    assert buildings.accepted.unit_code.tolist() == ["110115005201"]


def test_an_empty_return_is_a_report_of_zero_on_its_cover(tmp_path):
    """A town/street with no site returns empty lists: the cover sheet says 0 for each form (its rows are what
    make the KPI 0 instead of 未报送); the empty lists load nothing and their totals rows say 0个."""
    folder = tmp_path / "landing" / "town_returns"
    _fill(folder / "榆垡镇.xlsx", town="榆垡镇")
    contracts = load_contracts()
    covers = ingest_source(contracts[COVERS], tmp_path / "landing")
    acc = covers.accepted
    assert acc.geo_code.tolist() == ["110115107", "110115107"]
    assert acc.form_name_zh.tolist() == ["社区书记工作室示范点", "楼门院治理示范点"]
    assert acc.records_reported.tolist() == [0, 0] and [str(d) for d in acc.reported_through_date] == ["2026-10-31"] * 2
    assert covers.quarantine.empty  # the cover has no totals row
    studios = ingest_source(contracts[STUDIOS], tmp_path / "landing")
    assert studios.accepted.empty and studios.quarantine.reason.str.contains("totals").all()
    assert _sheets(folder / "榆垡镇.xlsx")["社区书记工作室示范点"][3][:3] == ["合计", "", "0个"]


def test_a_newer_return_of_a_town_replaces_its_earlier_one(tmp_path):
    import os

    folder = tmp_path / "landing" / "town_returns"
    first = _fill(folder / "v1.xlsx", studios=[(1, "黄村地区", "枣园社区", "110115005001", "枣园社区书记工作室", dt.date(2021, 1, 1), "")])
    second = _fill(folder / "v2.xlsx", studios=[(1, "黄村地区", "枣园社区", "110115005001", "枣园社区书记工作室", dt.date(2021, 1, 1), ""),
                                                (2, "黄村地区", "康庄社区", "110115005002", "康庄社区书记工作室", dt.date(2024, 2, 1), "")])
    os.utime(first, (1_700_000_000, 1_700_000_000))
    os.utime(second, (1_700_000_100, 1_700_000_100))
    res = ingest_source(load_contracts()[STUDIOS], tmp_path / "landing")
    assert sorted(res.accepted.site_name) == ["康庄社区书记工作室", "枣园社区书记工作室"]  # no duplicate of the re-listed site
    assert set(res.accepted._source_file) == {"town_returns/v2.xlsx"}


def test_a_workbook_without_the_forms_sheet_is_rejected_naming_the_sheet(tmp_path):
    from openpyxl import Workbook

    folder = tmp_path / "landing" / "town_returns"
    folder.mkdir(parents=True)
    wb = Workbook()
    wb.active.title = "Sheet1"
    wb.active.append(["序号", "所属镇街", "社区编码", "示范点名称", "命名日期"])
    wb.save(folder / "wrong.xlsx")
    (a,) = ingest_source(load_contracts()[STUDIOS], tmp_path / "landing").audit  # set aside, the night goes on
    assert a["status"] == "rejected" and "社区书记工作室示范点" in a["rejected_reason_en"] and "社区书记工作室示范点" in a["rejected_reason_zh"]
    assert "town_returns/wrong.xlsx" in a["rejected_reason_en"] and "Sheet1" in a["rejected_reason_zh"]


# -- ground truth by hand ----------------------------------------------------------------------------


def _hand_records() -> dict[str, pd.DataFrame]:
    """Two towns/streets: area 005 with communities and villages, town 104 with villages only until its
    village V4 is converted on 31 Dec 2023."""
    A, B = "黄村地区", "采育镇"
    units = pd.DataFrame(
        [
            ("C1", "社区", A, "2000-01-01", "", "", ""),
            ("C2", "社区", A, "2021-06-01", "", "", ""),  # new community, 2021
            ("V1", "村", A, "2000-01-01", "2021-12-31", "撤村建居", ""),  # converted on 31 Dec 2021
            ("C3", "社区", A, "2021-12-31", "", "", "V1"),
            ("V2", "村", A, "2000-01-01", "2020-12-31", "撤村建居", ""),  # before the plan period
            ("C4", "社区", A, "2020-12-31", "", "", "V2"),
            ("V3", "村", B, "2000-01-01", "", "", ""),
            ("V4", "村", B, "2000-01-01", "2023-12-31", "撤村建居", ""),
            ("C5", "社区", B, "2023-12-31", "", "", "V4"),
        ],
        columns=["单位编码", "单位类型", "所属镇街", "成立日期", "撤销日期", "撤销原因", "原村编码"],
    )
    elections = pd.DataFrame(
        [("E1", "C1", "2018-06-01", "居民代表选举"), ("E2", "C1", "2021-05-01", "直接选举"),
         ("E3", "C4", "2021-05-02", "居民代表选举"), ("E4", "C2", "2022-02-01", "户代表选举")],
        columns=["选举编号", "社区编码", "选举日期", "选举方式"],
    )
    councils = pd.DataFrame([("L1", "C1", "2019-01-01", "2022-06-30"), ("L2", "C3", "2022-03-01", "")],
                            columns=["议事会编号", "社区编码", "成立日期", "撤销日期"])
    fac = pd.DataFrame(
        [("F1", "C1", A, 400.0, 2010, ""), ("F2", "V1", A, 450.0, 2015, ""), ("F3", "C2", A, 500.0, 2022, ""),
         ("F4", "V3", B, 300.0, 2012, "2022-07-01"), ("F5", "C3", A, 60.0, 2022, "")],
        columns=["设施编号", "所属社区(村)编码", "所属镇街", "建筑面积(平方米)", "投用年份", "停用日期"],
    )
    vol = pd.DataFrame([("Z1", "F1", "2020-01-01", ""), ("Z2", "F4", "2019-01-01", ""), ("Z3", "", "2019-01-01", "")],
                       columns=["站点编号", "依托设施编号", "设立日期", "撤销日期"])
    psych = pd.DataFrame(
        [("P1", "社区村级", A, "V1", "2020-01-01", ""), ("P2", "社区村级", B, "V3", "2020-01-01", "2022-08-01"),
         ("P3", "镇街级", A, "", "2019-01-01", ""), ("P4", "区级", B, "", "2019-01-01", "")],
        columns=["站点编号", "站点层级", "所属镇街", "服务社区(村)编码", "设立日期", "撤销日期"],
    )
    charity = pd.DataFrame([("X1", "V4", "2021-01-01", "")], columns=["站点编号", "所在社区(村)编码", "设立日期", "撤销日期"])
    studios = pd.DataFrame([(A, "2020-12-31"), (A, "2021-01-01"), (A, "2022-12-31")], columns=["所属镇街", "命名日期"])
    buildings = pd.DataFrame([(B, "2024-01-01")], columns=["所属镇街", "命名日期"])
    # covers (报送情况): A reports its studios, B reports 0 studios (a report of zero) and its one building site;
    # A sent no building-site form (未报送)
    covers = pd.DataFrame([(A, "社区书记工作室示范点", "2026-10-31", 3), (B, "社区书记工作室示范点", "2026-10-31", 0),
                           (B, "楼门院治理示范点", "2026-10-31", 1)], columns=["所属镇街", "报表名称", "数据截至日期", "填报个数"])
    return {
        "community_units": units, "community_elections": elections, "community_councils": councils,
        "community_service_facilities": fac, "volunteer_stations": vol, "psych_stations": psych,
        "charity_stations": charity, "town_returns:secretary_studios": studios, "town_returns:building_sites": buildings,
        "town_returns:submissions": covers,
    }


def test_ground_truth_counts_by_hand():
    gen = SimpleNamespace(towns=[Town("110115005", "黄村地区"), Town("110115104", "采育镇")],
                          _domain_records={communities.NAME: _hand_records()})
    t = communities.ground_truth(gen).set_index(["kpi_id", "period_year", "geo_code"])

    def nd(kpi, year, geo):
        row = t.loc[(kpi, year, geo)]
        return row.numerator, row.denominator

    def stock_new_status(kpi, year, geo):
        row = t.loc[(kpi, year, geo)]
        return row.numerator, row.new_in_year, row.reporting_status

    # conversions (issue 16.5: the stock, plan-independent, and the year's conversions): V2 on 31 Dec 2020, V1 on
    # 31 Dec 2021 (counted in that year), V4 on 31 Dec 2023; V3 was merged (not a conversion)
    assert stock_new_status("community.villages_converted", 2020, "110115")[:2] == (1, 1)
    assert stock_new_status("community.villages_converted", 2021, "110115005")[:2] == (2, 1)
    assert stock_new_status("community.villages_converted", 2023, "110115104")[:2] == (1, 1)
    assert stock_new_status("community.villages_converted", 2023, "110115")[:2] == (3, 1)
    assert pd.isna(t.loc[("community.villages_converted", 2023, "110115"), "reporting_status"])
    # studios named 31 Dec 2020, 1 Jan 2021, 31 Dec 2022, all in the stock; town 104's cover says 0: a report of
    # zero gives 0 (issue 16.3), not a missing row
    assert stock_new_status("community.secretary_studio_demo_sites", 2021, "110115") == (2, 1, "reported")
    assert stock_new_status("community.secretary_studio_demo_sites", 2022, "110115005") == (3, 1, "reported")
    assert stock_new_status("community.secretary_studio_demo_sites", 2022, "110115104") == (0, 0, "reported")
    # building sites: area 005 sent no form (未报送: no value), so the district is partly reported
    assert stock_new_status("community.building_governance_demo_sites", 2023, "110115104") == (0, 0, "reported")
    assert t.loc[("community.building_governance_demo_sites", 2024, "110115104"), "numerator"] == 1
    not_reported = t.loc[("community.building_governance_demo_sites", 2024, "110115005")]
    assert pd.isna(not_reported.numerator) and pd.isna(not_reported.value) and not_reported.reporting_status == "not_reported"
    assert stock_new_status("community.building_governance_demo_sites", 2024, "110115") == (1, 1, "partly_reported")
    # elections: 2020: only C1 elected (2018, indirect; C4 not yet) -> 0 of 1; 2021: C1 direct, C4 indirect,
    # C2 and C3 not yet elected -> 1 of 2; 2022: C2 by household representatives -> 2 of 3
    assert nd("community.direct_election_share", 2020, "110115005") == (0, 1)
    assert nd("community.direct_election_share", 2021, "110115005") == (1, 2)
    assert nd("community.direct_election_share", 2022, "110115005") == (2, 3)
    # town 104 has no community until 31 Dec 2023: no row before, C5 without an election no row after
    assert not any(k[0] == "community.direct_election_share" and k[2] == "110115104" for k in t.index)
    # councils: C1's is dissolved mid-2022, C3's founded in 2022: 1 of C1-C4 in both years; town 104's C5 has none
    assert nd("community.lajiachang_council_coverage", 2021, "110115005") == (1, 4)
    assert nd("community.lajiachang_council_coverage", 2022, "110115005") == (1, 4)
    assert nd("community.lajiachang_council_coverage", 2023, "110115104") == (0, 1)
    assert ("community.lajiachang_council_coverage", 2022, "110115104") not in t.index  # a town with no communities
    # new communities since 2021: C2 (500 m² from 2022, exactly 500 counts), C3 (V1's 450 + own 60 from 2022)
    assert nd("community.new_community_service_space_share", 2021, "110115005") == (0, 2)
    assert nd("community.new_community_service_space_share", 2022, "110115005") == (2, 2)
    assert ("community.new_community_service_space_share", 2020, "110115") not in t.index
    # volunteer stations: F1 and F4 hosted; F4 closes in 2022 (out of the denominator); Z3 hosted nowhere
    assert nd("volunteer.station_coverage", 2021, "110115") == (2, 3)
    assert nd("volunteer.station_coverage", 2022, "110115") == (1, 4)
    # psych: P1 (under V1) serves C3 after the conversion; P2 closes mid-2022
    assert nd("psych.community_coverage", 2021, "110115005") == (1, 4)  # C3 of C1, C2, C3, C4
    assert nd("psych.community_coverage", 2021, "110115104") == (1, 2)
    assert nd("psych.community_coverage", 2022, "110115104") == (0, 2)
    assert nd("psych.town_center_coverage", 2021, "110115") == (1, 2)  # the district center counts for no town
    # charity: the station in village V4 counts once V4 has become community C5 (31 Dec 2023)
    assert nd("charity.station_community_coverage", 2023, "110115104") == (1, 1)
    assert nd("charity.station_community_coverage", 2023, "110115") == (1, 5)


# -- the bundled sample ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_truth() -> pd.DataFrame:
    return communities.ground_truth(SampleGenerator(scale=0.05))


def test_every_kpi_has_district_values_for_the_plan_years(sample_truth):
    district = sample_truth[sample_truth.geo_code == "110115"]
    assert set(district.kpi_id) == MY_KPIS
    for kpi, years in district.groupby("kpi_id").period_year.apply(set).items():
        assert set(range(2021, 2026)) <= years, kpi


def test_sample_meets_some_targets_and_misses_others(sample_truth):
    """Targets counting what was built or named within the plan period (count_basis new_in_period, issue 16.5:
    建成, 打造, 完成) are judged on the sum of new_in_year 2021-2025, the others on the 2025 value. The old truth
    counted the sites and conversions "since 2021" as the value; the value is now the stock, and the plan's
    words (建成20个, 打造100个, 完成130个村) are about the additions, so the same targets are met and missed."""
    district = sample_truth[sample_truth.geo_code == "110115"]
    v2025 = district[district.period_year == 2025].set_index("kpi_id").value.copy()
    new_in_period = district[district.period_year.between(2021, 2025)].groupby("kpi_id").new_in_year.sum()
    for kpi in ("community.secretary_studio_demo_sites", "community.building_governance_demo_sites", "community.villages_converted"):
        v2025[kpi] = new_in_period[kpi]
    met = {k for k, target in [("community.secretary_studio_demo_sites", 20), ("community.direct_election_share", 80),
                               ("volunteer.station_coverage", 80), ("psych.town_center_coverage", 100),
                               ("charity.station_community_coverage", 5)] if v2025[k] >= target}
    missed = {k for k, target in [("community.building_governance_demo_sites", 100), ("community.villages_converted", 130),
                                  ("community.lajiachang_council_coverage", 100), ("psych.community_coverage", 80)] if v2025[k] < target}
    assert len(met) == 5 and len(missed) == 4


def test_sample_register_has_its_boundary_cases():
    rec = communities.records(SampleGenerator(scale=0.05))
    units = rec["community_units"]
    comms = units[units["单位类型"] == "社区"]
    # about 700 units at the start of 2020, communities converted from villages name them
    assert 650 <= (units["成立日期"] < "2020-01-01").sum() <= 800
    converted = comms[comms["原村编码"] != ""]
    villages = units.set_index("单位编码")
    assert (villages.loc[converted["原村编码"], "撤销原因"] == "撤村建居").all()
    assert (villages.loc[converted["原村编码"], "撤销日期"].to_numpy() == converted["成立日期"].to_numpy()).all()
    # a town without any community before a conversion on 31 December 2023
    first = comms.groupby("所属镇街")["成立日期"].min()
    assert (first == "2023-12-31").any()
    # stations closing mid-year exist in every station register
    for key in ("volunteer_stations", "psych_stations", "charity_stations"):
        closed = rec[key]["撤销日期"]
        assert ((closed != "") & (~closed.str.endswith("12-31"))).any(), key


def test_town_return_workbooks_are_deterministic(tmp_path):
    gen = SampleGenerator(scale=0.05)
    for out in ("a", "b"):
        communities.build(gen)["town_returns"](tmp_path / out)
    a = {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()}
    b = {p.name: p.read_bytes() for p in (tmp_path / "b").iterdir()}
    # one workbook per town/street that reports: 21 of the 22 (one sent nothing, 未报送), one of them dated
    # 1 January 2026 (its lists as of 31 December 2025)
    assert len(a) == 21 and a == b
    assert sum("_20260101.xlsx" in name for name in a) == 1
