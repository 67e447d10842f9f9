"""The planners' static KPI dashboard, written from the published database by the nightly job.

:func:`build_dashboard` reads ``analytics.duckdb`` (read-only) and writes a folder of static files
that works from the file system or any plain web server, with no request leaving the machine:

- ``index.html``: the overview, every catalog KPI as a card grouped by the plan's parts 一 to 五
  (Chinese titles read from the plan text): latest value, target, progress status (colour, icon
  and text) from ``kpi_scorecard``, a sparkline, the data's quality and freshness; filters by domain
  and status, a count per status, and a review selector (latest data, mid-term review 2023-12-31,
  final review 2025-12-31) switching every status to the scorecard's for that date;
- ``kpi/<kpi_id>.html``: one page per KPI: the yearly trend with the target, the required path
  and the projection; the towns/streets compared (sorted bars, the district as a reference line);
  tables of every chart's data; definition, plan clause, numerator and denominator; data sources
  with freshness; quality status; downloads;
- ``data/<kpi_id>.csv|.xlsx`` and ``data/all_kpis.csv|.xlsx``: the KPI's rows of
  ``kpi_observations`` with small counts suppressed (:func:`daxing_kpi.dashboard_data.suppress_small_counts`);
- ``assets/``: ``plotly.min.js`` (from the installed plotly package, once for every page), the
  style sheet and the page script (``dashboards/static/``); ``docs/``: the dbt docs site.

Pages are Chinese by default; the language switch (``dashboards/static/dashboard.js``) swaps every
label to English in place, keeping the review, filters and scroll position; the state travels
between pages in the URL fragment (``#lang=en&review=mid_term``). Every label comes from the
catalog or the one translation file ``dashboards/i18n.yaml``. Templates: ``dashboards/templates/``.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import jinja2
import pandas as pd
import plotly.io as pio
from markupsafe import Markup, escape
from plotly.offline import get_plotlyjs

from daxing_kpi.atomic import staged_folder
from daxing_kpi.dashboard_data import (
    DASHBOARDS_DIR,
    REVIEWS,
    SMALL_COUNT_THRESHOLD,
    DashboardData,
    Labels,
    Text,
    format_count,
    format_target,
    format_value,
    is_missing,
    json_for_html,
    kpi_quality,
    kpi_sources,
    load_data,
    load_labels,
    period_label,
    plan_section_key,
    plan_sections,
    required_path,
    review_dates,
    review_rows,
    section_of,
    source_freshness,
    suppress_small_counts,
)
from daxing_kpi.dashboard_figures import PLOT_CONFIG, STATUS_STYLE, sparkline_svg, towns_figure, trend_figure
from daxing_kpi.docs_site import copy_docs_into
from daxing_kpi.paths import analytics_db_path, dashboard_dir

try:  # issue 6: the quality gate's Great Expectations Data Docs, kept beside each dashboard version
    from daxing_kpi.quality_docs import copy_quality_site_into
except ImportError:  # pragma: no cover - a tree without the quality gate's Data Docs
    copy_quality_site_into = None

TEMPLATES_DIR = DASHBOARDS_DIR / "templates"
STATIC_DIR = DASHBOARDS_DIR / "static"
COMPARATORS = {">=": "≥", "<=": "≤", "=": "=", ">": ">", "<": "<"}
# Columns of the downloads: kpi_observations' columns, the English name of the geography and the unit,
# and whether the cell values are suppressed.
DOWNLOAD_COLUMNS = ["kpi_id", "period_year", "geo_level", "geo_code", "geo_name_zh", "geo_name_en", "numerator",
                    "denominator", "value", "unit", "is_partial_year", "period_end_date", "is_suppressed"]
QUALITY_ICON = {"passed": "q-ok", "blocking_passed": "q-ok", "warn": "q-warn", "failed": "q-fail"}


def kpi_page_name(kpi_id: str) -> str:
    """File of a KPI's page inside the dashboard folder (``kpi/<kpi_id>.html``)."""
    return f"kpi/{kpi_id}.html"


# -- downloads -------------------------------------------------------------------------------------------


def download_frame(obs: pd.DataFrame, kpi_units: dict[str, str], labels: Labels,
                   geo_names_en: dict[str, str] | None = None) -> pd.DataFrame:
    """Rows of ``kpi_observations`` (already through :func:`suppress_small_counts`) in the download
    layout (:data:`DOWNLOAD_COLUMNS`): suppressed rows keep their keys, with empty numbers and
    ``is_suppressed`` true."""
    geo_names_en = geo_names_en or {}
    out = obs.copy()
    out["geo_name_en"] = [labels.geography(c, n, geo_names_en.get(c)).en for c, n in zip(out.geo_code, out.geo_name_zh, strict=True)]
    out["unit"] = out.kpi_id.map(kpi_units)
    out["period_end_date"] = pd.to_datetime(out.period_end_date).dt.date
    out = out.sort_values(["kpi_id", "geo_level", "geo_code", "period_year"], key=lambda s: s.map({"district": 0, "town_street": 1}) if s.name == "geo_level" else s)
    return out[DOWNLOAD_COLUMNS].reset_index(drop=True)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """CSV in UTF-8 with a byte-order mark (opens in Excel); counts as integers, values with every digit."""
    integral_counts(frame).to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")


def integral_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Numerators and denominators as integers where they are whole, and the values of KPIs counted
    in units (``unit = count``) too: ``306``, not ``306.0``. Other values keep every digit."""
    f = frame.copy()
    for col in ("numerator", "denominator"):
        if f[col].dropna().map(lambda v: float(v).is_integer()).all():
            f[col] = f[col].round().astype("Int64")
    whole = f.unit.eq("count") & f.value.notna() & f.value.map(lambda v: not is_missing(v) and float(v).is_integer())
    f["value"] = pd.Series([int(v) if w else (None if is_missing(v) else float(v)) for v, w in zip(f.value, whole, strict=True)],
                           index=f.index, dtype=object)
    return f


def write_xlsx(frame: pd.DataFrame, path: Path, about: list[tuple[str, str, str]]) -> None:
    """An Excel workbook (openpyxl, streamed): sheet ``data`` with the rows (suppressed rows shaded,
    their numbers empty, ``is_suppressed`` TRUE) and sheet ``about`` with ``about``'s (field,
    Chinese, English) lines: the KPI's definition, source, the suppression rule, the run."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("data")
    for letter, width in zip("ABCDEFGHIJKLM", (44, 12, 12, 12, 16, 26, 12, 12, 20, 9, 15, 15, 13), strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A2"
    bold, shade = Font(bold=True), PatternFill("solid", fgColor="E5E7EB")

    def styled(sheet, values, **style):
        cells = []
        for v in values:
            c = WriteOnlyCell(sheet, value=v)
            for k, val in style.items():
                setattr(c, k, val)
            cells.append(c)
        return cells

    ws.append(styled(ws, list(frame.columns), font=bold))
    for rec in integral_counts(frame).itertuples(index=False):
        row = [None if is_missing(v) else (v.item() if hasattr(v, "item") else v) for v in rec]
        ws.append(styled(ws, row, fill=shade) if rec.is_suppressed else row)
    info = wb.create_sheet("about")
    for letter, width in zip("ABC", (22, 70, 70), strict=True):
        info.column_dimensions[letter].width = width
    info.append(styled(info, ["field", "中文", "English"], font=bold))
    for line in about:
        info.append(list(line))
    buf = io.BytesIO()
    wb.save(buf)
    Path(path).write_bytes(buf.getvalue())


# -- rendering helpers --------------------------------------------------------------------------------------


def _t(text: Text) -> Markup:
    """A bilingual text as ``<span data-en="…">中文</span>`` (plain text when both are equal)."""
    if text.zh == text.en:
        return escape(text.zh)
    return Markup('<span data-en="{}">{}</span>').format(text.en, text.zh)


def _ten(text: Text) -> Markup:
    """The ``data-en`` attribute of an element whose own text is the Chinese (``<option>``, ``<title>``)."""
    return Markup(' data-en="{}"').format(text.en)


def _tattr(text: Text, attr: str) -> Markup:
    """An attribute in Chinese with its English in ``data-en-<attr>``."""
    return Markup(' {0}="{1}" data-en-{0}="{2}"').format(Markup(attr), text.zh, text.en)


def _environment(labels: Labels) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(t=_t, ten=_ten, tattr=_tattr)
    env.globals.update(L=lambda key: labels[key], status_text=labels.status, STATUS_KEYS=list(STATUS_STYLE))
    return env


def status_css() -> str:
    """Style rules of the status badges, chips and card stripes, from the one palette
    (:data:`daxing_kpi.dashboard_figures.STATUS_STYLE`)."""
    rules = []
    for s, (strong, bg, fg) in STATUS_STYLE.items():
        rules.append(f".status-{s}{{--st-strong:{strong};--st-bg:{bg};--st-fg:{fg}}}")
        rules.append(f'.kpi-card[data-status="{s}"]{{--card-stripe:{strong}}}')
    return "\n".join(rules) + "\n"


def _comparator(kpi) -> str:
    return COMPARATORS.get(str(kpi.comparator or "").strip(), "≥" if kpi.direction == "increase" else "≤")


def target_text(kpi, labels: Labels) -> Text:
    """``≥ 50`` / ``≥ 6,000``, or the label for a KPI without a numeric target."""
    if is_missing(kpi.target_value):
        return labels["ui.no_target"]
    v = f"{_comparator(kpi)} {format_target(kpi.target_value, kpi.unit)}"
    return Text(v, v)


def unit_text(kpi) -> Text:
    return Text("", "") if kpi.unit == "pct" else Text(str(kpi.unit_zh), str(kpi.unit_en))


def per_lang(template: Text, **values) -> Text:
    """Fill a label's placeholders with values given per language (``{"zh": ..., "en": ...}``) or shared."""
    pick = lambda lang: {k: (v[lang] if isinstance(v, dict) else v.get(lang) if isinstance(v, Text) else v)  # noqa: E731
                         for k, v in values.items()}
    return Text(template.zh.format(**pick("zh")), template.en.format(**pick("en")))


def _text_json(text: Text) -> dict:
    return {"zh": text.zh, "en": text.en}


# -- the site -------------------------------------------------------------------------------------------------


class Site:
    """Everything the pages show, prepared once from :class:`DashboardData`."""

    def __init__(self, data: DashboardData, labels: Labels, sections: dict[str, str] | None = None):
        self.data, self.labels = data, labels
        self.catalog = data.catalog.reset_index(drop=True)
        self.sections_zh = sections if sections is not None else plan_sections()
        self.obs = suppress_small_counts(data.observations, self.catalog)
        self.sc = data.scorecard
        self.geo_en = {}
        if data.geographies is not None and "geo_name_en" in data.geographies:
            self.geo_en = {str(c): n for c, n in zip(data.geographies.geo_code, data.geographies.geo_name_en, strict=True)
                           if not is_missing(n)}
        self.review_dates = review_dates(self.sc)
        self.reviews = [r for r in REVIEWS if r == "latest" or self.review_dates.get(r)]
        self.quality = kpi_quality(self.catalog, data.dq_results, data.meta["run_id"], data.dq_kpi_status)
        self.freshness = source_freshness(data.ingest_audit, data.source_freshness).set_index("source_id")
        self.latest_record = {}  # the quality gate's latest record date per KPI (dq_kpi_status), when published
        ks = data.dq_kpi_status
        if ks is not None and "latest_record_date" in ks:
            self.latest_record = {k: d for k, d in zip(ks.kpi_id, pd.to_datetime(ks.latest_record_date), strict=True) if not is_missing(d)}
        self.contracts = self._contracts()
        self.order = self._ordered_catalog()
        self._obs_by_kpi = {k: g for k, g in self.obs.groupby("kpi_id", sort=False)}
        self._sc_by_kpi = {} if self.sc is None else {k: g.sort_values("as_of_date") for k, g in self.sc.groupby(["kpi_id", "geo_level"], sort=False)}
        self._states: dict = {}

    # labels ------------------------------------------------------------------------------------------
    def _contracts(self) -> dict:
        try:
            from daxing_kpi.ingest import load_contracts

            return load_contracts()
        except Exception:  # noqa: BLE001 - a contract folder that cannot be read only costs the source titles
            return {}

    def _ordered_catalog(self) -> pd.DataFrame:
        c = self.catalog.copy()
        c["section"] = c.plan_section.map(section_of)
        numerals = list(self.sections_zh) + sorted(set(c.section) - set(self.sections_zh))
        c["section_rank"] = c.section.map({n: i for i, n in enumerate(numerals)})
        c["plan_rank"] = c.plan_section.map(plan_section_key)
        c["catalog_rank"] = range(len(c))
        return c.sort_values(["section_rank", "plan_rank", "catalog_rank"]).reset_index(drop=True)

    def name(self, kpi) -> Text:
        return Text(str(kpi.name_zh), str(kpi.name_en))

    def geo(self, code: str, name_zh: str) -> Text:
        return self.labels.geography(code, name_zh, self.geo_en.get(str(code)))

    def target_label(self, kpi) -> Text:
        """``2025年目标`` / ``Target 2025``."""
        return self.labels["ui.target_line"].format(year=int(kpi.target_year)) if not is_missing(kpi.target_year) else self.labels["ui.target"]

    def review_label(self, review: str) -> Text:
        label = self.labels[f"reviews.{review}"]
        date = self.review_dates.get(review)
        return per_lang(self.labels["ui.review_option"], review=label, date=date) if date else label

    def section_title(self, numeral: str) -> Text:
        zh = self.sections_zh.get(numeral, "")
        en = self.labels.spec["sections"].get(numeral, {}).get("en", zh)
        return Text(zh, en)

    # per-KPI data --------------------------------------------------------------------------------------
    def kpi_obs(self, kpi_id: str) -> pd.DataFrame:
        return self._obs_by_kpi.get(kpi_id, self.obs.iloc[0:0])

    def district(self, kpi_id: str) -> pd.DataFrame:
        o = self.kpi_obs(kpi_id)
        return o[o.geo_level == "district"].sort_values("period_year")

    def scorecard(self, kpi_id: str, geo_level: str = "district") -> pd.DataFrame | None:
        if self.sc is None:
            return None
        return self._sc_by_kpi.get((kpi_id, geo_level), self.sc.iloc[0:0])

    def review_state(self, kpi, review: str) -> dict:
        """The district's value and status at one review (the scorecard row; without a scorecard the
        latest observation, status ``insufficient_data``)."""
        key = (kpi.kpi_id, review)
        if key not in self._states:
            self._states[key] = self._review_state(kpi, review)
        return dict(self._states[key])

    def _review_state(self, kpi, review: str) -> dict:
        rows = review_rows(self.scorecard(kpi.kpi_id))[review] if self.sc is not None else pd.DataFrame()
        d = self.district(kpi.kpi_id).dropna(subset=["value"])
        if len(rows):
            r = rows.iloc[-1]
            year, value, partial, end = r.latest_year, r.latest_value, bool(r.is_latest_partial_year), r.latest_period_end_date
            status, ratio, method, projected, as_of = r.status, r.progress_ratio, r.method, r.projected_value, r.as_of_date
            baseline = (r.baseline_year, r.baseline_value)
        elif review == "latest" and len(d):
            last = d.iloc[-1]
            year, value, partial, end = last.period_year, last.value, bool(last.is_partial_year), last.period_end_date
            status, ratio, method, projected, as_of, baseline = None, None, None, None, last.period_end_date, (None, None)
        else:
            year = value = end = ratio = method = projected = as_of = None
            partial, status, baseline = False, None, (None, None)
        status = status if status in STATUS_STYLE else "insufficient_data"
        L = self.labels
        proj = Text("", "")
        if not is_missing(projected):
            p = L["ui.projection"].format(year=int(kpi.target_year))
            proj = per_lang(L["ui.labelled_value"], label=p, value=format_value(projected, kpi.unit))
        return {
            "status": status,
            "status_text": _text_json(L.status(status)),
            "value": None if is_missing(value) else float(value),
            "value_text": format_value(value, kpi.unit),
            "year": None if is_missing(year) else int(year),
            "period": _text_json(period_label(L, year, partial, end)),
            "as_of": None if is_missing(as_of) else f"{pd.Timestamp(as_of):%Y-%m-%d}",
            "baseline": "—" if is_missing(baseline[1]) else f"{format_value(baseline[1], kpi.unit)} ({int(baseline[0])})",
            "ratio": "—" if is_missing(ratio) else f"{float(ratio):.2f}",
            "method": _text_json(L[f"methods.{method}"] if not is_missing(method) and method in L.spec["methods"] else L["ui.na"]),
            "projection": _text_json(proj),
        }

    def data_to(self, kpi_id: str) -> str:
        """How recent the KPI's data is: the latest record date of its sources (the oldest of them,
        from the quality gate's ``dq_kpi_status``) when published, else its latest period end."""
        if kpi_id in self.latest_record:
            return f"{self.latest_record[kpi_id]:%Y-%m-%d}"
        d = self.kpi_obs(kpi_id)
        return f"{d.period_end_date.max():%Y-%m-%d}" if len(d) else "—"

    def quality_view(self, kpi) -> dict:
        q = self.quality.get(kpi.kpi_id, {"state": "blocking_passed", "checks": 0, "failed": []})
        notes = []
        if self.data.dq_results is None and self.data.dq_kpi_status is None:
            notes.append(self.labels["quality.no_checks_table"])
        quarantined = int(sum(self.freshness.rows_quarantined.get(s, 0) for s in kpi_sources(kpi)))
        if quarantined:
            notes.append(self.labels["quality.quarantined_note"].format(rows=f"{quarantined:,}"))
        return {"state": q["state"], "icon": QUALITY_ICON[q["state"]], "text": self.labels[f"quality.{q['state']}"],
                "short": self.labels[f"quality.{q['state']}_short"],
                "failed": q["failed"], "checks": q["checks"], "notes": notes}

    def source_rows(self, kpi) -> list[dict]:
        rows = []
        for s in kpi_sources(kpi):
            c = self.contracts.get(s)
            title = Text(c.title_zh, c.title_en) if c else Text(s, s)
            system = str(c.extra.get("system", "")) if c is not None and hasattr(c, "extra") else ""
            f = self.freshness.loc[s] if s in self.freshness.index else None

            def ts(v, fmt="%Y-%m-%d %H:%M"):
                return "—" if v is None or is_missing(v) else f"{pd.Timestamp(v):{fmt}}"

            rows.append({
                "source_id": s, "title": title, "system": system,
                "files": "—" if f is None else f"{int(f.files):,}",
                "last_delivery": ts(None if f is None else f.last_delivery),
                "last_load": ts(None if f is None else f.last_load),
                "latest_record": ts(None if f is None else f.latest_record_date, "%Y-%m-%d"),
                "rows_loaded": "—" if f is None else f"{int(f.rows_loaded):,}",
                "rows_quarantined": "—" if f is None else f"{int(f.rows_quarantined):,}",
            })
        return rows

    # views -------------------------------------------------------------------------------------------------
    def card(self, kpi) -> dict:
        states = {r: self.review_state(kpi, r) for r in self.reviews}
        return {
            "kpi_id": kpi.kpi_id, "href": kpi_page_name(kpi.kpi_id), "name": self.name(kpi), "domain": kpi.domain,
            "domain_text": self.labels.domain(kpi.domain), "plan_section": kpi.plan_section,
            "unit": unit_text(kpi), "target": target_text(kpi, self.labels), "no_target": is_missing(kpi.target_value),
            "target_label": self.target_label(kpi),
            "states": states, "now": states["latest"],
            "sparkline": Markup(sparkline_svg(self.district(kpi.kpi_id), kpi, self.labels)),
            "quality": self.quality_view(kpi), "data_to": self.data_to(kpi.kpi_id),
        }

    def overview_context(self) -> dict:
        cards = [self.card(k) for k in self.order.itertuples()]
        by_section: dict[str, list] = {}
        for k, c in zip(self.order.itertuples(), cards, strict=True):
            by_section.setdefault(k.section, []).append(c)
        sections = [{"numeral": n, "title": self.section_title(n), "cards": cs} for n, cs in by_section.items()]
        domains = list(dict.fromkeys(self.order.domain))
        counts = {s: sum(1 for c in cards if c["now"]["status"] == s) for s in STATUS_STYLE}
        return {
            "sections": sections, "total": len(cards),
            "domains": [(d, self.labels.domain(d)) for d in domains],
            "reviews": [(r, self.review_label(r)) for r in self.reviews],
            "counts": counts,
            "cards_json": Markup(json_for_html({c["kpi_id"]: c["states"] for c in cards})),
        }

    def kpi_context(self, kpi, position: int) -> dict:
        L = self.labels
        district = self.district(kpi.kpi_id)
        sc = self.scorecard(kpi.kpi_id)
        states = {r: self.review_state(kpi, r) for r in self.reviews}
        figures = {"trend": {lang: json.loads(pio.to_json(trend_figure(district, kpi, sc, L, lang), validate=False))
                             for lang in ("zh", "en")}, "towns": {}}
        towns_views = []
        if bool(kpi.has_town_street):
            for r in self.reviews:
                view = self.towns_view(kpi, r, states[r])
                if view is None:
                    continue
                towns_views.append(view)
                figures["towns"][r] = {
                    lang: json.loads(pio.to_json(towns_figure(view["frame"].assign(name=view["frame"][f"name_{lang}"]),
                                                              view["district_value"], kpi, view["period"].get(lang), L, lang),
                                                 validate=False))
                    for lang in ("zh", "en")
                }
        for r, state in states.items():
            state["towns_title"] = _text_json(per_lang(L["ui.towns_title"], year=state["period"]))
        prev_kpi = self.order.iloc[position - 1] if position > 0 else None
        next_kpi = self.order.iloc[position + 1] if position + 1 < len(self.order) else None
        return {
            "kpi": kpi, "name": self.name(kpi), "domain_text": L.domain(kpi.domain),
            "section_title": self.section_title(section_of(kpi.plan_section)), "section": section_of(kpi.plan_section),
            "unit": unit_text(kpi), "unit_full": Text(str(kpi.unit_zh), str(kpi.unit_en)),
            "trend_caption": per_lang(L["ui.trend_table_caption"], numerator={"zh": kpi.numerator_zh, "en": kpi.numerator_en},
                                      denominator={"zh": kpi.denominator_zh, "en": kpi.denominator_en}),
            "target": target_text(kpi, L), "target_label": self.target_label(kpi), "states": states, "now": states["latest"],
            "reviews": [(r, self.review_label(r)) for r in self.reviews],
            "district_rows": self.district_rows(kpi, district, sc), "towns_views": towns_views,
            "towns_wide": self.towns_wide(kpi) if bool(kpi.has_town_street) else None,
            "history": self.history_rows(kpi, sc), "sources": self.source_rows(kpi), "quality": self.quality_view(kpi),
            "has_audit": not self.freshness.empty,
            "data_to": self.data_to(kpi.kpi_id),
            "csv_href": f"../data/{kpi.kpi_id}.csv", "xlsx_href": f"../data/{kpi.kpi_id}.xlsx",
            "prev": None if prev_kpi is None else {"href": f"{prev_kpi.kpi_id}.html", "name": self.name(prev_kpi)},
            "next": None if next_kpi is None else {"href": f"{next_kpi.kpi_id}.html", "name": self.name(next_kpi)},
            "states_json": Markup(json_for_html(states)),
            "figures_json": Markup(json_for_html(figures)),
            "plot_config_json": Markup(json_for_html(PLOT_CONFIG)),
            "direction": L[f"ui.direction_{kpi.direction}"] if kpi.direction in ("increase", "decrease") else L["ui.na"],
        }

    def district_rows(self, kpi, district: pd.DataFrame, sc: pd.DataFrame | None) -> list[dict]:
        path = pd.DataFrame(columns=["period_year", "value"])
        year_end = {}
        if sc is not None and len(sc):
            cut = sc[sc.is_data_cutoff.astype(bool)]
            row = cut.iloc[-1] if len(cut) else sc.iloc[-1]
            if not is_missing(kpi.target_value) and not is_missing(row.baseline_value):
                path = required_path(row.baseline_year, row.baseline_value, kpi.target_year, kpi.target_value, row.method)
            for r in sc.itertuples():
                if pd.Timestamp(r.as_of_date).month == 12 and pd.Timestamp(r.as_of_date).day == 31:
                    year_end[pd.Timestamp(r.as_of_date).year] = r.status
        path_by_year = dict(zip(path.period_year, path.value, strict=True))
        rows = []
        for r in district.itertuples():
            st = year_end.get(int(r.period_year))
            rows.append({
                "period": period_label(self.labels, r.period_year, bool(r.is_partial_year), r.period_end_date),
                "numerator": format_count(r.numerator), "denominator": format_count(r.denominator),
                "value": format_value(r.value, kpi.unit),
                "path": format_value(path_by_year.get(int(r.period_year)), kpi.unit) if int(r.period_year) in path_by_year else "—",
                "status": None if st is None else st,
            })
        return rows

    def towns_view(self, kpi, review: str, state: dict) -> dict | None:
        year = state["year"]
        if year is None:
            return None
        o = self.kpi_obs(kpi.kpi_id)
        t = o[(o.geo_level == "town_street") & (o.period_year == year)].copy()
        if t.empty:
            return None
        status = {}
        if self.sc is not None:
            rows = review_rows(self.scorecard(kpi.kpi_id, "town_street"), "town_street")[review]
            status = dict(zip(rows.geo_code, rows.status, strict=True))
        t["status"] = [None if s else status.get(c) for c, s in zip(t.geo_code, t.is_suppressed, strict=True)]
        t["status"] = t.status.where(t.status.isin(list(STATUS_STYLE)), "insufficient_data")
        names = [self.geo(c, n) for c, n in zip(t.geo_code, t.geo_name_zh, strict=True)]
        t["name_zh"], t["name_en"] = [n.zh for n in names], [n.en for n in names]
        d = self.district(kpi.kpi_id)
        dv = d[d.period_year == year].value
        district_value = None if dv.empty else dv.iloc[0]
        ordered = t.sort_values(["is_suppressed", "value", "geo_code"], ascending=[True, False, True])
        rows = []
        rank = 0
        for r in ordered.itertuples():
            rank += 0 if r.is_suppressed else 1
            rows.append({
                "rank": "—" if r.is_suppressed else str(rank), "name": Text(r.name_zh, r.name_en),
                "value": format_value(r.value, kpi.unit), "numerator": format_count(r.numerator),
                "denominator": format_count(r.denominator), "status": None if r.is_suppressed else r.status,
                "suppressed": bool(r.is_suppressed), "geo_code": r.geo_code,
            })
        period = Text(state["period"]["zh"], state["period"]["en"])
        return {"review": review, "period": period, "rows": rows,
                "caption": per_lang(self.labels["ui.towns_table_caption"], year=state["period"]), "frame": t, "district_value": district_value,
                "district_text": format_value(district_value, kpi.unit),
                "shown": int((~t.is_suppressed).sum()), "suppressed": int(t.is_suppressed.sum())}

    def towns_wide(self, kpi) -> dict | None:
        o = self.kpi_obs(kpi.kpi_id)
        t = o[o.geo_level == "town_street"]
        if t.empty:
            return None
        years = sorted(int(y) for y in t.period_year.unique())
        partial = {int(y) for y in t[t.is_partial_year.astype(bool)].period_year}
        mark = self.labels["ui.suppressed"].format(threshold=SMALL_COUNT_THRESHOLD)
        rows = []
        for code, g in t.groupby("geo_code", sort=True):
            cells = {int(r.period_year): (mark if r.is_suppressed else Text(*(format_value(r.value, kpi.unit),) * 2)) for r in g.itertuples()}
            rows.append({"name": self.geo(code, g.geo_name_zh.iloc[0]), "cells": [cells.get(y, Text("—", "—")) for y in years]})
        ytd = self.labels["ui.ytd_short"]
        heads = [per_lang(self.labels["ui.year_partial"], year=y, ytd=ytd) if y in partial else Text(str(y), str(y)) for y in years]
        return {"years": heads, "rows": rows}

    def history_rows(self, kpi, sc: pd.DataFrame | None) -> list[dict]:
        if sc is None or sc.empty:
            return []
        rows = []
        for r in sc.itertuples():
            review = self.labels[f"reviews.{r.review}"] if not is_missing(r.review) else (
                self.labels["reviews.latest"] if r.is_data_cutoff else Text("", ""))
            rows.append({
                "as_of": f"{pd.Timestamp(r.as_of_date):%Y-%m-%d}", "review": review,
                "latest": period_label(self.labels, r.latest_year, bool(r.is_latest_partial_year), r.latest_period_end_date),
                "value": format_value(r.latest_value, kpi.unit),
                "ratio": "—" if is_missing(r.progress_ratio) else f"{float(r.progress_ratio):.2f}",
                "projected": format_value(r.projected_value, kpi.unit),
                "method": self.labels[f"methods.{r.method}"] if not is_missing(r.method) and r.method in self.labels.spec["methods"] else self.labels["ui.na"],
                "status": r.status if r.status in STATUS_STYLE else "insufficient_data",
            })
        return rows

    # files -------------------------------------------------------------------------------------------------
    def downloads(self) -> dict[str, pd.DataFrame]:
        units = dict(zip(self.catalog.kpi_id, self.catalog.unit, strict=True))
        frame = download_frame(self.obs, units, self.labels, self.geo_en)
        return {"all_kpis": frame, **{k: g.reset_index(drop=True) for k, g in frame.groupby("kpi_id", sort=False)}}

    def about_lines(self, kpi=None) -> list[tuple[str, str, str]]:
        L, m = self.labels, self.data.meta
        lines = [("title", L["ui.title"].zh, L["ui.title"].en)]
        if kpi is not None:
            lines += [
                ("kpi_id", kpi.kpi_id, kpi.kpi_id), ("name", kpi.name_zh, kpi.name_en),
                ("unit", str(kpi.unit_zh), str(kpi.unit_en)), ("definition", kpi.definition_zh, kpi.definition_en),
                ("numerator", kpi.numerator_zh, kpi.numerator_en), ("denominator", kpi.denominator_zh, kpi.denominator_en),
                ("plan_section", kpi.plan_section, kpi.plan_section), ("plan_clause", kpi.source_clause_zh, kpi.source_clause_zh),
                ("target", target_text(kpi, L).zh, target_text(kpi, L).en), ("sources", kpi.sources, kpi.sources),
            ]
        note = L["ui.suppression_note"].format(threshold=SMALL_COUNT_THRESHOLD)
        lines += [("suppression", note.zh, note.en), ("run_id", m["run_id"], m["run_id"]),
                  ("published_at", m["published_at"], m["published_at"]),
                  ("data_as_of", f"{m['data_as_of']:%Y-%m-%d}", f"{m['data_as_of']:%Y-%m-%d}")]
        return lines


def page_common(site: Site, root: str, page_title: Text) -> dict:
    m = site.data.meta
    return {
        "root": root, "page_title": page_title, "meta": m, "data_as_of": f"{m['data_as_of']:%Y-%m-%d}",
        "quality_site": copy_quality_site_into is not None,
        "threshold": SMALL_COUNT_THRESHOLD, "suppression_note": site.labels["ui.suppression_note"].format(threshold=SMALL_COUNT_THRESHOLD),
        "suppressed_mark": site.labels["ui.suppressed"].format(threshold=SMALL_COUNT_THRESHOLD),
        "statuses_json": Markup(json_for_html({s: _text_json(site.labels.status(s)) for s in STATUS_STYLE})),
        "ui_json": Markup(json_for_html({k: _text_json(site.labels[f"ui.{k}"]) for k in ("shown_count", "language_switch", "language_switch_label")})),
        "dashboard_meta_json": Markup(json_for_html({"run_id": m["run_id"], "generated_at": m["generated_at"]})),
    }


def write_site(site: Site, folder: Path) -> list[Path]:
    """Write every file of the dashboard into ``folder``; returns the paths written."""
    folder = Path(folder)
    for sub in ("assets", "kpi", "data"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    written = []
    (folder / "assets" / "plotly.min.js").write_text(get_plotlyjs(), encoding="utf-8")
    css = (STATIC_DIR / "dashboard.css").read_text(encoding="utf-8") + "\n/* generated: status palette */\n" + status_css()
    (folder / "assets" / "dashboard.css").write_text(css, encoding="utf-8")
    shutil.copyfile(STATIC_DIR / "dashboard.js", folder / "assets" / "dashboard.js")
    written += [folder / "assets" / n for n in ("plotly.min.js", "dashboard.css", "dashboard.js")]
    env = _environment(site.labels)
    overview = env.get_template("overview.html.j2").render(**page_common(site, "", site.labels["ui.title"]), **site.overview_context())
    (folder / "index.html").write_text(overview, encoding="utf-8")
    written.append(folder / "index.html")
    kpi_template = env.get_template("kpi.html.j2")
    for i, kpi in enumerate(site.order.itertuples()):
        title = Text(f"{kpi.name_zh} · {site.labels['ui.short_title'].zh}", f"{kpi.name_en} · {site.labels['ui.short_title'].en}")
        page = kpi_template.render(**page_common(site, "../", title), **site.kpi_context(kpi, i))
        path = folder / kpi_page_name(kpi.kpi_id)
        path.write_text(page, encoding="utf-8")
        written.append(path)
    by_id = {k.kpi_id: k for k in site.order.itertuples()}
    for name, frame in site.downloads().items():
        write_csv(frame, folder / "data" / f"{name}.csv")
        write_xlsx(frame, folder / "data" / f"{name}.xlsx", site.about_lines(by_id.get(name)))
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
    with staged_folder(out_dir, version=site.data.meta["run_id"]) as stage:
        write_site(site, stage)
        copy_docs_into(stage)  # issue 9: the latest dbt docs page (docs/index.html), linked from the header
        if copy_quality_site_into is not None:  # issue 6: quality/index.html, linked from the header
            copy_quality_site_into(stage)
    return out_dir / "index.html"


__all__ = ["build_dashboard", "write_site", "Site", "download_frame", "write_csv", "write_xlsx", "kpi_page_name",
           "status_css"]
