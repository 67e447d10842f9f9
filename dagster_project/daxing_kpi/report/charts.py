"""One chart per KPI for the review report: matplotlib to PNG, Chinese drawn with the machine's CJK font.

plotly's image export needs a browser (Kaleido and Chrome), which the plain install does not have;
matplotlib draws offline with the Agg backend (no display, no pyplot state: safe inside the Dagster
job). Each chart shows the KPI's district values by year up to the review's date (line and points, the
value written above each point), the target as a dashed line labelled with its value and year, and
the baseline year's point; the unit is on the vertical axis. The caption (figure number and name) is
the document's, under the image.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd

from daxing_kpi.report import fmt
from daxing_kpi.report.fonts import ReportFonts

WIDTH_IN, HEIGHT_IN, DPI = 6.3, 2.6, 200  # 16 cm x 6.6 cm: the text width of an A4 page
LINE, TARGET, MISSED = "#1f4e79", "#c00000", "#7f7f7f"


@cache
def _register(path: Path) -> None:
    """Make the font file at ``path`` known to matplotlib, once per process: ``addfont`` appends the file's
    faces to matplotlib's font list again and empties its font cache at every call (each chart's every
    text then searched a longer list again)."""
    from matplotlib import font_manager

    # matplotlib >= 3.11 registers every face of a .ttc collection by its family name
    font_manager.fontManager.addfont(str(path))


def _font(fonts: ReportFonts) -> str:
    _register(fonts.body.path)
    return fonts.body.family


def kpi_chart(target, series: pd.DataFrame, fonts: ReportFonts, path: Path) -> Path:
    """Draw the chart of one :class:`daxing_kpi.report.data.Target` from its district ``series``
    (``period_year``, ``value``, ``is_partial_year``) into ``path`` (PNG); returns ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.layout_engine import TightLayoutEngine
    from matplotlib.ticker import MaxNLocator

    family = _font(fonts)
    s = series[series.value.notna()].sort_values("period_year")
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(fig)  # drawn by Agg from the start (no switch of canvas, a renderer kept for the layout)
    ax = fig.add_subplot(1, 1, 1)
    years = s.period_year.astype(int).tolist()
    values = s.value.astype(float).tolist()
    full = [not bool(p) for p in s.is_partial_year] if "is_partial_year" in s else [True] * len(s)
    ax.plot(years, values, color=LINE, linewidth=1.8, marker="o", markersize=4, label="实际值", zorder=3)
    for x, y, whole in zip(years, values, full):
        ax.annotate(fmt.fmt_number(y, target.unit) + ("" if whole else "（年内）"), (x, y), textcoords="offset points",
                    xytext=(0, 6), ha="center", fontsize=7.5, family=family, color=LINE)
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if target.target_value is not None:
        label = f"{target.target_year or ''}年目标 {fmt.fmt_target(target)}"
        ax.axhline(target.target_value, color=TARGET, linestyle="--", linewidth=1.2, label=label, zorder=2)
        lo, hi = min(lo, target.target_value), max(hi, target.target_value)
        if target.target_kind == "range" and target.target_value_upper is not None:
            ax.axhline(target.target_value_upper, color=TARGET, linestyle="--", linewidth=1.2, zorder=2)
            hi = max(hi, target.target_value_upper)
    pad = (hi - lo) * 0.18 or max(abs(hi) * 0.1, 1.0)
    ax.set_ylim(min(0.0, lo - pad) if lo >= 0 else lo - pad, hi + pad)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if years:
        ax.set_xlim(min(years) - 0.5, max(years + ([target.target_year] if target.target_year else [])) + 0.5)
    ax.set_ylabel(target.unit_zh or "", family=family, fontsize=8.5, rotation=0, ha="right", va="center")
    ax.yaxis.set_label_coords(-0.02, 1.04)
    ax.yaxis.label.set_ha("left")
    for label in ax.get_xticklabels() + ax.get_yticklabels():
        label.set_family(family)
        label.set_fontsize(8)
    ax.grid(axis="y", color="#d9d9d9", linewidth=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(prop={"family": family, "size": 8}, loc="upper left", frameon=False, ncol=2)
    # Figure.tight_layout() would leave a placeholder layout engine on the figure, for which savefig draws
    # the whole figure once more before drawing it; the engine applied directly lays it out the same way.
    TightLayoutEngine().execute(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    _save_png(fig, path)
    return path


def _save_png(fig, path: Path) -> None:
    """Draw ``fig`` (on its Agg canvas, at its dpi) and write it to ``path`` as an RGB PNG.

    The same pixels as ``fig.savefig(path)``, whose PNG is RGBA: the figure is opaque (white), so its
    alpha channel says nothing, and without it the PNG is smaller and quicker to write, and the PDF
    embeds it without splitting off an alpha channel first."""
    from PIL import Image

    canvas = fig.canvas
    canvas.draw()
    width, height = canvas.get_width_height(physical=True)
    rgba = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    rgba.convert("RGB").save(path, format="PNG", dpi=(fig.dpi, fig.dpi))
