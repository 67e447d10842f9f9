"""The town/street view of the planners' dashboard (issue 17.4) and the geographies apart from it
(issue 16.6, 15.3): no HTML here, only what the templates show.

- :func:`towns_of`: the towns/streets (``geographies.geo_level = town_street``; special zones never);
- :func:`town_matrix`: the overview's towns/streets × KPIs table, per view: one cell per town and
  KPI with the verdict or progress (colour key and word) and the gap or value, the number of targets
  met and the rank by it;
- :func:`town_page_context`: one town/street's page: every KPI with its value, the district's, the
  target that applies, the verdict or progress with the gap, and its rank among the towns/streets;
- :func:`kpi_geography_notes`: on a KPI page, the special zones (a separate small table, never
  ranked) and the sentence district = towns/streets + special zones + unassigned records.
"""

from __future__ import annotations

import numpy as np

from daxing_kpi.dashboard_data import Text, format_count, format_value, is_missing
from daxing_kpi.dashboard_plans import MET_KEYS, PROGRESS_KEYS, View, target_label, target_text
from daxing_kpi.smallcounts import SMALL_COUNT_THRESHOLD

TOWN_LEVEL = "town_street"
ZONE_LEVEL = "special_zone"
UNASSIGNED_LEVEL = "unassigned"


def towns_of(site) -> list[dict]:
    """The towns/streets in code order: ``[{"geo_code", "name": Text, "kind"}]``. From
    ``geographies`` (level ``town_street``, not a special zone) when published, else the
    ``town_street`` rows of ``kpi_observations``."""
    g = site.data.geographies
    if g is not None and len(g):
        t = g[g.geo_level.astype(str) == TOWN_LEVEL]
        if "kind" in t:
            t = t[t.kind.astype(str) != "special_zone"]
        pairs = [(str(c), str(n), str(k) if "kind" in t else "") for c, n, k in
                 zip(t.geo_code, t.geo_name_zh, t["kind"] if "kind" in t else [""] * len(t), strict=True)]
    else:
        o = site.obs[site.obs.geo_level == TOWN_LEVEL].drop_duplicates("geo_code")
        pairs = [(str(c), str(n), "") for c, n in zip(o.geo_code, o.geo_name_zh, strict=True)]
    return [{"geo_code": c, "name": site.geo(c, n), "kind": k} for c, n, k in sorted(pairs)]


def town_kpis(ps) -> list:
    """The plan's KPIs with a town/street breakdown, in the plan's order."""
    return [k for k in ps.kpis if bool(k.has_town_street)]


def ranks(values: dict[str, float], direction: str) -> dict[str, int]:
    """Rank of each town/street by value, best first (the highest for ``increase``, the lowest for
    ``decrease``); equal values share the better rank (``1, 2, 2, 4``). Missing values get no rank."""
    known = {c: float(v) for c, v in values.items() if not is_missing(v)}
    sign = -1 if direction != "decrease" else 1
    ordered = sorted(known.values(), key=lambda v: sign * v)
    return {c: 1 + next(i for i, x in enumerate(ordered) if x == v) for c, v in known.items()}


class TownCells:
    """The cells of one plan's towns/streets × KPIs at one view (shared by the table and the pages)."""

    def __init__(self, ps, view: View):
        self.ps, self.view = ps, view
        L = ps.labels
        self.kpis = town_kpis(ps)
        self.towns = ps.site.towns
        self.cells: dict[tuple[str, str], dict] = {}
        self.rank: dict[str, dict[str, int]] = {}
        self.year: dict[str, int | None] = {}
        codes = [t["geo_code"] for t in self.towns]
        for kpi in self.kpis:
            state = ps.state(kpi, view)
            year = state["year"]
            self.year[kpi.kpi_id] = year
            obs = {} if year is None else {r["geo_code"]: r for r in ps.site.level_rows(kpi.kpi_id, TOWN_LEVEL)
                                           if r["period_year"] == year}
            shown = {c: obs[c]["value"] for c in codes if c in obs and not bool(obs[c]["is_suppressed"])}
            self.rank[kpi.kpi_id] = ranks(shown, kpi.direction)
            for c in codes:
                self.cells[(kpi.kpi_id, c)] = self._cell(kpi, c, obs.get(c), L)

    def _cell(self, kpi, code: str, obs: dict | None, L) -> dict:
        """One town/street's cell from its observation of the view's year (None when it has none)."""
        if obs is None:
            return {"key": "insufficient_data", "word": L["statuses.insufficient_data"], "detail": None, "sort": None,
                    "value_text": L["ui.na"], "mark": None, "rank": None}
        if bool(obs["is_suppressed"]):
            mark_s = L["ui.suppressed"].format(threshold=SMALL_COUNT_THRESHOLD)
            return {"key": "suppressed", "word": mark_s, "detail": None, "sort": None, "value_text": mark_s, "mark": None, "rank": None}
        if str(obs.get("reporting_status")) == "not_reported":
            return {"key": "not_reported", "word": L["ui.not_reported"], "detail": None, "sort": None, "value_text": L["ui.na"],
                    "mark": None, "rank": None}
        m = self.ps.mark(kpi, code, self.view)
        value_text = format_value(obs["value"], kpi.unit)
        value = Text(value_text, value_text)  # the unit is in the column heading
        if m["key"] in PROGRESS_KEYS:
            detail = value if m["share"] is None else Text(f"{value.zh}，{m['share'].zh}", f"{value.en}, {m['share'].en}")
        else:
            detail = m["gap"] or value
        return {"key": m["key"], "word": m["text"], "detail": detail, "sort": None if is_missing(obs["value"]) else float(obs["value"]),
                "value_text": value, "mark": m, "rank": self.rank[kpi.kpi_id].get(code)}

    def met(self, code: str) -> tuple[int, int]:
        """Targets met and targets assessed (own target, a verdict or status) of one town/street."""
        cells = [self.cells[(k.kpi_id, code)] for k in self.kpis]
        assessed = [c for c in cells if c["mark"] is not None and c["key"] not in PROGRESS_KEYS and c["key"] != "insufficient_data"]
        return sum(1 for c in assessed if c["key"] in MET_KEYS), len(assessed)

    def overall_ranks(self) -> dict[str, int]:
        return ranks({t["geo_code"]: self.met(t["geo_code"])[0] for t in self.towns}, "increase")


def _cells(ps, view: View) -> TownCells:
    cache = ps.__dict__.setdefault("_town_cells", {})
    if view.key not in cache:
        cache[view.key] = TownCells(ps, view)
    return cache[view.key]


def town_matrix(ps) -> dict | None:
    """The overview's towns/streets × KPIs table of every view: ``{"columns", "views": [{"key",
    "rows", "caption"}]}``; None when the plan has no KPI by town/street."""
    L = ps.labels
    kpis = town_kpis(ps)
    if not kpis or not ps.site.towns:
        return None
    columns = [{"kpi_id": k.kpi_id, "name": Text(str(k.name_zh), str(k.name_en)), "href": f"kpi/{k.kpi_id}.html",
                "unit": Text(str(k.unit_zh), str(k.unit_en)), "direction": k.direction} for k in kpis]
    views = []
    for v in ps.views:
        tc = _cells(ps, v)
        overall = tc.overall_ranks()
        rows = []
        for t in ps.site.towns:
            met, assessed = tc.met(t["geo_code"])
            rows.append({"geo_code": t["geo_code"], "name": t["name"], "href": f"town/{t['geo_code']}.html",
                         "met": met, "assessed": assessed, "rank": overall.get(t["geo_code"]),
                         "cells": [tc.cells[(k.kpi_id, t["geo_code"])] for k in kpis]})
        views.append({"key": v.key, "label": v.label, "rows": rows,
                      "caption": Text(L["ui.matrix_caption"].zh.format(view=v.label.zh), L["ui.matrix_caption"].en.format(view=v.label.en))})
    return {"columns": columns, "views": views, "n_towns": len(ps.site.towns)}


def town_page_context(ps, index: int) -> dict:
    """One town/street's page: per view, a row per KPI (value, district value, target, verdict or
    progress, gap, rank), the number of targets met and the rank among the towns/streets by it."""
    L = ps.labels
    towns = ps.site.towns
    town = towns[index]
    code = town["geo_code"]
    kpis = town_kpis(ps)
    views = []
    for v in ps.views:
        tc = _cells(ps, v)
        met, assessed = tc.met(code)
        overall = tc.overall_ranks().get(code)
        counts: dict[str, int] = {}
        rows = []
        for k in kpis:
            cell = tc.cells[(k.kpi_id, code)]
            counts[cell["key"]] = counts.get(cell["key"], 0) + 1
            state = ps.state(k, v)
            own = cell["mark"] is not None and cell["key"] not in PROGRESS_KEYS
            target = target_text(k, L) if own or is_missing(k.target_value) else per_lang_target(L, k)
            rows.append({
                "kpi_id": k.kpi_id, "name": Text(str(k.name_zh), str(k.name_en)), "href": f"../kpi/{k.kpi_id}.html",
                "period": Text(state["period"]["zh"], state["period"]["en"]),
                "value": cell["value_text"], "unit": Text("", "") if k.unit == "pct" else Text(str(k.unit_zh), str(k.unit_en)),
                "district": state["value_text"], "target": target, "target_label": target_label(k, L),
                "cell": cell, "rank": cell["rank"], "n": len(tc.rank[k.kpi_id]),
            })
        summary = L["ui.town_summary"].format(met=met, assessed=assessed)
        rank_text = L["ui.town_rank"].format(rank=overall, n=len(towns)) if overall is not None and assessed else None
        caption = Text(L["ui.town_table_caption"].zh.format(view=v.label.zh), L["ui.town_table_caption"].en.format(view=v.label.en))
        views.append({"key": v.key, "label": v.label, "caption": caption, "rows": rows, "summary": summary, "rank_text": rank_text,
                      "counts": counts, "met": met, "assessed": assessed, "rank": overall})
    district_only = [k for k in ps.kpis if not bool(k.has_town_street)]
    prev_t = towns[index - 1] if index > 0 else None
    next_t = towns[index + 1] if index + 1 < len(towns) else None
    kind = town["kind"]
    return {
        "town": town, "name": town["name"], "kind": L[f"geo_kinds.{kind}"] if kind in L.spec.get("geo_kinds", {}) else None,
        "town_views": views, "n_towns": len(towns),
        "progress_shown": any(r["cell"]["key"] in PROGRESS_KEYS for v in views for r in v["rows"]),
        "district_only": L["ui.town_district_only"].format(n=len(district_only)) if district_only else None,
        "prev": None if prev_t is None else {"href": f"{prev_t['geo_code']}.html", "name": prev_t["name"]},
        "next": None if next_t is None else {"href": f"{next_t['geo_code']}.html", "name": next_t["name"]},
    }


def per_lang_target(L, kpi) -> Text:
    """The target column of a town/street without a target of its own: ``无本镇街目标（全区 ≥ 6,000）``."""
    t = target_text(kpi, L)
    return L["ui.no_own_target"].format(district_zh=t.zh, district_en=t.en)


def kpi_geography_notes(ps, kpi, states: dict) -> dict:
    """Per view of a KPI page: the special zones' rows of that year (``special_zone``: name, value,
    numerator; never ranked) and, for an additive KPI, the sentence that the district's numerator is
    the towns/streets' plus the special zones' plus the unassigned records'."""
    L = ps.labels
    out = {}
    for v in ps.views:
        year = states[v.key]["year"]
        if year is None:
            continue
        zones = sorted((r for r in ps.site.level_rows(kpi.kpi_id, ZONE_LEVEL) if r["period_year"] == year), key=lambda r: r["geo_code"])
        zone_rows = [{"name": ps.site.geo(r["geo_code"], r["geo_name_zh"]),
                      "value": format_value(r["value"], kpi.unit) if not r["is_suppressed"] else None,
                      "numerator": format_count(r["numerator"]) if not r["is_suppressed"] else None, "suppressed": bool(r["is_suppressed"])}
                     for r in zones]

        def numerators(level):  # as published (no suppression), summed as pandas sums (NaN skipped)
            return float(np.nansum([r["numerator"] for r in ps.site.level_rows(kpi.kpi_id, level, shown=False) if r["period_year"] == year]))

        sentence = None
        unassigned = [r for r in ps.site.level_rows(kpi.kpi_id, UNASSIGNED_LEVEL, shown=False) if r["period_year"] == year]
        if bool(getattr(kpi, "is_additive", False)) and (unassigned or zones):
            district = numerators("district")
            label = Text(str(kpi.numerator_zh), str(kpi.numerator_en))
            if any(r["is_suppressed"] for r in zones):
                # a special zone's small count is hidden: the parts' sums would give it away (district − towns)
                sentence = L["ui.district_sum_hidden"].format(label_zh=label.zh, label_en=label.en, district=format_count(district),
                                                              n=len(ps.site.towns))
            else:
                sentence = L["ui.district_sum_sentence"].format(
                    label_zh=label.zh, label_en=label.en, district=format_count(district), towns=format_count(numerators(TOWN_LEVEL)),
                    n=len(ps.site.towns), zones=format_count(numerators(ZONE_LEVEL)), unassigned=format_count(numerators(UNASSIGNED_LEVEL)))
        if zone_rows or sentence:
            period = Text(states[v.key]["period"]["zh"], states[v.key]["period"]["en"])
            caption = Text(L["ui.zones_caption"].zh.format(year=period.zh), L["ui.zones_caption"].en.format(year=period.en))
            out[v.key] = {"zones": zone_rows, "sentence": sentence, "caption": caption}
    return out


__all__ = ["towns_of", "town_matrix", "town_page_context", "kpi_geography_notes", "ranks", "TownCells"]
