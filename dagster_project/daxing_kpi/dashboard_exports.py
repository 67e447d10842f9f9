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

import io
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


def write_xlsx(frame: pd.DataFrame, path: Path, labels: Labels, about: list[tuple[str, str]]) -> None:
    """An Excel workbook (openpyxl, streamed): sheet 数据 with the rows (suppressed rows shaded), sheet
    说明 with ``about``'s (Chinese, English) lines and every column's meaning in both languages."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(labels["ui.sheet_data"].zh)
    widths = {"plan": 12, "kpi": 34, "unit": 12, "geography": 16, "geo_level": 12, "year": 8, "period_end": 16, "value": 10,
              "numerator": 10, "denominator": 10, "target": 14, "target_year": 8, "gap": 18, "completion": 14,
              "assessment": 22, "reporting": 10, "suppressed": 8, "kpi_id": 40, "geo_code": 12}
    from openpyxl.utils import get_column_letter

    for i, c in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = widths[c]
    ws.freeze_panes = "C2"
    bold, shade = Font(bold=True), PatternFill("solid", fgColor="E5E7EB")

    def styled(sheet, values, **style):
        cells = []
        for v in values:
            cell = WriteOnlyCell(sheet, value=v)
            for k, val in style.items():
                setattr(cell, k, val)
            cells.append(cell)
        return cells

    yes = labels["ui.answer_yes"].zh
    ws.append(styled(ws, headers(labels), font=bold))
    for rec in frame.itertuples(index=False):
        row = [None if is_missing(v) else (v.item() if hasattr(v, "item") else v) for v in rec]
        ws.append(styled(ws, row, fill=shade) if rec.suppressed == yes else row)
    info = wb.create_sheet(labels["ui.sheet_about"].zh)
    info.column_dimensions["A"].width = 28
    info.column_dimensions["B"].width = 90
    info.append(styled(info, [labels["ui.about_zh"].zh, labels["ui.about_en"].zh], font=bold))
    for zh, en in about:
        info.append([zh, en])
    info.append([])
    info.append(styled(info, [labels["ui.column"].zh, labels["ui.meaning"].zh], font=bold))
    for c in COLUMNS:
        col = labels[f"download_columns.{c}"]
        info.append([col.zh, f"{col.en}: {labels.spec['download_columns'][c].get('note_en', '')}".rstrip(": ")])
    buf = io.BytesIO()
    wb.save(buf)
    Path(path).write_bytes(buf.getvalue())
