"""Sample plug-in: social organisations, social work and cemetery service areas.

Plan sections 二(三)3 (community social organisations, 社区社会组织, and their federations,
联合会), 二(四)2-3 (social-work agencies, professionals and community workers, 社会工作) and
三(二) (town-level public-welfare cemeteries, 镇级公益性公墓). Landing folders (scale 1, about):

* ``social_orgs`` (about 8,500 rows): social-organisation register (社会组织登记备案名册), one row
  per organisation: category, registered (登记), filed (备案) or not filed (未备案), town/street,
  founding and deregistration dates;
* ``social_org_federations`` (16): town/street federations of community social organisations
  (社区社会组织联合会), one row each;
* ``social_work_agencies`` (200): professional social-work agencies (社会工作专业服务机构) with
  registration and closing dates;
* ``social_work_professionals`` (6,200): social-work professionals (社会工作专业人才), one row per
  person and employment, certificate level and date;
* ``community_workers`` (5,200): community-worker roster (社区工作者花名册), one row per worker and
  employment, serving community and residence community code (and a residence address, PII);
* ``cemetery_service_areas`` (42): cemetery service areas (公墓服务范围), one row per cemetery and
  town/street served, with service start and end dates.

Counts of organisations, agencies, professionals and workers grow with ``gen.scale``; federations
and cemeteries do not (one per town/street at most). Trends: the community-organisation,
federation and professional targets are met in 2025 at scale 1; the agency, certified-professional,
local-worker and cemetery-coverage targets are missed.

:func:`ground_truth` counts the seven KPIs from these records with its own pandas code.
"""

from __future__ import annotations

import csv
import datetime as dt

import numpy as np
import pandas as pd

from daxing_kpi.paths import SEEDS_DIR
from daxing_kpi.sample.generator import (
    BASE_YEAR,
    CUTOFF,
    DISTRICT_CODE,
    TRUTH_COLUMNS,
    YEARS,
    SampleGenerator,
    _dates_to_str,
    _days,
    active_on,
    geo_codes,
    kpi_rows,
    names,
    persons_on,
    phones,
    reuse_leavers,
    year_end,
)

STREAM = "organisations"
EPOCH = dt.date(1970, 1, 1)
CUTOFF_DAY = (CUTOFF - EPOCH).days

COMMUNITY_ORG_KINDS = ["文体队", "志愿服务队", "老年协会", "读书会", "调解队", "邻里互助会", "合唱团", "书画社", "巡逻队", "环保小组"]
OTHER_ORG_CATEGORIES = {  # category -> (name suffixes, legal forms)
    "行业协会商会": (["行业协会", "商会"], ["社会团体"]),
    "社会服务类": (["社会工作事务所", "养老服务中心", "康复服务中心"], ["社会服务机构"]),
    "公益慈善类": (["公益基金会", "慈善协会"], ["基金会", "社会团体"]),
    "科技类": (["科技服务中心", "科普协会"], ["社会服务机构", "社会团体"]),
    "应急类": (["应急救援队", "防灾减灾协会"], ["社会团体"]),
}
CERT_LEVELS = ["助理社会工作师", "社会工作师", "高级社会工作师"]
CERT_WEIGHTS = [0.70, 0.27, 0.03]
COMMUNITY_SYLLABLES = list("兴康丰泰和顺安宁华清盛德瑞福景园林苑欣悦怡馨")
OUTSIDE_ADDRESSES = ["北京市丰台区", "北京市房山区", "北京市朝阳区", "河北省固安县", "河北省廊坊市广阳区"]
TOWN_GOVERNMENT_KINDS = ("town", "area")  # kinds of township units that are towns (镇; 地区 = 镇 + 街道)


def _linear(start: float, end: float, year: int) -> float:
    """A 2020 -> 2025 linear trend, continued into 2026."""
    return start + (end - start) * (year - BASE_YEAR) / 5


def _day(d: dt.date) -> int:
    return (d - EPOCH).days


def _iso(days: np.ndarray) -> np.ndarray:
    """ISO date strings of day numbers; "" where the day number is -1 (no date)."""
    days = np.asarray(days, dtype=np.int64)
    return np.where(days >= 0, _dates_to_str(np.maximum(days, 0)), "")


def _stock_flow(rng: np.random.Generator, targets: list[int], exit_rate: float, first_day: int) -> tuple[np.ndarray, np.ndarray]:
    """Entry and exit day numbers (-1: no exit) so the stock active on each year's snapshot date is
    exactly ``targets[k]`` (one per year of ``YEARS``): a 2020 stock founded since ``first_day``,
    then yearly exits at ``exit_rate`` (more where the stock shrinks) and entries to refill."""
    entry = np.array([], dtype=np.int64)
    exit_ = np.array([], dtype=np.int64)
    for k, year in enumerate(YEARS):
        d0, d1 = _days(year)
        target = int(targets[k])
        if k == 0:
            entry = rng.integers(first_day, d1 + 1, target)
            exit_ = np.full(target, -1, dtype=np.int64)
            continue
        active = np.flatnonzero(exit_ == -1)
        leave = active[rng.random(active.size) < exit_rate]
        exit_[leave] = rng.integers(d0, d1 + 1, leave.size)
        still = np.flatnonzero(exit_ == -1)
        if still.size > target:
            drop = rng.choice(still, still.size - target, replace=False)
            exit_[drop] = rng.integers(d0, d1 + 1, drop.size)
        add = max(target - still.size, 0)
        entry = np.concatenate([entry, rng.integers(d0, d1 + 1, add)])
        exit_ = np.concatenate([exit_, np.full(add, -1, dtype=np.int64)])
    return entry, exit_


def town_kinds() -> dict[str, str]:
    """Chinese name -> kind (street, area, town, special_zone) from ``seeds/townships.csv``."""
    with open(SEEDS_DIR / "townships.csv", encoding="utf-8") as f:
        return {r["name_zh"]: r["kind"] for r in csv.DictReader(f)}


# -- sources ---------------------------------------------------------------------------------


def _social_orgs(gen: SampleGenerator, rng: np.random.Generator, weights: np.ndarray) -> pd.DataFrame:
    parts = []
    start_day = _day(dt.date(2005, 1, 1))
    for i, t in enumerate(gen.towns):
        start = 3_900 * gen.scale * weights[i]
        end = start * rng.uniform(1.30, 1.85)
        counted = [max(1, round(_linear(start, end, y))) for y in YEARS]
        entry, exit_ = _stock_flow(rng, counted, 0.03, start_day)
        n = entry.size
        filing = np.where(rng.random(n) < 0.12, "登记", "备案")
        parts.append(pd.DataFrame({"town": t.name_zh, "category": "社区社会组织", "filing": filing, "entry": entry, "exit": exit_,
                                   "form": np.where(filing == "登记", np.where(rng.random(n) < 0.6, "社会团体", "社会服务机构"), ""),
                                   "suffix": np.array(COMMUNITY_ORG_KINDS)[rng.integers(0, len(COMMUNITY_ORG_KINDS), n)]}))
        # known to the street office but neither registered nor filed (培育中): not counted
        unfiled = [max(0, round(0.06 * c)) for c in counted]
        entry, exit_ = _stock_flow(rng, unfiled, 0.10, _day(dt.date(2015, 1, 1)))
        parts.append(pd.DataFrame({"town": t.name_zh, "category": "社区社会组织", "filing": "未备案", "entry": entry, "exit": exit_,
                                   "form": "", "suffix": np.array(COMMUNITY_ORG_KINDS)[rng.integers(0, len(COMMUNITY_ORG_KINDS), entry.size)]}))
        # organisations of other categories: registered, not community organisations
        others = [max(0, round(_linear(22, 26, y) * gen.scale * weights[i] * 22)) for y in YEARS]
        entry, exit_ = _stock_flow(rng, others, 0.04, _day(dt.date(1998, 1, 1)))
        cats = np.array(list(OTHER_ORG_CATEGORIES))[rng.integers(0, len(OTHER_ORG_CATEGORIES), entry.size)]
        suffix = np.array([OTHER_ORG_CATEGORIES[c][0][rng.integers(0, len(OTHER_ORG_CATEGORIES[c][0]))] for c in cats], dtype=object)
        form = np.array([OTHER_ORG_CATEGORIES[c][1][rng.integers(0, len(OTHER_ORG_CATEGORIES[c][1]))] for c in cats], dtype=object)
        parts.append(pd.DataFrame({"town": t.name_zh, "category": cats, "filing": "登记", "entry": entry, "exit": exit_,
                                   "form": form, "suffix": suffix}))
    df = pd.concat(parts, ignore_index=True)
    df = df.iloc[np.argsort(df["entry"].to_numpy(), kind="stable")].reset_index(drop=True)
    n = len(df)
    seq = np.arange(1, n + 1)
    status = np.where(df["exit"] >= 0, np.where(rng.random(n) < 0.9, "已注销", "已撤销"), "正常")
    org_id = np.where(df["filing"] == "登记", np.char.add("5111011505", np.char.zfill(seq.astype(str), 8)),
                      np.char.add("DXBA", np.char.zfill(seq.astype(str), 8)))
    return pd.DataFrame(
        {
            "组织编号": org_id,
            "组织名称": (df["town"] + df["suffix"] + pd.Series(seq).astype(str).str.zfill(5)).to_numpy(),
            "组织类别": df["category"].to_numpy(),
            "组织形式": df["form"].to_numpy(),
            "登记备案状态": df["filing"].to_numpy(),
            "所在镇街": df["town"].to_numpy(),
            "成立日期": _iso(df["entry"].to_numpy()),
            "状态": status,
            "注销日期": _iso(df["exit"].to_numpy()),
            "负责人": names(rng, n),
            "联系电话": phones(rng, n),
        }
    )


def _federations(gen: SampleGenerator, rng: np.random.Generator) -> pd.DataFrame:
    """7 towns/streets with a federation before 2020, 14 of 22 in 2025 (63.6%), 15 in 2026;
    one federation dissolved on 31 Dec 2022 and re-founded in 2023."""
    order = rng.permutation(len(gen.towns))
    founded_in = [None] * 7 + [2021, 2022, 2022, 2023, 2024, 2024, 2025, 2026]
    rows = []
    for k, year in enumerate(founded_in):
        t = gen.towns[order[k]]
        if year is None:
            day = int(rng.integers(_day(dt.date(2015, 1, 1)), _day(dt.date(2019, 12, 31)) + 1))
        else:
            d0, d1 = _days(year)
            day = int(rng.integers(d0, d1 + 1))
        rows.append([t.name_zh, day, -1])
    rows[1][2] = _day(dt.date(2022, 12, 31))  # dissolved on 31 Dec 2022: not covering that year
    rows.append([rows[1][0], int(rng.integers(_day(dt.date(2023, 3, 1)), _day(dt.date(2023, 9, 30)))), -1])
    df = pd.DataFrame(rows, columns=["town", "entry", "exit"])
    n = len(df)
    return pd.DataFrame(
        {
            "联合会编号": [f"5111011551{k:08d}" for k in range(1, n + 1)],
            "联合会名称": (df["town"] + "社区社会组织联合会").to_numpy(),
            "所在镇街": df["town"].to_numpy(),
            "成立日期": _iso(df["entry"].to_numpy()),
            "注销日期": _iso(df["exit"].to_numpy()),
            "负责人": names(rng, n),
            "联系电话": phones(rng, n),
        }
    )


def _agencies(gen: SampleGenerator, rng: np.random.Generator, weights: np.ndarray) -> pd.DataFrame:
    targets = [max(1, round(_linear(96, 152, y) * gen.scale)) for y in YEARS]
    entry, exit_ = _stock_flow(rng, targets, 0.05, _day(dt.date(2008, 1, 1)))
    n = entry.size
    town_names = np.array([t.name_zh for t in gen.towns])
    town = town_names[rng.choice(len(gen.towns), n, p=weights)]
    order = np.argsort(entry, kind="stable")
    entry, exit_, town = entry[order], exit_[order], town[order]
    kinds = np.array(["社会工作事务所", "社会工作服务中心", "社工服务社"])[rng.integers(0, 3, n)]
    return pd.DataFrame(
        {
            "统一社会信用代码": [f"5211011507{k:08d}" for k in range(1, n + 1)],
            "机构名称": [f"北京市大兴区{t}{k:03d}{s}" for k, (t, s) in enumerate(zip(town, kinds), start=1)],
            "所在镇街": town,
            "登记日期": _iso(entry),
            "状态": np.where(exit_ >= 0, "已注销", "正常"),
            "注销日期": _iso(exit_),
            "法定代表人": names(rng, n),
            "联系电话": phones(rng, n),
        }
    )


def _professionals(gen: SampleGenerator, rng: np.random.Generator, weights: np.ndarray, agencies: pd.DataFrame) -> pd.DataFrame:
    targets = [max(1, round(_linear(2_650, 4_180, y) * gen.scale)) for y in YEARS]
    entry, exit_ = _stock_flow(rng, targets, 0.08, _day(dt.date(2006, 1, 1)))
    n = entry.size
    town_idx = rng.choice(len(gen.towns), n, p=weights)
    # certificate (社会工作者职业水平证书): about 45% of people pass the exam some time around their entry
    cert_day = entry + rng.integers(-3 * 365, 5 * 365, n)
    has_cert = (rng.random(n) < 0.45) & (cert_day <= CUTOFF_DAY) & (cert_day >= _day(dt.date(2008, 6, 1)))
    level = np.where(has_cert, np.array(CERT_LEVELS)[rng.choice(3, n, p=CERT_WEIGHTS)], np.where(rng.random(n) < 0.8, "无", ""))
    cert_day = np.where(has_cert, cert_day, -1)
    birth = entry - rng.integers(22 * 365, 50 * 365, n)
    sex = np.where(rng.random(n) < 0.72, "女", "男")
    ids = gen.ids.new(rng, birth, sex)  # one ID number per person, never shared
    person = np.arange(n)
    # about 3% change employer (a second row from the change date; the first row ends that day)
    movers = np.flatnonzero((exit_ == -1) & (rng.random(n) < 0.03) & (entry < CUTOFF_DAY - 30))
    change = np.array([int(rng.integers(entry[k] + 1, CUTOFF_DAY + 1)) for k in movers], dtype=np.int64)
    exit_[movers] = change
    entry = np.concatenate([entry, change])
    exit_ = np.concatenate([exit_, np.full(movers.size, -1, dtype=np.int64)])
    town_idx = np.concatenate([town_idx, rng.choice(len(gen.towns), movers.size, p=weights)])
    person = np.concatenate([person, movers])
    # about 1% also work for a second employer while still on the first one's roster (two active rows)
    doubles = np.flatnonzero((exit_ == -1) & (entry < CUTOFF_DAY - 400) & (rng.random(entry.size) < 0.01))
    entry = np.concatenate([entry, entry[doubles] + rng.integers(30, 400, doubles.size)])
    exit_ = np.concatenate([exit_, np.full(doubles.size, -1, dtype=np.int64)])
    town_idx = np.concatenate([town_idx, rng.choice(len(gen.towns), doubles.size, p=weights)])
    person = np.concatenate([person, person[doubles]])
    m = entry.size
    town_names = np.array([t.name_zh for t in gen.towns])
    agency_by_town = agencies.groupby("所在镇街")["机构名称"].apply(list).to_dict()
    employer = []
    for k in range(m):
        tn = town_names[town_idx[k]]
        pool = agency_by_town.get(tn, []) + [f"大兴区{tn}社会工作服务站", f"北京{tn}社区服务中心"]
        employer.append(pool[int(rng.integers(0, len(pool)))])
    order = np.lexsort((person, entry))
    return pd.DataFrame(
        {
            "序号": np.arange(1, m + 1),
            "姓名": names(rng, n)[person][order],
            "身份证号码": ids[person][order],
            "性别": sex[person][order],
            "证书等级": level[person][order],
            "取得证书日期": _iso(cert_day[person][order]),
            "工作单位": np.array(employer, dtype=object)[order],
            "所在镇街": town_names[town_idx][order],
            "入职日期": _iso(entry[order]),
            "离职日期": _iso(exit_[order]),
            "联系电话": phones(rng, n)[person][order],
        }
    )


def _community_names(rng: np.random.Generator, n: int) -> list[str]:
    syl = np.array(COMMUNITY_SYLLABLES)
    return [f"{a}{b}社区" for a, b in zip(syl[rng.integers(0, syl.size, n)], syl[rng.integers(0, syl.size, n)])]


def _community_workers(gen: SampleGenerator, rng: np.random.Generator) -> pd.DataFrame:
    """Per community: a roster whose size follows a trend; new hires live in the community they serve
    more often every year (from about a third in 2020)."""
    communities = []  # (town index, code, name)
    for i, t in enumerate(gen.towns):
        n_comm = max(1, round(int(rng.integers(6, 26)) * gen.scale))
        for k, name in enumerate(_community_names(rng, n_comm), start=1):
            communities.append((i, f"{t.code}{k:03d}", name))
    codes = np.array([c[1] for c in communities])
    p0 = rng.uniform(0.24, 0.42, len(gen.towns))
    slope = rng.uniform(0.05, 0.13, len(gen.towns))
    parts = []
    for c, (i, code, name) in enumerate(communities):
        size = rng.uniform(7, 11)
        targets = [max(1, round(_linear(size, size * rng.uniform(1.0, 1.3), y))) for y in YEARS]
        entry, exit_ = _stock_flow(rng, targets, 0.10, _day(dt.date(2010, 1, 1)))
        hire_year = pd.to_datetime(entry, unit="D").year.to_numpy()
        p = np.where(hire_year <= BASE_YEAR, p0[i], np.minimum(p0[i] + slope[i] * (hire_year - BASE_YEAR), 0.95))
        local = rng.random(entry.size) < p
        parts.append(pd.DataFrame({"town": i, "community": c, "entry": entry, "exit": exit_, "local": local}))
    df = pd.concat(parts, ignore_index=True)
    n = len(df)
    serve_code = codes[df["community"].to_numpy()]
    elsewhere = codes[rng.integers(0, codes.size, n)]
    elsewhere = np.where(elsewhere == serve_code, "", elsewhere)  # drew its own community: lives outside the district
    outside = rng.random(n) < 0.4
    local = df["local"].to_numpy()
    res_code = np.where(local, serve_code, np.where(outside, "", elsewhere))
    name_of = {c[1]: c[2] for c in communities}
    town_of = {c[1]: gen.towns[c[0]].name_zh for c in communities}
    address = [
        f"北京市大兴区{town_of[rc]}{name_of[rc]}{int(rng.integers(1, 30))}号楼{int(rng.integers(1, 7))}单元{int(rng.integers(101, 1802))}"
        if rc else f"{OUTSIDE_ADDRESSES[int(rng.integers(0, len(OUTSIDE_ADDRESSES)))]}某小区{int(rng.integers(1, 30))}号楼"
        for rc in res_code
    ]
    entry = df["entry"].to_numpy()
    exit_ = df["exit"].to_numpy()
    # about one hire in twelve from 2021 on is a community worker who left another community within half a
    # year before (a change of post: the same ID number, never two posts on the same day)
    person = reuse_leavers(rng, np.arange(n), entry, exit_, share=1 / 12, window_days=180,
                           first_day=(dt.date(2021, 1, 1) - EPOCH).days)
    first_entry = pd.Series(entry).groupby(person).min()
    sex_p = np.where(rng.random(first_entry.size) < 0.65, "女", "男")
    ids_p = gen.ids.new(rng, first_entry.to_numpy() - rng.integers(21 * 365, 50 * 365, first_entry.size), sex_p)
    pos = first_entry.index.get_indexer(person)
    order = np.lexsort((df["community"].to_numpy(), entry))
    town_names = np.array([t.name_zh for t in gen.towns])
    positions = np.array(["社区专职工作者", "社区专职工作者", "社区专职工作者", "社区居委会委员", "社区党组织书记", "社区居委会主任"])
    return pd.DataFrame(
        {
            "序号": np.arange(1, n + 1),
            "姓名": names(rng, first_entry.size)[pos][order],
            "身份证号码": ids_p[pos][order],
            "性别": sex_p[pos][order],
            "所属镇街": town_names[df["town"].to_numpy()][order],
            "服务社区": np.array([name_of[c] for c in serve_code])[order],
            "服务社区代码": serve_code[order],
            "岗位": positions[rng.integers(0, positions.size, n)][order],
            "现居住地址": np.array(address, dtype=object)[order],
            "居住社区代码": res_code[order],
            "联系电话": phones(rng, n)[order],
            "入职日期": _iso(entry[order]),
            "离职日期": _iso(exit_[order]),
        }
    )


def _cemetery_service_areas(gen: SampleGenerator, rng: np.random.Generator) -> pd.DataFrame:
    """Town-level public-welfare cemeteries and the towns/streets they serve: 6 of the 14 towns
    served before 2020, 13 in 2025 (missed), all 14 in 2026; one service ended on 31 Dec 2023 and
    was taken over in 2024; a commercial cemetery (经营性公墓) serves every town/street (not counted)."""
    kinds = town_kinds()
    by_name = {t.name_zh: t for t in gen.towns}
    town_units = [t for t in gen.towns if kinds[t.name_zh] in TOWN_GOVERNMENT_KINDS]
    streets = [t for t in gen.towns if kinds[t.name_zh] not in TOWN_GOVERNMENT_KINDS]
    order = [town_units[k] for k in rng.permutation(len(town_units))]
    served_from = [None] * 6 + [2021, 2022, 2022, 2023, 2023, 2024, 2025, 2026]
    rows = []  # cemetery name, type, location, served town, opening day, closing day

    def day_in(year):
        if year is None:
            return int(rng.integers(_day(dt.date(2008, 1, 1)), _day(dt.date(2019, 12, 31)) + 1))
        d0, d1 = _days(year)
        return int(rng.integers(d0, d1 + 1))

    k = 0
    while k < len(order):
        host = order[k]
        group = order[k : k + int(rng.integers(1, 3))]  # a cemetery serving one or two towns
        cem = f"{host.name_zh.removesuffix('地区').removesuffix('镇')}镇公益性公墓"
        first = day_in(served_from[k])
        for j, t in enumerate(group):
            rows.append([cem, "公益性公墓", host.name_zh, t.name_zh, first if j == 0 else max(first, day_in(served_from[k + j])), -1])
        if rng.random() < 0.5:  # some also take burials from a neighbouring street
            rows.append([cem, "公益性公墓", host.name_zh, streets[int(rng.integers(0, len(streets)))].name_zh, first, -1])
        k += len(group)
    # one town whose service ended on 31 Dec 2023 and was taken over by another cemetery in 2024
    early = next(r for r in rows if r[4] < _day(dt.date(2020, 1, 1)) and r[2] == r[3])
    early[5] = _day(dt.date(2023, 12, 31))
    other = next(r for r in rows if r[0] != early[0] and r[4] < _day(dt.date(2020, 1, 1)))
    rows.append([other[0], "公益性公墓", other[2], early[3], day_in(2024), -1])
    commercial = "长青园公墓"
    for t in gen.towns:
        rows.append([commercial, "经营性公墓", "青云店镇" if "青云店镇" in by_name else gen.towns[0].name_zh, t.name_zh,
                     _day(dt.date(2004, 4, 1)), -1])
    df = pd.DataFrame(rows, columns=["cemetery", "type", "location", "served", "entry", "exit"])
    cem_ids = {c: f"GM{j:03d}" for j, c in enumerate(dict.fromkeys(df["cemetery"]), start=1)}
    return pd.DataFrame(
        {
            "公墓编号": df["cemetery"].map(cem_ids).to_numpy(),
            "公墓名称": df["cemetery"].to_numpy(),
            "公墓性质": df["type"].to_numpy(),
            "公墓所在镇街": df["location"].to_numpy(),
            "服务镇街": df["served"].to_numpy(),
            "服务起始日期": _iso(df["entry"].to_numpy()),
            "服务终止日期": _iso(df["exit"].to_numpy()),
        }
    )


def build(gen: SampleGenerator) -> dict[str, pd.DataFrame]:
    """The six landing frames of this domain (deterministic for the generator's seed and scale);
    also kept on ``gen.organisation_frames`` for :func:`ground_truth`."""
    rng = gen.rng_for(STREAM)
    w = gen.residents_2020 / gen.residents_2020.sum() * rng.uniform(0.7, 1.3, len(gen.towns))
    weights = w / w.sum()
    agencies = _agencies(gen, rng, weights)
    frames = {
        "social_orgs": _social_orgs(gen, rng, weights),
        "social_org_federations": _federations(gen, rng),
        "social_work_agencies": agencies,
        "social_work_professionals": _professionals(gen, rng, weights, agencies),
        "community_workers": _community_workers(gen, rng),
        "cemetery_service_areas": _cemetery_service_areas(gen, rng),
    }
    gen.organisation_frames = frames
    return frames


# -- ground truth ----------------------------------------------------------------------------


def _active(df: pd.DataFrame, start: str, end: str, snap: str, status: str | None = None) -> pd.DataFrame:
    """Rows begun on or before the snapshot date and not ended on or before it (the one date rule); with
    ``status``, a row marked 已注销/已撤销 without a date is not active."""
    return active_on(df, start, end, snap, status)


def _count_rows(kpi: str, year: int, by_town: pd.Series, district: int, code_of: dict[str, str], register: pd.DataFrame,
                plan_towns: set[str], added_by_town: pd.Series | None = None, added: int | None = None) -> list[tuple]:
    """Count KPIs: a row per town/street of the 22 (0 where none is counted), per other geography of ``code_of``
    with something counted (a special zone, the unassigned geography ``''``) and the district, denominator 1;
    ``new_in_year`` from ``added_by_town``/``added`` (NaN without). No rows when the source register is empty."""
    if register.empty:
        return []
    nan = float("nan")
    rows = []
    for name, code in code_of.items():
        if name in plan_towns or by_town.get(name, 0) > 0:
            n = float(by_town.get(name, 0))
            a = nan if added_by_town is None else float(added_by_town.get(name, 0))
            rows.append((kpi, year, code, n, 1.0, n, a, None))
    rows.append((kpi, year, DISTRICT_CODE, float(district), 1.0, float(district), nan if added is None else float(added), None))
    return rows


def ground_truth(gen: SampleGenerator) -> pd.DataFrame:
    """The seven KPIs counted from this domain's records with pandas (independent of dbt).

    Columns :data:`TRUTH_COLUMNS`; counts have denominator 1 (organisations and agencies with new_in_year:
    those founded during the year); coverage and shares are in %. Professionals and community workers are
    counted as persons (:func:`daxing_kpi.sample.generator.persons_on`: once, in the town/street of their
    active record that started first).
    """
    f = getattr(gen, "organisation_frames", None) or build(gen)
    code_of = geo_codes(gen.towns)
    plan_towns = {t.name_zh for t in gen.towns}
    kinds = town_kinds()
    town_units = [t.name_zh for t in gen.towns if kinds[t.name_zh] in TOWN_GOVERNMENT_KINDS]
    orgs, feds, agencies = f["social_orgs"], f["social_org_federations"], f["social_work_agencies"]
    pros, workers, cem = f["social_work_professionals"], f["community_workers"], f["cemetery_service_areas"]
    out: list[tuple] = []
    for year in YEARS:
        snap = year_end(year).isoformat()
        jan1 = f"{year}-01-01"
        # 镇(街)社区社会组织联合会覆盖率: towns/streets with a federation on the snapshot date ÷ 22
        covered = set(_active(feds, "成立日期", "注销日期", snap)["所在镇街"])
        num = pd.Series({t.name_zh: float(t.name_zh in covered) for t in gen.towns})
        if len(feds):
            out += kpi_rows("social_org.federation_town_coverage", year, num, pd.Series(1.0, index=num.index), 100,
                            {t.name_zh: t.code for t in gen.towns})
        # 社区社会组织数: community organisations registered or filed, active on the snapshot date
        o = orgs[(orgs["组织类别"] == "社区社会组织") & orgs["登记备案状态"].isin(["登记", "备案"])]
        o = _active(o, "成立日期", "注销日期", snap, status="状态")
        new = o[o["成立日期"] >= jan1]
        out += _count_rows("social_org.community_social_orgs", year, o.groupby("所在镇街")["组织编号"].nunique(),
                           o["组织编号"].nunique(), code_of, orgs, plan_towns,
                           new.groupby("所在镇街")["组织编号"].nunique(), new["组织编号"].nunique())
        # 社会工作专业服务机构数
        a = _active(agencies, "登记日期", "注销日期", snap, status="状态")
        new = a[a["登记日期"] >= jan1]
        out += _count_rows("social_work.agencies", year, a.groupby("所在镇街")["统一社会信用代码"].nunique(),
                           a["统一社会信用代码"].nunique(), code_of, agencies, plan_towns,
                           new.groupby("所在镇街")["统一社会信用代码"].nunique(), new["统一社会信用代码"].nunique())
        # 社区工作者本社区化率: workers (persons) living in the community they serve ÷ all workers (persons)
        w = persons_on(workers, "入职日期", "离职日期", snap)
        local = w[w["居住社区代码"] == w["服务社区代码"]]
        out += kpi_rows("social_work.community_workers_local_share", year, local.groupby("所属镇街").size(),
                        w.groupby("所属镇街").size(), 100, code_of)
        # 社会工作专业人才总量 and 持证社会工作专业人才数: persons, each in one town/street
        p = persons_on(pros, "入职日期", "离职日期", snap)
        out += _count_rows("social_work.professionals", year, p.groupby("所在镇街").size(), len(p), code_of, pros, plan_towns)
        act = _active(pros, "入职日期", "离职日期", snap)
        holds = act[act["证书等级"].isin(CERT_LEVELS) & (act["取得证书日期"] != "") & (act["取得证书日期"] <= snap)]
        ids = act["身份证号码"].astype(str) if "身份证号码" in act.columns else pd.Series("", index=act.index)
        key = ids.where(ids != "", "row:" + act.index.astype(str))
        certified = set(key[holds.index])
        p_key = p["_person"]
        c = p[p_key.isin(certified)]
        out += _count_rows("social_work.certified_professionals", year, c.groupby("所在镇街").size(), len(c), code_of, pros, plan_towns)
        # 镇级公益性公墓服务覆盖率: towns served by a public-welfare cemetery ÷ towns
        served = set(_active(cem[cem["公墓性质"] == "公益性公墓"], "服务起始日期", "服务终止日期", snap)["服务镇街"])
        num = pd.Series({name: float(name in served) for name in town_units})
        if len(cem):
            out += kpi_rows("funeral.township_cemetery_coverage", year, num, pd.Series(1.0, index=num.index), 100,
                            {t.name_zh: t.code for t in gen.towns})
    return pd.DataFrame([r + (float("nan"),) * (len(TRUTH_COLUMNS) - len(r)) for r in out], columns=TRUTH_COLUMNS)
