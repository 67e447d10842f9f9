"""The dashboard's own downloads for planners (issue 17.7): one CSV and one Excel file per KPI of a
plan and one for all its KPIs, with Chinese column names, the unit, the target, the gap, the verdict
or status as the pages word it, and values rounded as the pages show them.

The analyst export (``kpi export``) keeps every digit; these files are what a planner pastes into a
report. Rows: one per KPI, year and geography of ``kpi_observations`` (small counts already
suppressed by :func:`daxing_kpi.smallcounts.suppress_small_counts`: their numbers, gap and
verdict are empty and 已隐去 reads 是), assessed as of the end of that year (the partial year: as of the
data cut-off) by the plan's ``kpi_scorecard`` rows, worded as the pages word them.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import zipfile
from pathlib import Path

import pandas as pd

from daxing_kpi.dashboard_data import Labels, Text, format_date, is_missing
from daxing_kpi.dashboard_plans import View, mark, target_text

# (column key, label key in i18n.yaml `download_columns`): the order of the files' columns.
COLUMNS = ("plan", "kpi", "unit", "geography", "geo_level", "year", "period_end", "value", "numerator", "denominator",
           "target", "target_year", "gap", "completion", "assessment", "reporting", "suppressed", "kpi_id", "geo_code")
GEO_LEVEL_ORDER = {"district": 0, "town_street": 1, "special_zone": 2, "unassigned": 3}


def rounded(value, unit: str):
    """A value as the pages show it: counts as integers, rates and other units with one decimal."""
    if is_missing(value):
        return None
    v = float(value)
    return int(round(v)) if unit == "count" else round(v, 1)


def whole(value):
    """Numerators and denominators: integers where whole, else two decimals."""
    if is_missing(value):
        return None
    v = float(value)
    return int(round(v)) if abs(v - round(v)) < 1e-9 else round(v, 2)


def planner_frame(obs: pd.DataFrame, catalog: pd.DataFrame, assessed: pd.DataFrame | None, plan, labels: Labels,
                  geo_name) -> pd.DataFrame:
    """The download rows of one plan (column keys :data:`COLUMNS`).

    ``obs``: ``kpi_observations`` with ``is_suppressed``; ``catalog``: the plan's KPIs; ``assessed``:
    the plan's ``kpi_scorecard`` rows at each year's end (``kpi_id, geo_code, period_year`` and the
    assessment columns) or None;
    ``geo_name(code, name_zh) -> Text``.
    """
    # the KPIs as named tuples (catalog rows; quick to read), each with its target as the plan states it
    by_id = {kpi.kpi_id: (kpi, target_text(kpi, labels).zh) for kpi in catalog.itertuples(index=False)}
    o = obs[obs.kpi_id.isin(list(by_id))].copy()
    if assessed is not None and len(assessed):
        keep = [c for c in assessed.columns if c not in o.columns or c in ("kpi_id", "geo_code", "period_year")]
        a = assessed[keep].drop_duplicates(["kpi_id", "geo_code", "period_year"])
        o = o.merge(a, on=["kpi_id", "geo_code", "period_year"], how="left")
    o["_level"] = o.geo_level.map(GEO_LEVEL_ORDER).fillna(9)
    o = o.sort_values(["kpi_id", "_level", "geo_code", "period_year"])
    reporting_text = {"not_reported": labels["ui.not_reported"].zh, "partly_reported": labels["ui.partly_reported_short"].zh}
    yes, no = labels["ui.answer_yes"].zh, labels["ui.answer_no"].zh
    dates: dict[pd.Timestamp, str] = {}  # period end -> as written (a few dates, thousands of rows)
    rows = []
    for r in o.itertuples(index=False):
        kpi, target = by_id[r.kpi_id]
        suppressed = bool(getattr(r, "is_suppressed", False))
        year = int(r.period_year)
        end = pd.Timestamp(r.period_end_date)
        view = View("year_end", end, Text("", ""), year > plan.end_year)
        row = r._asdict()
        has_assessment = "status" in row and not is_missing(row.get("status"))
        m = mark(row, kpi, view, labels) if has_assessment and not suppressed else None
        level = str(r.geo_level)
        reporting = row.get("reporting_status")
        rows.append({
            "plan": plan.short_name.zh,
            "kpi": str(kpi.name_zh),
            "unit": str(kpi.unit_zh),
            "geography": geo_name(r.geo_code, r.geo_name_zh).zh,
            "geo_level": labels[f"geo_levels.{level}"].zh if level in labels.spec.get("geo_levels", {}) else level,
            "year": year,
            "period_end": dates[end] if end in dates else dates.setdefault(end, format_date(end, labels).zh),
            "value": None if suppressed else rounded(r.value, kpi.unit),
            "numerator": None if suppressed else whole(r.numerator),
            "denominator": None if suppressed or kpi.unit == "count" else whole(r.denominator),
            "target": target,
            "target_year": None if is_missing(kpi.target_year) else int(kpi.target_year),
            "gap": None if m is None or m["gap"] is None else m["gap"].zh,
            "completion": None if m is None or m["completion"] is None else m["completion"].zh,
            "assessment": None if m is None else (m["text"].zh if m["share"] is None else f"{m['text'].zh}（{m['share'].zh}）"),
            "reporting": reporting_text.get(reporting),
            "suppressed": yes if suppressed else no,
            "kpi_id": r.kpi_id,
            "geo_code": str(r.geo_code),
        })
    return pd.DataFrame(rows, columns=list(COLUMNS), dtype=object)  # counts stay integers, empty cells None


def headers(labels: Labels) -> list[str]:
    return [labels[f"download_columns.{c}"].zh for c in COLUMNS]


def write_csv(frame: pd.DataFrame, path: Path, labels: Labels) -> None:
    """CSV in UTF-8 with a byte-order mark (opens in Excel), Chinese column names."""
    out = frame.copy()
    for c in ("value", "numerator", "denominator", "year", "target_year"):
        out[c] = out[c].astype(object)
    out.columns = headers(labels)
    out.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")


DIGEST_PROPERTY = "daxing_kpi_content_digest"  # custom document property of a download: what it was written from
_DIGEST_IN_XML = re.compile(r'name="' + DIGEST_PROPERTY + r'"[^>]*>\s*<vt:lpwstr>([0-9a-f]{64})</vt:lpwstr>')


def _workbook_words(labels: Labels, about: list[tuple[str, str]]) -> dict:
    """Every word of a download other than its rows: the sheet names, the headers, the word marking a suppressed
    row and the lines of sheet 说明 (``about``'s lines and every column's meaning in both languages)."""
    lines = [[labels["ui.about_zh"].zh, labels["ui.about_en"].zh], *map(list, about), [],
             [labels["ui.column"].zh, labels["ui.meaning"].zh]]
    for c in COLUMNS:
        col = labels[f"download_columns.{c}"]
        lines.append([col.zh, f"{col.en}: {labels.spec['download_columns'][c].get('note_en', '')}".rstrip(": ")])
    return {"data": labels["ui.sheet_data"].zh, "about": labels["ui.sheet_about"].zh, "headers": headers(labels),
            "yes": labels["ui.answer_yes"].zh, "lines": lines, "bold_lines": (0, len(about) + 2)}


def xlsx_digest(frame: pd.DataFrame, labels: Labels, about: list[tuple[str, str]], code: str) -> str:
    """SHA-256 hex digest of what :func:`write_xlsx` writes from: the rows, every other word of the workbook
    (:func:`_workbook_words`) and ``code`` (the product's code fingerprint, so a new layout is written anew)."""
    h = hashlib.sha256(code.encode("utf-8"))
    h.update(json.dumps(_workbook_words(labels, about), ensure_ascii=False, default=str).encode("utf-8"))
    h.update(frame.to_csv(index=False).encode("utf-8"))
    return h.hexdigest()


def digest_of(path: Path) -> str | None:
    """The content digest written into the workbook at ``path`` (``None``: no such file, or none written)."""
    try:
        with zipfile.ZipFile(path) as z:
            match = _DIGEST_IN_XML.search(z.read("docProps/custom.xml").decode("utf-8"))
    except (OSError, KeyError, zipfile.BadZipFile, UnicodeDecodeError):
        return None
    return match.group(1) if match else None


def write_xlsx(frame: pd.DataFrame, path: Path, labels: Labels, about: list[tuple[str, str]],
               previous: Path | None = None, code: str = "") -> bool:
    """An Excel workbook (XlsxWriter, built in memory): sheet 数据 with the rows (suppressed rows shaded), sheet
    说明 with ``about``'s (Chinese, English) lines and every column's meaning in both languages.

    Text is written as text (never read as a formula, number or link), numbers as numbers, empty cells
    blank; headers bold, the first row and the first two columns frozen. XlsxWriter writes the ~4,000
    rows of a plan's file in a fraction of openpyxl's time (the downloads were half of the dashboard step).
    The workbook carries the digest of its content (:func:`xlsx_digest` with ``code``); when ``previous`` (the
    same download in the dashboard's last version) carries the same, it is copied instead. Returns whether
    it was copied."""
    digest = xlsx_digest(frame, labels, about, code)
    if previous is not None and digest_of(previous) == digest:
        shutil.copyfile(previous, path)
        return True
    import xlsxwriter

    options = {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
    with xlsxwriter.Workbook(str(path), options) as wb:
        wb.set_custom_property(DIGEST_PROPERTY, digest)
        bold = wb.add_format({"bold": True})
        shade = wb.add_format({"pattern": 1, "bg_color": "#E5E7EB"})

        def put(sheet, row: int, values, fmt=None) -> None:
            for col, v in enumerate(values):
                if is_missing(v):
                    if fmt is not None:
                        sheet.write_blank(row, col, None, fmt)
                elif isinstance(v, str):
                    sheet.write_string(row, col, v, fmt)
                else:
                    sheet.write_number(row, col, v.item() if hasattr(v, "item") else v, fmt)

        words = _workbook_words(labels, about)
        ws = wb.add_worksheet(words["data"])
        widths = {"plan": 12, "kpi": 34, "unit": 12, "geography": 16, "geo_level": 12, "year": 8, "period_end": 16,
                  "value": 10, "numerator": 10, "denominator": 10, "target": 14, "target_year": 8, "gap": 18,
                  "completion": 14, "assessment": 22, "reporting": 10, "suppressed": 8, "kpi_id": 40, "geo_code": 12}
        for i, c in enumerate(COLUMNS):
            ws.set_column(i, i, widths[c])
        ws.freeze_panes(1, 2)  # below the header, right of 规划 and 指标
        put(ws, 0, words["headers"], bold)
        for n, rec in enumerate(frame.itertuples(index=False), start=1):
            put(ws, n, rec, shade if rec.suppressed == words["yes"] else None)
        info = wb.add_worksheet(words["about"])
        info.set_column(0, 0, 28)
        info.set_column(1, 1, 90)
        for n, line in enumerate(words["lines"]):
            put(info, n, line, bold if n in words["bold_lines"] else None)
    return False
