"""Small-count suppression (小数值隐去): the one rule for every planner-facing output.

The dashboard, its downloads and the review report's town/street annex all hide the same values with the
same mark; none of them has a rule of its own:

- :func:`suppress_small_counts`: which rows of ``kpi_observations`` are hidden (``is_suppressed``);
- :func:`suppressed_mark`: the words shown instead of a hidden value, the dashboard's label ``ui.suppressed``
  of ``dashboards/i18n.yaml`` (已隐去（<5）).

The published database keeps every value (it holds no personal data); only what planners see is hidden.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from daxing_kpi.paths import PROJECT_ROOT
from daxing_kpi.yamlfile import read_yaml

# Town/street counts below this in the numerator or denominator of a per-person KPI are suppressed.
SMALL_COUNT_THRESHOLD = 5
# The places below the district whose small counts are hidden (the unassigned records are no place).
SUPPRESSED_LEVELS = ("town_street", "special_zone")
# The label file of the planners' pages: the mark is written once, there.
LABELS_FILE = PROJECT_ROOT / "dashboards" / "i18n.yaml"


def suppress_small_counts(obs: pd.DataFrame, catalog: pd.DataFrame, threshold: int = SMALL_COUNT_THRESHOLD) -> pd.DataFrame:
    """Hide town/street values that could identify a person; returns a copy with ``is_suppressed``.

    Rule (one place for the dashboard, its downloads and the review report): for KPIs with
    ``is_per_person`` in the catalog, a town/street or special-zone row (:data:`SUPPRESSED_LEVELS`) is
    suppressed when its numerator, or its denominator where the KPI has one (unit other than ``count``,
    whose denominator is the constant 1), is below ``threshold`` (5). Complementary suppression: when
    exactly one of these rows of a KPI and year is suppressed, the remaining one with the smallest
    numerator is suppressed too, so the hidden count cannot be derived from the published district total.
    Suppressed rows keep their keys; their ``numerator``, ``denominator`` and ``value`` become missing.
    District rows are never suppressed. ``obs`` needs ``kpi_id, period_year, geo_level, geo_code,
    numerator, denominator, value``; ``catalog`` one row per KPI with ``kpi_id, is_per_person, unit``.
    """
    out = obs.copy()
    meta = catalog.drop_duplicates("kpi_id").set_index("kpi_id")[["is_per_person", "unit"]]
    per_person = out.kpi_id.map(meta.is_per_person).fillna(False).astype(bool)
    has_denominator = out.kpi_id.map(meta.unit).ne("count")
    town = out.geo_level.isin(SUPPRESSED_LEVELS)
    small = out.numerator.lt(threshold) | (has_denominator & out.denominator.lt(threshold))
    primary = per_person & town & small.fillna(False)
    suppressed = primary.copy()
    candidates = out[per_person & town]
    for _, group in candidates.groupby(["kpi_id", "period_year"], sort=False):
        if int(primary.loc[group.index].sum()) == 1 and len(group) > 1:
            rest = group.loc[~primary.loc[group.index]].sort_values(["numerator", "geo_code"])
            suppressed.loc[rest.index[0]] = True
    out["is_suppressed"] = suppressed.to_numpy()
    for col in ("numerator", "denominator", "value"):
        out[col] = out[col].astype("float64").mask(out.is_suppressed)
    return out


@lru_cache(maxsize=None)
def _mark_texts() -> dict[str, str]:
    spec = read_yaml(LABELS_FILE)
    return {lang: str(text) for lang, text in spec["ui"]["suppressed"].items() if lang in ("zh", "en")}


def suppressed_mark(lang: str = "zh", threshold: int = SMALL_COUNT_THRESHOLD) -> str:
    """What a planner reads instead of a hidden value: 已隐去（<5） (English: suppressed (<5)), the
    dashboard's label ``ui.suppressed``."""
    return _mark_texts()[lang].format(threshold=threshold)
