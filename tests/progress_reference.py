"""An independent implementation of the progress method, written from the issues' text (4, 17, 18), not
from the SQL: tests compare the published scorecard with it row by row."""

from __future__ import annotations

import pandas as pd


def assess(y0, t0, yi, ti, yt, tt, direction):
    """Return (status, method, ratio, projection) of a target, following issue 4 step by step."""
    d = {"increase": 1, "decrease": -1}[direction]
    if y0 is None or yi is None or ti - t0 < 1:
        return "insufficient_data", None, None, None
    with_target = yt is not None and tt is not None
    growth_defined = y0 > 0 and yi > 0 and (not with_target or yt > 0)
    projection = None
    if tt is not None and ti < tt:
        if growth_defined:
            cagr = (yi / y0) ** (1 / (ti - t0)) - 1
            projection = y0 * (1 + cagr) ** (tt - t0)
        else:
            projection = y0 + (yi - y0) / (ti - t0) * (tt - t0)
    moved_away = d * (yi - y0) < 0
    if with_target:
        meets = d * (yi - yt) >= 0
        if ti >= tt:
            return ("target_achieved" if meets else "target_not_achieved"), "target_year", None, projection
        if meets:
            return "target_achieved", "target_met", None, projection
        if moved_away and d * (y0 - yt) >= 0:
            return "deterioration", "moved_away", None, projection
        if growth_defined:
            method = "cagr"
            ratio = ((yi / y0) ** (1 / (ti - t0)) - 1) / ((yt / y0) ** (1 / (tt - t0)) - 1)
        else:
            method = "linear"
            ratio = ((yi - y0) / (ti - t0)) / ((yt - y0) / (tt - t0))
        upper, lower = 0.95, 0.60
    else:
        if growth_defined:
            method, ratio = "no_target_growth", d * ((yi / y0) ** (1 / (ti - t0)) - 1)
        elif y0 != 0:
            method, ratio = "no_target_linear", d * (yi - y0) / abs(y0) / (ti - t0)
        else:
            status = "deterioration" if moved_away else ("limited_progress" if yi == y0 else "on_track")
            return status, "no_target_from_zero", None, projection
        upper, lower = 0.015, 0.005
    eps = 1e-9  # bounds are inclusive; floating-point noise must not move a value lying on one
    if moved_away or ratio < -eps:
        status = "deterioration"
    elif ratio >= upper - eps:
        status = "on_track"
    elif ratio >= lower - eps:
        status = "needs_acceleration"
    else:
        status = "limited_progress"
    return status, method, ratio, projection


def growth(y0, t0, yi, ti, d):
    """Direction-signed growth a year (compound where defined, else linear relative to |y0|); None from 0."""
    if y0 > 0 and yi > 0:
        return d * ((yi / y0) ** (1 / (ti - t0)) - 1)
    return None if y0 == 0 else d * (yi - y0) / abs(y0) / (ti - t0)


def trend_of(y0, t0, yi, ti, d):
    if y0 is None or yi is None or ti - t0 < 1:
        return None
    if y0 == 0:
        return "stable" if yi == y0 else ("improving" if d * (yi - y0) > 0 else "worsening")
    g = growth(y0, t0, yi, ti, d)
    return "improving" if g >= 0.005 - 1e-9 else ("worsening" if g <= -0.005 + 1e-9 else "stable")


def judged_series(series: pd.DataFrame, count_basis, first_year: int, baseline_year: int) -> pd.DataFrame:
    """The values a target is judged on (one KPI and geography, a row per year): the KPI's value, or for
    count_basis new_in_period the units added from the plan's first year on (the running sum of new_in_year
    when the sample records additions, else the change of the value since the baseline year)."""
    series = series.sort_values("period_year").copy()
    if count_basis != "new_in_period":
        return series
    if "new_in_year" in series and series.new_in_year.notna().any():
        added = series.new_in_year.fillna(0).where(series.period_year >= first_year, 0)
        series["value"] = added.cumsum().where(series.value.notna())
    else:
        base = series.loc[series.period_year == baseline_year, "value"]
        base = float(base.iloc[0]) if len(base) and pd.notna(base.iloc[0]) else float("nan")
        series["value"] = (series.value - base).where(series.period_year >= first_year, 0.0).where(series.value.notna())
    return series


def kind_status(kind, y0, t0, yi, ti, yt, tt, direction, upper=None, years_not_held=None):
    """(status, method) of a target of any kind (issue 18.3), from the text of the issue: reach_by_year is
    :func:`assess`; direction_only is :func:`assess` without a target; a range is judged against its nearer
    bound (an at-least target below or inside nearer the lower bound, an at-most one above or inside nearer
    the upper); hold_every_year judges the latest value first, then the direction of change, and from the
    target year on whether every year held."""
    if kind == "direction_only" or yt is None:
        return assess(y0, t0, yi, ti, None, tt, direction)[:2]
    if kind == "range":
        if yi is None:
            return "insufficient_data", None
        lower_nearer = yi < yt or (yi <= upper and yi - yt <= upper - yi)
        bound, d = (yt, "increase") if lower_nearer else (upper, "decrease")
        return assess(y0, t0, yi, ti, bound, tt, d)[:2]
    if kind == "hold_every_year":
        if y0 is None or yi is None or ti - t0 < 1:
            return "insufficient_data", None
        d = {"increase": 1, "decrease": -1}[direction]
        meets = d * (yi - yt) >= 0
        if ti >= tt:
            return ("target_achieved" if meets and not years_not_held else "target_not_achieved"), "hold_period"
        if meets:
            return "on_track", "hold_met"
        change = d * (yi - y0)
        return ("deterioration" if change < 0 else "limited_progress" if change == 0 else "needs_acceleration"), "hold_trend"
    return assess(y0, t0, yi, ti, yt, tt, direction)[:2]


def is_met(kind, value, yt, direction, upper=None):
    if value is None or yt is None or kind == "direction_only":
        return None
    if kind == "range":
        return yt <= value <= upper
    return {"increase": 1, "decrease": -1}[direction] * (value - yt) >= 0


def verdict_of(kind, y0, value, yt, direction, upper=None, years_not_held=None):
    """The verdict on a target (or milestone) year's value (issue 17.1)."""
    if value is None:
        return None
    d = {"increase": 1, "decrease": -1}[direction]
    if kind == "direction_only":
        return None if y0 is None else ("achieved" if d * (value - y0) > 0 else "deterioration" if d * (value - y0) < 0 else "not_achieved")
    if yt is None:
        return None
    if is_met(kind, value, yt, direction, upper) and (kind != "hold_every_year" or not years_not_held):
        return "achieved"
    if kind == "range":
        d = 1 if value < yt else -1
    return "deterioration" if y0 is not None and d * (value - y0) < 0 else "not_achieved"
