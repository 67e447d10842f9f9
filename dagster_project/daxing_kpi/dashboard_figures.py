"""Pure frame -> figure functions of the planners' dashboard (plotly figures and SVG sparklines).

Every function takes frames and labels and returns a figure (or SVG text); nothing reads the
database or writes files, so tests call them directly. Labels come from the catalog row and the
translation file (:class:`daxing_kpi.dashboard_data.Labels`); ``lang`` is ``zh`` or ``en``.

A figure is plain data, the JSON the page script hands to ``Plotly.react`` (:func:`figure`): the build
draws a few hundred and a ``plotly.graph_objects.Figure`` costs about 10 ms each to build and
serialise; ``plotly.graph_objects.Figure(fig)`` validates one (the tests do, for every kind). The
rows a function draws come as a frame or as a list of row dicts (:func:`rows_of`): the pages pass
dicts, as pandas takes about 0.1 ms for each operation on a frame of a few rows.
"""

from __future__ import annotations

import functools
import html

import pandas as pd

from daxing_kpi.dashboard_data import Labels, Text, format_target, format_value, is_missing, period_label, required_path
from daxing_kpi.smallcounts import SMALL_COUNT_THRESHOLD

FONT = '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif'
# Progress statuses: strong colour (chart bars, card stripe; >= 3:1 on white), badge background and
# badge text (>= 4.5:1 on the background). One place for the palette: the pages' CSS is generated from it.
STATUS_STYLE = {
    "target_achieved": ("#1e7b34", "#e3f4e6", "#14532d"),
    "target_held": ("#1e7b34", "#e3f4e6", "#14532d"),
    "on_track": ("#0f766e", "#dcf3f0", "#0b4f4a"),
    "needs_acceleration": ("#a16207", "#fdf1cd", "#5c3d00"),
    "limited_progress": ("#c2410c", "#fde6d6", "#7c2d12"),
    "deterioration": ("#b91c1c", "#fde2e2", "#7f1d1d"),
    "target_not_achieved": ("#9d174d", "#fbe0ec", "#701a3e"),
    "target_not_held": ("#9d174d", "#fbe0ec", "#701a3e"),
    "not_yet_measurable": ("#6b7280", "#eceff1", "#374151"),
    "insufficient_data": ("#6b7280", "#eceff1", "#374151"),
    # the progress indication of a geography without a target of its own: blues, never a verdict's colours
    "trend_improving": ("#1d4ed8", "#e0e9fb", "#1e3a8a"),
    "trend_stable": ("#475569", "#e8edf3", "#1e293b"),
    "trend_worsening": ("#6d28d9", "#ede5fb", "#4c1d95"),
    # cells without an assessment
    "suppressed": ("#6b7280", "#f3f4f6", "#374151"),
    "not_reported": ("#6b7280", "#f3f4f6", "#374151"),
}
COLORS = {"district": "#1f4e79", "stock": "#8da9c4", "target": "#b03a2e", "path": "#4b5563", "projection": "#b45309", "suppressed": "#4b5563"}
PLOT_CONFIG = {"displayModeBar": False, "responsive": True}
# The columns of a KPI's district rows the charts read.
DISTRICT_COLUMNS = ["period_year", "value", "is_partial_year", "period_end_date"]


def status_color(status: str | None) -> str:
    return STATUS_STYLE.get(status or "insufficient_data", STATUS_STYLE["insufficient_data"])[0]


def _unit_label(kpi: pd.Series, lang: str) -> str:
    return str(kpi.unit_en if lang == "en" else kpi.unit_zh)


def _layout(height: int, **extra) -> dict:
    base = dict(
        height=height, font={"family": FONT, "size": 13, "color": "#1a1a1a"}, paper_bgcolor="#ffffff",
        plot_bgcolor="#ffffff", margin={"l": 56, "r": 16, "t": 16, "b": 40}, hoverlabel={"font": {"family": FONT}},
    )
    return {**base, **extra}


@functools.cache
def default_template() -> dict | None:
    """plotly's default template (``plotly.io.templates.default``, normally ``plotly``) as JSON data,
    read once; None when the default is switched off. Shared by every figure: never modify it."""
    import plotly.io as pio

    default = pio.templates.default
    if default is None:
        return None
    return (pio.templates[default] if isinstance(default, str) else default).to_plotly_json()


def figure(traces: list[dict], layout: dict) -> dict:
    """A figure as plotly.js draws it: ``{"data": [trace dicts], "layout": {...}}``, the layout with
    the default template that ``plotly.graph_objects.Figure`` would add (so a chart looks the same
    as one drawn from a Figure). Plain JSON data: numbers are Python ints and floats, missing ones None."""
    template = default_template()
    return {"data": traces, "layout": layout if template is None else {**layout, "template": template}}


def rows_of(data: pd.DataFrame | list[dict] | None, columns: list[str] | None = None) -> list[dict]:
    """Rows to draw as dicts: a frame's rows (its ``columns``, or all), or a list of dicts (with at
    least those keys) as it is."""
    if data is None:
        return []
    if isinstance(data, pd.DataFrame):
        return (data if columns is None else data[columns]).to_dict("records")
    return list(data)


def _floats(values) -> list:
    return [None if is_missing(v) else float(v) for v in values]


def _unit_note(kpi: pd.Series, labels: Labels, lang: str) -> dict:
    """The unit written upright above the value axis (``单位：人/万老年人``), not a rotated axis title."""
    text = labels["ui.unit_note"].format(unit=_unit_label(kpi, lang)).get(lang)
    return {"xref": "paper", "yref": "paper", "x": 0, "y": 1, "xanchor": "left", "yanchor": "bottom", "yshift": 6,
            "text": html.escape(text), "showarrow": False, "font": {"size": 12, "color": "#4a4f57"}}


def trend_figure(district: pd.DataFrame | list[dict], kpi: pd.Series, scorecard: pd.DataFrame | list[dict] | None,
                 labels: Labels, lang: str = "zh", target: Text | None = None) -> dict:
    """The district's yearly values with the target, the required path and the projections.

    ``district``: rows of one KPI at district level (:data:`DISTRICT_COLUMNS`). ``scorecard``: that
    KPI's district ``kpi_scorecard`` rows of one plan (or ``None``): the baseline of the data cut-off
    row starts the required path (:func:`required_path`, for a target to reach by a year), and each
    review row with a ``projected_value`` gives a projection line from its latest value to the target
    year, tagged ``meta = {"review": ...}`` so the page shows the selected review's only. ``target``: the target as the plan states it (``≥ 50``,
    ``每年 ≥ 95%``, ``60%—80%``); a range is drawn as its two bounds, a target to hold every year
    across every year, a direction only not at all. The unit is written upright above the axis.
    """
    t = lambda key: labels[key].get(lang)  # noqa: E731
    d = sorted(rows_of(district, DISTRICT_COLUMNS), key=lambda r: r["period_year"])
    full, part = [r for r in d if not r["is_partial_year"]], [r for r in d if r["is_partial_year"]]
    rows = rows_of(scorecard)
    added = _additions(kpi, rows)
    stock_name = t("ui.stock_line") if added is not None else t("ui.district")
    traces = [{
        "type": "scatter", "x": [int(r["period_year"]) for r in full], "y": _floats(r["value"] for r in full), "mode": "lines+markers",
        "name": stock_name, "line": {"color": COLORS["stock"] if added is not None else COLORS["district"], "width": 3},
        "marker": {"size": 8}, "customdata": [format_value(r["value"], kpi.unit) for r in full],
        "hovertemplate": "%{x}: %{customdata}<extra>" + html.escape(stock_name) + "</extra>",
    }]
    if added is not None:  # the target counts what the plan period added: that series is the one judged
        name = t("ui.added_line")
        traces.append({
            "type": "scatter", "x": [y for y, _ in added], "y": [v for _, v in added], "mode": "lines+markers",
            "name": name, "line": {"color": COLORS["district"], "width": 3}, "marker": {"size": 8, "symbol": "square"},
            "customdata": [format_value(v, kpi.unit) for _, v in added],
            "hovertemplate": "%{x}: %{customdata}<extra>" + html.escape(name) + "</extra>",
        })
    for r in part:
        name = period_label(labels, r["period_year"], True, r["period_end_date"]).get(lang)
        traces.append({
            "type": "scatter", "x": [int(r["period_year"])], "y": _floats([r["value"]]), "mode": "markers", "name": name,
            "marker": {"symbol": "circle-open", "size": 12, "line": {"width": 2}, "color": COLORS["district"]},
            "customdata": [format_value(r["value"], kpi.unit)], "hovertemplate": "%{customdata}<extra>" + html.escape(name) + "</extra>",
        })
    kind = str(getattr(kpi, "target_kind", "") or "reach_by_year")
    kind = "reach_by_year" if kind in ("nan", "None", "") else kind
    years = [int(r["period_year"]) for r in d] or [int(kpi.baseline_year), int(kpi.target_year)]
    if not is_missing(kpi.target_value) and kind != "direction_only":
        value = float(kpi.target_value)
        if target is None:
            comparator = {">=": "≥", "<=": "≤"}.get(str(kpi.comparator), "")
            target_words = f"{comparator} {format_target(value, kpi.unit)}".strip()
        else:
            target_words = target.get(lang)
        name = f"{t('ui.target_line').format(year=int(kpi.target_year))} {target_words}".replace("  ", " ")
        span = years + [int(kpi.target_year)]
        bounds = [value]
        upper = getattr(kpi, "target_value_upper", None)
        if kind == "range" and not is_missing(upper):
            bounds.append(float(upper))
        for i, b in enumerate(bounds):
            traces.append({
                "type": "scatter", "x": [min(span), max(span)], "y": [b, b], "mode": "lines", "name": name,
                "showlegend": i == 0, "legendgroup": "target",
                "line": {"color": COLORS["target"], "dash": "dash", "width": 2}, "hoverinfo": "skip",
            })
        traces.append({
            "type": "scatter", "x": [int(kpi.target_year)], "y": [value], "mode": "markers", "showlegend": False, "name": name,
            "marker": {"symbol": "star", "size": 14, "color": COLORS["target"]}, "hovertemplate": html.escape(name) + "<extra></extra>",
        })
        cut = cutoff_row(rows)
        base = None if cut is None else (cut.get("assessed_baseline_value") if added is not None else cut["baseline_value"])
        if kind == "reach_by_year" and cut is not None and not is_missing(base):
            path = required_path(cut["baseline_year"], base, kpi.target_year, value, cut["method"])
            traces.append({
                "type": "scatter", "x": [int(y) for y in path.period_year], "y": _floats(path.value), "mode": "lines",
                "name": t("ui.required_path"), "line": {"color": COLORS["path"], "dash": "dot", "width": 2},
                "customdata": [format_value(v, kpi.unit) for v in path.value],
                "hovertemplate": "%{x}: %{customdata}<extra>" + html.escape(t("ui.required_path")) + "</extra>",
            })
    reviews = ["latest"] + list(dict.fromkeys(str(r["review"]) for r in rows if not is_missing(r["review"]))) if rows else []
    for review in reviews:
        row = _review_row(rows, review)
        if row is None or any(is_missing(row[c]) for c in ("projected_value", "latest_value", "target_year")):
            continue
        if int(row["latest_year"]) >= int(row["target_year"]):
            continue  # the target year has data: nothing to project
        label = labels[f"reviews.{review}"].get(lang) if review in labels.spec["reviews"] else review
        name = t("ui.projection_line").format(review=label)
        traces.append({
            "type": "scatter", "x": [int(row["latest_year"]), int(row["target_year"])],
            "y": [float(row["latest_value"]), float(row["projected_value"])], "mode": "lines+markers", "name": name,
            "meta": {"review": review}, "visible": review == "latest",
            "line": {"color": COLORS["projection"], "dash": "dashdot", "width": 2}, "marker": {"symbol": "diamond", "size": 8},
            "customdata": [format_value(row["latest_value"], kpi.unit), format_value(row["projected_value"], kpi.unit)],
            "hovertemplate": "%{x}: %{customdata}<extra>" + html.escape(name) + "</extra>",
        })
    yaxis = {"rangemode": "tozero", "gridcolor": "#e5e7eb", "automargin": True}
    if kpi.unit == "count":
        yaxis["tickformat"] = ",d"
        top = max([v for v in _floats(r["value"] for r in d) if v is not None] + [float(kpi.target_value or 0) if not is_missing(kpi.target_value) else 0])
        if top <= 10:
            yaxis["dtick"] = 1  # whole units: no repeated tick labels (0, 1, 1, 2, 2) for small counts
    layout = _layout(360, legend={"orientation": "h", "y": -0.18, "x": 0}, showlegend=True,
                     xaxis={"dtick": 1, "gridcolor": "#e5e7eb"}, yaxis=yaxis, annotations=[_unit_note(kpi, labels, lang)],
                     margin={"l": 56, "r": 16, "t": 32, "b": 40})
    return figure(traces, layout)


def _additions(kpi: pd.Series, rows: list[dict]) -> list[tuple[int, float]] | None:
    """For a count target of what the plan period adds (``count_basis = new_in_period``): the units
    added since the plan's first year at the end of each year (``(year, value)`` by year), from the
    scorecard rows' ``assessed_value`` on 31 December; None for other targets."""
    if str(getattr(kpi, "count_basis", "") or "") != "new_in_period" or not rows or "assessed_value" not in rows[0]:
        return None
    by_date = {}  # the last row of each date
    for r in sorted(rows, key=lambda r: r["as_of_date"]):
        d = r["as_of_date"]
        if d.month == 12 and d.day == 31 and not is_missing(r["assessed_value"]):
            by_date[d] = r
    return [(d.year, float(r["assessed_value"])) for d, r in by_date.items()] or None


def cutoff_row(rows: list[dict]) -> dict | None:
    """The scorecard row of the data cut-off (the last one flagged ``is_data_cutoff``), else the latest
    row: its baseline starts the required path."""
    cut = [r for r in rows if r["is_data_cutoff"]]
    return cut[-1] if cut else (sorted(rows, key=lambda r: r["as_of_date"])[-1] if rows else None)


def _review_row(rows: list[dict], review: str) -> dict | None:
    """The latest scorecard row of a review (``latest``: of the data cut-off)."""
    found = [r for r in rows if (r["is_data_cutoff"] if review == "latest" else str(r["review"]) == review)]
    return sorted(found, key=lambda r: r["as_of_date"])[-1] if found else None


def _vline(x: float, color: str, dash: str, text: str, side: str) -> tuple[dict, dict]:
    """A vertical reference line across the plot and its label above the plot, written to the
    ``side`` (left or right) of the line so that two close lines keep readable labels."""
    shape = {"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1,
             "line": {"color": color, "dash": dash, "width": 2}}
    note = {"xref": "x", "yref": "paper", "x": x, "y": 1, "yanchor": "bottom", "xanchor": "right" if side == "left" else "left",
            "text": html.escape(text), "showarrow": False, "font": {"color": color}}
    return shape, note


def towns_figure(towns: pd.DataFrame | list[dict], district_value: float | None, kpi: pd.Series, period: str, labels: Labels,
                 lang: str = "zh") -> dict:
    """Towns/streets of one year as a sorted bar chart (the best on top).

    ``towns``: one row per town/street with ``name`` (in ``lang``), ``value``, ``is_suppressed`` and
    ``status`` (what the town's row shows at that view: a verdict or status key, or for a town/street
    without a target of its own its trend key: one bar trace per key, coloured and named in the
    legend; the table beside the chart gives it as text too). Suppressed towns/streets get no bar,
    only the mark "<5". For a rate the district value is a reference line and the target one too; a
    count is drawn on its own axis, without the district total (stated in the text beside the chart)
    which would squeeze the bars. ``period`` (e.g. ``2025年``) names the year in the hover text.
    """
    t = lambda key: labels[key].get(lang)  # noqa: E731
    asc = kpi.direction != "decrease"
    rows = rows_of(towns, ["name", "value", "is_suppressed", "status"])
    shown = sorted((r for r in rows if not r["is_suppressed"] and not is_missing(r["value"])),
                   key=lambda r: (r["value"] if asc else -r["value"], r["name"]))
    hidden = sorted((r for r in rows if r["is_suppressed"]), key=lambda r: r["name"], reverse=True)
    traces = []
    parts: dict[str, list[dict]] = {}
    for r in shown:
        parts.setdefault(r["status"], []).append(r)
    for status in STATUS_STYLE:  # one trace per key: the legend names the colours
        part = parts.get(status)
        if not part:
            continue
        label = labels.status(status).get(lang)
        values = [format_value(r["value"], kpi.unit) for r in part]
        traces.append({
            "type": "bar", "orientation": "h", "x": _floats(r["value"] for r in part), "y": [r["name"] for r in part], "name": label,
            "marker": {"color": status_color(status)}, "text": values, "textposition": "outside", "cliponaxis": False,
            "customdata": values, "meta": {"status": status},
            "hovertemplate": "%{y} (" + html.escape(period) + "): %{customdata} · " + html.escape(label) + "<extra></extra>",
        })
    if hidden:
        mark = labels["ui.suppressed"].format(threshold=SMALL_COUNT_THRESHOLD).get(lang)
        traces.append({
            "type": "scatter", "x": [0] * len(hidden), "y": [r["name"] for r in hidden], "mode": "text", "text": [mark] * len(hidden),
            "textposition": "middle right", "textfont": {"color": COLORS["suppressed"]}, "name": mark,
            "hoverinfo": "skip", "showlegend": False,
        })
    order = [r["name"] for r in hidden] + [r["name"] for r in shown]
    shapes, notes = [], []
    if kpi.unit != "count" and not is_missing(district_value):
        s, n = _vline(float(district_value), COLORS["district"], "dot",
                      t("ui.district_value").format(value=format_value(district_value, kpi.unit)),
                      "left" if is_missing(kpi.target_value) or float(district_value) <= float(kpi.target_value) else "right")
        shapes.append(s)
        notes.append(n)
    if not is_missing(kpi.target_value) and kpi.unit != "count":
        s, n = _vline(float(kpi.target_value), COLORS["target"], "dash",
                      t("ui.target_value").format(value=format_target(kpi.target_value, kpi.unit)),
                      "right" if is_missing(district_value) or float(district_value) <= float(kpi.target_value) else "left")
        shapes.append(s)
        notes.append(n)
    xaxis = {"title": {"text": _unit_label(kpi, lang), "standoff": 24}, "rangemode": "tozero", "gridcolor": "#e5e7eb", "automargin": True}
    if kpi.unit == "count":
        xaxis["tickformat"] = ",d"
        if shown and max(r["value"] for r in shown) <= 10:
            xaxis["dtick"] = 1
    layout = _layout(max(300, 26 * len(order) + 150), showlegend=True, barmode="overlay", bargap=0.25, shapes=shapes,
                     annotations=notes, margin={"l": 8, "r": 56, "t": 28, "b": 96}, xaxis=xaxis,
                     legend={"orientation": "h", "x": 0, "xanchor": "left", "yref": "container", "y": 0, "yanchor": "bottom",
                             "traceorder": "normal"},
                     yaxis={"categoryorder": "array", "categoryarray": order, "automargin": True})
    return figure(traces, layout)


def sparkline_svg(district: pd.DataFrame | list[dict], kpi: pd.Series, labels: Labels, width: int = 140, height: int = 40) -> str:
    """A small inline SVG of the district's yearly values (the partial year as an open circle) with
    the target as a dashed line. ``role="img"`` with the values as its text alternative, in both
    languages (``aria-label`` and ``data-en-aria-label``). ``district``: as for :func:`trend_figure`."""
    d = sorted((r for r in rows_of(district, DISTRICT_COLUMNS) if not is_missing(r["value"])), key=lambda r: r["period_year"])
    values = [float(r["value"]) for r in d]
    target = None if is_missing(kpi.target_value) else float(kpi.target_value)
    listed = {
        lang: ", ".join(f"{period_label(labels, r['period_year'], bool(r['is_partial_year']), r['period_end_date']).get(lang)}: "
                        f"{format_value(r['value'], kpi.unit)}" for r in d)
        for lang in ("zh", "en")
    }
    alt = {lang: labels["ui.sparkline_alt"].format(values=listed[lang] or "—").get(lang) for lang in ("zh", "en")}
    head = (f'<svg class="sparkline" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-label="{html.escape(alt["zh"])}" data-en-aria-label="{html.escape(alt["en"])}">')
    if not values:
        return head + "</svg>"
    lo = min(values + ([target] if target is not None else []))
    hi = max(values + ([target] if target is not None else []))
    lo = min(lo, 0.0) if lo >= 0 and hi > 0 and lo / hi < 0.5 else lo
    span = (hi - lo) or 1.0
    years = [r["period_year"] for r in d]
    y0, y1 = min(years), max(years)
    pad = 4

    def xy(year, value):
        x = pad + (width - 2 * pad) * ((year - y0) / (y1 - y0) if y1 > y0 else 0.5)
        y = pad + (height - 2 * pad) * (1 - (value - lo) / span)
        return round(x, 1), round(y, 1)

    parts = [head]
    if target is not None:
        _, ty = xy(y0, target)
        parts.append(f'<line x1="{pad}" x2="{width - pad}" y1="{ty}" y2="{ty}" stroke="{COLORS["target"]}" stroke-width="1.5" stroke-dasharray="4 3"/>')
    full = [(r["period_year"], r["value"]) for r in d if not r["is_partial_year"]]
    if full:
        pts = " ".join(f"{x},{y}" for x, y in (xy(yr, v) for yr, v in full))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{COLORS["district"]}" stroke-width="2"/>')
        x, y = xy(*full[-1])
        parts.append(f'<circle cx="{x}" cy="{y}" r="2.5" fill="{COLORS["district"]}"/>')
    for r in d:
        if r["is_partial_year"]:
            x, y = xy(r["period_year"], r["value"])
            parts.append(f'<circle cx="{x}" cy="{y}" r="3" fill="#fff" stroke="{COLORS["district"]}" stroke-width="1.5"/>')
    parts.append("</svg>")
    return "".join(parts)
