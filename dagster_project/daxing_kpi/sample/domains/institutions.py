"""Sample records behind the institution-based KPIs: residential institutions, town/street
elderly-care centers and the registered (hukou) population.

Landing folders written by :func:`build` (one UTF-8 CSV each, headers as in the contracts):

``institutions`` (contract ``civilstat_institutions``)
    提供住宿的民政服务机构年度统计台账: the civil-affairs statistics register of residential
    institutions, as exported from the statistics reporting system (民政统计直报系统). One row per
    institution and statistical year: the year-end snapshot of the annual report (for the current,
    partial year the latest report before the cut-off). A row carries the category (养老机构,
    乡镇敬老院, 智力残疾人员社会福利机构, 精神卫生福利机构, 儿童福利机构, 未成年人救助保护机构), the
    sponsor level (区级 / 镇(街)级 / 社会力量), ownership (公办公营 / 公建民营 / 民办), town/street,
    beds, nursing-care beds (护养型床位, elderly-care categories only), star rating (elderly-care
    categories only), whether it takes in people under extreme-poverty support, and the operating
    status; institutions under construction (筹建中) appear with their planned beds. A year
    snapshot therefore keeps the history of beds and star ratings.
``care_centers`` (contract ``eldercare_care_centers``)
    镇(街)养老照料中心名册: one row per center with its opening and closing dates (a center
    still being built has no opening date).
``registered_population`` (contract ``statbureau_registered_population``)
    户籍人口 by year, town/street and age band (0-5, 6-11, 12-17, 18-59, 60+), from the
    household-registration figures the statistics bureau publishes.

Trends (scale 1; institution counts and sizes do not depend on the scale, child-welfare beds and
the population do, so that beds per 10,000 children stay comparable at every scale):

* district public institutions with >= 60% nursing-care beds: 0 until 2022, 1 in 2023 (target
  reached mid-plan), 3 in 2025; one reaches exactly 60% in 2024, one pauses for renovation in 2022;
* township homes of >= 3 stars taking in extreme-poverty elderly: 1 from 2023, 3 in 2025 (one is
  3-star but takes none until 2025, one is 4-star but paused in 2024);
* town/street elderly-care centers operating on 31 Dec: 14 in 2020, 19 in 2025 (target 20 missed,
  reached in 2026); coverage 18 of 22 towns/streets in 2025; one center closes on 31 Dec 2023,
  one opens on 31 Dec 2022;
* intellectual-disability institutions with >= 50 beds: 1 from 2022, 2 in 2025 (one has exactly 50);
* mental-health welfare institutions with >= 100 beds: none until 2025 (missed; one has 99), 1 in 2026;
* child-welfare and minor-protection beds per 10,000 registered children: about 10 in 2020,
  above 15 from 2024.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from daxing_kpi.sample.generator import (
    DISTRICT_CODE,
    TRUTH_COLUMNS,
    YEARS,
    SampleGenerator,
    active_on,
    geo_codes,
    kpi_rows,
    names,
    phones,
    year_end,
)

RNG_NAME = "institutions"

OPERATING = "正常运营"
PAUSED = "暂停运营"
PLANNED = "筹建中"
ELDERLY = "养老机构"
TOWNSHIP_HOME = "乡镇敬老院"
INTELLECTUAL = "智力残疾人员社会福利机构"
MENTAL = "精神卫生福利机构"
CHILD_WELFARE = "儿童福利机构"
MINOR_PROTECTION = "未成年人救助保护机构"
STARS = ["未评定", "一星级", "二星级", "三星级", "四星级", "五星级"]
AGE_BANDS = ["0-5", "6-11", "12-17", "18-59", "60+"]

# Older exports spell some towns differently; the ingestion's alias table resolves them.
SPELLINGS = {"黄村地区": "黄村镇", "亦庄地区": "亦庄地区(亦庄镇)", "青云店镇": "青云店", "旧宫地区": "旧宫镇"}

REGISTER_COLUMNS = [
    "统计年度", "机构编码", "机构名称", "机构类别", "举办层级", "机构性质", "所在镇街", "床位数", "护养型床位数",
    "星级", "是否集中供养特困人员", "运营状态", "开业日期", "负责人", "联系电话",
]

# Scripted institutions: (name, category, sponsor level, ownership, town, opening date, steps).
# ``steps`` maps the first year of a state to (status, beds, nursing beds, star rating, takes in
# extreme-poverty support); a state holds until the next step. No step yet: not in the register.
SCRIPTED = [
    ("大兴区社会福利院", ELDERLY, "区级", "公办公营", "黄村地区", "1986-05-01", {
        2020: (OPERATING, 400, 180, "四星级", "是"), 2021: (OPERATING, 400, 200, "四星级", "是"),
        2022: (OPERATING, 400, 220, "四星级", "是"), 2023: (OPERATING, 400, 236, "四星级", "是"),
        2024: (OPERATING, 400, 240, "四星级", "是"), 2025: (OPERATING, 400, 260, "五星级", "是"),
        2026: (OPERATING, 400, 280, "五星级", "是")}),
    ("大兴区老年公寓", ELDERLY, "区级", "公建民营", "清源街道", "2003-09-01", {
        2020: (OPERATING, 200, 100, "三星级", "否"), 2021: (OPERATING, 200, 110, "三星级", "否"),
        2022: (PAUSED, 200, 150, "三星级", "否"), 2023: (OPERATING, 200, 118, "三星级", "否"),
        2024: (OPERATING, 200, 119, "三星级", "否"), 2025: (OPERATING, 200, 130, "四星级", "否")}),
    ("大兴区养老服务示范中心", ELDERLY, "区级", "公办公营", "瀛海地区", "2023-04-18", {
        2021: (PLANNED, 300, 210, "未评定", "否"), 2023: (OPERATING, 300, 210, "未评定", "是"),
        2024: (OPERATING, 300, 210, "三星级", "是"), 2025: (OPERATING, 300, 220, "四星级", "是")}),
    ("旧宫地区中心养老院", ELDERLY, "镇(街)级", "公办公营", "旧宫地区", "2012-10-01", {
        2020: (OPERATING, 120, 90, "三星级", "是")}),
    ("榆垡镇敬老院", TOWNSHIP_HOME, "镇(街)级", "公办公营", "榆垡镇", "1995-03-01", {
        2020: (OPERATING, 80, 30, "二星级", "是"), 2023: (OPERATING, 90, 40, "三星级", "是")}),
    ("庞各庄镇敬老院", TOWNSHIP_HOME, "镇(街)级", "公建民营", "庞各庄镇", "1998-06-01", {
        2020: (OPERATING, 100, 40, "二星级", "否"), 2021: (OPERATING, 100, 40, "三星级", "否"),
        2025: (OPERATING, 100, 50, "三星级", "是")}),
    ("采育镇敬老院", TOWNSHIP_HOME, "镇(街)级", "公办公营", "采育镇", "1993-09-01", {
        2020: (OPERATING, 60, 20, "二星级", "是"), 2024: (PAUSED, 60, 20, "四星级", "是"),
        2025: (OPERATING, 80, 40, "四星级", "是")}),
    ("大兴区智力残疾人托养中心", INTELLECTUAL, "区级", "公办公营", "黄村地区", "2022-06-01", {
        2021: (PLANNED, 60, None, None, "是"), 2022: (OPERATING, 60, None, None, "是")}),
    ("大兴区康乐智力残疾人养护院", INTELLECTUAL, "社会力量", "民办", "魏善庄镇", "2016-04-01", {
        2020: (OPERATING, 30, None, None, "否"), 2023: (OPERATING, 40, None, None, "否"),
        2024: (OPERATING, 49, None, None, "否"), 2025: (OPERATING, 50, None, None, "否")}),
    ("安定镇阳光智力残疾人家园", INTELLECTUAL, "镇(街)级", "公办公营", "安定镇", "2014-05-01", {
        2020: (OPERATING, 20, None, None, "是")}),
    ("大兴区民政精神卫生福利院", MENTAL, "区级", "公办公营", "庞各庄镇", "2009-11-01", {
        2020: (OPERATING, 80, None, None, "是"), 2024: (OPERATING, 99, None, None, "是")}),
    ("大兴区精神卫生福利中心", MENTAL, "区级", "公办公营", "礼贤镇", "2026-06-01", {
        2023: (PLANNED, 150, None, None, "是"), 2026: (OPERATING, 150, None, None, "是")}),
    ("大兴区儿童福利院", CHILD_WELFARE, "区级", "公办公营", "黄村地区", "1992-01-01", {
        2020: (OPERATING, 100, None, None, ""), 2022: (OPERATING, 120, None, None, ""),
        2023: (OPERATING, 150, None, None, ""), 2025: (OPERATING, 170, None, None, "")}),
    ("大兴区儿童福利院新院区", CHILD_WELFARE, "区级", "公办公营", "瀛海地区", "", {
        2025: (PLANNED, 200, None, None, "")}),
    ("大兴区未成年人救助保护中心", MINOR_PROTECTION, "区级", "公办公营", "西红门地区", "2015-07-01", {
        2020: (OPERATING, 30, None, None, ""), 2023: (OPERATING, 40, None, None, ""),
        2024: (OPERATING, 60, None, None, "")}),
]
CHILD_CATEGORIES = (CHILD_WELFARE, MINOR_PROTECTION)

# Town/street elderly-care centers: (town/street, opening date, closing date); "" = none.
CARE_CENTERS = [
    ("黄村地区", "2015-06-01", ""), ("黄村地区", "2018-09-01", ""), ("清源街道", "2016-03-15", ""),
    ("兴丰街道", "2017-05-20", ""), ("林校路街道", "2016-11-01", ""), ("亦庄地区", "2017-08-08", ""),
    ("旧宫地区", "2018-04-01", ""), ("西红门地区", "2016-07-01", ""), ("西红门地区", "2019-03-01", "2021-06-30"),
    ("瀛海地区", "2019-01-10", ""), ("青云店镇", "2018-10-18", ""), ("魏善庄镇", "2019-06-01", ""),
    ("庞各庄镇", "2017-12-01", "2023-12-31"), ("北臧村镇", "2020-05-01", "2022-08-31"),
    ("观音寺街道", "2021-03-01", ""), ("天宫院街道", "2021-09-15", ""), ("高米店街道", "2022-04-01", ""),
    ("采育镇", "2022-12-31", ""), ("荣华街道", "2023-06-01", ""), ("庞各庄镇", "2024-03-01", ""),
    ("榆垡镇", "2024-07-01", ""), ("安定镇", "2025-05-01", ""), ("博兴街道", "2026-03-01", ""),
    ("长子营镇", "2026-09-01", ""), ("礼贤镇", "", ""),
]
OPERATORS = ["北京康颐养老服务有限公司", "北京福寿康养老服务中心", "北京诚和敬养老服务有限公司", "镇(街)自营"]


def _state(steps: dict, year: int):
    """The state in force at the end of ``year``, or None before the first step."""
    started = [y for y in steps if y <= year]
    return steps[max(started)] if started else None


def _uscc(rng: np.random.Generator, ownership: str) -> str:
    """A unified social credit code (统一社会信用代码) of the right shape: 12 = public institution, 52 = private non-profit."""
    alphabet = np.array(list("0123456789ABCDEFGHJKLMNPQRTUWXY"))
    return ("52" if ownership == "民办" else "12") + "110115" + "".join(alphabet[rng.integers(0, alphabet.size, 10)])


def _half_up(x: float) -> int:
    return int(np.floor(x + 0.5))


def register(gen: SampleGenerator, rng: np.random.Generator) -> pd.DataFrame:
    """The yearly register of residential institutions: the scripted ones plus private elderly-care
    institutions and the other township homes (whose ratings stay below three stars)."""
    specs = []
    for name, cat, level, own, town, opened, steps in SCRIPTED:
        if cat in CHILD_CATEGORIES:  # child-welfare beds follow the district's size
            steps = {y: (s[0], max(1, _half_up(s[1] * gen.scale)), *s[2:]) for y, s in steps.items()}
        specs.append((name, cat, level, own, town, opened, steps))
    scripted_homes = {s[4] for s in SCRIPTED if s[1] == TOWNSHIP_HOME}
    for t in gen.towns:
        if t.name_zh.endswith("镇") and t.name_zh not in scripted_homes:
            beds = int(rng.integers(40, 121))
            star = STARS[int(rng.integers(0, 3))]
            takes = "是" if rng.random() < 0.8 else "否"
            steps = {2020: (OPERATING, beds, int(beds * rng.uniform(0.2, 0.7)), star, takes)}
            specs.append((f"{t.name_zh}敬老院", TOWNSHIP_HOME, "镇(街)级", "公办公营", t.name_zh, "1996-01-01", steps))
    town_names = [t.name_zh for t in gen.towns]
    for k in range(24):
        town = town_names[int(rng.integers(0, len(town_names)))]
        first = int(rng.integers(2005, 2026))
        beds = int(rng.integers(3, 41)) * 10
        share = rng.uniform(0.2, 0.8)
        star = int(rng.integers(0, 6))
        steps = {}
        for y in YEARS:
            if y < max(first, YEARS[0]):
                continue
            share = min(0.95, share + rng.uniform(0.0, 0.05))
            if rng.random() < 0.2:
                star = min(5, star + 1)
            status = PAUSED if rng.random() < 0.05 else OPERATING
            steps[y] = (status, beds, int(beds * share), STARS[star], "是" if rng.random() < 0.3 else "否")
        opened = f"{first}-{int(rng.integers(1, 13)):02d}-01"
        specs.append((f"北京{town[:2]}颐养家园第{k + 1}养老院", ELDERLY, "社会力量", "民办", town, opened, steps))
    codes = [_uscc(rng, s[3]) for s in specs]
    managers = names(rng, len(specs))
    mobiles = phones(rng, len(specs))
    rows = []
    for year in YEARS:
        for k, (name, cat, level, own, town, opened, steps) in enumerate(specs):
            state = _state(steps, year)
            if state is None:
                continue
            status, beds, nursing, star, takes = state
            spelled = SPELLINGS.get(town, town) if year <= 2021 else town
            rows.append((year, codes[k], name, cat, level, own, spelled, beds, "" if nursing is None else nursing,
                         star or "", takes, status, opened, managers[k], mobiles[k]))
    return pd.DataFrame(rows, columns=REGISTER_COLUMNS)


def care_centers(rng: np.random.Generator) -> pd.DataFrame:
    """The register of town/street elderly-care centers (one row per center)."""
    n = len(CARE_CENTERS)
    towns_spelled = [SPELLINGS.get(t, t) if k % 3 == 0 else t for k, (t, _, _) in enumerate(CARE_CENTERS)]
    seen: dict[str, int] = {}
    center_names = []
    for t, _, _ in CARE_CENTERS:
        seen[t] = seen.get(t, 0) + 1
        center_names.append(f"{t}养老照料中心" + ("" if seen[t] == 1 else f"(第{seen[t]}中心)"))
    return pd.DataFrame(
        {
            "序号": np.arange(1, n + 1),
            "中心编号": [f"ZL{k:03d}" for k in range(1, n + 1)],
            "中心名称": center_names,
            "所在镇街": towns_spelled,
            "运营机构": np.array(OPERATORS)[rng.integers(0, len(OPERATORS), n)],
            "开始运营日期": [c[1] for c in CARE_CENTERS],
            "停止运营日期": [c[2] for c in CARE_CENTERS],
            "床位数": rng.integers(2, 9, n) * 10,
            "负责人": names(rng, n),
            "联系电话": phones(rng, n),
        }
    )


def registered_population(gen: SampleGenerator, rng: np.random.Generator) -> pd.DataFrame:
    """户籍人口 by year, town/street and age band: a share of each town's residents."""
    n = len(gen.towns)
    hukou_share = rng.uniform(0.33, 0.45, n)
    child_share = rng.uniform(0.14, 0.19, n)
    old_share = rng.uniform(0.18, 0.26, n)
    young_split = rng.dirichlet([5, 5, 5], n)
    rows = []
    for year in YEARS:
        for i, t in enumerate(gen.towns):
            total = _half_up(gen.residents(i, year) * (hukou_share[i] - 0.002 * (year - YEARS[0])))
            children = _half_up(total * (child_share[i] - 0.001 * (year - YEARS[0])))
            b0 = _half_up(children * young_split[i, 0])
            b1 = _half_up(children * young_split[i, 1])
            old = _half_up(total * (old_share[i] + 0.004 * (year - YEARS[0])))
            counts = [b0, b1, children - b0 - b1, total - children - old, old]
            rows += [(year, t.name_zh, band, c) for band, c in zip(AGE_BANDS, counts)]
    return pd.DataFrame(rows, columns=["统计年度", "镇街", "年龄组", "户籍人口"])


def build(gen: SampleGenerator) -> dict[str, pd.DataFrame]:
    """The three landing frames (kept on ``gen.frames`` for :func:`ground_truth`)."""
    rng = gen.rng_for(RNG_NAME)
    frames = {
        "institutions": register(gen, rng),
        "care_centers": care_centers(rng),
        "registered_population": registered_population(gen, rng),
    }
    gen.frames.update(frames)
    return frames


# -- ground truth: the KPI values counted from the records with pandas ------------------------------


def _count_row(kpi: str, year: int, n: int, added: float | None = None) -> tuple:
    """A count KPI's district row: denominator 1, so value = numerator; ``added`` = new_in_year."""
    return (kpi, year, DISTRICT_CODE, float(n), 1.0, float(n), float("nan") if added is None else float(added), None)


def ground_truth(gen: SampleGenerator) -> pd.DataFrame:
    """:data:`TRUTH_COLUMNS` of the seven institution KPIs. Counts give the stock at year end and new_in_year
    (doc count_stock_rule): for built institutions (建成) those qualifying whose opening date (开业日期) falls in
    the year; for the three-star township homes (改造: a rating has no date) those qualifying that did not in
    the previous year's register (NaN in the register's first year); for the care centers those operating
    that opened during the year."""
    reg = gen.frames["institutions"]
    centers = gen.frames["care_centers"]
    pop = gen.frames["registered_population"]
    code_of = geo_codes(gen.towns)
    official = {v: k for k, v in SPELLINGS.items()}
    out: list[tuple] = []
    first_year = int(reg["统计年度"].min()) if len(reg) else None
    qualifying_before: set[str] | None = None
    for year in YEARS:
        r = reg[(reg["统计年度"] == year) & (reg["运营状态"] == OPERATING)]
        if (reg["统计年度"] == year).any():
            beds = pd.to_numeric(r["床位数"])
            nursing = pd.to_numeric(r["护养型床位数"].replace("", np.nan))
            opened_now = r["开业日期"].astype(str).str[:4] == str(year)
            public_district = (r["机构类别"] == ELDERLY) & (r["举办层级"] == "区级") & r["机构性质"].isin(["公办公营", "公建民营"])
            q = public_district & (beds > 0) & (nursing * 100 >= beds * 60)
            out.append(_count_row("eldercare.nursing_bed_60pct_public_institutions", year, int(q.sum()), int((q & opened_now).sum())))
            q = (r["机构类别"] == TOWNSHIP_HOME) & r["星级"].isin(STARS[3:]) & (r["是否集中供养特困人员"] == "是")
            homes = set(r.loc[q, "机构编码"])
            entered = None if year == first_year else len(homes - (qualifying_before or set()))
            qualifying_before = homes
            out.append(_count_row("eldercare.three_star_township_homes", year, len(homes), entered))
            q = (r["机构类别"] == INTELLECTUAL) & (beds >= 50)
            out.append(_count_row("disability.intellectual_disability_institutions", year, int(q.sum()), int((q & opened_now).sum())))
            q = (r["机构类别"] == MENTAL) & (beds >= 100)
            out.append(_count_row("disability.mental_health_welfare_institutions", year, int(q.sum()), int((q & opened_now).sum())))
            p = pop[(pop["统计年度"] == year) & pop["年龄组"].isin(["0-5", "6-11", "12-17"])]
            children = int(p["户籍人口"].sum())
            if children > 0:
                child_beds = int(beds[r["机构类别"].isin(CHILD_CATEGORIES)].sum())
                out.append(("children.institution_beds_per_10k_children", year, DISTRICT_CODE, float(child_beds),
                            float(children), child_beds / children * 10_000))
        else:
            qualifying_before = set()
        snap = year_end(year).isoformat()
        open_ = active_on(centers, "开始运营日期", "停止运营日期", snap)
        town = open_["所在镇街"].map(lambda s: official.get(s, s))
        opened = open_["开始运营日期"] >= f"{year}-01-01"
        plan_towns = [t.name_zh for t in gen.towns]
        per_town = town.value_counts()
        opened_per_town = town[opened].value_counts()
        # operating centers: a count per town/street of the 22 (0 where none) and any other geography with one,
        # and the district total (denominator 1); new_in_year: those that opened during the year
        for name, code in code_of.items():
            if name in plan_towns or name in per_town.index:
                n = float(per_town.get(name, 0))
                out.append(("eldercare.care_centers_operating", year, code, n, 1.0, n, float(opened_per_town.get(name, 0)), None))
        out.append(_count_row("eldercare.care_centers_operating", year, int(len(town)), int(opened.sum())))
        # coverage: 1 per town/street with a center, over the 22 towns/streets
        covered = per_town.reindex(plan_towns, fill_value=0)
        ones = pd.Series(1, index=covered.index)
        out += kpi_rows("eldercare.care_center_town_coverage", year, (covered > 0).astype(int), ones, 100,
                        {t.name_zh: t.code for t in gen.towns})
    return pd.DataFrame([r + (float("nan"),) * (len(TRUTH_COLUMNS) - len(r)) for r in out], columns=TRUTH_COLUMNS)
