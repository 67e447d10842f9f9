"""The sample generator: deterministic, scaled, valid ID numbers, ground truth by its own code."""

from __future__ import annotations

import hashlib

import pandas as pd

from daxing_kpi import ingest
from daxing_kpi.sample.generator import SampleGenerator, generate, ground_truth


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*.csv"))}


def test_same_seed_same_files(tmp_path):
    generate(tmp_path / "a", scale=0.01, seed=7)
    generate(tmp_path / "b", scale=0.01, seed=7)
    generate(tmp_path / "c", scale=0.01, seed=8)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_scale_one_is_a_district_of_two_million():
    gen = SampleGenerator(scale=1.0)
    pop = gen.population()
    total_2020 = pop[pop["统计年度"] == 2020]["常住人口"].sum()
    assert abs(total_2020 - 2_000_000) < 100
    assert pop["镇街"].nunique() == 22 and sorted(pop["统计年度"].unique()) == list(range(2020, 2027))


def test_generated_id_numbers_are_valid():
    frames = SampleGenerator(scale=0.01).build()
    assert ingest.valid_id_numbers(frames["volunteers"]["身份证号码"]).all()
    assert ingest.valid_id_numbers(frames["care_workers"]["身份证号码"]).all()


def test_ground_truth_counts_by_hand():
    """A tiny hand-made set of records and the values it must give."""
    frames = {
        "population": pd.DataFrame(
            [(2021, "黄村地区", "60-79", 300), (2021, "黄村地区", "80+", 100), (2021, "黄村地区", "18-59", 600)],
            columns=["统计年度", "镇街", "年龄组", "常住人口"],
        ),
        "care_workers": pd.DataFrame(
            {"入职日期": ["2020-01-01", "2021-12-31", "2021-06-01", "2022-01-01"],
             "离职日期": ["", "", "2021-12-31", ""], "所属镇街": ["黄村地区"] * 4}
        ),
        "burials": pd.DataFrame({"安葬日期": ["2021-03-01", "2021-04-01", "2022-01-01"], "户籍所在镇街": ["黄村地区"] * 3,
                                 "安葬方式": ["树葬", "传统墓穴", "树葬"]}),
        "volunteers": pd.DataFrame({"注册日期": ["2021-01-01", "2021-05-05"], "注销日期": ["", "2021-07-01"], "所在镇街": ["黄村地区"] * 2}),
        "service_items": pd.DataFrame({"年度": [2021] * 4, "是否全程网办": ["是", "是", "是", "否"]}),
        "service_cases": pd.DataFrame({"受理日期": ["2021-02-02", "2021-03-03"], "申请渠道": ["移动端", "窗口办理"]}),
    }
    t = ground_truth(frames).query("period_year == 2021 and geo_code == '110115005'").set_index("kpi_id")
    # 2 workers employed on 31 Dec 2021 (the one leaving that day is not) per 400 residents aged 60+
    assert t.loc["eldercare.care_workers_per_10k_elderly", "value"] == 2 / 400 * 10_000
    assert t.loc["funeral.eco_burial_rate", "value"] == 50.0
    assert t.loc["volunteer.registered_share_of_residents", "value"] == 1 / 1000 * 100
