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
``seeds/townships.csv`` (the special zones have no resident records). Each town/street
gets its own trend, so some targets are met and some missed.

It also writes ``out_dir/sample_truth/ground_truth.csv``: every KPI value for every year
and geography, counted from the generated records by this module's own pandas code
(independent of the dbt models), with columns ``kpi_id, period_year, geo_code,
numerator, denominator, value``. Tests compare the pipeline against it.

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


@dataclass(frozen=True)
class Town:
    """A township-level unit of the reference table (9-digit code, Chinese name)."""

    code: str
    name_zh: str


def towns() -> list[Town]:
    """The 22 towns/streets counted by the plan's 镇(街) targets (``in_town_street_denominator = yes``)."""
    with open(SEEDS_DIR / "townships.csv", encoding="utf-8") as f:
        return [Town(r["code"], r["name_zh"]) for r in csv.DictReader(f) if r["in_town_street_denominator"] == "yes"]


def year_end(year: int) -> dt.date:
    """The snapshot date of a year: 31 December, or the data cut-off in the partial year."""
    return min(dt.date(year, 12, 31), CUTOFF)


def _days(year: int) -> tuple[int, int]:
    """Day numbers (days since 1970-01-01) of 1 January and of the year's snapshot date."""
    epoch = dt.date(1970, 1, 1)
    return (dt.date(year, 1, 1) - epoch).days, (year_end(year) - epoch).days


def _dates_to_str(days: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(days.astype("datetime64[D]"), unit="D")


def id_numbers(rng: np.random.Generator, n: int, birth_days: np.ndarray) -> np.ndarray:
    """``n`` valid 18-character resident ID numbers (GB 11643 check digit) born on ``birth_days``."""
    births = np.char.replace(_dates_to_str(birth_days), "-", "")
    seq = rng.integers(0, 1000, n)
    body = np.char.add(np.char.add("110115", births), np.char.zfill(seq.astype(str), 3))
    digits = np.frombuffer("".join(body).encode(), dtype=np.uint8).reshape(n, 17) - 48 if n else np.zeros((0, 17))
    check = ID_CHECK[(digits * ID_WEIGHTS).sum(axis=1) % 11] if n else np.array([], dtype=str)
    return np.char.add(body, check)


def names(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random Chinese personal names (personal data the ingestion must drop)."""
    s = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)]
    g1 = np.array(GIVEN)[rng.integers(0, len(GIVEN), n)]
    g2 = np.where(rng.random(n) < 0.6, np.array(GIVEN)[rng.integers(0, len(GIVEN), n)], "")
    return np.char.add(np.char.add(s, g1), g2)


def phones(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random mainland mobile numbers."""
    return np.char.add("13", np.char.zfill(rng.integers(0, 10**9, n).astype(str), 9))


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
        """Simulate hires and departures so the year-end headcount follows each town's trend."""
        r = self.rng
        elderly = self._elderly(pop)
        town_idx, hire, leave = [], [], []
        for i, t in enumerate(self.towns):
            employers = [f"大兴区{t.name_zh}养老照料中心", f"{t.name_zh}社区养老服务驿站", f"北京{t.name_zh}颐养院"]
            active: list[int] = []  # indices into the town's own lists
            t_hire: list[int] = []
            t_leave: list[int] = []
            for year in YEARS:
                d0, d1 = _days(year)
                target = int(round(self._trend(self.care_ratio, i, year) * elderly[(year, t.name_zh)] / 10_000))
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
        n = len(hire)
        town_idx = np.array(town_idx, dtype=int)
        hire_a = np.array(hire)
        leave_a = np.array(leave)
        birth = hire_a - r.integers(20 * 365, 50 * 365, n)
        emp = np.array([f"大兴区{t.name_zh}养老照料中心" for t in self.towns])
        emp2 = np.array([f"北京{t.name_zh}颐养院" for t in self.towns])
        town_names = np.array([t.name_zh for t in self.towns])
        employer = np.where(r.random(n) < 0.5, emp[town_idx], emp2[town_idx])
        leave_str = np.where(leave_a >= 0, _dates_to_str(np.maximum(leave_a, 0)), "")
        df = pd.DataFrame(
            {
                "序号": np.arange(1, n + 1),
                "姓名": names(r, n),
                "性别": np.where(r.random(n) < 0.8, "女", "男"),
                "身份证号码": id_numbers(r, n, birth),
                "联系电话": phones(r, n),
                "工作单位": employer,
                "所属镇街": town_names[town_idx],
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
        """Registrations and cancellations so the active count on 31 Dec follows each trend."""
        r = self.rng
        town_parts, reg_parts, cancel_parts = [], [], []
        for i, t in enumerate(self.towns):
            reg = np.array([], dtype=np.int64)
            cancel = np.array([], dtype=np.int64)
            for year in YEARS:
                d0, d1 = _days(year)
                target = int(round(self._trend(self.vol_share, i, year) * self.residents(i, year)))
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
        town = np.concatenate(town_parts)
        reg = np.concatenate(reg_parts)
        cancel = np.concatenate(cancel_parts)
        n = reg.size
        birth = reg - r.integers(16 * 365, 70 * 365, n)
        return pd.DataFrame(
            {
                "志愿者编号": [f"ZY{k:09d}" for k in range(1, n + 1)],
                "姓名": names(r, n),
                "身份证号码": id_numbers(r, n, birth),
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
        return pd.DataFrame(
            {
                "办件编号": [f"BJ{y}{k:08d}" for k, y in zip(range(1, n + 1), df["year"])],
                "事项编码": df["code"].to_numpy(),
                "申请渠道": df["channel"].to_numpy(),
                "受理日期": _dates_to_str(df["date"].to_numpy()),
                "申请人姓名": names(r, n),
                "受理镇街": town_names[r.integers(0, town_names.size, n)],
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
    """Rows ``(kpi_id, period_year, geo_code, numerator, denominator, value)`` for every town/street
    that has a numerator or denominator entry (keyed by Chinese name), plus the district sum.
    ``value`` is numerator / denominator * factor, NaN where the denominator is 0."""
    rows = []

    def row(code, num, den):
        rows.append((kpi, year, code, num, den, num / den * factor if den > 0 else float("nan")))

    for name, code in code_of.items():
        if name in num_by_town.index or name in den_by_town.index:
            row(code, float(num_by_town.get(name, 0)), float(den_by_town.get(name, 0)))
    if district and (len(num_by_town) or len(den_by_town)):
        row(DISTRICT_CODE, float(num_by_town.sum()), float(den_by_town.sum()))
    return rows


def ground_truth(frames: dict[str, pd.DataFrame], town_list: list[Town] | None = None) -> pd.DataFrame:
    """Every KPI value counted from the generated records with pandas (independent of dbt).

    Returns a frame ``kpi_id, period_year, geo_code, numerator, denominator, value`` for the
    district (``110115``) and each town/street with data. Rates are in %, the care-worker
    ratio per 10,000 residents aged 60+. A geography whose denominator is 0 has value NaN.
    """
    town_list = town_list or towns()
    code_of = {t.name_zh: t.code for t in town_list}
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
        employed = workers[(workers["入职日期"] <= snap) & ((workers["离职日期"] == "") | (workers["离职日期"] > snap))]
        emit("eldercare.care_workers_per_10k_elderly", year, employed.groupby("所属镇街").size(), elderly, 10_000)
        b = burials[burials["安葬日期"].str[:4] == str(year)]
        eco = b[b["安葬方式"] != "传统墓穴"]
        emit("funeral.eco_burial_rate", year, eco.groupby("户籍所在镇街").size(), b.groupby("户籍所在镇街").size(), 100)
        active = vols[(vols["注册日期"] <= snap) & ((vols["注销日期"] == "") | (vols["注销日期"] > snap))]
        emit("volunteer.registered_share_of_residents", year, active.groupby("所在镇街").size(), residents, 100)
        it = items[items["年度"] == year]
        if len(it):
            n_on = int((it["是否全程网办"] == "是").sum())
            out.append(("digital.online_service_rate", year, DISTRICT_CODE, float(n_on), float(len(it)), n_on / len(it) * 100))
        c = cases[cases["受理日期"].str[:4] == str(year)]
        if len(c):
            n_on = int(c["申请渠道"].isin(CHANNELS_ONLINE).sum())
            out.append(("digital.online_case_rate", year, DISTRICT_CODE, float(n_on), float(len(c)), n_on / len(c) * 100))
    return pd.DataFrame(out, columns=["kpi_id", "period_year", "geo_code", "numerator", "denominator", "value"])


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
    truth.to_csv(truth_dir / "ground_truth.csv", index=False)
    meta = {"scale": scale, "seed": seed, "cutoff": CUTOFF.isoformat(), "rows": counts}
    meta["fingerprint"] = hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:16]
    (truth_dir / "sample.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return counts
