"""How the report writes numbers, dates, targets, gaps and verdicts in Chinese (one place for each).

Values are rounded for reading (the published database keeps every digit): counts as whole numbers
with thousands separators, everything else to one decimal. Gaps are in the KPI's unit, percentages in
percentage points (个百分点). Verdict and trend words are the dashboard's (``dashboards/i18n.yaml``:
``verdicts`` / ``trends`` when present, else the status words of ``statuses``), so the report and the
pages say the same thing.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache

from daxing_kpi.paths import PROJECT_ROOT
from daxing_kpi.yamlfile import read_yaml

NA = "—"
PENDING = "待填写"  # a missing explanation: never invented
NUMERALS = "一二三四五六七八九十"
COMPARATORS = {">=": "≥", "<=": "≤", ">": "＞", "<": "＜", "=": "", "==": ""}
DEFAULT_VERDICTS = {"achieved": "已实现目标", "not_achieved": "未实现目标", "deterioration": "退步"}
DEFAULT_TRENDS = {"improving": "向好", "stable": "基本持平", "worsening": "变差"}
STATUS_OF_VERDICT = {"achieved": "target_achieved", "not_achieved": "target_not_achieved", "deterioration": "deterioration"}
REVIEW_TITLES = {"final": "总结评估", "mid_term": "中期评估", "latest": "进展评估"}


def chinese_number(n: int) -> str:
    """1 -> 一, 10 -> 十, 12 -> 十二, 21 -> 二十一 (section numbers up to 99)."""
    if n <= 10:
        return NUMERALS[n - 1]
    tens, ones = divmod(n, 10)
    return (NUMERALS[tens - 1] if tens > 1 else "") + "十" + (NUMERALS[ones - 1] if ones else "")


def cn_date(d: dt.date | dt.datetime | None) -> str:
    """2025年12月31日 (Arabic numerals, as GB/T 9704 writes dates)."""
    if d is None:
        return NA
    return f"{d.year}年{d.month}月{d.day}日"


def _is_missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def fmt_number(v, unit: str) -> str:
    """A value in the KPI's unit: counts whole with separators (6,047), others to one decimal (56.4)."""
    if _is_missing(v):
        return NA
    if unit == "count":
        return f"{round(v):,}"
    return f"{v:,.1f}"


def gap_unit(unit: str, unit_zh: str) -> str:
    """Unit of a gap: percentage points for percentages, else the KPI's unit."""
    return "个百分点" if unit == "pct" else unit_zh


def fmt_gap(gap, unit: str) -> str:
    """差 6.1 (still to go), 超 2.3 (beyond the target), 持平 (exactly met), — (no numeric target)."""
    if _is_missing(gap):
        return NA
    text = fmt_number(abs(gap), unit)
    if text in ("0", "0.0"):
        return "持平"
    return f"差{text}" if gap > 0 else f"超{text}"


def fmt_share(x, digits: int = 1) -> str:
    return NA if _is_missing(x) else f"{x * 100:.{digits}f}%"


def fmt_completion(t) -> str:
    """Completion as the scorecard says it reads best (``completion_basis``): value ÷ target, or the
    progress share (value − baseline) ÷ (target − baseline), marked with an asterisk."""
    if t.completion_basis == "progress_share" and not _is_missing(t.progress_share):
        return fmt_share(t.progress_share) + "*"
    if not _is_missing(t.completion_rate):
        return fmt_share(t.completion_rate)
    if not _is_missing(t.progress_share):
        return fmt_share(t.progress_share) + "*"
    return NA


def fmt_target(t) -> str:
    """The target as the plan states it: ≥50, ≤5.0, 90.0～110.0, 每年≥95.0, 提高 (direction only)."""
    kind = t.target_kind or "reach_by_year"
    if kind == "direction_only" or _is_missing(t.target_value):
        return "提高" if t.direction != "decrease" else "降低"
    cmp = COMPARATORS.get(t.comparator or (">=" if t.direction != "decrease" else "<="), "")
    if kind == "range" and not _is_missing(t.target_value_upper):
        return f"{fmt_number(t.target_value, t.unit)}～{fmt_number(t.target_value_upper, t.unit)}"
    text = f"{cmp}{fmt_number(t.target_value, t.unit)}"
    return f"每年{text}" if kind == "hold_every_year" else text


@lru_cache(maxsize=1)
def _labels() -> dict:
    try:
        return read_yaml(PROJECT_ROOT / "dashboards" / "i18n.yaml") or {}
    except OSError:
        return {}


def verdict_label(verdict: str | None, status: str | None = None) -> str:
    """The verdict's words (the dashboard's); without a verdict, the progress status's words."""
    spec = _labels()
    if verdict:
        entry = (spec.get("verdicts") or {}).get(verdict) or (spec.get("statuses") or {}).get(STATUS_OF_VERDICT.get(verdict, ""))
        return (entry or {}).get("zh") or DEFAULT_VERDICTS.get(verdict, verdict)
    if status:
        return ((spec.get("statuses") or {}).get(status) or {}).get("zh") or status
    return NA


def trend_label(trend: str | None) -> str:
    if not trend:
        return NA
    return ((_labels().get("trends") or {}).get(trend) or {}).get("zh") or DEFAULT_TRENDS.get(trend, trend)
