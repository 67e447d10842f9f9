"""Deterministic sample-data generator: the files a civil-affairs bureau receives.

``generate(out_dir, scale=1.0, seed=20211)`` writes, under ``out_dir/landing/<source>/``,
one CSV export per source (UTF-8, Chinese headers as in ``contracts/``) covering the plan's
baseline year 2020 through the data cut-off ``CUTOFF`` (2026-10-31):

=====================  ============================================  ==========================
landing folder         content                                       scale 1 (about)
=====================  ============================================  ==========================
``population``         resident population by year, town/street and  616 rows
                       age band (statistics bureau; 2026 = latest
                       estimate)
``care_workers``       elderly-care worker roster, one row per worker 4,000 rows
``burials``            burial records, one row per burial            70,000 rows
``volunteers``         real-name registered volunteers               600,000 rows
``service_items``      government-service catalog, item x year       1,260 rows
``service_cases``      handled cases, one row per case               560,000 rows
=====================  ============================================  ==========================

Scale 1 is a district of about 2.0 million residents in the 22 towns/streets of
``seeds/townships.csv`` (the special zones have no resident records, but a few volunteers, care
workers and service cases are registered there: they count in the district, never in a
town/street). Each town/street gets its own trend, so some targets are met and some missed.

People are made as the world makes them (issue 16): one ID number per person, never shared
(:class:`PersonIds`); about 2% of volunteers are registered a second time with another team while
the first registration is still active, and some re-register after a cancellation; some care
workers change employer during a year (a second roster row under the same ID number) and a few
stand on two rosters at once. The KPIs and the ground truth count persons.

It also writes ``out_dir/sample_truth/ground_truth.csv``: every KPI value for every year
and geography, counted from the generated records by this module's own pandas code
(independent of the dbt models), with columns ``kpi_id, period_year, geo_code,
numerator, denominator, value, new_in_year, reporting_status`` (:data:`TRUTH_COLUMNS`). Tests
compare the pipeline against it. Conventions (PLAN.md "Sample ground truth"): a town/street value
``''`` is a town that could not be read (it counts in ``110115999`` and the district), an ID number
``''`` a record without a usable key (one person of its own), a special zone's name counts in its own
``special_zone`` row and the district.

The same ``seed`` and ``scale`` always give byte-identical files.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from daxing_kpi.paths import SEEDS_DIR

BASE_YEAR = 2020
CUTOFF = dt.date(2026, 10, 31)
YEARS = list(range(BASE_YEAR, CUTOFF.year + 1))
DISTRICT_CODE = "110115"
UNASSIGNED_CODE = "110115999"  # 未落地到镇街: a record whose town/street could not be read ('' in the frames)
TRUTH_COLUMNS = ["kpi_id", "period_year", "geo_code", "numerator", "denominator", "value", "new_in_year", "reporting_status"]
DISTRICT_RESIDENTS_SCALE_1 = 2_000_000
EXPORT_DATE = CUTOFF + dt.timedelta(days=1)

SURNAMES = list("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎")
GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕建国海波志宏文俊凤梅")
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK = np.array(list("10X98765432"))
AGE_BANDS = ["0-17", "18-59", "60-79", "80+"]
ECO_TYPES = ["树葬", "花坛葬", "草坪葬", "海葬", "骨灰撒海", "骨灰撒散", "壁葬", "格位存放", "深埋不留坟头", "小型节地墓位"]
ECO_WEIGHTS = np.array([18, 8, 10, 6, 4, 4, 15, 25, 3, 7], dtype=float)
CHANNELS_ONLINE = ["网上办理", "移动端"]
CHANNELS_OFFLINE = ["窗口办理", "自助终端", "邮寄申请"]
# Birth registration areas of ID numbers (GB 11643 address code): Daxing, other Beijing districts, Hebei and
# further provinces, as among the people who work or volunteer in the district.
ID_AREA_CODES = np.array(["110115"] * 14 + ["110101", "110102", "110105", "110106", "110108", "110111",
                                           "130181", "130682", "131002", "371302", "410105", "230103"])
# Special zones (geo_level special_zone): records there count in the district only.
VOLUNTEER_ZONES = {"北京经济技术开发区": 0.0030, "大兴国际机场": 0.0012}  # share of the district's volunteers
CARE_WORKER_ZONE = "北京经济技术开发区"  # a nursing home in the zone
CARE_WORKER_ZONE_SHARE = 0.02  # of the district's care workers
CASE_ZONES = {"大兴国际机场": 0.004, "北京经济技术开发区": 0.006}  # share of cases accepted at a zone's window


@dataclass(frozen=True)
class Town:
    """A township-level unit of the reference table (9-digit code, Chinese name)."""

    code: str
    name_zh: str


def towns() -> list[Town]:
    """The 22 towns/streets counted by the plan's 镇(街) targets (``in_town_street_denominator = yes``)."""
    with open(SEEDS_DIR / "townships.csv", encoding="utf-8") as f:
        return [Town(r["code"], r["name_zh"]) for r in csv.DictReader(f) if r["in_town_street_denominator"] == "yes"]


def special_zones() -> list[Town]:
    """The special zones (kind ``special_zone`` in ``seeds/townships.csv``): counted in the district only."""
    with open(SEEDS_DIR / "townships.csv", encoding="utf-8") as f:
        return [Town(r["code"], r["name_zh"]) for r in csv.DictReader(f) if r["kind"] == "special_zone"]


def geo_codes(town_list: list[Town] | None = None) -> dict[str, str]:
    """Chinese name -> geo_code of every geography below the district a record can name: the towns/streets
    (``town_list``, default all 22), the special zones, and ``''`` (a town that could not be read) ->
    :data:`UNASSIGNED_CODE`. The ground truth's rows follow this order."""
    out = {t.name_zh: t.code for t in (town_list or towns())}
    out.update({z.name_zh: z.code for z in special_zones()})
    out[""] = UNASSIGNED_CODE
    return out


def year_end(year: int) -> dt.date:
    """The snapshot date of a year: 31 December, or the data cut-off in the partial year."""
    return min(dt.date(year, 12, 31), CUTOFF)


def _days(year: int) -> tuple[int, int]:
    """Day numbers (days since 1970-01-01) of 1 January and of the year's snapshot date."""
    epoch = dt.date(1970, 1, 1)
    return (dt.date(year, 1, 1) - epoch).days, (year_end(year) - epoch).days


def _dates_to_str(days: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(days.astype("datetime64[D]"), unit="D")


def id_numbers(rng: np.random.Generator, n: int, birth_days: np.ndarray, area_codes: np.ndarray | None = None,
               seq: np.ndarray | None = None) -> np.ndarray:
    """``n`` valid 18-character resident ID numbers (GB 11643 check digit) born on ``birth_days``: address code
    (``area_codes``, default 110115), birth date, 3-digit sequence (``seq``, default random) and check digit.
    Random draws can give two people the same number: use :class:`PersonIds` for people."""
    births = np.char.replace(_dates_to_str(birth_days), "-", "")
    seq = rng.integers(0, 1000, n) if seq is None else np.asarray(seq)
    area = np.full(n, "110115") if area_codes is None else np.asarray(area_codes)
    body = np.char.add(np.char.add(area.astype(str), births), np.char.zfill(seq.astype(str), 3))
    digits = np.frombuffer("".join(body).encode(), dtype=np.uint8).reshape(n, 17) - 48 if n else np.zeros((0, 17))
    check = ID_CHECK[(digits * ID_WEIGHTS).sum(axis=1) % 11] if n else np.array([], dtype=str)
    return np.char.add(body, check)


class PersonIds:
    """Issues ID numbers to people: one number per person, never shared (as real ID numbers are).

    :meth:`new` gives each new person a valid number (address code among :data:`ID_AREA_CODES`, the birth
    date, a sequence code whose last digit is odd for men and even for women, as GB 11643 says) that no
    earlier person of this generator holds; a clash is drawn again (sequence code, now and then the area). One instance per generator, so every
    source's people are distinct unless a source reuses a person's number on purpose (a second registration)."""

    def __init__(self) -> None:
        self.issued: set[str] = set()

    def new(self, rng: np.random.Generator, birth_days: np.ndarray, sex: np.ndarray | None = None) -> np.ndarray:
        """Distinct new ID numbers for ``len(birth_days)`` people (``sex``: 男/女 per person, optional)."""
        birth_days = np.asarray(birth_days, dtype=np.int64)
        n = birth_days.size
        area = ID_AREA_CODES[rng.integers(0, ID_AREA_CODES.size, n)]
        male = (np.asarray(sex) == "男") if sex is not None else rng.random(n) < 0.5
        ids = np.empty(n, dtype="<U18")
        todo = np.arange(n)
        for attempt in range(100):
            if not todo.size:
                break
            if attempt:  # a clash: another sequence code, and another birth-registration area now and then
                area[todo] = np.where(rng.random(todo.size) < 0.5, ID_AREA_CODES[rng.integers(0, ID_AREA_CODES.size, todo.size)], area[todo])
            seq = rng.integers(0, 500, todo.size) * 2 + male[todo]
            ids[todo] = id_numbers(rng, todo.size, birth_days[todo], area[todo], seq)
            batch = pd.Series(ids[todo])
            taken = (batch.duplicated() | batch.isin(self.issued)).to_numpy()
            self.issued.update(ids[todo][~taken].tolist())
            todo = todo[taken]
        if todo.size:
            raise RuntimeError(f"could not issue {todo.size} distinct ID numbers")
        return ids


def names(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random Chinese personal names (personal data the ingestion must drop)."""
    s = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)]
    g1 = np.array(GIVEN)[rng.integers(0, len(GIVEN), n)]
    g2 = np.where(rng.random(n) < 0.6, np.array(GIVEN)[rng.integers(0, len(GIVEN), n)], "")
    return np.char.add(np.char.add(s, g1), g2)


def phones(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random mainland mobile numbers."""
    return np.char.add("13", np.char.zfill(rng.integers(0, 10**9, n).astype(str), 9))


def stock_flow(rng: np.random.Generator, targets: list[int], exit_rate: float, first_day: int) -> tuple[np.ndarray, np.ndarray]:
    """Entry and exit day numbers (-1: no exit) so the stock active on each year's snapshot date is exactly
    ``targets[k]`` (one per year of ``YEARS``): a 2020 stock entered since ``first_day``, then yearly exits at
    ``exit_rate`` (more where the stock shrinks) and entries to refill."""
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
    exit_ = np.where((exit_ >= 0) & (exit_ < entry), entry, exit_)
    return entry.astype(np.int64), exit_.astype(np.int64)


def reuse_leavers(rng: np.random.Generator, person: np.ndarray, start: np.ndarray, end: np.ndarray, share: float,
                  window_days: int, first_day: int, same_group: np.ndarray | None = None) -> np.ndarray:
    """People who come back: a copy of ``person`` (one id per row) where about ``share`` of the rows starting on
    or after ``first_day`` are given to a person whose row ended within ``window_days`` before (on or before the
    new start, so the two rows are never active on the same day; with ``same_group``, within the same group, e.g.
    a town). Each ended row is reused at most once, so a person's rows chain one after the other."""
    person = person.copy()
    draw = rng.random(start.size) < share
    groups = np.zeros(start.size, dtype=np.int64) if same_group is None else pd.factorize(same_group)[0]
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        cand = rows[(start[rows] >= first_day) & draw[rows]]
        cand = cand[np.argsort(start[cand], kind="stable")]
        ended = rows[(end[rows] >= 0) & (end[rows] > start[rows])]
        ended = ended[np.argsort(end[ended], kind="stable")]
        ends = end[ended]
        used = np.zeros(ended.size, dtype=bool)
        for k in cand:
            lo = np.searchsorted(ends, start[k] - window_days, side="left")
            hi = np.searchsorted(ends, start[k], side="right")
            for pos in range(lo, hi):
                j = ended[pos]
                if used[pos] or person[j] == person[k] or start[j] >= start[k]:
                    continue
                used[pos] = True
                person[k] = person[j]
                break
    return person


class SampleGenerator:
    """Builds the sample records in memory; :meth:`write` writes files and ground truth."""

    def __init__(self, scale: float = 1.0, seed: int = 20211):
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.scale = scale
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.towns = towns()
        n = len(self.towns)
        r = self.rng
        weights = r.uniform(0.5, 1.5, n)
        self.residents_2020 = weights / weights.sum() * DISTRICT_RESIDENTS_SCALE_1 * scale
        self.growth = r.uniform(-0.005, 0.025, n)
        self.share60_2020 = r.uniform(0.13, 0.21, n)
        self.share60_step = r.uniform(0.002, 0.008, n)
        self.share80_of60 = r.uniform(0.12, 0.20, n)
        self.share_child = r.uniform(0.14, 0.20, n)
        # KPI trends per town/street: 2020 value -> 2025 value, linear, continued into 2026.
        self.care_ratio = np.c_[r.uniform(24, 40, n), r.uniform(36, 66, n)]
        self.eco_share = np.c_[r.uniform(0.30, 0.50, n), r.uniform(0.45, 0.80, n)]
        self.vol_share = np.c_[r.uniform(0.11, 0.18, n), r.uniform(0.16, 0.27, n)]
        self.frames: dict[str, pd.DataFrame] = {}
        self.ids = PersonIds()  # every person's one ID number, for every source of this generator

    # -- helpers -------------------------------------------------------------------------
    def rng_for(self, name: str) -> np.random.Generator:
        """An independent random stream per domain plug-in (stable when other domains change)."""
        return np.random.default_rng([self.seed, zlib.crc32(name.encode())])

    def _trend(self, pair: np.ndarray, i: int, year: int) -> float:
        start, end = pair[i]
        return start + (end - start) * (year - BASE_YEAR) / 5

    def residents(self, i: int, year: int) -> int:
        return int(round(self.residents_2020[i] * (1 + self.growth[i]) ** (year - BASE_YEAR)))

    # -- sources -------------------------------------------------------------------------
    def population(self) -> pd.DataFrame:
        rows = []
        for year in YEARS:
            for i, t in enumerate(self.towns):
                total = self.residents(i, year)
                s60 = self.share60_2020[i] + self.share60_step[i] * (year - BASE_YEAR)
                n60 = int(round(total * s60))
                n80 = int(round(n60 * self.share80_of60[i]))
                n0 = int(round(total * self.share_child[i]))
                bands = {"0-17": n0, "18-59": total - n0 - n60, "60-79": n60 - n80, "80+": n80}
                for band in AGE_BANDS:
                    rows.append((year, t.name_zh, band, bands[band]))
        return pd.DataFrame(rows, columns=["统计年度", "镇街", "年龄组", "常住人口"])

    def _elderly(self, pop: pd.DataFrame) -> dict[tuple[int, str], int]:
        old = pop[pop["年龄组"].isin(["60-79", "80+"])]
        return old.groupby(["统计年度", "镇街"])["常住人口"].sum().to_dict()

    def care_workers(self, pop: pd.DataFrame) -> pd.DataFrame:
        """Simulate hires and departures so the year-end headcount of persons follows each town's trend.

        Each hire is a person, except that about one hire in eight from 2021 on is a care worker who left another
        employer in the 120 days before (a change of employer: a second row under the same ID number, never
        active at the same time as the first). A few workers (about 0.6%) also stand on a second employer's
        roster while still on the first (a double registration: two active rows, one person). A nursing home in
        a special zone (:data:`CARE_WORKER_ZONE`) employs about 2% more workers: district only."""
        r = self.rng
        elderly = self._elderly(pop)
        town_idx, hire, leave = [], [], []
        district_target = {year: 0 for year in YEARS}
        for i, t in enumerate(self.towns):
            active: list[int] = []  # indices into the town's own lists
            t_hire: list[int] = []
            t_leave: list[int] = []
            for year in YEARS:
                d0, d1 = _days(year)
                target = int(round(self._trend(self.care_ratio, i, year) * elderly[(year, t.name_zh)] / 10_000))
                district_target[year] += target
                if year == BASE_YEAR:
                    start = (dt.date(2008, 1, 1) - dt.date(1970, 1, 1)).days
                    for _ in range(target):
                        t_hire.append(int(r.integers(start, d1 + 1)))
                        t_leave.append(-1)
                        active.append(len(t_hire) - 1)
                    continue
                leavers = [k for k in active if r.random() < 0.12]
                for k in leavers:
                    t_leave[k] = int(r.integers(d0, d1 + 1))
                active = [k for k in active if k not in set(leavers)]
                while len(active) > target:  # shrinking town: more departures
                    k = active.pop(int(r.integers(0, len(active))))
                    t_leave[k] = int(r.integers(d0, d1 + 1))
                for _ in range(target - len(active)):
                    t_hire.append(int(r.integers(d0, d1 + 1)))
                    t_leave.append(-1)
                    active.append(len(t_hire) - 1)
            # a departure can never precede the hire
            for k in range(len(t_hire)):
                if t_leave[k] != -1 and t_leave[k] < t_hire[k]:
                    t_leave[k] = t_hire[k]
            town_idx += [i] * len(t_hire)
            hire += t_hire
            leave += t_leave
        rp = self.rng_for("care_workers:people")
        zone = len(self.towns)  # index of the special zone in the town-name array below
        targets = [int(round(district_target[y] * CARE_WORKER_ZONE_SHARE)) for y in YEARS]
        z_hire, z_leave = stock_flow(rp, targets, 0.12, (dt.date(2012, 1, 1) - dt.date(1970, 1, 1)).days)
        town_idx = np.concatenate([np.array(town_idx, dtype=int), np.full(z_hire.size, zone)])
        hire_a = np.concatenate([np.array(hire, dtype=np.int64), z_hire])
        leave_a = np.concatenate([np.array(leave, dtype=np.int64), z_leave])
        person = reuse_leavers(rp, np.arange(hire_a.size), hire_a, leave_a, share=0.125, window_days=120,
                               first_day=(dt.date(2021, 1, 1) - dt.date(1970, 1, 1)).days)
        # double registrations: a second employer's row while the first is still active
        cutoff = (CUTOFF - dt.date(1970, 1, 1)).days
        pick = np.flatnonzero((leave_a == -1) & (hire_a < cutoff - 400) & (rp.random(hire_a.size) < 0.006))
        d_hire = hire_a[pick] + rp.integers(30, 400, pick.size)
        d_leave = np.where(rp.random(pick.size) < 0.3, np.minimum(d_hire + rp.integers(60, 700, pick.size), cutoff), -1)
        town_idx = np.concatenate([town_idx, town_idx[pick]])
        person = np.concatenate([person, person[pick]])
        second_employer = np.concatenate([np.zeros(hire_a.size, dtype=bool), np.ones(pick.size, dtype=bool)])
        hire_a = np.concatenate([hire_a, d_hire])
        leave_a = np.concatenate([leave_a, d_leave])
        n = hire_a.size
        # one ID number, birth date and sex per person
        first_hire = pd.Series(hire_a).groupby(person).min()
        sex_p = np.where(rp.random(first_hire.size) < 0.8, "女", "男")
        birth_p = first_hire.to_numpy() - rp.integers(20 * 365, 50 * 365, first_hire.size)
        ids_p = self.ids.new(rp, birth_p, sex_p)
        pos = first_hire.index.get_indexer(person)
        place = np.array([t.name_zh for t in self.towns] + [CARE_WORKER_ZONE])
        emp = np.array([f"大兴区{t.name_zh}养老照料中心" for t in self.towns] + [f"{CARE_WORKER_ZONE}康养中心"])
        emp2 = np.array([f"北京{t.name_zh}颐养院" for t in self.towns] + [f"{CARE_WORKER_ZONE}颐养公寓"])
        first_choice = r.random(n) < 0.5
        first_choice = np.where(second_employer, ~first_choice, first_choice)
        employer = np.where(first_choice, emp[town_idx], emp2[town_idx])
        leave_str = np.where(leave_a >= 0, _dates_to_str(np.maximum(leave_a, 0)), "")
        df = pd.DataFrame(
            {
                "序号": np.arange(1, n + 1),
                "姓名": names(r, first_hire.size)[pos],
                "性别": sex_p[pos],
                "身份证号码": ids_p[pos],
                "联系电话": phones(r, first_hire.size)[pos],
                "工作单位": employer,
                "所属镇街": place[town_idx],
                "入职日期": _dates_to_str(hire_a),
                "离职日期": leave_str,
                "职业技能等级": np.array(["初级", "中级", "高级"])[r.integers(0, 3, n)],
            }
        )
        return df

    def burials(self, pop: pd.DataFrame) -> pd.DataFrame:
        r = self.rng
        elderly = self._elderly(pop)
        parts = []
        eco_p = ECO_WEIGHTS / ECO_WEIGHTS.sum()
        for year in YEARS:
            d0, d1 = _days(year)
            for i, t in enumerate(self.towns):
                span = (d1 - d0 + 1) / 365
                n = int(r.poisson(elderly[(year, t.name_zh)] * 0.03 * span))
                share = self._trend(self.eco_share, i, year)
                is_eco = r.random(n) < share
                kind = np.where(is_eco, np.array(ECO_TYPES)[r.choice(len(ECO_TYPES), n, p=eco_p)], "传统墓穴")
                burial = r.integers(d0, d1 + 1, n)
                parts.append(pd.DataFrame({"town": t.name_zh, "burial": burial, "kind": kind}))
        df = pd.concat(parts, ignore_index=True)
        n = len(df)
        death = df["burial"].to_numpy() - r.integers(3, 40, n)
        place = np.where(np.isin(df["kind"], ["海葬", "骨灰撒海"]), "渤海海域", np.array(["天堂公墓", "长青园公墓", "镇公益性公墓"])[r.integers(0, 3, n)])
        return pd.DataFrame(
            {
                "逝者编号": [f"BZ{self.seed % 100:02d}{k:08d}" for k in range(1, n + 1)],
                "逝者姓名": names(r, n),
                "死亡日期": _dates_to_str(death),
                "安葬日期": _dates_to_str(df["burial"].to_numpy()),
                "户籍所在镇街": df["town"].to_numpy(),
                "安葬方式": df["kind"].to_numpy(),
                "安葬地点": place,
            }
        )

    def volunteers(self, pop: pd.DataFrame) -> pd.DataFrame:
        """Registrations and cancellations so the persons registered on 31 Dec follow each trend.

        Every registration is a person, except: about one new registration in ten from 2021 on is a person
        re-registering in the same town/street within two years of a cancellation (a new 志愿者编号, the same ID
        number, never active at the same time); about 2% of persons register a second time with another team
        (in their town/street or another, a special zone now and then) while the first registration is still
        active. Special zones (:data:`VOLUNTEER_ZONES`) have their own small teams: district only."""
        r = self.rng
        town_parts, reg_parts, cancel_parts = [], [], []
        district_target = {year: 0 for year in YEARS}
        for i, t in enumerate(self.towns):
            reg = np.array([], dtype=np.int64)
            cancel = np.array([], dtype=np.int64)
            for year in YEARS:
                d0, d1 = _days(year)
                target = int(round(self._trend(self.vol_share, i, year) * self.residents(i, year)))
                district_target[year] += target
                if year == BASE_YEAR:
                    start = (dt.date(2010, 1, 1) - dt.date(1970, 1, 1)).days
                    reg = r.integers(start, d1 + 1, target)
                    cancel = np.full(target, -1)
                    continue
                active = np.flatnonzero(cancel == -1)
                quit_mask = r.random(active.size) < 0.04
                cancel[active[quit_mask]] = r.integers(d0, d1 + 1, int(quit_mask.sum()))
                n_active = active.size - int(quit_mask.sum())
                if n_active > target:
                    still = np.flatnonzero(cancel == -1)
                    drop = r.choice(still, n_active - target, replace=False)
                    cancel[drop] = r.integers(d0, d1 + 1, drop.size)
                    n_active = target
                add = target - n_active
                reg = np.concatenate([reg, r.integers(d0, d1 + 1, add)])
                cancel = np.concatenate([cancel, np.full(add, -1)])
            cancel = np.where((cancel >= 0) & (cancel < reg), reg, cancel)
            town_parts.append(np.full(reg.size, t.name_zh, dtype=object))
            reg_parts.append(reg)
            cancel_parts.append(cancel)
        rp = self.rng_for("volunteers:people")
        for zone, share in VOLUNTEER_ZONES.items():
            z_reg, z_cancel = stock_flow(rp, [round(district_target[y] * share) for y in YEARS], 0.05,
                                         (dt.date(2014, 1, 1) - dt.date(1970, 1, 1)).days)
            town_parts.append(np.full(z_reg.size, zone, dtype=object))
            reg_parts.append(z_reg)
            cancel_parts.append(z_cancel)
        town = np.concatenate(town_parts)
        reg = np.concatenate(reg_parts)
        cancel = np.concatenate(cancel_parts)
        person = reuse_leavers(rp, np.arange(reg.size), reg, cancel, share=0.10, window_days=730,
                               first_day=(dt.date(2021, 1, 1) - dt.date(1970, 1, 1)).days, same_group=town)
        # a second registration with another team while the first is active
        cutoff = (CUTOFF - dt.date(1970, 1, 1)).days
        pick = np.flatnonzero((cancel == -1) & (reg < cutoff - 60) & (rp.random(reg.size) < 0.02))
        d_reg = np.minimum(reg[pick] + rp.integers(30, 1500, pick.size), cutoff)
        d_cancel = np.where(rp.random(pick.size) < 0.2, np.minimum(d_reg + rp.integers(30, 900, pick.size), cutoff), -1)
        d_cancel = np.where(d_cancel == d_reg, -1, d_cancel)
        all_places = np.array([t.name_zh for t in self.towns] + list(VOLUNTEER_ZONES), dtype=object)
        elsewhere = rp.random(pick.size) < 0.4
        d_town = np.where(elsewhere, all_places[rp.integers(0, all_places.size, pick.size)], town[pick])
        town = np.concatenate([town, d_town])
        person = np.concatenate([person, person[pick]])
        reg = np.concatenate([reg, d_reg])
        cancel = np.concatenate([cancel, d_cancel])
        n = reg.size
        # one ID number per person, born 16 to 70 years before their first registration
        first_reg = pd.Series(reg).groupby(person).min()
        ids_p = self.ids.new(rp, first_reg.to_numpy() - rp.integers(16 * 365, 70 * 365, first_reg.size))
        pos = first_reg.index.get_indexer(person)
        return pd.DataFrame(
            {
                "志愿者编号": [f"ZY{k:09d}" for k in range(1, n + 1)],
                "姓名": names(r, first_reg.size)[pos],
                "身份证号码": ids_p[pos],
                "手机号码": phones(r, n),
                "注册日期": _dates_to_str(reg),
                "所在镇街": town,
                "状态": np.where(cancel >= 0, "已注销", "正常"),
                "注销日期": np.where(cancel >= 0, _dates_to_str(np.maximum(cancel, 0)), ""),
            }
        )

    def service_items(self) -> pd.DataFrame:
        """The yearly catalog: 170-185 items; each item goes fully online in a given year."""
        r = self.rng
        n_items = 185
        online_from = np.select(
            [r.random(n_items) < 0.70, r.random(n_items) < 0.5],
            [2020, r.integers(2021, 2026, n_items)],
            default=r.integers(2024, 2030, n_items),
        )
        added = np.where(r.random(n_items) < 0.92, 2020, r.integers(2021, 2027, n_items))
        rows = []
        for year in YEARS:
            for k in range(n_items):
                if added[k] <= year:
                    rows.append((f"MZ{k + 1:04d}", f"民政政务服务事项{k + 1:03d}", year, "是" if online_from[k] <= year else "否"))
        return pd.DataFrame(rows, columns=["事项编码", "事项名称", "年度", "是否全程网办"])

    def service_cases(self, items: pd.DataFrame) -> pd.DataFrame:
        r = self.rng
        parts = []
        for year in YEARS:
            d0, d1 = _days(year)
            codes = items.loc[items["年度"] == year, "事项编码"].to_numpy()
            n = int(r.poisson(80_000 * self.scale * (d1 - d0 + 1) / 365))
            share = 0.42 + 0.09 * (year - BASE_YEAR)
            online = r.random(n) < min(share, 0.97)
            channel = np.where(
                online,
                np.array(CHANNELS_ONLINE)[r.integers(0, 2, n)],
                np.array(CHANNELS_OFFLINE)[r.choice(3, n, p=[0.8, 0.15, 0.05])],
            )
            date = r.integers(d0, d1 + 1, n)
            if year == CUTOFF.year and n:
                date[-1] = d1  # the cut-off date always has a case
            parts.append(pd.DataFrame({"code": codes[r.integers(0, codes.size, n)], "channel": channel, "date": date, "year": year}))
        df = pd.concat(parts, ignore_index=True)
        n = len(df)
        town_names = np.array([t.name_zh for t in self.towns])
        accepted_at = town_names[r.integers(0, town_names.size, n)].astype(object)
        zone_draw = self.rng_for("service_cases:zones").random(n)
        lower = 0.0
        for zone, share in CASE_ZONES.items():  # windows in the special zones (district only)
            accepted_at[(zone_draw >= lower) & (zone_draw < lower + share)] = zone
            lower += share
        return pd.DataFrame(
            {
                "办件编号": [f"BJ{y}{k:08d}" for k, y in zip(range(1, n + 1), df["year"])],
                "事项编码": df["code"].to_numpy(),
                "申请渠道": df["channel"].to_numpy(),
                "受理日期": _dates_to_str(df["date"].to_numpy()),
                "申请人姓名": names(r, n),
                "受理镇街": accepted_at,
            }
        )

    # -- all -------------------------------------------------------------------------------
    def build(self) -> dict[str, pd.DataFrame]:
        """All source frames, keyed by landing folder name (deterministic for a seed and scale)."""
        pop = self.population()
        items = self.service_items()
        self.frames = {
            "population": pop,
            "care_workers": self.care_workers(pop),
            "burials": self.burials(pop),
            "volunteers": self.volunteers(pop),
            "service_items": items,
            "service_cases": self.service_cases(items),
        }
        return self.frames


def kpi_rows(kpi: str, year: int, num_by_town: pd.Series, den_by_town: pd.Series, factor: float,
             code_of: dict[str, str], district: bool = True) -> list[tuple]:
    """Rows ``(kpi_id, period_year, geo_code, numerator, denominator, value)`` for every geography of
    ``code_of`` (Chinese name -> code: towns/streets, special zones, ``''`` for the unassigned geography) that
    has a numerator or denominator entry, plus the district sum. ``value`` is numerator / denominator * factor,
    NaN where the denominator is 0 or missing (a special zone has volunteers but no residents of its own)."""
    rows = []

    def row(code, num, den):
        rows.append((kpi, year, code, num, den, num / den * factor if den > 0 else float("nan")))

    for name, code in code_of.items():
        if name in num_by_town.index or name in den_by_town.index:
            row(code, float(num_by_town.get(name, 0)), float(den_by_town.get(name, float("nan"))))
    if district and (len(num_by_town) or len(den_by_town)):
        row(DISTRICT_CODE, float(num_by_town.sum()), float(den_by_town.sum()))
    return rows


def active_on(df: pd.DataFrame, start: str, end: str, snap: str, status: str | None = None,
              ended: tuple[str, ...] = ("已注销", "已撤销")) -> pd.DataFrame:
    """Records active on ``snap`` (ISO date) under the one date rule (dbt macro ``is_active_on``): start on or
    before it, end date after it (the end date is the first day out) or none; with ``status``, a record whose
    status says it ended (``ended``) without a date is not active."""
    no_end = df[end] == ""
    if status is not None:
        no_end &= ~df[status].isin(ended)
    return df[(df[start] != "") & (df[start] <= snap) & ((df[end] > snap) | no_end)]


def persons_on(df: pd.DataFrame, start: str, end: str, snap: str, id_col: str = "身份证号码",
               status: str | None = None) -> pd.DataFrame:
    """One row per person active on ``snap`` (issue 16.1): records active that day (:func:`active_on`) grouped by
    ID number, a record with an empty ID number (no usable key) being a person of its own; the row kept is the
    person's active record that started first (then file order), so the person counts once, in its
    town/street. Adds ``active_records``: that person's records active that day."""
    act = active_on(df, start, end, snap, status)
    ids = act[id_col].astype(str) if id_col in act.columns else pd.Series("", index=act.index)
    key = ids.where(ids != "", "row:" + act.index.astype(str))
    act = act.assign(_person=key.to_numpy())
    act = act.sort_values(start, kind="stable")
    counts = act.groupby("_person").size()
    first = act.drop_duplicates("_person", keep="first")
    return first.assign(active_records=first["_person"].map(counts).to_numpy())


def ground_truth(frames: dict[str, pd.DataFrame], town_list: list[Town] | None = None) -> pd.DataFrame:
    """Every KPI value counted from the generated records with pandas (independent of dbt).

    Returns a frame with :data:`TRUTH_COLUMNS` for the district (``110115``) and each geography with data:
    towns/streets, special zones, the unassigned geography (town ``''``). Rates are in %, the care-worker
    ratio per 10,000 residents aged 60+. A geography whose denominator is 0 or missing has value NaN.
    Care workers and volunteers are counted as persons (:func:`persons_on`).
    """
    code_of = geo_codes(town_list)
    out = []

    def emit(kpi, year, by_town_num: pd.Series, by_town_den: pd.Series, factor: float):
        out.extend(kpi_rows(kpi, year, by_town_num, by_town_den, factor, code_of))

    pop = frames["population"]
    workers = frames["care_workers"]
    burials = frames["burials"]
    vols = frames["volunteers"]
    items = frames["service_items"]
    cases = frames["service_cases"]
    for year in YEARS:
        snap = year_end(year).isoformat()
        p = pop[pop["统计年度"] == year]
        elderly = p[p["年龄组"].isin(["60-79", "80+"])].groupby("镇街")["常住人口"].sum()
        residents = p.groupby("镇街")["常住人口"].sum()
        employed = persons_on(workers, "入职日期", "离职日期", snap)
        emit("eldercare.care_workers_per_10k_elderly", year, employed.groupby("所属镇街").size(), elderly, 10_000)
        b = burials[burials["安葬日期"].str[:4] == str(year)]
        eco = b[b["安葬方式"] != "传统墓穴"]
        emit("funeral.eco_burial_rate", year, eco.groupby("户籍所在镇街").size(), b.groupby("户籍所在镇街").size(), 100)
        active = persons_on(vols, "注册日期", "注销日期", snap, status="状态" if "状态" in vols.columns else None)
        emit("volunteer.registered_share_of_residents", year, active.groupby("所在镇街").size(), residents, 100)
        it = items[items["年度"] == year]
        if len(it):
            n_on = int((it["是否全程网办"] == "是").sum())
            out.append(("digital.online_service_rate", year, DISTRICT_CODE, float(n_on), float(len(it)), n_on / len(it) * 100))
        c = cases[cases["受理日期"].str[:4] == str(year)]
        if len(c):
            n_on = int(c["申请渠道"].isin(CHANNELS_ONLINE).sum())
            out.append(("digital.online_case_rate", year, DISTRICT_CODE, float(n_on), float(len(c)), n_on / len(c) * 100))
    return pd.DataFrame(out, columns=TRUTH_COLUMNS[:6]).reindex(columns=TRUTH_COLUMNS)


def generate(out_dir: Path, scale: float = 1.0, seed: int = 20211) -> dict[str, int]:
    """Write the sample landing files and ground truth under ``out_dir``.

    Files: ``out_dir/landing/<source>/<source>_<export date>.csv`` (UTF-8) and
    ``out_dir/sample_truth/ground_truth.csv``. Returns row counts per source.
    Raises ``ValueError`` for a non-positive scale.
    """
    from daxing_kpi.sample.domains import modules
    from daxing_kpi.sample.example_plan import write_example_plan

    gen = SampleGenerator(scale=scale, seed=seed)
    frames: dict = dict(gen.build())
    plugins = modules()
    for mod in plugins:
        frames.update(mod.build(gen))
    out_dir = Path(out_dir)
    counts = {}
    stamp = EXPORT_DATE.strftime("%Y%m%d")
    for source, df in frames.items():
        folder = out_dir / "landing" / source
        folder.mkdir(parents=True, exist_ok=True)
        if callable(df):
            df(folder)
            counts[source] = sum(1 for _ in folder.iterdir())
            continue
        df.to_csv(folder / f"{source}_{stamp}.csv", index=False, encoding="utf-8")
        counts[source] = len(df)
    write_example_plan(out_dir)  # the example next plan (示例), landing/plans/ (daxing_kpi.sample.example_plan)
    truth_dir = out_dir / "sample_truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    truth = pd.concat([ground_truth(gen.frames, gen.towns), *(mod.ground_truth(gen) for mod in plugins)], ignore_index=True)
    truth.reindex(columns=TRUTH_COLUMNS).to_csv(truth_dir / "ground_truth.csv", index=False)
    meta = {"scale": scale, "seed": seed, "cutoff": CUTOFF.isoformat(), "rows": counts}
    meta["fingerprint"] = hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:16]
    (truth_dir / "sample.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return counts
