"""Sample records of the community domain and its ground truth (plan 二(一), 二(二), 二(五)2, 三(三), 三(四)).

The register of communities and villages is the backbone: about 250 communities (社区) and
490 villages (村) at the start of 2020 in the 22 towns/streets, then villages converted into
communities (撤村建居, about 25 a year; the new community names its former village), new
communities for new housing, a few merged units. Streets have no villages; one town has no
community until a village is converted on 31 December 2023. Around the register:

=================================  ==========================================================
landing folder                     content
=================================  ==========================================================
``community_units``                the register (one row per community or village)
``community_elections``            residents' committee elections: the 2018, 2021 and 2026
                                   rounds (换届) and first elections of new communities
``community_councils``             "Lajiachang" deliberation councils (拉家常议事会)
``community_service_facilities``   community service facilities with floor area, opening year
``volunteer_stations``             volunteer service stations, most hosted by a facility
``psych_stations``                 social-psychological service centers and stations
``charity_stations``               grassroots charity service stations
``town_returns``                   one filled-in return-form workbook per town/street
                                   (:mod:`daxing_kpi.returnforms`): secretary-studio and
                                   building-governance demonstration sites, and the cover
                                   sheet 报送情况 (a town without studios reports 0); one
                                   town/street sent nothing (未报送), one last reported as of
                                   31 December 2025
=================================  ==========================================================

These records describe the district's structure, not its population, so they do not grow
with ``scale``. Trends: secretary studios (22 by 2025), direct elections and volunteer-station
coverage meet their targets; building-governance sites (about 92), village conversions (about
124), "Lajiachang" coverage and psychological-service coverage of communities fall short.

:func:`ground_truth` counts the KPIs from these records with pandas (independent of dbt).
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
from pathlib import Path

import numpy as np
import pandas as pd

nan = float("nan")

from daxing_kpi.paths import SEEDS_DIR
from daxing_kpi.sample.generator import (
    CUTOFF,
    DISTRICT_CODE,
    EXPORT_DATE,
    TRUTH_COLUMNS,
    YEARS,
    active_on,
    geo_codes,
    kpi_rows,
    names,
    phones,
    year_end,
)

NAME = "communities"
NEW_COMMUNITY_SINCE = "2021-01-01"  # new communities of the 500 m² KPI: the catalog's definition (2021年以来新建)
STUDIO_FORM, BUILDING_FORM = "社区书记工作室示范点", "楼门院治理示范点"  # sheet names = 报表名称 on the cover
EPOCH = dt.date(1970, 1, 1)
DIRECT_METHODS = ("直接选举", "户代表选举")

# Villages converted into communities per year (district total before noise), and new communities.
CONVERSIONS = {2020: 8, 2021: 19, 2022: 24, 2023: 27, 2024: 28, 2025: 26, 2026: 14}
NEW_COMMUNITIES = {2020: 7, 2021: 8, 2022: 9, 2023: 8, 2024: 7, 2025: 8, 2026: 5}
# Demonstration sites named per year (those named before 2021 do not count towards the plan).
SECRETARY_STUDIOS = {2019: 3, 2020: 3, 2021: 4, 2022: 5, 2023: 4, 2024: 5, 2025: 4, 2026: 2}
BUILDING_SITES = {2019: 4, 2020: 6, 2021: 14, 2022: 18, 2023: 20, 2024: 21, 2025: 19, 2026: 9}
CHARITY_NEW = {2019: 5, 2021: 4, 2022: 5, 2023: 5, 2024: 6, 2025: 6, 2026: 3}
TOWN_CENTERS_OPENED = {2021: 3, 2022: 2, 2023: 2, 2024: 2, 2025: 1}  # the other 12 opened 2018-2020
ROUNDS = [  # residents' committee election rounds (换届选举): label, first and last election day
    ("2018年换届选举", dt.date(2018, 5, 1), dt.date(2018, 7, 15)),
    ("2021年换届选举", dt.date(2021, 4, 15), dt.date(2021, 6, 30)),
    ("2026年换届选举", dt.date(2026, 4, 10), dt.date(2026, 6, 30)),
]
NAME_CHARS = "安宁康泰兴华丰乐和平福顺德庆新民荣盛景明祥瑞清泉枣园林海星光金月桥永长春秋义仁"
VILLAGE_SUFFIX = ["村", "庄村", "营村", "各庄村", "家务村", "店村"]
COMMUNITY_SUFFIX = ["社区", "里社区", "园社区", "苑社区", "家园社区"]


def day(d: dt.date) -> int:
    return (d - EPOCH).days


def iso(n) -> str:
    """Day number -> ``YYYY-MM-DD``; ``None``/negative -> ``""``."""
    return "" if n is None or n < 0 else (EPOCH + dt.timedelta(days=int(n))).isoformat()


def _year_bounds(year: int) -> tuple[int, int]:
    return day(dt.date(year, 1, 1)), day(year_end(year))


def _kinds() -> dict[str, str]:
    with open(SEEDS_DIR / "townships.csv", encoding="utf-8") as f:
        return {r["name_zh"]: r["kind"] for r in csv.DictReader(f)}


class _Builder:
    """Builds every record of the domain in memory (deterministic for the generator's seed)."""

    def __init__(self, gen):
        self.r = gen.rng_for(NAME)
        self.towns = gen.towns
        kinds = _kinds()
        self.kind = {t.name_zh: kinds[t.name_zh] for t in self.towns}
        self.code = {t.name_zh: t.code for t in self.towns}
        rural = [t.name_zh for t in self.towns if self.kind[t.name_zh] == "town"]
        self.no_community_town = rural[-1]
        pool = ["".join(p) for p in itertools.permutations(NAME_CHARS, 2)]
        self.r.shuffle(pool)
        self.name_pool = iter(pool)
        self.seq = {t.name_zh: {"社区": 1, "村": 200} for t in self.towns}
        self.units: list[dict] = []

    # -- register ------------------------------------------------------------------------------
    def _new_unit(self, town: str, kind: str, established: int, name: str | None = None, former: str = "") -> dict:
        seq = self.seq[town][kind]
        self.seq[town][kind] += 1
        if name is None:
            base = next(self.name_pool)
            suffix = COMMUNITY_SUFFIX if kind == "社区" else VILLAGE_SUFFIX
            name = base + suffix[int(self.r.integers(0, len(suffix)))]
        u = dict(code=f"{self.code[town]}{seq:03d}", name=name, type=kind, town=town, established=established,
                 abolished=-1, reason="", former=former)
        self.units.append(u)
        return u

    def register(self) -> None:
        r = self.r
        lo, hi = day(dt.date(1985, 1, 1)), day(dt.date(2017, 12, 31))
        for t in self.towns:
            kind = self.kind[t.name_zh]
            if kind == "street":
                n_c, n_v = int(r.integers(8, 19)), 0
            elif kind == "area":
                n_c, n_v = int(r.integers(14, 31)), int(r.integers(15, 36))
            else:
                n_c, n_v = (0 if t.name_zh == self.no_community_town else int(r.integers(2, 8))), int(r.integers(30, 51))
            for _ in range(n_c):
                self._new_unit(t.name_zh, "社区", int(r.integers(lo, hi + 1)))
            for _ in range(n_v):
                self._new_unit(t.name_zh, "村", int(r.integers(lo, hi + 1)))
        pace = {t.name_zh: float(r.uniform(0.5, 1.5)) * (2.0 if self.kind[t.name_zh] == "area" else 1.0) for t in self.towns}
        urban = [t.name_zh for t in self.towns if self.kind[t.name_zh] in ("street", "area")]
        for year in YEARS:
            d0, d1 = _year_bounds(year)
            villages = [u for u in self.units if u["type"] == "村" and u["abolished"] < 0]
            pool = [u for u in villages if u["town"] != self.no_community_town] if year <= 2023 else villages
            n = CONVERSIONS[year] + (int(r.integers(-1, 2)) if 2021 <= year <= 2025 else 0)
            w = np.array([pace[u["town"]] for u in pool])
            if year == 2023:  # the first community of the town without one: converted on 31 December
                chosen = [pool[k] for k in r.choice(len(pool), n - 1, replace=False, p=w / w.sum())]
                chosen.append(next(u for u in villages if u["town"] == self.no_community_town))
            else:
                chosen = [pool[k] for k in r.choice(len(pool), n, replace=False, p=w / w.sum())]
            dates = r.integers(d0, d1 + 1, n)
            if year in (2020, 2021, 2023):  # conversions on 31 December (boundary of the cumulative count)
                dates[-1] = day(dt.date(year, 12, 31))
            for v, d in zip(chosen, dates):
                v["abolished"], v["reason"] = int(d), "撤村建居"
                base = v["name"][:-1] if v["name"].endswith("村") else v["name"]
                self._new_unit(v["town"], "社区", int(d), name=base + "社区", former=v["code"])
            if year == 2022:  # two villages merged into a neighbour (not a conversion)
                for v in [u for u in self.units if u["type"] == "村" and u["abolished"] < 0][:2]:
                    v["abolished"], v["reason"] = int(r.integers(d0, d1 + 1)), "合并"
            if year == 2024:  # two street communities merged
                comms = [u for u in self.units if u["type"] == "社区" and u["abolished"] < 0 and self.kind[u["town"]] == "street"]
                for k in r.choice(len(comms), 2, replace=False):
                    comms[k]["abolished"], comms[k]["reason"] = int(r.integers(d0, d1 + 1)), "合并"
            for k in range(NEW_COMMUNITIES[year]):
                town = urban[int(r.integers(0, len(urban)))]
                self._new_unit(town, "社区", int(r.integers(d0, d1 + 1)))

    def active(self, u: dict, d: int) -> bool:
        return u["established"] <= d and (u["abolished"] < 0 or u["abolished"] > d)

    # -- elections -----------------------------------------------------------------------------
    def elections(self) -> pd.DataFrame:
        r = self.r
        p_round = {label: {t.name_zh: float(r.uniform(a, b)) for t in self.towns}
                   for label, (a, b) in zip([x[0] for x in ROUNDS], [(0.35, 0.75), (0.68, 0.98), (0.85, 1.0)])}
        rows = []
        cutoff = day(CUTOFF)
        for u in (u for u in self.units if u["type"] == "社区"):
            dates = []
            for label, first, last in ROUNDS:
                d = int(r.integers(day(first), day(last) + 1))
                if u["established"] <= day(first) - 60 and d <= cutoff and (u["abolished"] < 0 or u["abolished"] > d):
                    dates.append((label, d, p_round[label][u["town"]]))
            if u["established"] > day(ROUNDS[0][1]) - 60 and not any(d < u["established"] + 365 for _, d, _ in dates):
                d = u["established"] + int(r.integers(60, 241))
                if d <= cutoff and (u["abolished"] < 0 or u["abolished"] > d):
                    dates.append(("新建社区首次选举", d, 0.85))
            for label, d, p in sorted(dates, key=lambda x: x[1]):
                direct = r.random() < p
                method = DIRECT_METHODS[int(r.integers(0, 2))] if direct else "居民代表选举"
                rows.append((u["code"], u["name"], u["town"], label, d, method, int(r.integers(800, 9000))))
        df = pd.DataFrame(rows, columns=["code", "name", "town", "round", "date", "method", "voters"]).sort_values(["date", "code"])
        n = len(df)
        return pd.DataFrame({
            "选举编号": [f"XJ{iso(d)[:4]}{k:05d}" for k, d in zip(range(1, n + 1), df["date"])],
            "社区编码": df["code"].to_numpy(),
            "社区名称": df["name"].to_numpy(),
            "所属镇街": df["town"].to_numpy(),
            "届别": df["round"].to_numpy(),
            "选举日期": [iso(d) for d in df["date"]],
            "选举方式": df["method"].to_numpy(),
            "登记选民数": df["voters"].to_numpy(),
            "当选主任": names(r, n),
        })

    # -- councils ------------------------------------------------------------------------------
    def councils(self) -> pd.DataFrame:
        r = self.r
        c2020 = {t.name_zh: float(r.uniform(0.55, 0.85)) for t in self.towns}
        c2025 = {t.name_zh: float(r.uniform(0.93, 1.0)) for t in self.towns}
        rows = []
        for u in (u for u in self.units if u["type"] == "社区"):
            x = float(r.random())
            est_year = int(iso(u["established"])[:4])
            d = -1
            if est_year < 2020:
                for year in YEARS:
                    share = c2020[u["town"]] + (c2025[u["town"]] - c2020[u["town"]]) * (year - 2020) / 5
                    if x < share:
                        lo = day(dt.date(2016, 1, 1)) if year == 2020 else _year_bounds(year)[0]
                        d = int(r.integers(max(lo, u["established"]), _year_bounds(year)[1] + 1))
                        break
            elif x < 0.92:
                d = u["established"] + int(r.integers(60, 540))
            if d < 0 or d > day(CUTOFF) or (u["abolished"] >= 0 and u["abolished"] <= d):
                continue
            rows.append([u["code"], u["name"], u["town"], d, u["abolished"]])
        # one council dissolved in mid-2024 and set up again in 2025: not counted at the end of 2024
        k = next(i for i, row in enumerate(rows) if row[3] < day(dt.date(2022, 1, 1)) and row[4] < 0)
        rows[k][4] = day(dt.date(2024, 6, 30))
        rows.append([rows[k][0], rows[k][1], rows[k][2], day(dt.date(2025, 3, 15)), -1])
        n = len(rows)
        return pd.DataFrame({
            "议事会编号": [f"LJC{k:05d}" for k in range(1, n + 1)],
            "社区编码": [x[0] for x in rows],
            "社区名称": [x[1] for x in rows],
            "所属镇街": [x[2] for x in rows],
            "成立日期": [iso(x[3]) for x in rows],
            "撤销日期": [iso(x[4]) for x in rows],
        })

    # -- facilities and volunteer stations -------------------------------------------------------
    def facilities(self) -> list[dict]:
        r = self.r
        fac: list[dict] = []

        def add(u, area, opening_year, closed=-1):
            f = dict(id=f"SS{len(fac) + 1:05d}", unit=u["code"], name=f"{u['name']}党群服务中心", town=u["town"],
                     area=round(float(area), 1), year=int(opening_year), closed=int(closed))
            if any(x["unit"] == u["code"] for x in fac):
                f["name"] = f"{u['name']}综合服务站"
            fac.append(f)
            return f

        by_code = {u["code"]: u for u in self.units}
        forced_500 = False
        for u in self.units:
            est_year = int(iso(u["established"])[:4])
            if est_year < 2020:
                area = np.clip(r.normal(430, 160), 120, 1500) if u["type"] == "社区" else np.clip(r.normal(320, 120), 80, 900)
                add(u, area, r.integers(max(est_year, 2005), 2020))
                if r.random() < 0.06:
                    add(u, r.uniform(100, 300), r.integers(2010, 2025))
            elif u["former"]:
                if r.random() < 0.35:
                    year = est_year + int(r.integers(0, 2))
                    if year <= CUTOFF.year:
                        add(u, r.uniform(500, 900), year)
                        d0, d1 = _year_bounds(year)
                        for f in fac:
                            if f["unit"] == u["former"] and f["closed"] < 0:
                                f["closed"] = int(r.integers(d0, d1 + 1))
            else:
                year = est_year + int(r.random() < 0.5)
                if year <= CUTOFF.year:
                    big = r.random() < min(0.9, 0.35 + 0.08 * (year - 2020))
                    area = r.uniform(500, 1000) if big else r.uniform(220, 499)
                    if not forced_500 and year >= 2022:
                        area, forced_500 = 500.0, True  # exactly 500 m²: counts as reaching 500
                    add(u, area, year)
        for f in fac:  # a merged unit's facilities close with it
            u = by_code[f["unit"]]
            if u["reason"] == "合并" and f["closed"] < 0:
                f["closed"] = u["abolished"]
        return fac

    def volunteer_stations(self, fac: list[dict]) -> pd.DataFrame:
        r = self.r
        c2020 = {t.name_zh: float(r.uniform(0.4, 0.7)) for t in self.towns}
        c2025 = {t.name_zh: float(r.uniform(0.78, 0.99)) for t in self.towns}
        rows = []  # facility id, town, name, established, closed
        for f in fac:
            x = float(r.random())
            for year in YEARS:
                if year < f["year"]:
                    continue
                share = min(0.99, c2020[f["town"]] + (c2025[f["town"]] - c2020[f["town"]]) * (year - 2020) / 5)
                if x < share:
                    d0, d1 = _year_bounds(year)
                    if year == 2020 and f["year"] < 2020:
                        d0 = day(dt.date(max(f["year"], 2015), 1, 1))
                    d = int(r.integers(d0, d1 + 1))
                    if f["closed"] < 0 or f["closed"] > d:
                        rows.append([f["id"], f["town"], f"{f['name']}志愿服务站", d, -1])
                        if r.random() < 0.08:  # a second station in the same facility
                            rows.append([f["id"], f["town"], f"{f['name']}志愿服务点", d + int(r.integers(30, 700)), -1])
                    break
        cutoff = day(CUTOFF)
        rows = [row for row in rows if row[3] <= cutoff]
        for row in list(rows):  # stations closing mid-year, half of them reopened later
            if r.random() < 0.04:
                row[4] = int(r.integers(row[3] + 1, cutoff + 1)) if row[3] < cutoff else -1
                if row[4] > 0 and r.random() < 0.5 and row[4] + 100 <= cutoff:
                    rows.append([row[0], row[1], row[2], int(r.integers(row[4] + 100, min(row[4] + 400, cutoff) + 1)), -1])
        town_names = [t.name_zh for t in self.towns]
        for k in range(50):  # stations in parks, schools, companies: no community service facility
            town = town_names[int(r.integers(0, len(town_names)))]
            rows.append(["", town, f"{town}第{k + 1}公园志愿服务站", int(r.integers(day(dt.date(2016, 1, 1)), cutoff + 1)), -1])
        n = len(rows)
        return pd.DataFrame({
            "站点编号": [f"ZYZ{k:05d}" for k in range(1, n + 1)],
            "站点名称": [x[2] for x in rows],
            "依托设施编号": [x[0] for x in rows],
            "所属镇街": [x[1] for x in rows],
            "设立日期": [iso(x[3]) for x in rows],
            "撤销日期": [iso(x[4]) for x in rows],
            "负责人": names(r, n),
            "联系电话": phones(r, n),
        })

    # -- psychological service -----------------------------------------------------------------
    def psych_stations(self) -> pd.DataFrame:
        r = self.r
        c2020 = {t.name_zh: float(r.uniform(0.3, 0.6)) for t in self.towns}
        c2025 = {t.name_zh: float(r.uniform(0.6, 0.94)) for t in self.towns}
        successor = {u["former"]: u for u in self.units if u["former"]}
        cutoff = day(CUTOFF)
        rows = []  # level, town, unit code, name, established, closed
        for u in self.units:
            if u["former"]:
                continue  # a converted community continues its village's lineage
            lineage = [u] + ([successor[u["code"]]] if u["code"] in successor else [])
            start, end = lineage[0]["established"], lineage[-1]["abolished"]
            x = float(r.random())
            for year in YEARS:
                d0, d1 = _year_bounds(year)
                if d1 < start:
                    continue
                share = c2020[u["town"]] + (c2025[u["town"]] - c2020[u["town"]]) * (year - 2020) / 5
                if x < share:
                    lo = day(dt.date(2018, 1, 1)) if year == 2020 else d0
                    d = int(r.integers(max(lo, start), d1 + 1))
                    if end < 0 or end > d:
                        holder = next(v for v in reversed(lineage) if v["established"] <= d)
                        closed = int(r.integers(d + 1, cutoff + 1)) if r.random() < 0.03 and d < cutoff else -1
                        rows.append(["社区村级", holder["town"], holder["code"], f"{holder['name']}社会心理服务站", d, closed])
                    break
        towns = [t.name_zh for t in self.towns]
        order = [towns[k] for k in r.permutation(len(towns))]
        years = [2020] * 12 + [y for y, k in TOWN_CENTERS_OPENED.items() for _ in range(k)]
        for town, year in zip(order, years):
            lo = day(dt.date(2018, 1, 1)) if year == 2020 else _year_bounds(year)[0]
            label = "社会心理服务中心" if self.kind[town] != "town" else "社会心理服务站"
            rows.append(["镇街级", town, "", f"{town}{label}", int(r.integers(lo, _year_bounds(year)[1] + 1)), -1])
        # one town's center closed in mid-2022 and replaced in March 2023: no center at the end of 2022
        k = next(i for i, row in enumerate(rows) if row[0] == "镇街级")
        rows[k][5] = day(dt.date(2022, 6, 30))
        rows.append(["镇街级", rows[k][1], "", f"{rows[k][1]}社会心理服务中心(新址)", day(dt.date(2023, 3, 1)), -1])
        rows.append(["区级", "黄村地区", "", "大兴区社会心理服务促进中心", day(dt.date(2019, 9, 1)), -1])
        n = len(rows)
        return pd.DataFrame({
            "站点编号": [f"XL{k:05d}" for k in range(1, n + 1)],
            "站点名称": [x[3] for x in rows],
            "站点层级": [x[0] for x in rows],
            "所属镇街": [x[1] for x in rows],
            "服务社区(村)编码": [x[2] for x in rows],
            "设立日期": [iso(x[4]) for x in rows],
            "撤销日期": [iso(x[5]) for x in rows],
        })

    # -- charity -------------------------------------------------------------------------------
    def charity_stations(self) -> pd.DataFrame:
        r = self.r
        rows = []  # unit, established, closed
        covered: set[str] = set()
        for year, n in CHARITY_NEW.items():
            d0, d1 = _year_bounds(year)
            d_mid = (d0 + d1) // 2
            cands = [u for u in self.units if u["type"] == "社区" and self.active(u, d_mid) and u["code"] not in covered]
            for k in r.choice(len(cands), n, replace=False):
                u = cands[k]
                covered.add(u["code"])
                rows.append([u, int(r.integers(max(d0, u["established"]), d1 + 1)), -1])
        villages = [u for u in self.units if u["type"] == "村" and u["established"] < day(dt.date(2020, 1, 1))]
        for k in r.choice(len(villages), 6, replace=False):  # stations in villages: not counted unless converted
            rows.append([villages[k], int(r.integers(day(dt.date(2019, 1, 1)), day(dt.date(2024, 12, 31)) + 1)), -1])
        rows[1][2] = day(dt.date(2023, 7, 15))  # a station closing mid-year
        rows.append([rows[0][0], rows[0][1] + 400, -1])  # a second station in a covered community
        rows = [x for x in rows if x[0]["abolished"] < 0 or x[0]["abolished"] > x[1]]
        n = len(rows)
        return pd.DataFrame({
            "站点编号": [f"CS{k:04d}" for k in range(1, n + 1)],
            "站点名称": [f"{x[0]['name']}慈善服务站" for x in rows],
            "所属镇街": [x[0]["town"] for x in rows],
            "所在社区(村)编码": [x[0]["code"] for x in rows],
            "设立日期": [iso(x[1]) for x in rows],
            "撤销日期": [iso(x[2]) for x in rows],
            "联系人": names(r, n),
            "联系电话": phones(r, n),
        })

    # -- demonstration sites (return forms) ------------------------------------------------------
    def demo_sites(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        r = self.r
        studios, buildings = [], []
        used: set[str] = set()
        for year, n in SECRETARY_STUDIOS.items():
            d0, d1 = _year_bounds(year)
            cands = [u for u in self.units if u["type"] == "社区" and self.active(u, d0) and u["code"] not in used]
            for k in r.choice(len(cands), n, replace=False):
                u = cands[k]
                used.add(u["code"])
                studios.append([u["town"], u["name"], u["code"], f"{u['name']}书记工作室", int(r.integers(d0, d1 + 1))])
        studios[-SECRETARY_STUDIOS[2026] - 1][4] = day(dt.date(2025, 12, 31))
        first_2021 = sum(v for y, v in SECRETARY_STUDIOS.items() if y < 2021)
        studios[first_2021][4] = day(dt.date(2021, 1, 1))  # first day of the plan period: counts
        studios[first_2021 - 1][4] = day(dt.date(2020, 12, 31))  # the day before: does not
        kinds = ["楼栋", "单元门", "院落"]
        site_names: set[tuple[str, str]] = set()
        for year, n in BUILDING_SITES.items():
            d0, d1 = _year_bounds(year)
            cands = [u for u in self.units if self.active(u, d0)]
            for k in r.choice(len(cands), n, replace=False):
                u = cands[k]
                while True:  # a site is identified by its unit and name: never the same twice
                    kind = kinds[int(r.integers(0, 3))]
                    label = {"楼栋": f"{int(r.integers(1, 30))}号楼", "单元门": f"{int(r.integers(1, 30))}号楼{int(r.integers(1, 6))}单元",
                             "院落": f"{'东西南北'[int(r.integers(0, 4))]}院"}[kind]
                    if (u["code"], label) not in site_names:
                        site_names.add((u["code"], label))
                        break
                buildings.append([u["town"], u["name"], u["code"], f"{u['name']}{label}", kind, int(r.integers(d0, d1 + 1))])
        s = pd.DataFrame(studios, columns=["所属镇街", "社区名称", "社区编码", "示范点名称", "day"])
        b = pd.DataFrame(buildings, columns=["所属镇街", "社区(村)名称", "社区(村)编码", "示范点名称", "示范点类型", "day"])
        for df in (s, b):
            df["命名日期"] = [iso(d) for d in df.pop("day")]
            df["备注"] = ""
        return s, b

    def returns(self, studios: pd.DataFrame, buildings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """What the towns/streets send (issue 16.3): the town/street with the fewest sites sends no return at
        all (未报送: its sites never reach the bureau), the next one last sent its return in January 2026, as of
        31 December 2025 (its lists stop there; 2026 is not reported); every other town/street returns both lists
        as of the cut-off, with the cover sheet 报送情况 giving the number listed (0 for an empty list: a report
        of zero). Returns the lists as received and the cover rows (所属镇街, 报表名称, 数据截至日期, 填报个数)."""
        sites = pd.concat([studios["所属镇街"], buildings["所属镇街"]]).value_counts().reindex([t.name_zh for t in self.towns], fill_value=0)
        order = sorted(self.towns, key=lambda t: (int(sites[t.name_zh]), t.code))
        silent, late = order[0].name_zh, order[1].name_zh
        late_through = "2025-12-31"
        keep_s = (studios["所属镇街"] != silent) & ((studios["所属镇街"] != late) | (studios["命名日期"] <= late_through))
        keep_b = (buildings["所属镇街"] != silent) & ((buildings["所属镇街"] != late) | (buildings["命名日期"] <= late_through))
        studios, buildings = studios[keep_s].reset_index(drop=True), buildings[keep_b].reset_index(drop=True)
        rows = []
        for t in self.towns:
            if t.name_zh == silent:
                continue
            through = late_through if t.name_zh == late else CUTOFF.isoformat()
            for form, listed in ((STUDIO_FORM, studios), (BUILDING_FORM, buildings)):
                rows.append((t.name_zh, form, through, int((listed["所属镇街"] == t.name_zh).sum())))
        covers = pd.DataFrame(rows, columns=["所属镇街", "报表名称", "数据截至日期", "填报个数"])
        return studios, buildings, covers

    # -- all -----------------------------------------------------------------------------------
    def build(self) -> dict[str, pd.DataFrame]:
        self.register()
        units = pd.DataFrame(self.units)
        fac = self.facilities()
        studios, buildings, covers = self.returns(*self.demo_sites())
        frames = {
            "community_units": pd.DataFrame({
                "单位编码": units["code"], "单位名称": units["name"], "单位类型": units["type"], "所属镇街": units["town"],
                "成立日期": [iso(d) for d in units["established"]], "撤销日期": [iso(d) for d in units["abolished"]],
                "撤销原因": units["reason"], "原村编码": units["former"],
            }),
            "community_elections": self.elections(),
            "community_councils": self.councils(),
            "community_service_facilities": pd.DataFrame({
                "设施编号": [f["id"] for f in fac], "设施名称": [f["name"] for f in fac],
                "所属社区(村)编码": [f["unit"] for f in fac], "所属镇街": [f["town"] for f in fac],
                "建筑面积(平方米)": [f["area"] for f in fac], "投用年份": [f["year"] for f in fac],
                "停用日期": [iso(f["closed"]) for f in fac],
            }),
            "volunteer_stations": self.volunteer_stations(fac),
            "psych_stations": self.psych_stations(),
            "charity_stations": self.charity_stations(),
            "town_returns:secretary_studios": studios,
            "town_returns:building_sites": buildings,
            "town_returns:submissions": covers,
        }
        return frames


def records(gen) -> dict[str, pd.DataFrame]:
    """The domain's records (Chinese headers as in the landing files), built once per generator."""
    cache = gen.__dict__.setdefault("_domain_records", {})
    if NAME not in cache:
        cache[NAME] = _Builder(gen).build()
    return cache[NAME]


def write_town_returns(folder: Path, studios: pd.DataFrame, buildings: pd.DataFrame, covers: pd.DataFrame, towns) -> None:
    """One filled-in return-form workbook per town/street that reports (a row in ``covers``): its cover sheet
    and both lists (towns without sites return empty lists, their cover saying 0); a town/street without a
    cover row sends nothing. The workbook is dated the day the town/street's lists are complete up to."""
    from daxing_kpi.ingest import load_contracts
    from daxing_kpi.returnforms import COVER_SOURCE, write_workbook

    contracts = load_contracts()  # read once for the 22 workbooks
    for t in towns:
        cover = covers[covers["所属镇街"] == t.name_zh]
        if cover.empty:
            continue  # 未报送: this town/street sent no return
        through = dt.date.fromisoformat(cover["数据截至日期"].max())
        s = studios[studios["所属镇街"] == t.name_zh].reset_index(drop=True)
        b = buildings[buildings["所属镇街"] == t.name_zh].reset_index(drop=True)
        s["命名日期"] = s["命名日期"].map(dt.date.fromisoformat)  # date cells, as a clerk types them
        b["命名日期"] = b["命名日期"].map(dt.date.fromisoformat)
        rows = {
            COVER_SOURCE: [[k + 1, c["所属镇街"], c["报表名称"], dt.date.fromisoformat(c["数据截至日期"]), int(c["填报个数"]), None]
                           for k, c in enumerate(cover.to_dict("records"))],
            "townreturn_secretary_studio_sites": [[k + 1, *row] for k, row in enumerate(s.itertuples(index=False, name=None))],
            "townreturn_building_demo_sites": [[k + 1, *row] for k, row in enumerate(b.itertuples(index=False, name=None))],
        }
        filled = through + dt.timedelta(days=1)
        write_workbook(Path(folder) / f"{t.code}_{t.name_zh}_示范点报表_{filled:%Y%m%d}.xlsx", rows, unit_name=t.name_zh, filled_date=filled,
                       contracts=contracts)


def build(gen) -> dict:
    """Landing frames of the domain, and a writer of the towns' return-form workbooks."""
    rec = records(gen)
    out = {k: v for k, v in rec.items() if not k.startswith("town_returns:")}
    studios, buildings = rec["town_returns:secretary_studios"], rec["town_returns:building_sites"]
    covers = rec["town_returns:submissions"]
    out["town_returns"] = lambda folder: write_town_returns(folder, studios, buildings, covers, gen.towns)
    return out


# -- ground truth ------------------------------------------------------------------------------------


def _active(df: pd.DataFrame, start: str, end: str, snap: str) -> pd.DataFrame:
    return active_on(df, start, end, snap)


def ground_truth(gen) -> pd.DataFrame:
    """The domain's KPI values, counted from the records with pandas (independent of dbt).

    Coverage and share KPIs give town/street rows (geography of the unit, facility or station)
    and the district sum; counts give town/street rows with denominator 1 and a district row with
    the total (denominator 1): the stock on the snapshot date (every site named, every village
    converted, whatever the year) and ``new_in_year``, those of the year. Values in % for shares,
    plain counts otherwise. The return-form counts carry ``reporting_status`` (issue 16.3): a
    town/street reports a form for a year when its cover row's 数据截至日期 (or, listing sites without
    a cover row, the cut-off) is on or after the snapshot date; one that did not has NaN values; the
    district counts what was reported (reported / partly_reported / not_reported).
    """
    rec = records(gen)
    code_of = geo_codes(gen.towns)
    units, elections, councils = rec["community_units"], rec["community_elections"], rec["community_councils"]
    fac, vol = rec["community_service_facilities"], rec["volunteer_stations"]
    psych, charity = rec["psych_stations"], rec["charity_stations"]
    studios, buildings = rec["town_returns:secretary_studios"], rec["town_returns:building_sites"]
    successor = units.loc[units["原村编码"] != "", ["原村编码", "单位编码"]].set_index("原村编码")["单位编码"].to_dict()

    def covered(codes: pd.Series) -> set:
        """Unit codes a station's unit covers: itself and the community its village became."""
        return set(codes) | {successor[c] for c in codes if c in successor}

    out: list[tuple] = []

    def share(kpi, year, num_mask: pd.Series, towns: pd.Series):
        out.extend(kpi_rows(kpi, year, towns[num_mask].value_counts(), towns.value_counts(), 100, code_of))

    def count(kpi, year, events: pd.DataFrame, town_col: str, date_col: str, geos: set, through: dict | None = None):
        """Rows of an event count: stock (dated on or before the snapshot date) and new_in_year per geography of
        ``geos`` (in ``code_of`` order) and for the district; ``through``: a return's reporting date per
        geography (None: a register, reporting_status NaN)."""
        snap = year_end(year).isoformat()
        upto = events[(events[date_col] != "") & (events[date_col] <= snap)]
        stock = upto[town_col].value_counts()
        added = upto[upto[date_col] >= f"{year}-01-01"][town_col].value_counts()
        reported = set()
        for name in code_of:
            if name not in geos:
                continue
            status = None if through is None else ("reported" if through.get(name, "") >= snap else "not_reported")
            if status == "not_reported":
                out.append((kpi, year, code_of[name], nan, 1.0, nan, nan, status))
                continue
            reported.add(name)
            n, a = float(stock.get(name, 0)), float(added.get(name, 0))
            out.append((kpi, year, code_of[name], n, 1.0, n, a, status))
        if through is None:
            status = None
        else:
            status = "reported" if reported == geos else ("not_reported" if not reported else "partly_reported")
        n = float(stock[stock.index.isin(reported)].sum())
        a = float(added[added.index.isin(reported)].sum())
        if status == "not_reported":
            out.append((kpi, year, DISTRICT_CODE, nan, 1.0, nan, nan, status))
        else:
            out.append((kpi, year, DISTRICT_CODE, n, 1.0, n, a, status))

    covers = rec.get("town_returns:submissions", pd.DataFrame(columns=["所属镇街", "报表名称", "数据截至日期", "填报个数"]))
    plan_towns = {t.name_zh for t in gen.towns}
    returns = []
    for kpi, form, sites in (("community.secretary_studio_demo_sites", STUDIO_FORM, studios),
                             ("community.building_governance_demo_sites", BUILDING_FORM, buildings)):
        through = covers[covers["报表名称"] == form].groupby("所属镇街")["数据截至日期"].max().to_dict()
        for name in set(sites["所属镇街"]) - set(through):  # listed without a cover row: reported up to the cut-off
            through[name] = CUTOFF.isoformat()
        returns.append((kpi, sites, through, plan_towns | set(through)))

    for year in YEARS:
        snap = year_end(year).isoformat()
        active = _active(units, "成立日期", "撤销日期", snap)
        comms = active[active["单位类型"] == "社区"]

        conv = units[(units["单位类型"] == "村") & (units["撤销原因"] == "撤村建居")]
        count("community.villages_converted", year, conv, "所属镇街", "撤销日期", set(units["所属镇街"]))
        for kpi, sites, through, geos in returns:
            count(kpi, year, sites, "所属镇街", "命名日期", geos, through)

        held = elections[elections["选举日期"] <= snap].sort_values(["选举日期", "选举编号"]).groupby("社区编码").tail(1)
        held = held[held["社区编码"].isin(comms["单位编码"])].set_index("社区编码")
        with_committee = comms[comms["单位编码"].isin(held.index)]
        direct = held.loc[with_committee["单位编码"], "选举方式"].isin(DIRECT_METHODS).to_numpy()
        share("community.direct_election_share", year, pd.Series(direct, index=with_committee.index), with_committee["所属镇街"])

        c_active = _active(councils, "成立日期", "撤销日期", snap)
        share("community.lajiachang_council_coverage", year, comms["单位编码"].isin(set(c_active["社区编码"])), comms["所属镇街"])

        new = comms[comms["成立日期"] >= NEW_COMMUNITY_SINCE]
        in_use = fac[(fac["投用年份"] <= year) & ((fac["停用日期"] == "") | (fac["停用日期"] > snap))]
        area_by_unit = in_use.groupby("所属社区(村)编码")["建筑面积(平方米)"].sum()
        area = new["单位编码"].map(area_by_unit).fillna(0) + new["原村编码"].map(area_by_unit).fillna(0)
        share("community.new_community_service_space_share", year, area >= 500, new["所属镇街"])

        v_active = _active(vol, "设立日期", "撤销日期", snap)
        share("volunteer.station_coverage", year, in_use["设施编号"].isin(set(v_active["依托设施编号"])), in_use["所属镇街"])

        p_active = _active(psych, "设立日期", "撤销日期", snap)
        p_units = covered(p_active.loc[p_active["站点层级"] == "社区村级", "服务社区(村)编码"])
        share("psych.community_coverage", year, active["单位编码"].isin(p_units), active["所属镇街"])
        centers = set(p_active.loc[p_active["站点层级"] == "镇街级", "所属镇街"])
        all_towns = pd.Series([t.name_zh for t in gen.towns])
        share("psych.town_center_coverage", year, all_towns.isin(centers), all_towns)

        ch_active = _active(charity, "设立日期", "撤销日期", snap)
        share("charity.station_community_coverage", year, comms["单位编码"].isin(covered(ch_active["所在社区(村)编码"])), comms["所属镇街"])
    return pd.DataFrame([r + (nan,) * (len(TRUTH_COLUMNS) - len(r)) for r in out], columns=TRUTH_COLUMNS)
