"""What the planners' dashboard shows, computed from the published database (no HTML here).

:func:`load_data` reads ``analytics.duckdb`` read-only: ``kpi_catalog``, ``kpi_observations`` and
``publish_metadata`` are required; the others (:data:`OPTIONAL_TABLES`: the scorecard, the plans,
geographies, ingestion and quality tables) are used when published and the pages degrade without them.
The rest are pure functions on frames, tested directly:

- :func:`load_labels`: the one translation file ``dashboards/i18n.yaml``;
- :func:`format_value`, :func:`format_date`, :func:`zh_punctuation`, :func:`plan_ref`: how values,
  dates, Chinese text and references into the plan read on the pages;
- :func:`daxing_kpi.smallcounts.suppress_small_counts` (imported here): the small-count rule for per-person
  KPIs by town/street, shared with the review report;
- :func:`required_path`: the path from the baseline to the target that the progress method assumes;
- :func:`kpi_quality` and :func:`source_freshness`: per-KPI quality status and data freshness.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from daxing_kpi.paths import PROJECT_ROOT
from daxing_kpi.smallcounts import SMALL_COUNT_THRESHOLD, SUPPRESSED_LEVELS, suppress_small_counts  # noqa: F401 (the rule lives there)
from daxing_kpi.yamlfile import read_yaml

DASHBOARDS_DIR = PROJECT_ROOT / "dashboards"
I18N_FILE = DASHBOARDS_DIR / "i18n.yaml"
LANGS = ("zh", "en")
NUMERALS = "一二三四五六七八九十"

REQUIRED_TABLES = ("kpi_catalog", "kpi_observations", "publish_metadata")
# dq_results, dq_kpi_status and source_freshness come from the quality gate (issue 6, daxing_kpi.dq).
OPTIONAL_TABLES = ("kpi_scorecard", "geographies", "ingest_audit", "pipeline_runs", "dq_results", "dq_kpi_status",
                   "source_freshness", "plans", "plan_sections", "plan_targets", "plan_target_milestones")
KPI_STATUS_STATES = {"passed": "passed", "warned": "warn", "warn": "warn", "failed": "failed"}


# -- labels -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A label in both languages."""

    zh: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh

    def format(self, **values) -> Text:
        return Text(self.zh.format(**values), self.en.format(**values))


class Labels:
    """The entries of ``dashboards/i18n.yaml`` as :class:`Text` (``labels['ui.title']``)."""

    BILINGUAL = ("ui", "statuses", "methods", "reviews", "quality", "domains", "geo_levels", "geo_kinds", "download_columns")
    ENGLISH_ONLY = ("geographies",)  # the Chinese comes from geographies

    def __init__(self, spec: dict, path: Path = I18N_FILE):
        self.path = Path(path)
        self.spec = spec
        self._texts: dict[str, Text] = {}  # labels looked up (the pages look up some 70,000 a night)
        for group in self.BILINGUAL + self.ENGLISH_ONLY:
            entries = spec.get(group)
            if not isinstance(entries, dict) or not entries:
                raise ValueError(f"{path}: group {group!r} is missing or empty")
            langs = LANGS if group in self.BILINGUAL else ("en",)
            for key, entry in entries.items():
                for lang in langs:
                    if not isinstance(entry, dict) or not str(entry.get(lang) or "").strip():
                        raise ValueError(f"{path}: entry {group}.{key} has no {lang!r} text")

    def __getitem__(self, dotted: str) -> Text:
        text = self._texts.get(dotted)
        if text is None:
            group, key = dotted.split(".", 1)
            try:
                entry = self.spec[group][key]
            except KeyError:
                raise KeyError(f"{self.path}: no entry {dotted!r}") from None
            text = self._texts[dotted] = Text(str(entry.get("zh", entry["en"])), str(entry["en"]))
        return text

    def keys(self, group: str) -> list[str]:
        return [str(k) for k in self.spec[group]]

    def status(self, status: str | None) -> Text:
        return self[f"statuses.{status or 'insufficient_data'}"]

    def domain(self, domain: str) -> Text:
        return self[f"domains.{domain}"] if domain in self.spec["domains"] else Text(domain, domain)

    def geography(self, geo_code: str, name_zh: str, name_en: str | None = None) -> Text:
        if name_en and not pd.isna(name_en):
            return Text(name_zh, str(name_en))
        entry = self.spec["geographies"].get(str(geo_code))
        return Text(name_zh, entry["en"] if entry else name_zh)


def load_labels(path: Path = I18N_FILE) -> Labels:
    """Read the translation file; raises ``ValueError`` naming the file and the entry that lacks a language."""
    path = Path(path)
    spec = read_yaml(path)
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: expected a mapping of label groups")
    return Labels(spec, path)


# -- the plan's parts -------------------------------------------------------------------------------


def numeral_value(numeral: str) -> int:
    """一 → 1, 十 → 10, 十二 → 12, 二十一 → 21 (the plan's part and subsection numbers)."""
    digits = {c: i + 1 for i, c in enumerate("一二三四五六七八九")}
    if "十" not in numeral:
        return digits[numeral]
    tens, _, ones = numeral.partition("十")
    return (digits[tens] if tens else 1) * 10 + (digits[ones] if ones else 0)


def plan_ref(plan_section) -> Text:
    """A reference into the plan in both languages: ``一（二）1`` / ``1(2)1`` (the English view writes
    the plan's Chinese numerals as digits)."""
    zh = zh_punctuation(str(plan_section or ""))
    en = re.sub(f"[{NUMERALS}]+", lambda m: str(numeral_value(m.group(0))), zh)
    en = en.replace("（", "(").replace("）", ")").replace("；", "; ").replace("、", ". ")
    return Text(zh, en)


def plan_section_key(plan_section: str) -> tuple[int, int, int]:
    """Sort key of a catalog ``plan_section`` in the plan's order: ``一(二)1`` → ``(1, 2, 1)``,
    ``三(二)`` → ``(3, 2, 0)``; for ``一(三)3; 四(三)2`` the first reference counts."""
    first = str(plan_section).split(";")[0].strip()
    m = re.match(r"([一二三四五六七八九十]+)(?:[(（]([一二三四五六七八九十]+)[)）])?\s*(\d+)?", first)
    if not m:
        raise ValueError(f"plan_section {plan_section!r} is not of the form 一(二)1")
    return numeral_value(m.group(1)), numeral_value(m.group(2)) if m.group(2) else 0, int(m.group(3) or 0)


# -- numbers ---------------------------------------------------------------------------------------------


def is_missing(value) -> bool:
    """None, NaN, NaT or pd.NA (a text or a Python int never is: answered without asking pandas)."""
    if value is None or isinstance(value, (str, int)):
        return value is None
    if isinstance(value, float):
        return math.isnan(value)
    return bool(pd.isna(value))


def format_value(value, unit: str) -> str:
    """Display form of a KPI value: counts as integers with thousands separators (``6,047``), rates
    with one decimal and ``%`` (``54.7%``), other units with one decimal; ``—`` when missing."""
    if is_missing(value):
        return "—"
    value = float(value)
    if unit == "count":
        return f"{round(value):,}"
    if unit == "pct":
        return f"{value:.1f}%"
    return f"{value:,.1f}"


def format_target(value, unit: str) -> str:
    """A target as the plan states it: ``65%``, ``50``, ``6,000``, ``0.5`` (no trailing ``.0``)."""
    if is_missing(value):
        return "—"
    value = float(value)
    text = f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}".rstrip("0").rstrip(".")
    return text + ("%" if unit == "pct" else "")


def format_count(value) -> str:
    """Numerators and denominators: integers with thousands separators, ``—`` when missing."""
    if is_missing(value):
        return "—"
    value = float(value)
    return f"{round(value):,}" if abs(value - round(value)) < 1e-9 else f"{value:,.2f}"


_HALF_WIDTH = {",": "，", ":": "：", ";": "；", "(": "（", ")": "）"}
_CJK = "\u3400-\u9fff"
_PUNCT_NEAR_CJK = re.compile(f"(?<=[{_CJK}（）])[,:;()]|[,:;()](?=[{_CJK}（）])")
# Chinese texts of the catalog shown on the pages (the verbatim plan clause stays as published).
ZH_TEXT_COLUMNS = ("name_zh", "plan_section", "definition_zh", "numerator_zh", "denominator_zh", "unit_zh")


def zh_punctuation(text):
    """Chinese text with full-width punctuation: ASCII ``, : ; ( )`` next to a Chinese character (or
    to a bracket already full-width) become ``，：；（）``: ``镇(街)`` → ``镇（街）``, ``一(二)1`` →
    ``一（二）1``. Numbers keep their separators (``6,047``); other values are returned unchanged."""
    if not isinstance(text, str):
        return text
    text = re.sub(f";\\s*(?=[{_CJK}])", "；", text)  # 一(三)3; 四(三)2: two references of the plan
    previous = None
    while previous != text:  # "(二)": the second bracket is next to a full-width one only after the first pass
        previous, text = text, _PUNCT_NEAR_CJK.sub(lambda m: _HALF_WIDTH[m.group(0)], text)
    return text


def format_date(value, labels: Labels) -> Text:
    """A date as planners write it: ``2026年10月31日`` / ``31 Oct 2026``; ``—`` when missing."""
    if is_missing(value):
        return labels["ui.na"]
    d = pd.Timestamp(value)
    return labels["ui.date"].format(year=d.year, month=d.month, day=d.day, mon=f"{d:%b}")


def period_label(labels: Labels, year, is_partial: bool, end_date) -> Text:
    """``2025年`` / ``2025``, or ``2026年（截至10月31日，年内至今）`` for the current, partial year."""
    if is_missing(year):
        return labels["ui.na"]
    if is_partial and not is_missing(end_date):
        d = pd.Timestamp(end_date)
        return labels["ui.year_to_date"].format(year=int(year), month=d.month, day=d.day, date=f"{d.day} {d:%b}")
    return labels["ui.year_suffix"].format(year=int(year))


# -- the progress method's path ---------------------------------------------------------------------------


def required_path(baseline_year: int, baseline_value: float, target_year: int, target_value: float,
                  method: str | None = None) -> pd.DataFrame:
    """Values a KPI needs each year to go from its baseline to the target (``period_year, value``).

    The progress method (dbt/macros/progress.sql) measures pace as compound annual growth, so the
    path is geometric: ``baseline × (target / baseline) ^ ((year − baseline_year) / (target_year −
    baseline_year))``; where a growth rate is undefined (a value ≤ 0, or ``method = 'linear'``) it
    is the straight line, as in the method. Empty when there is no numeric target or the target
    year is not after the baseline year.
    """
    if any(is_missing(v) for v in (baseline_year, baseline_value, target_year, target_value)):
        return pd.DataFrame({"period_year": pd.Series(dtype="int64"), "value": pd.Series(dtype="float64")})
    b, t = int(baseline_year), int(target_year)
    if t <= b:
        return pd.DataFrame({"period_year": pd.Series(dtype="int64"), "value": pd.Series(dtype="float64")})
    years = list(range(b, t + 1))
    v0, v1 = float(baseline_value), float(target_value)
    geometric = method != "linear" and v0 > 0 and v1 > 0
    values = [v0 * (v1 / v0) ** ((y - b) / (t - b)) if geometric else v0 + (v1 - v0) * (y - b) / (t - b) for y in years]
    return pd.DataFrame({"period_year": years, "value": values})


# -- quality and freshness ------------------------------------------------------------------------------


def _pick(df: pd.DataFrame, *names: str) -> str | None:
    return next((n for n in names if n in df.columns), None)


def _normalise_asset(asset) -> str:
    """``["staging", "stg_funeral__burials"]`` / ``raw/funeral_burials`` → ``funeral_burials``."""
    text = str(asset).strip().lower()
    text = re.sub(r"[\[\]\"' ]", "", text)
    last = re.split(r"[/,.]", text)[-1]
    last = re.sub(r"^(stg_|raw_|landing_|ingest_)", "", last)
    return last.replace("__", "_")


def kpi_sources(kpi: pd.Series) -> list[str]:
    """The data contracts (``source_id``) a KPI is computed from (catalog ``sources``, ``;``-separated)."""
    raw = getattr(kpi, "sources", None)
    return [s.strip() for s in ("" if is_missing(raw) else str(raw)).split(";") if s.strip()]


def kpi_quality(catalog: pd.DataFrame, dq_results: pd.DataFrame | None, run_id: str | None = None,
                kpi_status: pd.DataFrame | None = None) -> dict[str, dict]:
    """Per KPI: did its data pass every check of the latest run? ``{kpi_id: {"state", "checks", "failed"}}``.

    ``state``: ``passed`` (all checks concerning the KPI passed), ``warn`` (only advisory checks
    failed), ``failed`` (a blocking check failed) or ``blocking_passed`` (no check results
    published: the database is published only after the blocking checks passed). ``failed`` lists
    the failed checks (check, asset, severity, observed, expected; blank where unknown).

    From the best table published: ``dq_kpi_status`` (issue 6: one row per KPI, the quality gate's
    own verdict over the KPI's lineage: ``status`` passed/warned/failed, ``checks_evaluated``,
    ``failed_checks``); else ``dq_results`` (one row per check and run): the rows of run ``run_id``
    when it has any, else of the latest run by ``checked_at``; a check concerns a KPI when its
    ``kpi_id``/``kpi_ids`` names it, or its asset names one of the KPI's sources
    (``raw/funeral_burials``, ``stg_funeral__burials``), or its asset is no KPI's source (a mart,
    which holds every KPI).
    """
    if kpi_status is not None and not kpi_status.empty and "status" in kpi_status:
        ks = kpi_status.set_index("kpi_id")
        out = {}
        for k in catalog.kpi_id:
            if k not in ks.index or str(ks.at[k, "status"]) not in KPI_STATUS_STATES:
                out[k] = {"state": "blocking_passed", "checks": 0, "failed": []}
                continue
            text = ks.at[k, "failed_checks"] if "failed_checks" in ks else None
            lines = [] if is_missing(text) else [ln.strip() for ln in str(text).splitlines() if ln.strip()]
            n = ks.at[k, "checks_evaluated"] if "checks_evaluated" in ks else None
            out[k] = {"state": KPI_STATUS_STATES[str(ks.at[k, "status"])], "checks": 0 if is_missing(n) else int(n),
                      "failed": [{"check": ln, "asset": "", "severity": "", "observed": "", "expected": ""} for ln in lines]}
        return out
    if dq_results is None or dq_results.empty:
        return {k: {"state": "blocking_passed", "checks": 0, "failed": []} for k in catalog.kpi_id}
    dq = dq_results.copy()
    c_run, c_at = _pick(dq, "run_id"), _pick(dq, "checked_at", "checked_on", "created_at")
    if c_run:
        if run_id is not None and (dq[c_run] == run_id).any():
            dq = dq[dq[c_run] == run_id]
        elif c_at:
            dq = dq[dq[c_run] == dq.sort_values(c_at)[c_run].iloc[-1]]
    c_check = _pick(dq, "check_name", "check", "expectation")
    c_asset = _pick(dq, "asset", "asset_key", "model")
    c_sev = _pick(dq, "severity", "level")
    c_pass = _pick(dq, "passed", "success")
    c_obs, c_exp, c_kpi = _pick(dq, "observed_value", "observed"), _pick(dq, "expected", "expected_value"), _pick(dq, "kpi_id", "kpi_ids")
    sources_of = {row.kpi_id: set(kpi_sources(row)) for row in catalog.itertuples()}
    all_sources = set().union(*sources_of.values()) if sources_of else set()
    assets = dq[c_asset].map(_normalise_asset) if c_asset else pd.Series("", index=dq.index)
    passed = dq[c_pass].map(lambda v: str(v).strip().lower() in ("true", "1", "yes", "t")) if c_pass else pd.Series(True, index=dq.index)
    blocking = dq[c_sev].map(lambda v: str(v).strip().upper() in ("ERROR", "BLOCKING", "FATAL")) if c_sev else pd.Series(True, index=dq.index)
    result = {}
    for kpi_id, srcs in sources_of.items():
        concerns = []
        for i in dq.index:
            named = dq.at[i, c_kpi] if c_kpi else None
            if c_kpi and not is_missing(named) and str(named).strip():
                hit = kpi_id in [n.strip() for n in str(named).split(",")]
            else:
                a = assets.at[i]
                mine = any(a == s or a.endswith(s) for s in srcs)
                anyone = any(a == s or a.endswith(s) for s in all_sources)
                hit = mine or not anyone
            if hit:
                concerns.append(i)
        failed = [i for i in concerns if not passed.at[i]]
        state = "failed" if any(blocking.at[i] for i in failed) else ("warn" if failed else "passed")
        result[kpi_id] = {
            "state": state,
            "checks": len(concerns),
            "failed": [
                {
                    "check": str(dq.at[i, c_check]) if c_check else "",
                    "asset": str(dq.at[i, c_asset]) if c_asset else "",
                    "severity": str(dq.at[i, c_sev]) if c_sev else "",
                    "observed": "" if not c_obs or is_missing(dq.at[i, c_obs]) else str(dq.at[i, c_obs])[:200],
                    "expected": "" if not c_exp or is_missing(dq.at[i, c_exp]) else str(dq.at[i, c_exp])[:200],
                }
                for i in failed
            ],
        }
    return result


def source_freshness(ingest_audit: pd.DataFrame | None, published: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per source: files, last delivery (file time), last load, rows loaded and
    quarantined, and the latest record date.

    From the published ``source_freshness`` (issue 6, one row per source with ``latest_record_date``,
    ``last_delivery_at``, ``last_loaded_at``, ``files``, ``rows_loaded``) when there is one, with the
    quarantined rows summed from ``ingest_audit``; else from ``ingest_audit`` alone (one row per
    landing file; the latest record date only if the audit has that column). Empty frame without either.
    """
    cols = ["source_id", "files", "last_delivery", "last_load", "rows_loaded", "rows_quarantined", "latest_record_date"]
    if published is not None and not published.empty:
        f = published.rename(columns={"last_delivery_at": "last_delivery", "last_loaded_at": "last_load"}).copy()
        for c in ("last_delivery", "last_load", "latest_record_date"):
            f[c] = pd.to_datetime(f[c], errors="coerce") if c in f else pd.NaT
        for c in ("files", "rows_loaded"):
            f[c] = pd.to_numeric(f[c], errors="coerce") if c in f else float("nan")
        quarantined = source_freshness(ingest_audit).set_index("source_id").rows_quarantined
        f["rows_quarantined"] = f.source_id.map(quarantined).fillna(0)
        return f[cols].sort_values("source_id").reset_index(drop=True)
    if ingest_audit is None or ingest_audit.empty:
        return pd.DataFrame(columns=cols)
    a = ingest_audit.copy()
    a["file_modified_at"] = pd.to_datetime(a.get("file_modified_at"), errors="coerce")
    a["loaded_at"] = pd.to_datetime(a.get("loaded_at"), errors="coerce")
    a["latest_record_date"] = pd.to_datetime(a["latest_record_date"], errors="coerce") if "latest_record_date" in a else pd.NaT
    for c in ("rows_loaded", "rows_quarantined"):
        a[c] = pd.to_numeric(a.get(c), errors="coerce").fillna(0)
    g = a.groupby("source_id", sort=True)
    out = pd.DataFrame({
        "files": g.size(),
        "last_delivery": g.file_modified_at.max(),
        "last_load": g.loaded_at.max(),
        "rows_loaded": g.rows_loaded.sum(),
        "rows_quarantined": g.rows_quarantined.sum(),
        "latest_record_date": g.latest_record_date.max(),
    }).reset_index()
    return out[cols]


# -- loading --------------------------------------------------------------------------------------------


@dataclass
class DashboardData:
    """The published tables the dashboard reads (optional ones ``None`` when not published)."""

    catalog: pd.DataFrame
    observations: pd.DataFrame
    meta: dict
    scorecard: pd.DataFrame | None = None
    geographies: pd.DataFrame | None = None
    ingest_audit: pd.DataFrame | None = None
    pipeline_runs: pd.DataFrame | None = None
    dq_results: pd.DataFrame | None = None
    dq_kpi_status: pd.DataFrame | None = None
    source_freshness: pd.DataFrame | None = None
    plans: pd.DataFrame | None = None
    plan_sections: pd.DataFrame | None = None
    plan_targets: pd.DataFrame | None = None
    plan_target_milestones: pd.DataFrame | None = None
    missing: list[str] = field(default_factory=list)


def load_data(db: Path) -> DashboardData:
    """Read the published database (read-only). Raises ``ValueError`` naming the database and the
    missing table when one of :data:`REQUIRED_TABLES` is absent; optional tables absent are listed
    in ``missing``."""
    with duckdb.connect(str(db), read_only=True) as con:
        present = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}
        for t in REQUIRED_TABLES:
            if t not in present:
                raise ValueError(f"{db}: table {t!r} is missing; the dashboard needs {', '.join(REQUIRED_TABLES)}")
        catalog = con.execute("SELECT * FROM kpi_catalog ORDER BY plan_section, kpi_id").df()
        obs = con.execute("SELECT * FROM kpi_observations ORDER BY kpi_id, geo_level, geo_code, period_year").df()
        run_id, published_at = con.execute("SELECT run_id, published_at FROM publish_metadata").fetchone()
        optional = {t: con.execute(f'SELECT * FROM "{t}"').df() if t in present else None for t in OPTIONAL_TABLES}
    obs["period_end_date"] = pd.to_datetime(obs.period_end_date)
    optional["scorecard"] = sc = optional.pop("kpi_scorecard")
    if sc is not None:
        sc["as_of_date"] = pd.to_datetime(sc.as_of_date)
    meta = {"run_id": str(run_id), "published_at": str(published_at)[:19],
            "data_as_of": obs.period_end_date.max(), "generated_at": dt.datetime.now().isoformat(timespec="seconds")}
    missing = [t for t in OPTIONAL_TABLES if optional.get(t if t != "kpi_scorecard" else "scorecard") is None]
    return DashboardData(catalog=catalog, observations=obs, meta=meta, **optional, missing=missing)


def json_for_html(data) -> str:
    """JSON safe to embed in ``<script type="application/json">`` (no ``</`` sequence)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str).replace("</", "<\\/")
