"""Plans, their reviews, and how one ``kpi_scorecard`` row reads on the planners' pages (no HTML here).

Plans are data (issue 18): the published ``plans`` (one row per plan: names, period, baseline year,
``is_example``) and ``plan_sections`` (section titles) name everything the pages say about a plan;
without them (a database from before plans were published) each ``kpi_catalog.plan_id`` is one plan
named by its period. Nothing here names a particular plan.

- :func:`load_plans`: the plans, their section titles and which one the dashboard opens on;
- :func:`plan_views`: the review selector of a plan (its reviews from ``kpi_scorecard.review`` and
  the latest data), and :func:`default_view`: the final review once every target year has passed;
- :func:`target_text`: a target as the plan states it, for every target kind;
- :func:`mark`: the word, colour key, gap and completion a scorecard row shows (issue 17.1, 17.2):
  the plan's verdict after the target year, the progress status before it, whether the target is
  still held in the latest data after the plan, and for a geography without a target of its own its
  progress indication (trend) and share of the district, never a status word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from daxing_kpi.dashboard_data import (
    NUMERALS,
    Labels,
    Text,
    format_date,
    format_target,
    format_value,
    is_missing,
    period_label,
    plan_section_key,
)

COMPARATORS = {">=": "≥", "<=": "≤", "=": "=", ">": ">", "<": "<"}
# kpi_scorecard.verdict -> the colour/word key of the pages (dashboards/i18n.yaml: statuses)
VERDICT_KEYS = {"achieved": "target_achieved", "not_achieved": "target_not_achieved", "deterioration": "deterioration"}
TREND_KEYS = {"improving": "trend_improving", "stable": "trend_stable", "worsening": "trend_worsening"}
# The keys a geography's assessment can show, best first (summary chips, legend order).
MARK_KEYS = ("target_achieved", "target_held", "on_track", "needs_acceleration", "limited_progress", "deterioration",
             "target_not_achieved", "target_not_held", "not_yet_measurable", "insufficient_data")
PROGRESS_KEYS = ("trend_improving", "trend_stable", "trend_worsening")
# The progress statuses before a target year (Statistics Canada's pace), and the trend each reads as
# where no pace towards a target applies.
PACE_KEYS = ("on_track", "needs_acceleration", "limited_progress")
PACE_TO_TREND = {"on_track": "trend_improving", "needs_acceleration": "trend_stable", "limited_progress": "trend_stable"}
# Marks that count as a target met (the town ranking by targets met).
MET_KEYS = ("target_achieved", "target_held")


@dataclass(frozen=True)
class Plan:
    """One plan: ``plans`` row (or the catalog's plan without it) and its section titles."""

    plan_id: str
    name: Text
    short_name: Text
    start_year: int
    end_year: int
    baseline_year: int | None
    is_example: bool
    sections: dict[str, Text] = field(default_factory=dict)  # section code (一, 二, ...) -> title, in order

    def section_of(self, plan_section) -> str:
        """The section (part) of a target's ``plan_section`` (``一(二)1`` -> ``一``): the shortest
        section code it starts with, else its leading numeral."""
        s = str(plan_section or "").strip()
        for code in sorted(self.sections, key=len):
            if s.startswith(code):
                return code
        m = re.match(f"[{NUMERALS}]+", s)
        return m.group(0) if m else ""

    def section_title(self, code: str) -> Text:
        return self.sections.get(code, Text(code, code))


@dataclass(frozen=True)
class View:
    """An entry of the review selector: a review of the plan or the latest data."""

    key: str  # mid_term, final (kpi_scorecard.review) or latest (kpi_scorecard.is_data_cutoff)
    as_of: pd.Timestamp
    label: Text
    after_plan: bool  # the latest data of a plan whose period is over: targets "still held", no verdicts


def _text(row, zh: str, en: str, default: Text) -> Text:
    z = row.get(zh) if hasattr(row, "get") else getattr(row, zh, None)
    e = row.get(en) if hasattr(row, "get") else getattr(row, en, None)
    if is_missing(z) or not str(z).strip():
        return default
    return Text(str(z), str(e) if not is_missing(e) and str(e).strip() else str(z))


def load_plans(data, labels: Labels) -> list[Plan]:
    """The published plans in their order (period start, then id), with their section titles.

    From ``plans`` and ``plan_sections`` when published; else one plan per ``kpi_catalog.plan_id``,
    named by its period (``<start>—<end>年规划``), its period from the catalog's baseline and target
    years, its sections untitled.
    """
    catalog = data.catalog
    sections: dict[str, dict[str, Text]] = {}
    if data.plan_sections is not None and len(data.plan_sections):
        ps = data.plan_sections.sort_values(["plan_id", "sort_order", "section_code"])
        for r in ps.itertuples():
            title = Text(str(r.title_zh), str(r.title_en) if not is_missing(r.title_en) else str(r.title_zh))
            sections.setdefault(str(r.plan_id), {})[str(r.section_code)] = title
    plans = []
    if data.plans is not None and len(data.plans):
        for r in data.plans.sort_values(["period_start_year", "plan_id"]).itertuples():
            start, end = int(r.period_start_year), int(r.period_end_year)
            generic = labels["ui.plan_generic"].format(start=start, end=end)
            plans.append(Plan(
                plan_id=str(r.plan_id), name=_text(r._asdict(), "name_zh", "name_en", generic),
                short_name=_text(r._asdict(), "short_name_zh", "short_name_en", generic),
                start_year=start, end_year=end,
                baseline_year=None if is_missing(r.baseline_year) else int(r.baseline_year),
                is_example=bool(r.is_example) if not is_missing(r.is_example) else False,
                sections=sections.get(str(r.plan_id), {}),
            ))
        return plans
    for plan_id, g in catalog.groupby("plan_id", sort=True):
        base = pd.to_numeric(g.baseline_year, errors="coerce").min()
        start = int(base) + 1 if not is_missing(base) else int(pd.to_numeric(g.target_year, errors="coerce").min())
        end = int(pd.to_numeric(g.target_year, errors="coerce").max())
        generic = labels["ui.plan_generic"].format(start=start, end=end)
        plans.append(Plan(plan_id=str(plan_id), name=generic, short_name=generic, start_year=start, end_year=end,
                          baseline_year=None if is_missing(base) else int(base), is_example=False,
                          sections=sections.get(str(plan_id), {})))
    return plans


def default_plan(plans: list[Plan], data_as_of) -> Plan:
    """The plan the dashboard opens on: the latest plan that is not an example and has started by the
    data cut-off (else the first plan)."""
    cut = pd.Timestamp(data_as_of).year if not is_missing(data_as_of) else None
    real = [p for p in plans if not p.is_example and (cut is None or p.start_year <= cut)]
    return (real or plans)[-1] if real else plans[0]


# -- views (the review selector) -----------------------------------------------------------------------


def plan_views(scorecard: pd.DataFrame | None, plan: Plan, labels: Labels) -> list[View]:
    """The review selector of one plan, in date order: every review of its district scorecard rows
    (``review`` not null: mid-term, final) and the latest data (``is_data_cutoff``). Without a
    scorecard: the latest data only."""
    views = []
    sc = None if scorecard is None or scorecard.empty else scorecard[scorecard.geo_level == "district"]
    if sc is not None:
        reviews = sc[sc.review.notna()].groupby("review").as_of_date.max().sort_values()
        for review, as_of in reviews.items():
            name = labels[f"reviews.{review}"] if review in labels.spec["reviews"] else Text(str(review), str(review))
            date = format_date(as_of, labels)
            template = labels["ui.review_option"]
            label = Text(template.zh.format(review=name.zh, date=date.zh), template.en.format(review=name.en, date=date.en))
            views.append(View(str(review), pd.Timestamp(as_of), label, False))
        cut = sc[sc.is_data_cutoff.astype(bool)]
        if len(cut):
            r = cut.sort_values("as_of_date").iloc[-1]
            views.append(latest_view(plan, r.latest_year, r.latest_period_end_date, bool(r.is_latest_partial_year),
                                     r.as_of_date, labels))
    if not any(v.key == "latest" for v in views):
        views.append(View("latest", pd.NaT, labels["reviews.latest"], False))
    return views


def latest_view(plan: Plan, year, end_date, partial: bool, as_of, labels: Labels) -> View:
    """The latest data: ``2026年（截至10月31日），规划期后`` after the plan period, else
    ``最新数据：2026年（截至10月31日）``."""
    period = period_label(labels, year, partial, end_date)
    as_of = pd.Timestamp(as_of)
    after = as_of.year > plan.end_year
    template = labels["ui.latest_after_plan"] if after else labels["ui.latest_in_plan"]
    return View("latest", as_of, Text(template.zh.format(period=period.zh), template.en.format(period=period.en)), after)


def target_years(catalog: pd.DataFrame) -> list[int]:
    years = pd.to_numeric(catalog.target_year, errors="coerce").dropna() if "target_year" in catalog else pd.Series([], dtype=float)
    return sorted({int(y) for y in years})


def default_view(views: list[View], plan: Plan, catalog: pd.DataFrame, data_as_of) -> str:
    """The view the plan opens on: its final review once every target year of the plan has passed
    (31 December of the last target year is on or before the data cut-off, and the final review's
    date too), else the latest data. Driven by the review dates and the targets, nothing fixed."""
    final = next((v for v in views if v.key == "final"), None)
    if final is None or is_missing(data_as_of):
        return "latest"
    cut = pd.Timestamp(data_as_of)
    years = target_years(catalog) or [plan.end_year]
    if pd.Timestamp(year=max(years), month=12, day=31) <= cut and final.as_of <= cut:
        return "final"
    return "latest"


# -- targets -----------------------------------------------------------------------------------------------


def comparator(kpi) -> str:
    c = str(getattr(kpi, "comparator", "") or "").strip()
    return COMPARATORS.get(c, "≥" if getattr(kpi, "direction", "increase") == "increase" else "≤")


def target_kind(kpi) -> str:
    kind = getattr(kpi, "target_kind", None)
    if is_missing(kind) or not str(kind).strip():
        return "reach_by_year" if not is_missing(getattr(kpi, "target_value", None)) else "direction_only"
    return str(kind)


def target_text(kpi, labels: Labels) -> Text:
    """A target as the plan states it: ``≥ 50``, ``每年 ≥ 95%``, ``60%–80%``, ``提高``; the label for a
    KPI without a numeric target; ``待建指标`` for a target without a KPI yet."""
    kind = target_kind(kpi)
    unit = getattr(kpi, "unit", "")
    if kind == "not_yet_measurable" or is_missing(getattr(kpi, "kpi_id", None)):
        return labels["ui.not_yet_measurable"]
    if kind == "direction_only" or is_missing(getattr(kpi, "target_value", None)):
        d = getattr(kpi, "direction", None)
        return labels[f"ui.direction_only_{d}"] if d in ("increase", "decrease") else labels["ui.no_target"]
    value = format_target(kpi.target_value, unit)
    if kind == "range" and not is_missing(getattr(kpi, "target_value_upper", None)):
        return labels["ui.target_range"].format(low=value, high=format_target(kpi.target_value_upper, unit))
    plain = f"{comparator(kpi)} {value}"
    if kind == "hold_every_year":
        return labels["ui.target_every_year"].format(target=plain)
    return Text(plain, plain)


def target_label(kpi, labels: Labels) -> Text:
    """``<year>年目标`` / ``Target <year>`` (the target year of this plan's target)."""
    if is_missing(getattr(kpi, "target_year", None)):
        return labels["ui.target"]
    if target_kind(kpi) == "hold_every_year":
        return labels["ui.target_hold_label"].format(year=int(kpi.target_year))
    return labels["ui.target_line"].format(year=int(kpi.target_year))


def milestones_text(milestones: pd.DataFrame | None, kpi, labels: Labels) -> Text | None:
    """``阶段目标：2027年 ≥ 55`` for a target with milestones (``plan_target_milestones``), else None."""
    if milestones is None or milestones.empty:
        return None
    m = milestones[(milestones.plan_id == kpi.plan_id) & (milestones.kpi_id == kpi.kpi_id)].sort_values("milestone_year")
    if m.empty:
        return None
    items = [f"{int(r.milestone_year)}: {comparator(kpi)} {format_target(r.milestone_value, kpi.unit)}" for r in m.itertuples()]
    zh = "；".join(f"{int(r.milestone_year)}年 {comparator(kpi)} {format_target(r.milestone_value, kpi.unit)}" for r in m.itertuples())
    return labels["ui.milestones"].format(items_zh=zh, items_en="; ".join(items))


# -- what a scorecard row shows -------------------------------------------------------------------------------


def _get(row, name):
    if row is None:
        return None
    v = row.get(name) if isinstance(row, (dict, pd.Series)) else getattr(row, name, None)
    return None if is_missing(v) else v


def gap_text(gap, kpi, labels: Labels) -> Text | None:
    """The gap to the target in the KPI's unit (``kpi_scorecard.gap_to_target``: positive = still to
    go): ``差 6.1 个百分点`` / ``超出 1 所`` / ``恰好达到``."""
    if gap is None or is_missing(gap):
        return None
    g = float(gap)
    amount = format_gap_amount(abs(g), kpi, labels)
    if abs(g) < 1e-9:
        return labels["ui.gap_zero"]
    return (labels["ui.gap_short"] if g > 0 else labels["ui.gap_over"]).format(amount_zh=amount.zh, amount_en=amount.en)


def format_gap_amount(amount: float, kpi, labels: Labels) -> Text:
    """``6.1 个百分点`` (rates in %), ``1 所`` (counts), ``4.7 人/万老年人`` (other units: the KPI's unit in Chinese)."""
    unit = getattr(kpi, "unit", "")
    if unit == "pct":
        return labels["ui.points"].format(value=f"{amount:.1f}")
    if unit == "count":
        return Text(f"{round(amount):,} {kpi.unit_zh}".strip(), f"{round(amount):,}")
    return Text(f"{amount:,.1f} {getattr(kpi, 'unit_zh', '')}".strip(), f"{amount:,.1f}")


def completion_text(row, labels: Labels) -> Text | None:
    """``完成 90.7%`` (assessed value ÷ target) or ``进展 75%`` ((value − baseline) ÷ (target − baseline)),
    whichever ``completion_basis`` names."""
    basis = _get(row, "completion_basis")
    if basis is None:
        return None
    value = _get(row, "completion_rate" if basis == "completion_rate" else "progress_share")
    if value is None:
        return None
    key = "ui.completion_rate" if basis == "completion_rate" else "ui.progress_share"
    return labels[key].format(value=f"{100 * float(value):.1f}")


def has_own_target(row, kpi) -> bool:
    """Is the geography held to a target of its own (the district's target, or a town's own)? A
    district count (e.g. 6000 organisations) is no target for one town/street (``target_source = none``)."""
    source = _get(row, "target_source")
    if source is not None:
        return str(source) != "none"
    return not is_missing(getattr(kpi, "target_value", None))


def mark(row, kpi, view: View, labels: Labels, district_target: bool | None = None) -> dict:
    """What one geography's scorecard row at one view shows: ``key`` (colour and icon), ``text``
    (the word), ``gap`` and ``completion`` (texts or None), ``share`` (a town/street's share of the
    district total, or None).

    The plan's ``verdict`` after the target year; a geography without a target of its own shows its
    progress indication (``trend``), never a status word that could contradict the district; in the
    latest data after the plan, whether the target is still held (``is_target_held``); before the
    target year the progress status (``status``). ``district_target``: whether the KPI has a numeric
    target at all (a town/street of a KPI without one keeps its growth status).
    """
    if row is None:
        return _mark("insufficient_data", labels)
    status = _get(row, "status")
    kind = target_kind(kpi)
    if kind == "not_yet_measurable":
        return _mark("not_yet_measurable", labels)
    share = _get(row, "contribution_share")
    own = has_own_target(row, kpi)
    numeric_target = (not is_missing(getattr(kpi, "target_value", None))) if district_target is None else district_target
    if not own and numeric_target and _get(row, "geo_level") != "district":
        trend = _get(row, "trend")
        key = TREND_KEYS.get(str(trend)) if trend is not None else None
        if key is None and trend is None and "trend" not in _fields(row):
            # a scorecard from before issue 17: the growth status of such a geography is its trend
            key = {**PACE_TO_TREND, "deterioration": "trend_worsening"}.get(str(status))
        m = _mark(key or "insufficient_data", labels)
        m["share"] = None if share is None else labels["ui.share_of_district"].format(value=f"{100 * float(share):.1f}")
        return m
    gap = gap_text(_get(row, "gap_to_target"), kpi, labels)
    if gap is not None and _get(row, "is_milestone_target") and _get(row, "target_year") is not None:
        # judged against the next milestone, not the final target: say which
        m = labels["ui.gap_to_milestone"]
        year = int(_get(row, "target_year"))
        gap = Text(m.zh.format(gap=gap.zh, year=year), m.en.format(gap=gap.en, year=year))
    completion = completion_text(row, labels)
    if view.after_plan:
        held = _get(row, "is_target_held")
        if held is None and "is_target_held" not in _fields(row):
            held = {"target_achieved": True, "target_not_achieved": False}.get(str(status))
        if held is not None:
            return {**_mark("target_held" if bool(held) else "target_not_held", labels), "gap": gap, "completion": completion}
    verdict = _get(row, "verdict")
    if verdict is not None and str(verdict) in VERDICT_KEYS:
        return {**_mark(VERDICT_KEYS[str(verdict)], labels), "gap": gap, "completion": completion}
    key = str(status) if status in MARK_KEYS else "insufficient_data"
    if key in PACE_KEYS and _after_target_year(view, kpi):
        # "on track" says something about the pace towards a target year still to come: after it,
        # a geography without a verdict shows how it moved
        return {**_mark(PACE_TO_TREND[key], labels), "gap": gap, "completion": completion}
    return {**_mark(key, labels), "gap": gap, "completion": completion}


def _after_target_year(view: View, kpi) -> bool:
    year = getattr(kpi, "target_year", None)
    if is_missing(year) or view.as_of is None or is_missing(view.as_of):
        return False
    return pd.Timestamp(view.as_of) >= pd.Timestamp(year=int(year), month=12, day=31)


def _fields(row) -> set:
    if isinstance(row, (dict, pd.Series)):
        return set(row.keys())
    return set(getattr(row, "_fields", ()))


def _mark(key: str, labels: Labels) -> dict:
    return {"key": key, "text": labels.status(key), "gap": None, "completion": None, "share": None}


def sort_catalog(catalog: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """A plan's KPIs in the plan's order: its sections' order, then the section references (一(二)1
    before 一(二)2), then the catalog's order."""
    c = catalog.reset_index(drop=True).copy()
    c["section"] = c.plan_section.map(plan.section_of)
    order = list(plan.sections) + sorted(set(c.section) - set(plan.sections), key=lambda s: (len(s), s))
    c["section_rank"] = c.section.map({n: i for i, n in enumerate(order)})

    def key(s):
        try:
            return plan_section_key(s)
        except ValueError:
            return (99, 99, 99)

    c["plan_rank"] = c.plan_section.map(key)
    c["catalog_rank"] = range(len(c))
    return c.sort_values(["section_rank", "plan_rank", "catalog_rank"]).reset_index(drop=True)


def counts_additions(kpi) -> bool:
    """Does the target count what the plan period added (``count_basis = new_in_period``), not the stock?"""
    return str(getattr(kpi, "count_basis", "") or "") == "new_in_period"


def value_period(row, kpi, labels: Labels) -> dict:
    """The value the target is judged on and its period, of a scorecard row: ``{"value", "value_text",
    "year", "period", "note"}``. For a target of what the plan period added, that is ``assessed_value``
    (the additions since the plan's first year) and ``note`` names it with the stock (``latest_value``)."""
    year, value = _get(row, "latest_year"), _get(row, "latest_value")
    note = None
    if counts_additions(kpi) and _get(row, "assessed_value") is not None:
        note = labels["ui.added_value"].format(stock=format_value(value, kpi.unit))
        value = _get(row, "assessed_value")
    period = period_label(labels, year, bool(_get(row, "is_latest_partial_year")), _get(row, "latest_period_end_date"))
    return {"value": None if value is None else float(value), "value_text": format_value(value, kpi.unit),
            "year": None if year is None else int(year), "period": period, "note": note}
