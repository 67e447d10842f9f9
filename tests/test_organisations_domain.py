"""Social organisations, social work and cemetery service areas: sample records, ground truth, contracts.

The dbt formulas of the seven KPIs are pinned by the dbt unit tests in
dbt/models/intermediate/{social_org,social_work,funeral}/_int_*__models.yml; the end-to-end test
compares the marts with :func:`organisations.ground_truth`. These tests pin that ground truth on
hand-made records, the sample's scale and trends, and the ingestion of the six sources.
"""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from daxing_kpi import ingest
from daxing_kpi.sample.domains import organisations as orgs
from daxing_kpi.sample.generator import SampleGenerator, Town

A = Town("110115001", "兴丰街道")  # street
B = Town("110115005", "黄村地区")  # area: a town government too
T = Town("110115103", "青云店镇")  # town
SOURCES = {
    "social_org_organisations": "social_orgs",
    "social_org_federations": "social_org_federations",
    "social_work_agencies": "social_work_agencies",
    "social_work_professionals": "social_work_professionals",
    "social_work_community_workers": "community_workers",
    "funeral_cemetery_service_areas": "cemetery_service_areas",
}


def _frames() -> dict[str, pd.DataFrame]:
    """Hand-made records of the six sources (only the columns the ground truth reads)."""
    return {
        "social_orgs": pd.DataFrame(
            [
                ("O1", "社区社会组织", "备案", A.name_zh, "2019-01-01", "正常", ""),
                ("O2", "社区社会组织", "登记", A.name_zh, "2021-12-31", "正常", ""),  # founded on 31 Dec: counted
                ("O3", "社区社会组织", "备案", A.name_zh, "2020-01-01", "已注销", "2021-12-31"),  # deregistered on 31 Dec
                ("O4", "社区社会组织", "未备案", B.name_zh, "2020-01-01", "正常", ""),  # neither registered nor filed
                ("O5", "行业协会商会", "登记", B.name_zh, "2020-01-01", "正常", ""),  # not a community organisation
                ("O6", "社区社会组织", "备案", B.name_zh, "2020-01-01", "已注销", ""),  # deregistered, no date
            ],
            columns=["组织编号", "组织类别", "登记备案状态", "所在镇街", "成立日期", "状态", "注销日期"],
        ),
        "social_org_federations": pd.DataFrame(
            [(A.name_zh, "2020-05-01", "2021-12-31"), (B.name_zh, "2021-03-01", "")],
            columns=["所在镇街", "成立日期", "注销日期"],
        ),
        "social_work_agencies": pd.DataFrame(
            [("S1", A.name_zh, "2015-01-01", "正常", ""), ("S2", A.name_zh, "2016-01-01", "已注销", "2021-12-31")],
            columns=["统一社会信用代码", "所在镇街", "登记日期", "状态", "注销日期"],
        ),
        "social_work_professionals": pd.DataFrame(
            [
                ("p1", A.name_zh, "2019-01-01", "2021-06-01", "社会工作师", "2018-01-01"),
                ("p1", B.name_zh, "2021-06-01", "", "社会工作师", "2018-01-01"),  # changed employer: once
                ("p2", B.name_zh, "2020-01-01", "", "助理社会工作师", "2022-01-01"),  # certified after 2021
                ("p3", B.name_zh, "2020-01-01", "", "无", ""),
                ("p4", A.name_zh, "2020-01-01", "", "无", ""),  # two employers at once: one person, in A
                ("p4", B.name_zh, "2021-03-01", "", "无", ""),
            ],
            columns=["身份证号码", "所在镇街", "入职日期", "离职日期", "证书等级", "取得证书日期"],
        ),
        "community_workers": pd.DataFrame(
            [
                (A.name_zh, "110115001001", "110115001001", "2018-01-01", ""),  # local
                (A.name_zh, "110115001001", "110115001002", "2018-01-01", ""),  # another community
                (A.name_zh, "110115001002", "", "2018-01-01", ""),  # outside the district
                (B.name_zh, "110115005001", "110115005001", "2018-01-01", "2021-12-31"),  # left on 31 Dec
            ],
            columns=["所属镇街", "服务社区代码", "居住社区代码", "入职日期", "离职日期"],
        ),
        "cemetery_service_areas": pd.DataFrame(
            [
                ("公益性公墓", B.name_zh, "2010-01-01", ""),
                ("公益性公墓", A.name_zh, "2010-01-01", ""),  # a street: not in the denominator
                ("经营性公墓", T.name_zh, "2004-01-01", ""),  # commercial only: T not covered
            ],
            columns=["公墓性质", "服务镇街", "服务起始日期", "服务终止日期"],
        ),
    }


def test_ground_truth_counts_hand_made_records():
    gen = SimpleNamespace(towns=[A, B, T], organisation_frames=_frames())
    t = orgs.ground_truth(gen).query("period_year == 2021").set_index(["kpi_id", "geo_code"])

    def v(kpi, geo):
        return tuple(t.loc[(kpi, geo), ["numerator", "denominator", "value"]])

    # federations: A's was dissolved on 31 Dec 2021, B's active: 1 of the 3 towns/streets given
    assert v("social_org.federation_town_coverage", "110115") == pytest.approx((1, 3, 100 / 3))
    assert v("social_org.federation_town_coverage", A.code) == (0, 1, 0)
    # community organisations: O1 and O2 in A; none counted in B: a zero, as the register has records
    assert v("social_org.community_social_orgs", A.code) == (2, 1, 2)
    assert v("social_org.community_social_orgs", B.code) == (0, 1, 0)
    assert v("social_org.community_social_orgs", "110115") == (2, 1, 2)
    assert v("social_work.agencies", "110115") == (1, 1, 1)
    # professionals (persons, issue 16.1): p1 once (in B after the change), p2, p3, and p4 on two rosters once,
    # in A where she started first; the towns/streets add up to the district; certified on 31 Dec 2021: p1 only
    assert v("social_work.professionals", "110115") == (4, 1, 4)
    assert v("social_work.professionals", B.code) == (3, 1, 3)
    assert v("social_work.professionals", A.code) == (1, 1, 1)
    assert v("social_work.certified_professionals", "110115") == (1, 1, 1)
    assert v("social_work.certified_professionals", A.code) == (0, 1, 0)
    # community workers: 1 of A's 3 lives in the community served; B's only worker left on 31 Dec
    assert v("social_work.community_workers_local_share", A.code) == pytest.approx((1, 3, 100 / 3))
    assert ("social_work.community_workers_local_share", B.code) not in t.index
    # cemeteries: the towns are B (area) and T (town); the street A is not counted
    assert v("funeral.township_cemetery_coverage", "110115") == (1, 2, 50)
    assert ("funeral.township_cemetery_coverage", A.code) not in t.index
    # an empty register gives no rows at all (no data is not a zero)
    empty = {k: df.iloc[0:0] for k, df in _frames().items()}
    none = orgs.ground_truth(SimpleNamespace(towns=[A, B, T], organisation_frames=empty))
    assert none.empty


@pytest.fixture(scope="module")
def sample():
    gen = SampleGenerator(scale=1.0)
    frames = orgs.build(gen)
    return gen, frames, orgs.ground_truth(gen)


def test_sample_scale_and_trends(sample):
    """Scale 1: thousands of community organisations; in 2025 some targets met, some missed."""
    gen, frames, truth = sample
    district = truth[truth.geo_code == "110115"].set_index(["kpi_id", "period_year"]).value
    met = {
        "social_org.community_social_orgs": 6000,
        "social_org.federation_town_coverage": 60,
        "social_work.professionals": 4000,
    }
    missed = {
        "social_work.agencies": 160,
        "social_work.certified_professionals": 1500,
        "social_work.community_workers_local_share": 50,
        "funeral.township_cemetery_coverage": 100,
    }
    assert all(district[(k, 2025)] >= target for k, target in met.items())
    assert all(district[(k, 2025)] < target for k, target in missed.items())
    assert 3_000 <= district[("social_org.community_social_orgs", 2020)] < district[("social_org.community_social_orgs", 2025)]
    # every KPI has district values for every year 2020-2026
    assert truth[truth.geo_code == "110115"].groupby("kpi_id").period_year.nunique().eq(7).all()
    assert len(truth.kpi_id.unique()) == 7
    # the federation and cemetery denominators: 22 towns/streets, 14 towns
    fed = truth[(truth.kpi_id == "social_org.federation_town_coverage") & (truth.geo_code != "110115")]
    cem = truth[(truth.kpi_id == "funeral.township_cemetery_coverage") & (truth.geo_code != "110115")]
    assert fed.groupby("period_year").size().eq(22).all() and cem.groupby("period_year").size().eq(14).all()
    # people who changed employer have two rows; everyone's ID number is valid
    pros = frames["social_work_professionals"]
    assert pros["身份证号码"].duplicated().sum() > 20
    assert ingest.valid_id_numbers(pros["身份证号码"]).all()
    assert ingest.valid_id_numbers(frames["community_workers"]["身份证号码"]).all()


def test_sample_scales_down():
    small = orgs.ground_truth(SampleGenerator(scale=0.05))
    d = small[small.geo_code == "110115"].set_index(["kpi_id", "period_year"]).value
    assert 150 <= d[("social_org.community_social_orgs", 2025)] <= 450
    assert d[("social_work.agencies", 2021)] >= 1


def test_contracts_load_the_sample_without_quarantine_or_personal_data(sample, tmp_path):
    _, frames, _ = sample
    contracts = ingest.load_contracts()
    for source_id, folder in SOURCES.items():
        (tmp_path / folder).mkdir()
        frames[folder].to_csv(tmp_path / folder / f"{folder}_20261101.csv", index=False, encoding="utf-8")
        result = ingest.ingest_source(contracts[source_id], tmp_path)
        assert result.quarantine.empty, (source_id, result.quarantine.head())
        assert len(result.accepted) == len(frames[folder])
        dropped = {c.name for c in contracts[source_id].columns if c.dropped}
        assert not dropped & set(result.accepted.columns), source_id
        assert result.accepted["geo_code"].str.fullmatch(r"110115\d{3}").all()
    workers = ingest.ingest_source(contracts["social_work_community_workers"], tmp_path).accepted
    assert "residence_address" not in workers.columns and workers["person_key"].str.fullmatch(r"[0-9a-f]{32}").all()
