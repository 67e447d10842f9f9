"""Institution-based KPIs (issue 3): sample records, their contracts and the published observations.

KPIs: eldercare.nursing_bed_60pct_public_institutions, eldercare.three_star_township_homes,
eldercare.care_centers_operating, eldercare.care_center_town_coverage,
disability.intellectual_disability_institutions, disability.mental_health_welfare_institutions,
children.institution_beds_per_10k_children. The dbt formulas are pinned by the yml unit tests
next to each model (run by ``dbt build`` in the nightly job); here: the generator's own counting
on hand-made records, the sample's documented trends, the contracts, and the mart.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from daxing_kpi import ingest
from daxing_kpi.ingest import load_contracts
from daxing_kpi.sample.domains import institutions
from daxing_kpi.sample.generator import SampleGenerator

MY_KPIS = [
    "eldercare.nursing_bed_60pct_public_institutions", "eldercare.three_star_township_homes",
    "eldercare.care_centers_operating", "eldercare.care_center_town_coverage",
    "disability.intellectual_disability_institutions", "disability.mental_health_welfare_institutions",
    "children.institution_beds_per_10k_children",
]
DISTRICT = "110115"


def _register_row(year, cat, level="区级", own="公办公营", beds=100, nursing="", star="", takes="", status="正常运营"):
    return dict(zip(institutions.REGISTER_COLUMNS, (year, "X", "机构", cat, level, own, "黄村地区", beds, nursing, star, takes,
                                                    status, "", "", "")))


def _truth(frames) -> pd.DataFrame:
    gen = SampleGenerator(scale=0.01)
    gen.frames = frames
    return institutions.ground_truth(gen).set_index(["kpi_id", "period_year", "geo_code"])


def test_ground_truth_counts_hand_made_records():
    """Boundary cases counted by the generator's own pandas code (independent of the dbt models)."""
    reg = pd.DataFrame([
        _register_row(2023, "养老机构", beds=400, nursing=240),  # exactly 60%: counts
        _register_row(2023, "养老机构", own="公建民营", beds=200, nursing=119),  # 59.5%
        _register_row(2023, "养老机构", level="镇(街)级", beds=100, nursing=90),  # not district level
        _register_row(2023, "养老机构", beds=100, nursing=100, status="暂停运营"),
        _register_row(2023, "乡镇敬老院", level="镇(街)级", star="三星级", takes="是"),  # counts
        _register_row(2023, "乡镇敬老院", level="镇(街)级", star="四星级", takes="否"),
        _register_row(2023, "智力残疾人员社会福利机构", beds=50),  # counts
        _register_row(2023, "智力残疾人员社会福利机构", beds=49),
        _register_row(2023, "精神卫生福利机构", beds=99),
        _register_row(2023, "精神卫生福利机构", beds=150, status="筹建中"),
        _register_row(2023, "儿童福利机构", beds=30),
        _register_row(2023, "未成年人救助保护机构", beds=20),
        _register_row(2023, "儿童福利机构", beds=200, status="筹建中"),
    ])
    centers = pd.DataFrame({
        "所在镇街": ["黄村镇", "黄村地区", "清源街道", "兴丰街道", "林校路街道"],
        "开始运营日期": ["2020-01-01", "2023-12-31", "2019-05-01", "2019-05-01", ""],
        "停止运营日期": ["", "", "2023-12-31", "2024-01-01", ""],
    })
    pop = pd.DataFrame([(2023, "黄村地区", "0-5", 20_000), (2023, "黄村地区", "12-17", 30_000), (2023, "黄村地区", "18-59", 90_000),
                        (2023, "清源街道", "6-11", 0)], columns=["统计年度", "镇街", "年龄组", "户籍人口"])
    t = _truth({"institutions": reg, "care_centers": centers, "registered_population": pop})
    district = t.xs((2023, DISTRICT), level=["period_year", "geo_code"])
    assert district.loc["eldercare.nursing_bed_60pct_public_institutions", "value"] == 1
    assert district.loc["eldercare.three_star_township_homes", "value"] == 1
    assert district.loc["disability.intellectual_disability_institutions", "value"] == 1
    assert district.loc["disability.mental_health_welfare_institutions", "value"] == 0
    assert district.loc["children.institution_beds_per_10k_children", ["numerator", "denominator"]].tolist() == [50, 50_000]
    assert district.loc["children.institution_beds_per_10k_children", "value"] == 10.0
    # 黄村 (spelled two ways): 2 centers, one opening on 31 Dec; 清源 closes on 31 Dec: not counted; 兴丰 a day later: counted
    assert district.loc["eldercare.care_centers_operating", ["numerator", "denominator"]].tolist() == [3, 1]
    assert t.loc[("eldercare.care_centers_operating", 2023, "110115005"), "numerator"] == 2
    assert t.loc[("eldercare.care_centers_operating", 2023, "110115003"), "numerator"] == 0
    assert district.loc["eldercare.care_center_town_coverage", ["numerator", "denominator"]].tolist() == [2, 22]
    assert t.loc[("eldercare.care_center_town_coverage", 2023, "110115005"), "value"] == 100
    # the register has no 2022 snapshot: no institution rows for 2022, never zeros
    assert ("eldercare.three_star_township_homes", 2022, DISTRICT) not in t.index


def test_sample_trends_at_scale_one():
    """The documented story of the sample: met mid-plan, met in 2025, missed."""
    gen = SampleGenerator(scale=1.0)
    institutions.build(gen)
    truth = institutions.ground_truth(gen)
    d = truth[truth.geo_code == DISTRICT].pivot(index="period_year", columns="kpi_id", values="value")
    assert d["eldercare.nursing_bed_60pct_public_institutions"].tolist() == [0, 0, 0, 1, 2, 3, 3]
    assert d["eldercare.three_star_township_homes"].tolist() == [0, 0, 0, 1, 1, 3, 3]
    assert d["eldercare.care_centers_operating"].tolist() == [14, 15, 16, 16, 18, 19, 21]
    assert d.loc[2025, "eldercare.care_center_town_coverage"] == pytest.approx(18 / 22 * 100)
    assert d["disability.intellectual_disability_institutions"].tolist() == [0, 0, 1, 1, 1, 2, 2]
    assert d["disability.mental_health_welfare_institutions"].tolist() == [0, 0, 0, 0, 0, 0, 1]
    beds = d["children.institution_beds_per_10k_children"]
    assert beds[2020] < 15 and beds[2023] < 15 and (beds[[2024, 2025]] >= 15).all()
    assert d.index.tolist() == list(range(2020, 2027))


def test_sample_files_pass_their_contracts(tmp_path):
    """Every generated row is accepted (town spellings of older exports resolve), PII columns are dropped."""
    gen = SampleGenerator(scale=0.02)
    frames = institutions.build(gen)
    contracts = {c.landing_dir: c for c in load_contracts().values()}
    for folder, df in frames.items():
        (tmp_path / folder).mkdir()
        df.to_csv(tmp_path / folder / f"{folder}_20261101.csv", index=False, encoding="utf-8")
        res = ingest.ingest_source(contracts[folder], tmp_path)
        assert res.quarantine.empty, res.quarantine.head()
        assert len(res.accepted) == len(df)
        assert not {"manager_name", "phone"} & set(res.accepted.columns)
    reg = ingest.ingest_source(contracts["institutions"], tmp_path).accepted
    assert set(reg.geo_code) <= {t.code for t in gen.towns}
    assert reg.loc[reg.institution_name == "大兴区社会福利院", "geo_code"].unique().tolist() == ["110115005"]


def test_register_rows_with_unknown_codes_are_quarantined(tmp_path):
    contract = load_contracts()["civilstat_institutions"]
    good = _register_row(2024, "乡镇敬老院", level="镇(街)级", star="三星级", takes="是")
    rows = [good, {**good, "机构类别": "敬老院"}, {**good, "星级": "六星级"}, {**good, "床位数": "-5"}]
    rows = [{**r, "机构编码": f"X{k}"} for k, r in enumerate(rows)]
    (tmp_path / "institutions").mkdir()
    pd.DataFrame(rows).to_csv(tmp_path / "institutions" / "i.csv", index=False)
    assert ingest.ingest_source(contract, tmp_path).audit[0]["status"] == "rejected"  # 2 of 4 records unusable: set aside
    contract = dataclasses.replace(contract, extra={**contract.extra, "quality": {"max_rejected_share": 0.5}})
    res = ingest.ingest_source(contract, tmp_path)
    # the category and the beds count are needed (record_needs); the star rating is not: loaded without it
    assert res.accepted.institution_code.tolist() == ["X0", "X2"] and res.accepted.star_rating_zh.isna().tolist() == [False, True]
    q = res.quarantine.set_index("row_number")
    assert q.loc[3, "column"] == "机构类别" and "allowed" in q.loc[3, "reason"] and q.loc[3, "disposition"] == "quarantined"
    assert q.loc[4, "column"] == "星级" and q.loc[4, "disposition"] == "field_fault"
    assert q.loc[5, "column"] == "床位数" and "minimum" in q.loc[5, "reason"] and q.loc[5, "disposition"] == "quarantined"


def test_published_observations_of_the_institution_kpis(warehouse):
    obs = warehouse.query("SELECT * FROM kpi_observations WHERE kpi_id IN ({})".format(",".join(f"'{k}'" for k in MY_KPIS)))
    district = obs[obs.geo_level == "district"]
    for kpi in MY_KPIS:
        assert set(range(2021, 2026)) <= set(district[district.kpi_id == kpi].period_year), kpi
    towns = obs[obs.geo_level == "town_street"]
    # town rows only for the two center KPIs: every one of the 22 towns/streets, every year
    assert set(towns.kpi_id) == {"eldercare.care_centers_operating", "eldercare.care_center_town_coverage"}
    assert (towns.groupby(["kpi_id", "period_year"]).geo_code.nunique() == 22).all()
    # counts: denominator 1 and value = numerator; the district count is the sum of the towns'
    counts = obs[obs.kpi_id.isin(MY_KPIS[:3] + MY_KPIS[4:6])]
    assert (counts.denominator == 1).all() and (counts.value == counts.numerator).all()
    centers = obs[obs.kpi_id == "eldercare.care_centers_operating"].pivot_table(index="period_year", columns="geo_level",
                                                                                 values="numerator", aggfunc="sum")
    assert (centers.district == centers.town_street).all()
    coverage = district[district.kpi_id == "eldercare.care_center_town_coverage"]
    assert (coverage.denominator == 22).all() and (coverage.value == coverage.numerator / 22 * 100).all()
