"""Town/street (镇街) resolution: what a town column says, as a 9-digit 2023 statistical code.

Three seeds decide, no code list lives here:

* ``seeds/townships.csv``: Daxing's 26 township-level units (2023 statistical division codes);
* ``seeds/township_aliases.csv``: spellings seen in exports that no rule derives (renamed units,
  former codes, common names of the development zones);
* ``seeds/beijing_townships_2023.csv``: every township-level unit of Beijing (codes ``1101xx...``),
  to recognise a unit of another district.

:func:`classify_town` applies, to one normalised value (NFKC, no spaces):

1. a code: digits, possibly written as a float (``110115104.0``) or with the village suffix ``000``
   (12 digits): a Daxing code or alias code -> the unit; another Beijing township's code ->
   *outside the district*; anything else -> unknown (a village code is never cut down to its town);
2. a spelling of the alias table or an official name (after a leading 北京市/北京/大兴区) -> the unit;
3. a leading name of another Beijing district (朝阳区望京街道) -> *outside the district*;
4. by rule: one suffix (街/街道/街道办/街道办事处, 地区/地区办/地区办事处, 镇/乡/镇政府/镇人民政府,
   人民政府, 政府, 办事处) taken off, the stem compared with the stems of Daxing's towns/streets and of
   Beijing's other townships; a both-name form ``X地区（X镇）`` resolves when both parts agree.
   Exactly one Daxing unit and no other township -> the unit; only other districts' townships ->
   outside the district; Daxing and another district both -> ambiguous; none -> unknown.

Nothing ambiguous is guessed. Results are cached per distinct value: a file's town column has few
distinct spellings, so a million rows cost a dictionary look-up each.
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache

import pandas as pd

from daxing_kpi.ingest.readers import normalize_text
from daxing_kpi.ingest.reasons import Reason
from daxing_kpi.paths import SEEDS_DIR

DISTRICT_CODE = "110115"
# Prefixes of the district that some systems put before a town/street name (北京市大兴区黄村镇).
DISTRICT_PREFIXES = ("北京市大兴区", "北京大兴区", "大兴区")
CITY_PREFIXES = ("北京市", "北京")
# One of these is taken off a name to find its stem (longest first).
SUFFIXES = tuple(sorted(
    ("街道办事处", "街道办", "街道", "街", "地区办事处", "地区办", "地区", "镇人民政府", "镇政府", "镇",
     "乡人民政府", "乡政府", "民族乡", "回族乡", "满族乡", "乡", "人民政府", "政府", "办事处"),
    key=len, reverse=True))
_CODE = re.compile(r"(\d+)(?:\.0+)?")
_BOTH = re.compile(r"(.+?)\((.+)\)")


def _stem(name: str) -> str:
    for s in SUFFIXES:
        if name.endswith(s) and len(name) > len(s):
            return name[: -len(s)]
    return name


@lru_cache(maxsize=1)
def _tables() -> dict:
    daxing: dict[str, str] = {}  # normalised official name / alias / code -> code
    units = []
    with open(SEEDS_DIR / "townships.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            units.append(r)
            daxing[normalize_text(r["code"])] = r["code"]
            daxing[normalize_text(r["name_zh"])] = r["code"]
    with open(SEEDS_DIR / "township_aliases.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            daxing[normalize_text(r["alias"])] = r["geo_code"]
    daxing_stems: dict[str, set[str]] = {}
    for r in units:
        if r["kind"] != "special_zone":
            daxing_stems.setdefault(_stem(r["name_zh"]), set()).add(r["code"])
    other_codes: set[str] = set()
    other_names: set[str] = set()
    other_stems: set[str] = set()
    districts: set[str] = set()
    with open(SEEDS_DIR / "beijing_townships_2023.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["district_code"] == DISTRICT_CODE:
                continue
            districts.add(r["district_name_zh"])
            other_codes.add(r["code"])
            other_names.add(normalize_text(r["name_zh"]))
            other_stems.add(_stem(r["name_zh"]))
    return {"daxing": daxing, "daxing_stems": daxing_stems, "other_codes": other_codes, "other_names": other_names,
            "other_stems": other_stems, "districts": tuple(sorted(districts, key=len, reverse=True))}


def town_lookup() -> dict[str, str]:
    """Normalised spelling or code -> 9-digit 2023 statistical code, from ``seeds/township_aliases.csv``
    and ``seeds/townships.csv`` (exact spellings only; :func:`classify_town` adds the rules)."""
    return dict(_tables()["daxing"])


@lru_cache(maxsize=4096)
def classify_town(value: str) -> tuple[str | None, str | None]:
    """``(code, None)`` for a Daxing unit, ``(None, reason)`` otherwise (:class:`Reason` UNKNOWN_TOWN,
    AMBIGUOUS_TOWN or OUTSIDE_DISTRICT), ``(None, None)`` for a blank value. ``value`` is normalised
    (:func:`normalize_text`). See the module text for the rules."""
    t = _tables()
    v = value
    if not v:
        return None, None
    m = _CODE.fullmatch(v)
    if m:
        d = m.group(1)
        if len(d) == 12 and d.endswith("000"):
            d = d[:9]
        if d in t["daxing"]:
            return t["daxing"][d], None
        if len(d) == 9 and d in t["other_codes"]:
            return None, Reason.OUTSIDE_DISTRICT
        return None, Reason.UNKNOWN_TOWN
    if v in t["daxing"]:
        return t["daxing"][v], None
    for p in CITY_PREFIXES:
        if v.startswith(p) and v[len(p):] in t["daxing"]:
            return t["daxing"][v[len(p):]], None
    rest = v
    for p in CITY_PREFIXES:
        if rest.startswith(p) and not rest.startswith(("北京经济技术开发区", "北京大兴国际机场")):
            rest = rest[len(p):]
            break
    for d in t["districts"]:
        if rest.startswith(d):
            return None, Reason.OUTSIDE_DISTRICT
    for p in DISTRICT_PREFIXES:
        if rest.startswith(p):
            rest = rest[len(p):]
            break
    if not rest:
        return None, Reason.UNKNOWN_TOWN
    if rest in t["daxing"]:
        return t["daxing"][rest], None
    both = _BOTH.fullmatch(rest)
    if both:
        a, b = classify_town(both.group(1)), classify_town(both.group(2))
        if a[0] and a == b:
            return a
        if a[1] == b[1] == Reason.OUTSIDE_DISTRICT:
            return None, Reason.OUTSIDE_DISTRICT
        return None, Reason.UNKNOWN_TOWN
    stem = _stem(rest)
    mine = t["daxing_stems"].get(stem, set())
    other = stem in t["other_stems"] or rest in t["other_names"]
    if len(mine) == 1 and not other:
        return next(iter(mine)), None
    if mine and other:
        return None, Reason.AMBIGUOUS_TOWN
    if other:
        return None, Reason.OUTSIDE_DISTRICT
    return None, Reason.UNKNOWN_TOWN


def classify_towns(norm: pd.Series) -> tuple[pd.Series, pd.Series]:
    """:func:`classify_town` of every normalised value: ``(codes, reasons)`` (NaN/None where none),
    computed once per distinct value."""
    codes_, uniques = pd.factorize(norm, use_na_sentinel=True)
    pairs = [classify_town(u if isinstance(u, str) else "") for u in uniques]
    code_of = pd.array([p[0] for p in pairs] + [None], dtype=object)
    reason_of = pd.array([p[1] for p in pairs] + [None], dtype=object)
    idx = codes_.copy()
    idx[idx < 0] = len(pairs)
    return (pd.Series(code_of[idx], index=norm.index, dtype=object),
            pd.Series(reason_of[idx], index=norm.index, dtype=object))


def resolve_towns(values: pd.Series, *, normalized: bool = False) -> pd.Series:
    """Map spellings and codes of towns/streets to 9-digit codes; anything else (unknown, ambiguous,
    outside the district, blank) gives NaN. See :func:`classify_town`."""
    from daxing_kpi.ingest.fields import norm_series

    norm = values if normalized else norm_series(values)
    codes, _ = classify_towns(norm)
    return codes.where(codes.notna(), float("nan"))
