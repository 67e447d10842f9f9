"""The sample generator: deterministic, scaled, valid ID numbers (one per person, never shared), people
registered twice as the world registers them, ground truth by its own code that counts persons."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from daxing_kpi import ingest
from daxing_kpi.sample.generator import (
    UNASSIGNED_CODE,
    PersonIds,
    SampleGenerator,
    generate,
    ground_truth,
    persons_on,
)


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


def test_person_ids_are_never_shared_and_follow_sex():
    """10,000 people born on only three days: random sequence codes would collide by the hundred; issued
    numbers never do, and the 17th digit is odd for men, even for women (GB 11643)."""
    ids = PersonIds()
    rng = np.random.default_rng(1)
    birth = np.repeat([7000, 7001, 7002], [4000, 3000, 3000])
    sex = np.where(np.arange(birth.size) % 3 == 0, "男", "女")
    first = ids.new(rng, birth[:5000], sex[:5000])
    second = ids.new(rng, birth[5000:], sex[5000:])
    both = np.concatenate([first, second])
    assert len(set(both)) == birth.size and ingest.valid_id_numbers(pd.Series(both)).all()
    assert ((np.char.str_len(both) == 18) & ((both.astype("U17").view("U1").reshape(-1, 17)[:, 16].astype(int) % 2 == 1) == (sex == "男"))).all()


def test_sample_people_have_one_id_number_each_and_some_register_twice():
    """In the sample, an ID number is one person (one name, one birth date in the number); about 1-3% of the
    volunteers registered at the end of 2025 stand on two active registrations (another team), some
    volunteers re-registered after a cancellation, some care workers changed employer within a year and a few
    volunteers and care workers belong to a special zone."""
    frames = SampleGenerator(scale=0.05).build()
    vols, workers = frames["volunteers"], frames["care_workers"]
    for df in (vols, workers):
        assert (df.groupby("身份证号码")["姓名"].nunique() == 1).all()
    active = persons_on(vols, "注册日期", "注销日期", "2025-12-31", status="状态")
    several = (active["active_records"] > 1).mean()
    assert 0.005 < several < 0.03
    rows_per_id = vols.groupby("身份证号码").size()
    cancelled_then_again = vols[vols["身份证号码"].isin(rows_per_id[rows_per_id > 1].index)].groupby("身份证号码").apply(
        lambda g: (g["注销日期"] != "").any() and (g["注册日期"] > g["注销日期"].replace("", "9999").min()).any(), include_groups=False)
    assert cancelled_then_again.sum() > 50
    w = workers.sort_values("入职日期")
    moved = w[w.duplicated("身份证号码", keep=False)].groupby("身份证号码").apply(
        lambda g: (g["离职日期"].iloc[0] != "") and g["离职日期"].iloc[0][:4] == g["入职日期"].iloc[1][:4], include_groups=False)
    assert moved.sum() >= 3
    assert (vols["所在镇街"] == "北京经济技术开发区").sum() > 50 and (workers["所属镇街"] == "北京经济技术开发区").sum() > 0


def test_ground_truth_counts_by_hand():
    """A tiny hand-made set of records and the values it must give (persons counted once, issue 16)."""
    frames = {
        "population": pd.DataFrame(
            [(2021, "黄村地区", "60-79", 300), (2021, "黄村地区", "80+", 100), (2021, "黄村地区", "18-59", 600)],
            columns=["统计年度", "镇街", "年龄组", "常住人口"],
        ),
        "care_workers": pd.DataFrame(
            {"身份证号码": ["A", "B", "C", "D", "A"],
             "入职日期": ["2020-01-01", "2021-12-31", "2021-06-01", "2022-01-01", "2021-03-01"],
             "离职日期": ["", "", "2021-12-31", "", ""], "所属镇街": ["黄村地区"] * 5}
        ),
        "burials": pd.DataFrame({"安葬日期": ["2021-03-01", "2021-04-01", "2022-01-01"], "户籍所在镇街": ["黄村地区"] * 3,
                                 "安葬方式": ["树葬", "传统墓穴", "树葬"]}),
        "volunteers": pd.DataFrame({
            "身份证号码": ["P", "Q", "P", "", "", "R", "S"],
            "注册日期": ["2021-01-01", "2021-05-05", "2021-08-01", "2021-02-01", "2021-02-01", "2020-01-01", "2020-01-01"],
            "注销日期": ["", "2021-07-01", "", "", "", "", "2022-01-01"],
            "状态": ["正常", "已注销", "正常", "正常", "正常", "正常", "已注销"],
            "所在镇街": ["黄村地区", "黄村地区", "北京经济技术开发区", "黄村地区", "", "北京经济技术开发区", "黄村地区"]}),
        "service_items": pd.DataFrame({"年度": [2021] * 4, "是否全程网办": ["是", "是", "是", "否"]}),
        "service_cases": pd.DataFrame({"受理日期": ["2021-02-02", "2021-03-03"], "申请渠道": ["移动端", "窗口办理"]}),
    }
    t = ground_truth(frames).query("period_year == 2021").set_index(["kpi_id", "geo_code"])
    # 2 persons employed on 31 Dec 2021 (A on two rosters counts once; C leaving that day is not counted) per 400
    assert t.loc[("eldercare.care_workers_per_10k_elderly", "110115005"), "value"] == 2 / 400 * 10_000
    assert t.loc[("funeral.eco_burial_rate", "110115005"), "value"] == 50.0
    # volunteers on 31 Dec 2021: P twice (once, in 黄村地区 where she registered first), two records without an ID
    # number (one person each; one of them without a readable town: unassigned), R in a special zone, S whose
    # cancellation on 1 Jan 2022 leaves her registered on 31 Dec 2021; Q cancelled in July
    vol = "volunteer.registered_share_of_residents"
    assert tuple(t.loc[(vol, "110115005"), ["numerator", "denominator"]]) == (3, 1000)
    assert t.loc[(vol, "110115403"), "numerator"] == 1 and np.isnan(t.loc[(vol, "110115403"), "denominator"])
    assert t.loc[(vol, UNASSIGNED_CODE), "numerator"] == 1
    assert tuple(t.loc[(vol, "110115"), ["numerator", "denominator", "value"]]) == (5, 1000, 0.5)
