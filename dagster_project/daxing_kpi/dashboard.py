"""The planners' static KPI dashboard, written from the published database by the nightly job.

:func:`build_dashboard` reads ``analytics.duckdb`` (read-only) and writes a folder of static files
that works from the file system or any plain web server, with no request leaving the machine. Every
plan of the published ``plans`` table gets its own pages (issue 18): the plan the dashboard opens on
(:func:`daxing_kpi.dashboard_plans.default_plan`) at the top of the folder, every other plan under
``plan/<plan_id>/``; a plan selector on every page links them. For each plan:

- ``index.html``: the overview: every KPI of the plan as a card under the plan's sections (titles
  from ``plan_sections``): value, target, the verdict or progress status with the gap, a
  sparkline, the data's quality and its cut-off date; filters, a count per verdict/status, and the
  review selector (the plan's reviews and the latest data), opening on the final review once every
  target year has passed; below, the towns/streets × KPIs table (sortable, colour plus text);
- ``kpi/<kpi_id>.html``: one page per KPI: the yearly trend with the target, the required path
  and the projection; the towns/streets compared; special zones and the unassigned geography apart;
  definition, plan clause; data sources with their cut-off dates; quality; downloads; what analysts
  need (ids, run, method) in a closed details block;
- ``town/<geo_code>.html``: one page per town/street: every KPI with its value, verdict or
  progress, gap and rank among the towns/streets;
- ``data/<kpi_id>.csv|.xlsx`` and ``data/all_kpis.csv|.xlsx``: the planners' downloads
  (:mod:`daxing_kpi.dashboard_exports`);
- at the top only: ``assets/`` (``plotly.min.js`` from the installed plotly package, the style sheet
  with its print rules, the page script) and ``docs/`` (the dbt docs site).

Pages are Chinese by default; the language switch (``dashboards/static/dashboard.js``) swaps every
label to English in place, keeping the review, filters and scroll position; the state travels
between pages in the URL fragment (``#lang=en&review=mid_term``). Every label comes from the
published tables or the one translation file ``dashboards/i18n.yaml``. Templates:
``dashboards/templates/``. Towns/streets: :mod:`daxing_kpi.dashboard_towns`.
"""

from __future__ import annotations

import importlib.resources
import re
import shutil
from pathlib import Path

import jinja2
import pandas as pd
from markupsafe import Markup, escape
from plotly.offline import get_plotlyjs

from daxing_kpi.atomic import staged_folder
from daxing_kpi.dashboard_data import (
    DASHBOARDS_DIR,
    LANGS,
    ZH_TEXT_COLUMNS,
    DashboardData,
    Labels,
    Text,
    format_count,
    format_date,
    format_value,
    is_missing,
    json_for_html,
    kpi_quality,
    kpi_sources,
    load_data,
    load_labels,
    period_label,
    plan_ref,
    required_path,
    source_freshness,
    zh_punctuation,
)
from daxing_kpi.dashboard_exports import planner_frame, write_csv, write_xlsx
from daxing_kpi.dashboard_figures import PLOT_CONFIG, STATUS_STYLE, cutoff_row, sparkline_svg, towns_figure, trend_figure
from daxing_kpi.dashboard_plans import (
    MARK_KEYS,
    PROGRESS_KEYS,
    Plan,
    View,
    counts_additions,
    default_plan,
    default_view,
    load_plans,
    mark,
    milestones_text,
    plan_views,
    sort_catalog,
    target_kind,
    target_label,
    target_text,
    value_period,
)
from daxing_kpi.dashboard_towns import kpi_geography_notes, town_matrix, town_page_context, towns_of
from daxing_kpi.docs_site import copy_docs_into
from daxing_kpi.paths import analytics_db_path, dashboard_dir
from daxing_kpi.smallcounts import SMALL_COUNT_THRESHOLD, suppress_small_counts

try:  # issue 6: the quality gate's Great Expectations Data Docs, kept beside each dashboard version
    from daxing_kpi.quality_docs import copy_quality_site_into
except ImportError:  # pragma: no cover - a tree without the quality gate's Data Docs
    copy_quality_site_into = None

TEMPLATES_DIR = DASHBOARDS_DIR / "templates"
STATIC_DIR = DASHBOARDS_DIR / "static"
QUALITY_ICON = {"passed": "q-ok", "blocking_passed": "q-ok", "warn": "q-warn", "failed": "q-fail"}


def kpi_page_name(kpi_id: str) -> str:
    """File of a KPI's page inside a plan's folder (``kpi/<kpi_id>.html``)."""
    return f"kpi/{kpi_id}.html"


def town_page_name(geo_code: str) -> str:
    """File of a town/street's page inside a plan's folder (``town/<geo_code>.html``)."""
    return f"town/{geo_code}.html"


# -- rendering helpers --------------------------------------------------------------------------------------


# The filters below run some 100,000 times a night: f-strings of escaped parts, not the slower Markup.format.
def _t(text: Text) -> Markup:
    """A bilingual text as ``<span data-en="…">中文</span>`` (plain text when both are equal)."""
    if text.zh == text.en:
        return escape(text.zh)
    return Markup(f'<span data-en="{escape(text.en)}">{escape(text.zh)}</span>')


def _ten(text: Text) -> Markup:
    """The ``data-en`` attribute of an element whose own text is the Chinese (``<option>``, ``<title>``)."""
    return Markup(f' data-en="{escape(text.en)}"')


def _tin(text: Text, tag: str) -> Markup:
    """A bilingual text as the only content of an element: ``<b data-en="…">中文</b>``."""
    if text.zh == text.en:
        return Markup(f"<{tag}>{escape(text.zh)}</{tag}>")
    return Markup(f'<{tag} data-en="{escape(text.en)}">{escape(text.zh)}</{tag}>')


def _tattr(text: Text, attr: str) -> Markup:
    """An attribute in Chinese with its English in ``data-en-<attr>``."""
    return Markup(f' {attr}="{escape(text.zh)}" data-en-{attr}="{escape(text.en)}"')


def _environment(labels: Labels) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(t=_t, ten=_ten, tattr=_tattr, tin=_tin)
    env.globals.update(L=lambda key: labels[key], status_text=labels.status)
    return env


def status_css() -> str:
    """Style rules of the status badges, chips, cells and card stripes, from the one palette
    (:data:`daxing_kpi.dashboard_figures.STATUS_STYLE`)."""
    rules = []
    for s, (strong, bg, fg) in STATUS_STYLE.items():
        rules.append(f".status-{s}{{--st-strong:{strong};--st-bg:{bg};--st-fg:{fg}}}")
        rules.append(f'.kpi-card[data-status="{s}"]{{--card-stripe:{strong}}}')
    return "\n".join(rules) + "\n"


def unit_text(kpi) -> Text:
    """The unit beside a value (nothing for rates: the value carries %)."""
    return Text("", "") if kpi.unit == "pct" else Text(str(kpi.unit_zh), str(kpi.unit_en))


def per_lang(template: Text, **values) -> Text:
    """Fill a label's placeholders with values given per language (``{"zh": ..., "en": ...}`` or a
    :class:`Text`) or shared."""
    def pick(lang):
        out = {}
        for k, v in values.items():
            if isinstance(v, Text):
                out[k] = v.get(lang)
            elif isinstance(v, dict):
                out[k] = v[lang]
            else:
                out[k] = v
        return out

    return Text(template.zh.format(**pick("zh")), template.en.format(**pick("en")))


def plan_option(plan: Plan, labels: Labels) -> Text:
    """A plan in the selector: its short name, with its period and 示例 where the name does not say them
    already (``<short name>（<start>—<end>年）``, ``<short name>（示例）``)."""
    out = []
    for lang, name in (("zh", plan.short_name.zh), ("en", plan.short_name.en)):
        if str(plan.start_year) not in name:
            name = labels["ui.plan_with_period"].get(lang).format(plan=name, start=plan.start_year, end=plan.end_year)
        if plan.is_example and labels["ui.example"].get(lang).lower() not in name.lower():
            name = labels["ui.plan_with_example"].get(lang).format(plan=name)
        out.append(name)
    return Text(*out)


def tj(text: Text | None) -> dict | None:
    """A :class:`Text` as JSON for the page script."""
    return None if text is None else {"zh": text.zh, "en": text.en}


def system_text(system: str) -> Text:
    """The name of the system a source comes from, in both languages, from a contract's ``system``
    (``殡葬管理信息系统 (funeral system), cemetery register ...``: the notes after the name are for analysts)."""
    s = str(system or "").strip()
    m = re.match(r"^(.*?)\s*\(([^()]*)\)", s)
    return Text(m.group(1).strip(), m.group(2).strip()) if m else Text(s, s)


# -- what every plan shares --------------------------------------------------------------------------------------


class Site:
    """What the pages of every plan share, prepared once from :class:`DashboardData`: observations
    with small counts suppressed, geographies, sources, quality, the plans."""

    def __init__(self, data: DashboardData, labels: Labels):
        catalog = data.catalog.copy()
        for col in ZH_TEXT_COLUMNS:
            if col in catalog:
                catalog[col] = catalog[col].map(zh_punctuation)
        data.catalog = catalog
        self.data, self.labels = data, labels
        self.obs = suppress_small_counts(data.observations, data.catalog.drop_duplicates("kpi_id"))
        self.geo_en = {}
        if data.geographies is not None and "geo_name_en" in data.geographies:
            self.geo_en = {str(c): n for c, n in zip(data.geographies.geo_code, data.geographies.geo_name_en, strict=True)
                           if not is_missing(n)}
        self.towns = towns_of(self)
        self.quality = kpi_quality(data.catalog.drop_duplicates("kpi_id"), data.dq_results, data.meta["run_id"], data.dq_kpi_status)
        self.freshness = source_freshness(data.ingest_audit, data.source_freshness).set_index("source_id")
        self.cutoffs = self._delivery_cutoffs()
        self.kpi_cutoffs = self._kpi_cutoffs()
        self.files_rejected = self._files_rejected()
        self.contracts = self._contracts()
        self._obs_by_kpi = {k: g for k, g in self.obs.groupby("kpi_id", sort=False)}
        self._district: dict[str, list[dict]] = {}
        self._level_rows: dict[bool, dict[tuple[str, str], list[dict]]] = {}
        part = self.obs[(self.obs.geo_level == "district") & (self.obs.reporting_status.astype(str) == "partly_reported")] \
            if "reporting_status" in self.obs else self.obs.iloc[0:0]
        self.partly = {(k, int(y)) for k, y in zip(part.kpi_id, part.period_year, strict=True)}
        self.plans = load_plans(data, labels)
        if data.plans is not None and len(data.plans):
            self.main_plan = default_plan(self.plans, data.meta["data_as_of"])
        else:  # no plans table to say which plan is an example: the plan with the most KPIs
            sizes = data.catalog.groupby("plan_id").kpi_id.nunique() if "plan_id" in data.catalog else pd.Series(dtype=int)
            self.main_plan = max(self.plans, key=lambda p: (int(sizes.get(p.plan_id, 0)), -p.start_year))
        self.plan_sites = [PlanSite(self, p, "" if p.plan_id == self.main_plan.plan_id else f"plan/{p.plan_id}/")
                           for p in self.plans]

    def _contracts(self) -> dict:
        try:
            from daxing_kpi.ingest import load_contracts

            return load_contracts()
        except Exception:  # noqa: BLE001 - a contract folder that cannot be read only costs the source titles
            return {}

    def _delivery_cutoffs(self) -> dict[str, pd.Timestamp]:
        """Per source, the cut-off date of the delivery the figures use (issue 17.8): the published
        ``source_freshness.delivery_cutoff_date`` (the same date as ``kpi status``)."""
        f = self.data.source_freshness
        if f is None or f.empty or "delivery_cutoff_date" not in f:
            return {}
        dates = pd.to_datetime(f.delivery_cutoff_date, errors="coerce")
        return {s: d for s, d in zip(f.source_id, dates, strict=True) if not is_missing(d)}

    def _kpi_cutoffs(self) -> dict[str, pd.Timestamp]:
        """Per KPI, the cut-off date of its data: ``dq_kpi_status.delivery_cutoff_date`` (the oldest of
        its sources' delivery cut-offs)."""
        ks = self.data.dq_kpi_status
        if ks is None or ks.empty or "delivery_cutoff_date" not in ks:
            return {}
        dates = pd.to_datetime(ks.delivery_cutoff_date, errors="coerce")
        return {k: d for k, d in zip(ks.kpi_id, dates, strict=True) if not is_missing(d)}

    def _files_rejected(self) -> dict[str, int]:
        """Per KPI, the files set aside in its sources at the publishing run (``dq_kpi_status.files_rejected``)."""
        ks = self.data.dq_kpi_status
        if ks is None or ks.empty or "files_rejected" not in ks:
            return {}
        return {k: int(n) for k, n in zip(ks.kpi_id, ks.files_rejected, strict=True) if not is_missing(n) and int(n) > 0}

    def kpi_obs(self, kpi_id: str) -> pd.DataFrame:
        return self._obs_by_kpi.get(kpi_id, self.obs.iloc[0:0])

    def level_rows(self, kpi_id: str, level: str, shown: bool = True) -> list[dict]:
        """A KPI's observations at one geography level (``district``, ``town_street``, ...) as dicts of
        ``kpi_observations``' columns, in the published order (by ``geo_code``, then ``period_year``):
        as the pages show them (with ``is_suppressed``, small counts hidden), or as published
        (``shown=False``). Plain dicts: the pages look up a few rows at a time, far quicker than in frames."""
        if shown not in self._level_rows:  # every KPI's rows at once, on the first look-up
            by_key: dict[tuple[str, str], list[dict]] = {}
            for r in (self.obs if shown else self.data.observations).to_dict("records"):
                by_key.setdefault((r["kpi_id"], r["geo_level"]), []).append(r)
            self._level_rows[shown] = by_key
        return self._level_rows[shown].get((kpi_id, level), [])

    def district(self, kpi_id: str) -> list[dict]:
        """A KPI's district rows (dicts of ``kpi_observations``' columns) by year."""
        if kpi_id not in self._district:
            self._district[kpi_id] = sorted(self.level_rows(kpi_id, "district"), key=lambda r: r["period_year"])
        return self._district[kpi_id]

    def source_title(self, source_id: str) -> Text:
        """A source's title from the published ``source_freshness`` (without a contract to read it from)."""
        f = self.data.source_freshness
        if f is not None and "title_zh" in f and (f.source_id == source_id).any():
            r = f[f.source_id == source_id].iloc[0]
            return Text(str(r.title_zh), str(r.get("title_en") or r.title_zh))
        return Text(source_id, source_id)

    def geo(self, code: str, name_zh: str) -> Text:
        return self.labels.geography(code, name_zh, self.geo_en.get(str(code)))

    def data_to(self, kpi_id: str) -> pd.Timestamp | None:
        """The cut-off date of a KPI's data (数据截至: the oldest delivery cut-off of its sources, as
        published in ``dq_kpi_status``); None where it is not published."""
        return self.kpi_cutoffs.get(kpi_id)

    def latest_cutoff(self) -> pd.Timestamp:
        """The header's 数据截至: the latest delivery cut-off of any source, else the latest period end."""
        return max(self.cutoffs.values()) if self.cutoffs else self.data.meta["data_as_of"]


# -- one plan's pages ----------------------------------------------------------------------------------------------


class PlanSite:
    """Everything one plan's pages show."""

    def __init__(self, site: Site, plan: Plan, prefix: str):
        self.site, self.plan, self.prefix, self.labels = site, plan, prefix, site.labels
        data = site.data
        c = data.catalog
        self.catalog = c[c.plan_id.astype(str) == plan.plan_id] if "plan_id" in c else c
        self.order = sort_catalog(self.catalog, plan)
        self.kpis = list(self.order.itertuples())  # the same rows as named tuples (quick to read), in the plan's order
        self.kpi_ids = set(self.catalog.kpi_id)
        sc = data.scorecard
        self.sc = None if sc is None else (sc[sc.plan_id.astype(str) == plan.plan_id] if "plan_id" in sc else sc)
        self.views = plan_views(self.sc, plan, self.labels)
        self.view_by_key = {v.key: v for v in self.views}
        self.default = default_view(self.views, plan, self.catalog, data.meta["data_as_of"])
        # the plan's scorecard rows as dicts, by date: read one at a time, far quicker than frame rows
        self._sc_rows = [] if self.sc is None else sorted(self.sc.to_dict("records"), key=lambda r: r["as_of_date"])
        self._rows = self._index_scorecard()
        self._year_end = self._index_year_end()
        self._district_sc: dict[str, list[dict]] = {}
        for r in self._sc_rows:
            if r["geo_level"] == "district":
                self._district_sc.setdefault(r["kpi_id"], []).append(r)
        self.pending = self._pending_targets()
        self._states: dict = {}
        self._milestones: dict[str, Text | None] = {}

    # paths ------------------------------------------------------------------------------------------------
    @property
    def depth(self) -> int:
        return self.prefix.count("/")

    def root_from(self, page_depth: int) -> str:
        """Relative path from a page ``page_depth`` folders below this plan's folder to the top."""
        return "../" * (self.depth + page_depth)

    def has_kpi(self, kpi_id: str) -> bool:
        return kpi_id in self.kpi_ids

    # scorecard lookups -------------------------------------------------------------------------------------
    def _index_scorecard(self) -> dict:
        """``(view, kpi_id, geo_code) -> row dict`` for the rows of each view, and
        ``(view, kpi_id, "district") ->`` the district's row."""
        out = {}
        for v in self.views:
            for r in self._sc_rows:
                if not (r["is_data_cutoff"] if v.key == "latest" else str(r["review"]) == v.key):
                    continue
                out[(v.key, r["kpi_id"], str(r["geo_code"]))] = r
                if r["geo_level"] == "district":
                    out[(v.key, r["kpi_id"], "district")] = r
        return out

    def _index_year_end(self) -> dict:
        """``(kpi_id, geo_code) -> rows at 31 December of each year and at the data cut-off``, by date."""
        out: dict = {}
        for r in self._sc_rows:
            if not ((r["as_of_date"].month == 12 and r["as_of_date"].day == 31) or r["is_data_cutoff"]):
                continue
            out.setdefault((r["kpi_id"], "district" if r["geo_level"] == "district" else str(r["geo_code"])), []).append(r)
        return out

    def row(self, view: str, kpi_id: str, geo_code: str) -> dict | None:
        return self._rows.get((view, kpi_id, str(geo_code)))

    def mark(self, kpi, geo_code: str, view: View) -> dict:
        return mark(self.row(view.key, kpi.kpi_id, geo_code), kpi, view, self.labels)

    def _pending_targets(self) -> list[dict]:
        """Targets of the plan without a KPI yet (待建指标): ``plan_targets`` rows with no ``kpi_id``."""
        t = self.site.data.plan_targets
        if t is None or t.empty:
            return []
        t = t[(t.plan_id.astype(str) == self.plan.plan_id) & t.kpi_id.isna()]
        return [{"name": str(r.get("indicator_name_zh") or r.get("source_clause_zh") or ""), "clause": str(r.get("source_clause_zh") or ""),
                 "plan_ref": plan_ref(r.get("plan_section")), "section": self.plan.section_of(r.get("plan_section"))}
                for r in t.to_dict("records")]

    # per-KPI states ------------------------------------------------------------------------------------------
    def district(self, kpi_id: str) -> list[dict]:
        return self.site.district(kpi_id)

    def partly_reported(self, kpi_id: str, year) -> bool:
        """Did only some towns/streets report the year's district value (``reporting_status = partly_reported``)?"""
        return not is_missing(year) and (kpi_id, int(year)) in self.site.partly

    def district_sc(self, kpi_id: str) -> list[dict] | None:
        """The KPI's district scorecard rows (dicts) by date; None without a scorecard (read-only: shared
        by every caller)."""
        return None if self.sc is None else self._district_sc.get(kpi_id, [])

    def state(self, kpi, view: View) -> dict:
        """The district's value and assessment at one view, as JSON for the page script (a copy: pages add to it)."""
        key = (kpi.kpi_id, view.key)
        if key not in self._states:
            self._states[key] = self._state(kpi, view)
        return dict(self._states[key])

    def _state(self, kpi, view: View) -> dict:
        L = self.labels
        row = self.row(view.key, kpi.kpi_id, "district")
        if row is None and view.key == "latest":
            d = [r for r in self.district(kpi.kpi_id) if not is_missing(r["value"])]
            if d:
                last = d[-1]
                row = {"latest_year": last["period_year"], "latest_value": last["value"], "is_latest_partial_year": last["is_partial_year"],
                       "latest_period_end_date": last["period_end_date"], "geo_level": "district"}
        m = mark(row if row is not None and "status" in row else None, kpi, view, L)
        partly = row is not None and self.partly_reported(kpi.kpi_id, row.get("latest_year"))
        vp = value_period(row, kpi, L) if row is not None else {"value": None, "value_text": "—", "year": None, "period": L["ui.na"], "note": None}
        projection = None
        if row is not None and not is_missing(row.get("projected_value")) and m["key"] not in ("target_achieved", "target_not_achieved", "target_held", "target_not_held"):
            projection = per_lang(L["ui.projection_sentence"], year=int(kpi.target_year),
                                  value=format_value(row["projected_value"], kpi.unit))
        baseline = None
        if row is not None and not is_missing(row.get("baseline_value")):
            baseline = per_lang(L["ui.baseline_value"], year=int(row["baseline_year"]), value=format_value(row["baseline_value"], kpi.unit))
        return {
            "status": m["key"], "status_text": tj(m["text"]),
            "value": vp["value"], "value_text": vp["value_text"], "year": vp["year"], "period": tj(vp["period"]),
            "value_note": tj(vp["note"] or (L["ui.partly_reported"] if partly else Text("", ""))),
            "gap": tj(m["gap"]), "completion": tj(m["completion"]),
            "baseline": tj(baseline or L["ui.na"]), "projection": tj(projection or Text("", "")),
            "ratio": "—" if row is None or is_missing(row.get("progress_ratio")) else f"{float(row['progress_ratio']):.2f}",
            "method": tj(L[f"methods.{row['method']}"] if row is not None and not is_missing(row.get("method"))
                         and row["method"] in L.spec["methods"] else L["ui.na"]),
        }

    # overview ------------------------------------------------------------------------------------------------
    def section_heading(self, code: str) -> Text:
        """``一、建设……体系`` / ``1. A ... system`` (the numeral alone for a section without a published title)."""
        ref = plan_ref(code)
        if code not in self.plan.sections:
            return Text(f"{ref.zh}、", f"{ref.en}.")
        title = self.plan.sections[code]
        return Text(f"{ref.zh}、{title.zh}", f"{ref.en}. {title.en}")

    def card(self, kpi) -> dict:
        states = {v.key: self.state(kpi, v) for v in self.views}
        return {
            "kpi_id": kpi.kpi_id, "href": kpi_page_name(kpi.kpi_id), "name": Text(str(kpi.name_zh), str(kpi.name_en)),
            "domain": kpi.domain, "domain_text": self.labels.domain(kpi.domain), "plan_ref": plan_ref(kpi.plan_section),
            "unit": unit_text(kpi), "target": target_text(kpi, self.labels), "no_target": is_missing(kpi.target_value),
            "target_label": target_label(kpi, self.labels), "milestones": self.milestones(kpi),
            "states": states, "now": states[self.default],
            "sparkline": Markup(sparkline_svg(self.district(kpi.kpi_id), kpi, self.labels)),
            "quality": self.quality_view(kpi), "data_to": format_date(self.site.data_to(kpi.kpi_id) or self.last_period_end(kpi.kpi_id), self.labels),
            "rejected": self.rejected_text(kpi),
        }

    def milestones(self, kpi) -> Text | None:
        """The KPI's milestones in this plan (:func:`milestones_text`), worded once for its card and its page."""
        if kpi.kpi_id not in self._milestones:
            self._milestones[kpi.kpi_id] = milestones_text(self.site.data.plan_target_milestones, kpi, self.labels)
        return self._milestones[kpi.kpi_id]

    def last_period_end(self, kpi_id: str):
        d = self.site.kpi_obs(kpi_id)
        return d.period_end_date.max() if len(d) else None

    def rejected_text(self, kpi) -> Text | None:
        n = self.site.files_rejected.get(kpi.kpi_id)
        return None if not n else self.labels["ui.files_rejected"].format(n=n)

    def summary_keys(self, cards: list[dict]) -> list[str]:
        """The marks that occur in any view of the plan (the summary chips), best first."""
        seen = {st["status"] for c in cards for st in c["states"].values()}
        return [k for k in MARK_KEYS + PROGRESS_KEYS if k in seen] or ["insufficient_data"]

    def overview_context(self) -> dict:
        cards = [self.card(k) for k in self.kpis]
        by_section: dict[str, list] = {}
        for k, c in zip(self.kpis, cards, strict=True):
            by_section.setdefault(k.section, []).append(c)
        pending_by_section: dict[str, list] = {}
        for p in self.pending:
            pending_by_section.setdefault(p["section"], []).append(p)
        codes = list(dict.fromkeys(list(by_section) + list(pending_by_section)))
        sections = [{"numeral": n, "heading": self.section_heading(n), "cards": by_section.get(n, []),
                     "pending": pending_by_section.get(n, [])} for n in codes]
        domains = list(dict.fromkeys(self.order.domain))
        keys = self.summary_keys(cards)
        counts = {s: sum(1 for c in cards if c["now"]["status"] == s) for s in keys}
        return {
            "sections": sections, "total": len(cards),
            "domains": [(d, self.labels.domain(d)) for d in domains],
            "counts": counts, "summary_keys": keys,
            "cards_json": Markup(json_for_html({c["kpi_id"]: c["states"] for c in cards})),
            "matrix": town_matrix(self),
        }

    # KPI page ------------------------------------------------------------------------------------------------
    def kpi_context(self, kpi, position: int) -> dict:
        L = self.labels
        district = self.district(kpi.kpi_id)
        sc = self.district_sc(kpi.kpi_id)
        states = {v.key: self.state(kpi, v) for v in self.views}
        target = target_text(kpi, L)
        figures = {"trend": {lang: trend_figure(district, kpi, sc, L, lang, target) for lang in LANGS}, "towns": {}}
        towns_views = []
        if bool(kpi.has_town_street):
            for v in self.views:
                view = self.towns_view(kpi, v, states[v.key])
                if view is None:
                    continue
                towns_views.append(view)
                figures["towns"][v.key] = {
                    lang: towns_figure([{**b, "name": b[f"name_{lang}"]} for b in view["bars"]], view["district_value"], kpi,
                                       view["period"].get(lang), L, lang)
                    for lang in LANGS
                }
        for v in self.views:
            states[v.key]["towns_title"] = tj(per_lang(L["ui.towns_title"], year=states[v.key]["period"]))
            tv = next((t for t in towns_views if t["review"] == v.key), None)
            states[v.key]["towns_district"] = tj(tv["district_sentence"]) if tv else None
        prev_kpi = self.kpis[position - 1] if position > 0 else None
        next_kpi = self.kpis[position + 1] if position + 1 < len(self.kpis) else None
        data_to = self.site.data_to(kpi.kpi_id)
        return {
            "kpi": kpi, "name": Text(str(kpi.name_zh), str(kpi.name_en)), "domain_text": L.domain(kpi.domain),
            "section_heading": self.section_heading(kpi.section), "plan_ref": plan_ref(kpi.plan_section),
            "clause_label": per_lang(L["ui.plan_clause_ref"], section=plan_ref(kpi.plan_section)),
            "unit": unit_text(kpi), "unit_full": Text(str(kpi.unit_zh), str(kpi.unit_en)), "is_count": kpi.unit == "count",
            "trend_caption": self.trend_caption(kpi),
            "target": target_text(kpi, L), "target_label": target_label(kpi, L),
            "milestones": self.milestones(kpi),
            "states": states, "now": states[self.default],
            "count_basis": self.count_basis(kpi),
            "district_rows": self.district_rows(kpi, district, sc), "towns_views": towns_views,
            "counts_additions": counts_additions(kpi),
            "towns_progress": any(r["mark"] and r["mark"]["key"] in PROGRESS_KEYS for v in towns_views for r in v["rows"]),
            "geo_notes": kpi_geography_notes(self, kpi, states),
            "towns_wide": self.towns_wide(kpi) if bool(kpi.has_town_street) else None,
            "history": self.history_rows(kpi, sc), "sources": self.source_rows(kpi), "quality": self.quality_view(kpi),
            "has_audit": not self.site.freshness.empty,
            "data_to_sentence": per_lang(L["ui.kpi_data_to" if data_to is not None else "ui.kpi_data_to_records"],
                                         date=format_date(data_to or self.last_period_end(kpi.kpi_id), L)),
            "rejected": self.rejected_text(kpi),
            "csv_href": f"../data/{kpi.kpi_id}.csv", "xlsx_href": f"../data/{kpi.kpi_id}.xlsx",
            "prev": None if prev_kpi is None else {"href": f"{prev_kpi.kpi_id}.html", "name": Text(str(prev_kpi.name_zh), str(prev_kpi.name_en))},
            "next": None if next_kpi is None else {"href": f"{next_kpi.kpi_id}.html", "name": Text(str(next_kpi.name_zh), str(next_kpi.name_en))},
            "states_json": Markup(json_for_html(states)),
            "figures_json": Markup(json_for_html(figures)),
            "plot_config_json": Markup(json_for_html(PLOT_CONFIG)),
            "direction": L[f"ui.direction_{kpi.direction}"] if kpi.direction in ("increase", "decrease") else L["ui.na"],
            "analyst": self.analyst_rows(kpi, states),
        }

    def trend_caption(self, kpi) -> Text:
        L = self.labels
        if kpi.unit == "count":
            return per_lang(L["ui.trend_table_caption_count"], numerator={"zh": kpi.numerator_zh, "en": kpi.numerator_en})
        return per_lang(L["ui.trend_table_caption"], numerator={"zh": kpi.numerator_zh, "en": kpi.numerator_en},
                        denominator={"zh": kpi.denominator_zh, "en": kpi.denominator_en})

    def count_basis(self, kpi) -> dict | None:
        """For a count target: one sentence saying whether it counts the stock at the end of the
        period or what was added within it (``count_basis``), and both figures where the choice
        changes the verdict: the stock (``latest_value``) and the additions the target is judged on
        (``assessed_value``), at the view the plan opens on."""
        basis = getattr(kpi, "count_basis", None)
        if kpi.unit != "count" or is_missing(basis) or str(basis) not in ("stock", "new_in_period"):
            return None
        L = self.labels
        end = int(kpi.target_year) if not is_missing(kpi.target_year) else self.plan.end_year
        sentence = L[f"ui.count_basis_{basis}"].format(start=self.plan.start_year, end=end)
        both = None
        r = self.row(self.default, kpi.kpi_id, "district")
        if basis == "new_in_period" and r is not None and not is_missing(kpi.target_value) \
                and not any(is_missing(r.get(c)) for c in ("latest_value", "assessed_value")):
            stock, added, target = float(r["latest_value"]), float(r["assessed_value"]), float(kpi.target_value)
            if (stock >= target) != (added >= target):
                both = per_lang(L["ui.count_basis_both"], stock=format_value(stock, "count"), added=format_value(added, "count"),
                                unit={"zh": str(kpi.unit_zh), "en": str(kpi.unit_en)}, start=self.plan.start_year)
        return {"sentence": sentence, "both": both}

    def district_rows(self, kpi, district: list[dict], sc: list[dict] | None) -> list[dict]:
        """The table of the district's years: value, numerator, denominator, the required path and
        the year-end verdict or status. ``district``: the KPI's district observations by year
        (:meth:`district`); ``sc``: its district scorecard rows (:meth:`district_sc`)."""
        path = pd.DataFrame(columns=["period_year", "value"])
        year_end = {}
        if sc:
            row = cutoff_row(sc)
            base = row.get("assessed_baseline_value") if counts_additions(kpi) else row["baseline_value"]
            if not is_missing(kpi.target_value) and not is_missing(base) and target_kind(kpi) == "reach_by_year":
                path = required_path(row["baseline_year"], base, kpi.target_year, kpi.target_value, row["method"])
            for r in self._year_end.get((kpi.kpi_id, "district"), []):
                d = pd.Timestamp(r["as_of_date"])
                if d.month == 12 and d.day == 31:
                    view = View("year_end", d, Text("", ""), d.year > self.plan.end_year)
                    year_end[d.year] = mark(r, kpi, view, self.labels)
        path_by_year = dict(zip(path.period_year, path.value, strict=True))
        added = {}
        if counts_additions(kpi):
            for r in self._year_end.get((kpi.kpi_id, "district"), []):
                if not is_missing(r.get("assessed_value")):
                    added[pd.Timestamp(r["as_of_date"]).year] = format_value(r["assessed_value"], kpi.unit)
        rows = []
        for r in district:
            year = int(r["period_year"])
            rows.append({
                "partly": str(r.get("reporting_status", "")) == "partly_reported",
                "added": added.get(year, "—"),
                "period": period_label(self.labels, r["period_year"], bool(r["is_partial_year"]), r["period_end_date"]),
                "numerator": format_count(r["numerator"]), "denominator": format_count(r["denominator"]),
                "value": format_value(r["value"], kpi.unit),
                "path": format_value(path_by_year.get(year), kpi.unit) if year in path_by_year else "—",
                "mark": year_end.get(year),
            })
        return rows

    def towns_view(self, kpi, view: View, state: dict) -> dict | None:
        """The towns/streets of a KPI at one view (the year of the district's value): ``rows`` of the
        table, ranked best first (suppressed and missing values last, unranked); ``bars``, the chart's
        rows (``value, is_suppressed, status, name_zh, name_en``); the district's value and its sentence."""
        year = state["year"]
        if year is None:
            return None
        towns = [r for r in self.site.level_rows(kpi.kpi_id, "town_street") if r["period_year"] == year]
        if not towns:
            return None
        L = self.labels
        asc = kpi.direction == "decrease"

        def rank_key(r):  # shown values first, best first, then by code
            missing = is_missing(r["value"])
            return bool(r["is_suppressed"]), missing, 0.0 if missing else (r["value"] if asc else -r["value"]), r["geo_code"]

        rows, bars = [], []
        rank = 0
        for r in sorted(towns, key=rank_key):
            suppressed = bool(r["is_suppressed"])
            shown = not suppressed and not is_missing(r["value"])
            rank += 1 if shown else 0
            m = None if suppressed else self.mark(kpi, r["geo_code"], view)
            name = self.site.geo(r["geo_code"], r["geo_name_zh"])
            rows.append({
                "rank": str(rank) if shown else "—", "name": name, "href": f"../{town_page_name(r['geo_code'])}",
                "value": format_value(r["value"], kpi.unit), "numerator": format_count(r["numerator"]),
                "denominator": format_count(r["denominator"]), "mark": m, "suppressed": suppressed,
                "not_reported": str(r.get("reporting_status")) == "not_reported", "geo_code": r["geo_code"],
            })
            bars.append({"value": r["value"], "is_suppressed": suppressed, "status": None if m is None else m["key"],
                         "name_zh": name.zh, "name_en": name.en})
        district_value = next((r["value"] for r in self.district(kpi.kpi_id) if r["period_year"] == year), None)
        period = Text(state["period"]["zh"], state["period"]["en"])
        dtext = format_value(district_value, kpi.unit)
        unit = {"zh": str(kpi.unit_zh), "en": str(kpi.unit_en)} if kpi.unit != "pct" else {"zh": "", "en": ""}
        sentence = per_lang(L["ui.district_total_sentence" if kpi.unit == "count" else "ui.district_value_sentence"],
                            year=period, value=dtext, unit=unit)
        n_suppressed = sum(r["suppressed"] for r in rows)
        return {"review": view.key, "period": period, "rows": rows,
                "caption": per_lang(L["ui.towns_table_caption"], year=period), "bars": bars,
                "district_value": district_value, "district_text": dtext, "district_sentence": sentence,
                "shown": len(rows) - n_suppressed, "suppressed": n_suppressed}

    def towns_wide(self, kpi) -> dict | None:
        """Every year of every town/street (the table under the chart): ``years`` (headings) and ``rows``
        (``name``, ``cells``: the value, the suppression mark, 未报送 or —), towns/streets by code."""
        towns = self.site.level_rows(kpi.kpi_id, "town_street")
        if not towns:
            return None
        L = self.labels
        years = sorted({int(r["period_year"]) for r in towns})
        partial = {int(r["period_year"]) for r in towns if r["is_partial_year"]}
        mark_s = L["ui.suppressed"].format(threshold=SMALL_COUNT_THRESHOLD)
        by_code: dict[str, list[dict]] = {}
        for r in towns:
            by_code.setdefault(r["geo_code"], []).append(r)
        rows = []
        for code in sorted(by_code):
            cells = {}
            for r in by_code[code]:
                if r["is_suppressed"]:
                    cells[int(r["period_year"])] = mark_s
                elif str(r.get("reporting_status")) == "not_reported":
                    cells[int(r["period_year"])] = L["ui.not_reported"]
                else:
                    cells[int(r["period_year"])] = Text(*(format_value(r["value"], kpi.unit),) * 2)
            rows.append({"name": self.site.geo(code, by_code[code][0]["geo_name_zh"]), "cells": [cells.get(y, Text("—", "—")) for y in years]})
        ytd = L["ui.ytd_short"]
        heads = [per_lang(L["ui.year_partial"], year=y, ytd=ytd) if y in partial else L["ui.year_suffix"].format(year=y) for y in years]
        return {"years": heads, "rows": rows}

    def history_rows(self, kpi, sc: list[dict] | None) -> list[dict]:
        """The KPI's assessment at every date of its district scorecard rows ``sc`` (:meth:`district_sc`)."""
        rows = []
        for r in sc or []:
            d = pd.Timestamp(r["as_of_date"])
            review = self.labels[f"reviews.{r['review']}"] if not is_missing(r.get("review")) and r["review"] in self.labels.spec["reviews"] else (
                self.labels["reviews.latest"] if r.get("is_data_cutoff") else Text("", ""))
            after = bool(r.get("is_data_cutoff")) and d.year > self.plan.end_year
            m = mark(r, kpi, View("history", d, Text("", ""), after), self.labels)
            rows.append({
                "as_of": format_date(d, self.labels), "review": review,
                "latest": period_label(self.labels, r.get("latest_year"), bool(r.get("is_latest_partial_year")), r.get("latest_period_end_date")),
                "value": format_value(r.get("latest_value"), kpi.unit),
                "projected": format_value(r.get("projected_value"), kpi.unit),
                "mark": m,
            })
        return rows

    def analyst_rows(self, kpi, states: dict) -> dict:
        """What analysts need and planners do not: ids, the method's ratio per view, the run."""
        m = self.site.data.meta
        return {
            "kpi_id": kpi.kpi_id, "plan_id": self.plan.plan_id, "sources": kpi_sources(kpi),
            "views": [(v.label, states[v.key]["ratio"], states[v.key]["method"]) for v in self.views],
            "run_id": m["run_id"], "published_at": m["published_at"],
        }

    def quality_view(self, kpi) -> dict:
        q = self.site.quality.get(kpi.kpi_id, {"state": "blocking_passed", "checks": 0, "failed": []})
        notes = []
        if self.site.data.dq_results is None and self.site.data.dq_kpi_status is None:
            notes.append(self.labels["quality.no_checks_table"])
        quarantined = int(sum(self.site.freshness.rows_quarantined.get(s, 0) for s in kpi_sources(kpi)))
        if quarantined:
            notes.append(self.labels["quality.quarantined_note"].format(rows=f"{quarantined:,}"))
        rejected = self.rejected_text(kpi)
        short = self.labels[f"quality.{q['state']}_short"]
        return {"state": q["state"], "icon": QUALITY_ICON[q["state"]], "text": self.labels[f"quality.{q['state']}"],
                "short": short, "line": per_lang(self.labels["ui.labelled_value"], label=self.labels["ui.quality_short"], value=short),
                "failed": q["failed"], "checks": q["checks"], "notes": notes, "rejected": rejected}

    def source_rows(self, kpi) -> list[dict]:
        rows = []
        L = self.labels
        for s in kpi_sources(kpi):
            c = self.site.contracts.get(s)
            title = Text(c.title_zh, c.title_en) if c else self.site.source_title(s)
            system = system_text(c.extra.get("system", "")) if c is not None and hasattr(c, "extra") and c.extra.get("system") else None
            f = self.site.freshness.loc[s] if s in self.site.freshness.index else None
            rows.append({
                "source_id": s, "title": title, "system": system,
                "cutoff": format_date(self.site.cutoffs.get(s), L),
                "files": "—" if f is None else f"{int(f.files):,}",
                "last_delivery": format_date(None if f is None else f.last_delivery, L),
                "latest_record": format_date(None if f is None else f.latest_record_date, L),
                "rows_loaded": "—" if f is None else f"{int(f.rows_loaded):,}",
                "rows_quarantined": "—" if f is None else f"{int(f.rows_quarantined):,}",
            })
        return rows

    # files ------------------------------------------------------------------------------------------------------
    def year_end_assessments(self) -> pd.DataFrame | None:
        """The plan's scorecard as of the end of each year (31 December; the current year at the data
        cut-off), keyed like ``kpi_observations`` (``kpi_id, geo_code, period_year``)."""
        if self.sc is None or self.sc.empty:
            return None
        d = self.sc[((self.sc.as_of_date.dt.month == 12) & (self.sc.as_of_date.dt.day == 31)) | self.sc.is_data_cutoff.astype(bool)]
        d = d.assign(period_year=d.as_of_date.dt.year).sort_values("as_of_date")
        return d.drop_duplicates(["kpi_id", "geo_code", "period_year"], keep="last")

    def downloads(self) -> dict[str, pd.DataFrame]:
        frame = planner_frame(self.site.obs, self.catalog, self.year_end_assessments(), self.plan, self.labels, self.site.geo)
        return {"all_kpis": frame, **{k: g.reset_index(drop=True) for k, g in frame.groupby("kpi_id", sort=False)}}

    def about_lines(self, kpi=None) -> list[tuple[str, str]]:
        L, m = self.labels, self.site.data.meta
        lines = [(L["ui.title"].zh, L["ui.title"].en), (self.plan.name.zh, self.plan.name.en)]
        if self.plan.is_example:
            lines.append((L["ui.example_banner"].zh, L["ui.example_banner"].en))
        if kpi is not None:
            tt = target_text(kpi, L)
            lines += [
                (str(kpi.name_zh), str(kpi.name_en)),
                (f"{L['ui.unit'].zh}：{kpi.unit_zh}", f"{L['ui.unit'].en}: {kpi.unit_en}"),
                (f"{L['ui.definition'].zh}：{kpi.definition_zh}", f"{L['ui.definition'].en}: {kpi.definition_en}"),
                (f"{L['ui.plan_clause'].zh}（{kpi.plan_section}）：{kpi.source_clause_zh}", f"{L['ui.plan_clause'].en} ({kpi.plan_section}): {kpi.source_clause_zh}"),
                (f"{L['ui.target'].zh}：{tt.zh}", f"{L['ui.target'].en}: {tt.en}"),
            ]
        note = L["ui.suppression_note"].format(threshold=SMALL_COUNT_THRESHOLD)
        rounding = L["ui.rounding_note"]
        lines += [(note.zh, note.en), (rounding.zh, rounding.en),
                  (f"{L['ui.published'].zh}：{format_date(m['published_at'], L).zh}", f"{L['ui.published'].en}: {format_date(m['published_at'], L).en}")]
        return lines


# -- pages -----------------------------------------------------------------------------------------------------------


def page_common(ps: PlanSite, page_depth: int, page_title: Text, equivalents: dict[str, str] | None = None) -> dict:
    """What every page of a plan shows: header, plan selector (each plan's equivalent page, else its
    overview), the example mark, footer and the state the page script needs."""
    site, L = ps.site, ps.labels
    m = site.data.meta
    root = ps.root_from(page_depth)
    plans = []
    for other in site.plan_sites:
        target = (equivalents or {}).get(other.plan.plan_id) or "index.html"
        plans.append({"plan": other.plan, "href": root + other.prefix + target, "current": other is ps, "label": plan_option(other.plan, L)})
    return {
        "root": root, "plan_root": root + ps.prefix, "page_title": page_title, "meta": m, "plan": ps.plan, "plans": plans,
        "views": ps.views, "default_view": ps.default,
        "data_as_of": format_date(site.latest_cutoff(), L), "published": format_date(m["published_at"], L),
        "quality_site": copy_quality_site_into is not None,
        "threshold": SMALL_COUNT_THRESHOLD, "suppression_note": L["ui.suppression_note"].format(threshold=SMALL_COUNT_THRESHOLD),
        "suppressed_mark": L["ui.suppressed"].format(threshold=SMALL_COUNT_THRESHOLD),
        "statuses_json": Markup(json_for_html({s: tj(L.status(s)) for s in STATUS_STYLE})),
        "ui_json": Markup(json_for_html({k: tj(L[f"ui.{k}"]) for k in ("shown_count", "language_switch", "language_switch_label")})),
        "dashboard_meta_json": Markup(json_for_html({"run_id": m["run_id"], "generated_at": m["generated_at"],
                                                     "plan_id": ps.plan.plan_id, "default_review": ps.default,
                                                     "reviews": [v.key for v in ps.views]})),
    }


def copy_plotly_js(dst: Path) -> None:
    """``plotly.min.js`` of the installed plotly package, copied as a file (``get_plotlyjs`` would read
    the 4.6 MB into Python and write it out again)."""
    src = importlib.resources.files("plotly") / "package_data" / "plotly.min.js"
    if not src.is_file():  # pragma: no cover - a plotly that keeps the file elsewhere
        Path(dst).write_text(get_plotlyjs(), encoding="utf-8")
        return
    with importlib.resources.as_file(src) as path:
        shutil.copyfile(path, dst)


def write_site(site: Site, folder: Path, previous: Path | None = None) -> list[Path]:
    """Write every file of the dashboard into ``folder``; returns the paths written. ``previous``: the dashboard's
    last version, whose Excel downloads are copied where their content is the same
    (:func:`daxing_kpi.dashboard_exports.write_xlsx`)."""
    folder = Path(folder)
    (folder / "assets").mkdir(parents=True, exist_ok=True)
    written = []
    copy_plotly_js(folder / "assets" / "plotly.min.js")
    css = (STATIC_DIR / "dashboard.css").read_text(encoding="utf-8") + "\n/* generated: status palette */\n" + status_css()
    (folder / "assets" / "dashboard.css").write_text(css, encoding="utf-8")
    shutil.copyfile(STATIC_DIR / "dashboard.js", folder / "assets" / "dashboard.js")
    written += [folder / "assets" / n for n in ("plotly.min.js", "dashboard.css", "dashboard.js")]
    env = _environment(site.labels)
    from daxing_kpi.nightplan import code_fingerprint

    code = code_fingerprint()
    for ps in site.plan_sites:
        written += write_plan(ps, folder / ps.prefix, env, previous / ps.prefix if previous else None, code)
    return written


def write_plan(ps: PlanSite, folder: Path, env: jinja2.Environment, previous: Path | None = None,
               code: str = "") -> list[Path]:
    """One plan's overview, KPI pages, town/street pages and downloads into ``folder`` (``previous``, ``code``: see
    :func:`write_site`)."""
    L = ps.labels
    for sub in ("kpi", "town", "data"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    written = []
    title = per_lang(L["ui.page_title"], plan=ps.plan.short_name, title=L["ui.short_title"])
    overview = env.get_template("overview.html.j2").render(**page_common(ps, 0, title), **ps.overview_context())
    (folder / "index.html").write_text(overview, encoding="utf-8")
    written.append(folder / "index.html")
    kpi_template = env.get_template("kpi.html.j2")
    for i, kpi in enumerate(ps.kpis):
        name = Text(str(kpi.name_zh), str(kpi.name_en))
        page_title = per_lang(L["ui.page_title"], plan=name, title=ps.plan.short_name)
        eq = {o.plan.plan_id: kpi_page_name(kpi.kpi_id) for o in ps.site.plan_sites if o.has_kpi(kpi.kpi_id)}
        page = kpi_template.render(**page_common(ps, 1, page_title, eq), **ps.kpi_context(kpi, i))
        path = folder / kpi_page_name(kpi.kpi_id)
        path.write_text(page, encoding="utf-8")
        written.append(path)
    town_template = env.get_template("town.html.j2")
    towns = ps.site.towns
    for i, town in enumerate(towns):
        page_title = per_lang(L["ui.page_title"], plan=town["name"], title=ps.plan.short_name)
        eq = {o.plan.plan_id: town_page_name(town["geo_code"]) for o in ps.site.plan_sites}
        page = town_template.render(**page_common(ps, 1, page_title, eq), **town_page_context(ps, i))
        path = folder / town_page_name(town["geo_code"])
        path.write_text(page, encoding="utf-8")
        written.append(path)
    by_id = {k.kpi_id: k for k in ps.kpis}
    for name, frame in ps.downloads().items():
        write_csv(frame, folder / "data" / f"{name}.csv", L)
        write_xlsx(frame, folder / "data" / f"{name}.xlsx", L, ps.about_lines(by_id.get(name)),
                   previous / "data" / f"{name}.xlsx" if previous else None, code)
        written += [folder / "data" / f"{name}.csv", folder / "data" / f"{name}.xlsx"]
    return written


def build_dashboard(db: Path | None = None, out_dir: Path | None = None) -> Path:
    """Write the dashboard from the published database; returns the overview's path (``<out_dir>/index.html``).

    All files of the dashboard are written into a fresh version folder and ``out_dir`` (a
    symbolic link) is switched to it in one rename (:func:`daxing_kpi.atomic.staged_folder`), so
    a browser sees the whole previous dashboard or the whole new one. Raises
    ``FileNotFoundError`` when the database has not been published yet, ``ValueError`` when it
    lacks a table the dashboard needs (``kpi_catalog``, ``kpi_observations``, ``publish_metadata``)
    or the translation file lacks a label.
    """
    db = Path(db or analytics_db_path())
    if not db.exists():
        raise FileNotFoundError(f"{db} does not exist: the analyst database must be published first")
    out_dir = Path(out_dir) if out_dir else dashboard_dir()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    site = Site(load_data(db), load_labels())
    previous = out_dir.resolve() if out_dir.is_dir() else None  # the version a browser sees now
    with staged_folder(out_dir, version=site.data.meta["run_id"]) as stage:
        write_site(site, stage, previous)
        copy_docs_into(stage)  # issue 9: the latest dbt docs page (docs/index.html), linked from the header
        if copy_quality_site_into is not None:  # issue 6: quality/index.html, linked from the header
            copy_quality_site_into(stage)
    return out_dir / "index.html"


__all__ = ["build_dashboard", "write_site", "Site", "PlanSite", "kpi_page_name", "town_page_name", "status_css"]
