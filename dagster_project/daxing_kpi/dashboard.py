"""The planners' static KPI dashboard, drawn with plotly from the published database.

:func:`build_dashboard` reads ``analytics.duckdb`` (read-only) and writes
``<dashboard dir>/index.html``: one self-contained page (plotly.js from the installed plotly
package, inlined once; no CDN, no request leaves the machine), Chinese labels first with
the English name beside them. For every KPI: the latest complete year's district value
against the target, the yearly trend with the target drawn, and the towns/streets compared.

The figure functions (:func:`trend_figure`, :func:`towns_figure`) are pure: frames in,
plotly figures out.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path

import duckdb
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from daxing_kpi.paths import analytics_db_path, dashboard_dir

FONT = '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif'
PLOT_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}
COLORS = {"district": "#1f4e79", "target": "#b03a2e", "bar": "#5b8db8", "bar_low": "#c0504d"}


def format_value(value: float | None, unit: str) -> str:
    """Display form of a KPI value: 1 decimal, with ``%`` for rates."""
    if value is None or pd.isna(value):
        return "—"
    return f"{value:.1f}%" if unit == "pct" else f"{value:.1f}"


def trend_figure(series: pd.DataFrame, kpi: pd.Series) -> go.Figure:
    """District values by year (``period_year``, ``value``, ``is_partial_year``) with the target line."""
    fig = go.Figure()
    full = series[~series.is_partial_year]
    fig.add_trace(
        go.Scatter(x=full.period_year, y=full.value, mode="lines+markers", name="全区 District", line={"color": COLORS["district"]})
    )
    part = series[series.is_partial_year]
    if len(part):
        fig.add_trace(
            go.Scatter(
                x=part.period_year, y=part.value, mode="markers", name="年内至今 Year to date",
                marker={"symbol": "circle-open", "size": 10, "color": COLORS["district"]},
            )
        )
    if pd.notna(kpi.target_value):
        fig.add_hline(
            y=float(kpi.target_value), line_dash="dash", line_color=COLORS["target"],
            annotation_text=f"目标 Target {format_value(kpi.target_value, kpi.unit)} ({int(kpi.target_year)})",
            annotation_position="top left",
        )
    fig.update_layout(
        height=300, margin={"l": 40, "r": 10, "t": 30, "b": 30}, font={"family": FONT},
        legend={"orientation": "h", "y": -0.2}, xaxis={"dtick": 1, "title": None},
        yaxis={"title": kpi.unit_zh, "rangemode": "tozero"},
    )
    return fig


def towns_figure(towns: pd.DataFrame, district_value: float, kpi: pd.Series, year: int) -> go.Figure:
    """Towns/streets of one year sorted by value, with the district value as a reference line."""
    t = towns.sort_values("value")
    below = t.value < (float(kpi.target_value) if pd.notna(kpi.target_value) else -1e18)
    fig = go.Figure(
        go.Bar(
            x=t.value, y=t.geo_name_zh, orientation="h",
            marker_color=[COLORS["bar_low"] if b else COLORS["bar"] for b in below],
            hovertemplate="%{y}: %{x:.1f}<extra></extra>",
        )
    )
    fig.add_vline(x=district_value, line_dash="dot", line_color=COLORS["district"],
                  annotation_text=f"全区 {format_value(district_value, kpi.unit)}", annotation_position="top")
    fig.update_layout(
        height=max(300, 22 * len(t) + 60), margin={"l": 110, "r": 10, "t": 30, "b": 30}, font={"family": FONT},
        title={"text": f"{year}年 各镇街 Towns/streets", "font": {"size": 13}}, xaxis={"title": kpi.unit_zh},
    )
    return fig


def load_frames(db: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Catalog, observations and publication metadata from the published database."""
    with duckdb.connect(str(db), read_only=True) as con:
        catalog = con.execute("SELECT * FROM kpi_catalog ORDER BY plan_section, kpi_id").df()
        obs = con.execute("SELECT * FROM kpi_observations ORDER BY kpi_id, geo_code, period_year").df()
        meta = con.execute("SELECT run_id, published_at FROM publish_metadata").fetchone()
    return catalog, obs, {"run_id": meta[0], "published_at": str(meta[1])}


def _card(kpi: pd.Series, obs: pd.DataFrame) -> str:
    d = obs[(obs.kpi_id == kpi.kpi_id) & (obs.geo_level == "district")].sort_values("period_year")
    full = d[~d.is_partial_year]
    latest = full.iloc[-1] if len(full) else None
    partial = d[d.is_partial_year]
    meets = None
    if latest is not None and pd.notna(kpi.target_value):
        meets = latest.value >= kpi.target_value if kpi.direction == "increase" else latest.value <= kpi.target_value
    status = {True: ("✔", "已达到目标 Target met", "met"), False: ("✘", "未达到目标 Target not met", "notmet"), None: ("?", "无数据 No data", "na")}[meets]
    trend_html = trend_figure(d, kpi).to_html(full_html=False, include_plotlyjs=False, config=PLOT_CONFIG)
    towns_html = '<p class="note">本指标只在全区层面统计。 District-level indicator: no town/street breakdown.</p>'
    if latest is not None:
        towns = obs[(obs.kpi_id == kpi.kpi_id) & (obs.geo_level == "town_street") & (obs.period_year == latest.period_year)]
        if len(towns):
            towns_html = towns_figure(towns, float(latest.value), kpi, int(latest.period_year)).to_html(
                full_html=False, include_plotlyjs=False, config=PLOT_CONFIG
            )
    e = html.escape
    value_attr = "" if latest is None else f' data-value="{float(latest.value)!r}" data-year="{int(latest.period_year)}"'
    ytd = ""
    if len(partial):
        p = partial.iloc[-1]
        ytd = f'<p class="ytd">{int(p.period_year)}年截至{p.period_end_date:%m月%d日} Year to date: {format_value(p.value, kpi.unit)}</p>'
    rows = "".join(
        f"<tr><td>{int(r.period_year)}{'*' if r.is_partial_year else ''}</td><td>{r.numerator:,.0f}</td><td>{r.denominator:,.0f}</td><td>{format_value(r.value, kpi.unit)}</td></tr>"
        for r in d.itertuples()
    )
    return f"""
<section class="kpi-card" id="{e(kpi.kpi_id)}" data-kpi-id="{e(kpi.kpi_id)}"{value_attr} tabindex="0" aria-labelledby="{e(kpi.kpi_id)}-title">
  <header>
    <h2 id="{e(kpi.kpi_id)}-title">{e(kpi.name_zh)} <span class="en">{e(kpi.name_en)}</span></h2>
    <p class="section">规划条目 Plan section {e(kpi.plan_section)}</p>
  </header>
  <div class="headline">
    <div><span class="label">{int(latest.period_year) if latest is not None else ''}年 最新值 Latest</span>
      <span class="kpi-value">{format_value(None if latest is None else latest.value, kpi.unit)}</span></div>
    <div><span class="label">{int(kpi.target_year)}年目标 Target</span>
      <span class="kpi-target">{'≥' if kpi.direction == 'increase' else '≤'} {format_value(kpi.target_value, kpi.unit)}</span></div>
    <div class="status status-{status[2]}" role="img" aria-label="{e(status[1])}"><span aria-hidden="true">{status[0]}</span> {e(status[1])}</div>
  </div>
  {ytd}
  <div class="charts"><div class="chart">{trend_html}</div><div class="chart">{towns_html}</div></div>
  <details><summary>数据表与定义 Data table and definition</summary>
    <p>{e(kpi.definition_zh)}<br><span class="en">{e(kpi.definition_en)}</span></p>
    <p class="clause">规划原文 Plan clause: “{e(kpi.source_clause_zh)}”</p>
    <table><caption>全区 District ({e(kpi.numerator_zh)} ÷ {e(kpi.denominator_zh)})</caption>
    <thead><tr><th>年份 Year</th><th>分子 Numerator</th><th>分母 Denominator</th><th>值 Value</th></tr></thead><tbody>{rows}</tbody></table>
  </details>
</section>"""


def render_html(catalog: pd.DataFrame, obs: pd.DataFrame, meta: dict) -> str:
    """The whole page as one HTML string (plotly.js inlined once)."""
    cards = "\n".join(_card(kpi, obs) for _, kpi in catalog.iterrows())
    cutoff = obs.period_end_date.max()
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>大兴区民政事业“十四五”规划指标看板 · Daxing civil-affairs 14th FYP KPI dashboard</title>
<style>
body {{ font-family: {FONT}; margin: 0; color: #1a1a1a; background: #f5f6f8; }}
header.page {{ background: #1f4e79; color: #fff; padding: 1rem 1.5rem; }}
header.page h1 {{ margin: 0; font-size: 1.4rem; }}
header.page p {{ margin: .3rem 0 0; font-size: .9rem; }}
main {{ padding: 1rem; max-width: 1280px; margin: 0 auto; }}
.kpi-card {{ background: #fff; border-radius: 6px; padding: 1rem; margin-bottom: 1rem; box-shadow: 0 1px 3px rgba(0,0,0,.15); }}
.kpi-card:focus {{ outline: 3px solid #f0a500; }}
.kpi-card h2 {{ font-size: 1.15rem; margin: 0; }}
.en {{ color: #4a4a4a; font-weight: normal; font-size: .85em; }}
.section {{ margin: .2rem 0; color: #4a4a4a; font-size: .85rem; }}
.headline {{ display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: center; margin: .6rem 0; }}
.label {{ display: block; font-size: .8rem; color: #4a4a4a; }}
.kpi-value {{ font-size: 1.8rem; font-weight: bold; color: #1f4e79; }}
.kpi-target {{ font-size: 1.3rem; }}
.status {{ padding: .3rem .7rem; border-radius: 4px; font-weight: bold; }}
.status-met {{ background: #e3f1e6; color: #1e5a2b; }}
.status-notmet {{ background: #fbe5e3; color: #8a1f16; }}
.status-na {{ background: #eee; color: #333; }}
.ytd {{ font-size: .9rem; color: #4a4a4a; }}
.charts {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 1rem; }}
.chart {{ min-width: 0; }}
table {{ border-collapse: collapse; margin-top: .5rem; font-size: .9rem; }}
th, td {{ border: 1px solid #ccc; padding: .2rem .6rem; text-align: right; }}
caption {{ text-align: left; font-size: .85rem; color: #4a4a4a; }}
.clause {{ font-size: .9rem; background: #f7f7f0; padding: .4rem; }}
</style>
<script>{get_plotlyjs()}</script>
</head>
<body>
<header class="page">
  <h1>大兴区民政事业“十四五”规划指标看板 <span class="en" style="color:#dde">Daxing District civil affairs, 14th Five-Year Plan (2021-2025): KPI dashboard</span></h1>
  <p>数据截至 Data as of {cutoff:%Y-%m-%d} · 发布 Published {html.escape(meta['published_at'][:19])} · 运行 Run {html.escape(meta['run_id'][:8])}</p>
</header>
<main>
{cards}
</main>
<script type="application/json" id="dashboard-meta">{json.dumps({"run_id": meta["run_id"], "generated_at": dt.datetime.now().isoformat(timespec="seconds")})}</script>
</body>
</html>
"""


def build_dashboard(db: Path | None = None, out_dir: Path | None = None) -> Path:
    """Write ``index.html`` from the published database; returns its path.

    The page is written to a temporary file and renamed into place, so a browser never loads a
    half-written page. Raises ``FileNotFoundError`` when the database has not been published yet.
    """
    db = Path(db or analytics_db_path())
    if not db.exists():
        raise FileNotFoundError(f"{db} does not exist: the analyst database must be published first")
    out_dir = Path(out_dir or dashboard_dir())
    out_dir.mkdir(parents=True, exist_ok=True)
    catalog, obs, meta = load_frames(db)
    page = render_html(catalog, obs, meta)
    target = out_dir / "index.html"
    tmp = out_dir / ".index.html.tmp"
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(target)
    return target
