"""One chart per KPI for the review report: matplotlib to PNG, Chinese drawn with the machine's CJK font.

plotly's image export needs a browser (Kaleido and Chrome), which the plain install does not have;
matplotlib draws offline with the Agg backend (no display, no pyplot state: safe inside the Dagster
job). Each chart shows the KPI's district values by year up to the review's date (line and points, the
value written above each point), the target as a dashed line labelled with its value and year, and
the baseline year's point; the unit stands above the vertical axis, the legend above the plotting area
at its right, clear of the lines and points. The caption (figure number and name) is
the document's, under the image.

A chart is drawn again only when something it shows has changed: each PNG carries a digest of what it
was drawn from (:func:`chart_key`: the points, labels and limits, the font file, this module's code, the
versions of matplotlib and Pillow), and :func:`kpi_chart` copies the previous night's file when its
digest is the same (the same pixels: drawing is deterministic). Most KPIs' series do not change from
one night to the next; drawing the 29 charts of the sample report takes about 5 s.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

import pandas as pd

from daxing_kpi.report import fmt
from daxing_kpi.report.fonts import ReportFonts

WIDTH_IN, HEIGHT_IN, DPI = 6.3, 2.6, 200  # 16 cm x 6.6 cm: the text width of an A4 page
LINE, TARGET, MISSED = "#1f4e79", "#c00000", "#7f7f7f"
KEY_FIELD = "daxing-kpi-chart"  # the PNG text field holding the chart's key (chart_key)


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


@dataclass(frozen=True)
class _Plan:
    """What one chart shows, in plain values: the points (years, values, the label above each), the target
    line(s) and its legend label, the axis limits and the unit above the vertical axis."""

    years: tuple[int, ...]
    values: tuple[float, ...]
    labels: tuple[str, ...]
    target: float | None
    target_label: str
    target_upper: float | None  # the upper line of a range target
    ylim: tuple[float, float]
    xlim: tuple[float, float] | None
    unit: str


def _plan(target, series: pd.DataFrame) -> _Plan:
    s = series[series.value.notna()].sort_values("period_year")
    years = s.period_year.astype(int).tolist()
    values = s.value.astype(float).tolist()
    full = [not bool(p) for p in s.is_partial_year] if "is_partial_year" in s else [True] * len(s)
    labels = [fmt.fmt_number(y, target.unit) + ("" if whole else "（年内）") for y, whole in zip(values, full)]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    line, label, upper = None, "", None
    if target.target_value is not None:
        line, label = target.target_value, f"{target.target_year or ''}年目标 {fmt.fmt_target(target)}"
        lo, hi = min(lo, target.target_value), max(hi, target.target_value)
        if target.target_kind == "range" and target.target_value_upper is not None:
            upper = target.target_value_upper
            hi = max(hi, target.target_value_upper)
    pad = (hi - lo) * 0.18 or max(abs(hi) * 0.1, 1.0)
    ylim = (min(0.0, lo - pad) if lo >= 0 else lo - pad, hi + pad)
    xlim = None
    if years:
        xlim = (min(years) - 0.5, max(years + ([target.target_year] if target.target_year else [])) + 0.5)
    return _Plan(tuple(years), tuple(values), tuple(labels), line, label, upper, ylim, xlim, target.unit_zh or "")


@cache
def _environment() -> str:
    """What else decides the pixels: this module's code and the matplotlib and Pillow versions."""
    versions = [metadata.version(p) for p in ("matplotlib", "pillow")]
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest() + repr(versions)


def chart_key(target, series: pd.DataFrame, fonts: ReportFonts) -> str:
    """A digest (hex) of everything the chart of ``target`` is drawn from (see the module docstring)."""
    font = fonts.body.path.stat()
    parts = (repr(_plan(target, series)), fonts.body.family, str(fonts.body.path), font.st_size, font.st_mtime_ns,
             _environment())
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()


def kpi_chart(target, series: pd.DataFrame, fonts: ReportFonts, path: Path, previous: Path | None = None) -> Path:
    """Draw the chart of one :class:`daxing_kpi.report.data.Target` from its district ``series``
    (``period_year``, ``value``, ``is_partial_year``) into ``path`` (PNG); returns ``path``. When
    ``previous`` (the PNG written last time) was drawn from the same (:func:`chart_key`), it is copied."""
    key = chart_key(target, series, fonts)
    path.parent.mkdir(parents=True, exist_ok=True)
    if previous is not None and _key_of(previous) == key:
        shutil.copyfile(previous, path)
        return path
    _save_png(_draw(_plan(target, series), _font(fonts)), path, key)
    return path


def _key_of(path: Path) -> str | None:
    """The key written into the PNG at ``path`` (``None``: no such file, or not one of these charts)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.info.get(KEY_FIELD)
    except (OSError, ValueError):
        return None


def _draw(plan: _Plan, family: str):
    """The chart of ``plan`` as a matplotlib Figure on an Agg canvas, its text in the font ``family``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.layout_engine import TightLayoutEngine
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(fig)  # drawn by Agg from the start (no switch of canvas, a renderer kept for the layout)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(plan.years, plan.values, color=LINE, linewidth=1.8, marker="o", markersize=4, label="实际值", zorder=3)
    for x, y, text in zip(plan.years, plan.values, plan.labels):
        # on a white ground, over the lines: a value next to the target is read, not struck through by it
        ax.annotate(text, (x, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7.5, family=family,
                    color=LINE, zorder=4, bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"})
    if plan.target is not None:
        ax.axhline(plan.target, color=TARGET, linestyle="--", linewidth=1.2, label=plan.target_label, zorder=2)
        if plan.target_upper is not None:
            ax.axhline(plan.target_upper, color=TARGET, linestyle="--", linewidth=1.2, zorder=2)
    ax.set_ylim(*plan.ylim)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if plan.xlim is not None:
        ax.set_xlim(*plan.xlim)
    ax.set_ylabel(plan.unit, family=family, fontsize=8.5, rotation=0, ha="right", va="center")
    ax.yaxis.set_label_coords(-0.02, 1.04)
    ax.yaxis.label.set_ha("left")
    for label in ax.get_xticklabels() + ax.get_yticklabels():
        label.set_family(family)
        label.set_fontsize(8)
    ax.grid(axis="y", color="#d9d9d9", linewidth=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    # Above the plotting area, at its right (the unit stands at its left): inside it, the legend covered the
    # target line or the first years' points whenever they were near the top.
    ax.legend(prop={"family": family, "size": 8}, loc="lower right", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.3,
              frameon=False, ncol=2)
    # Figure.tight_layout() would leave a placeholder layout engine on the figure, for which savefig draws
    # the whole figure once more before drawing it; the engine applied directly lays it out the same way.
    TightLayoutEngine().execute(fig)
    return fig


def _save_png(fig, path: Path, key: str) -> None:
    """Draw ``fig`` (on its Agg canvas, at its dpi) and write it to ``path`` as an RGB PNG, ``key`` in its
    text field :data:`KEY_FIELD`.

    The same pixels as ``fig.savefig(path)``, whose PNG is RGBA: the figure is opaque (white), so its
    alpha channel says nothing, and without it the PNG is smaller and quicker to write, and the PDF
    embeds it without splitting off an alpha channel first."""
    from PIL import Image, PngImagePlugin

    canvas = fig.canvas
    canvas.draw()
    width, height = canvas.get_width_height(physical=True)
    rgba = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    info = PngImagePlugin.PngInfo()
    info.add_text(KEY_FIELD, key)
    rgba.convert("RGB").save(path, format="PNG", dpi=(fig.dpi, fig.dpi), pnginfo=info)
