"""The review report's KPI charts (daxing_kpi.report.charts): nothing drawn over the lines and points.

A chart whose values and target sit near the top of the plotting area is the case planners met (图4 of the
sample report): the legend, drawn inside the plotting area at its upper left, covered the target line.
The geometry is read from matplotlib's own layout of the drawn figure (display pixels)."""

from daxing_kpi.report.charts import _draw, _Plan


def test_the_legend_stands_clear_of_the_plotting_area_and_of_the_unit():
    # eco-burial rate-like: values climbing to the 65% target line, which is near the top of the axis
    plan = _Plan(years=(2020, 2021, 2022, 2023, 2024, 2025), values=(60.1, 61.0, 62.4, 63.8, 64.9, 66.2),
                 labels=("60.1%", "61.0%", "62.4%", "63.8%", "64.9%", "66.2%"), target=65.0,
                 target_label="2025年目标 ≥65%", target_upper=None, ylim=(0.0, 78.0), xlim=(2019.5, 2025.5), unit="%")
    fig = _draw(plan, "DejaVu Sans")
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent(renderer)
    plot_area = ax.patch.get_window_extent(renderer)
    unit = ax.yaxis.label.get_window_extent(renderer)
    figure = fig.bbox

    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["实际值", "2025年目标 ≥65%"]
    assert legend.y0 >= plot_area.y1 - 1, (legend, plot_area)  # above the plotting area (1 px of rounding)
    assert not legend.overlaps(unit), (legend, unit)
    assert legend.x1 <= plot_area.x1 + 1 and legend.x0 > unit.x1  # at the right, after the unit
    assert figure.x0 <= legend.x0 and legend.x1 <= figure.x1 and legend.y1 <= figure.y1  # not cut off


def test_a_value_next_to_the_target_is_written_over_the_target_line_on_a_white_ground():
    plan = _Plan(years=(2020, 2021), values=(64.0, 66.0), labels=("64.0%", "66.0%"), target=65.0,
                 target_label="2025年目标 ≥65%", target_upper=None, ylim=(0.0, 78.0), xlim=(2019.5, 2025.5), unit="%")
    ax = _draw(plan, "DejaVu Sans").axes[0]
    target_line = next(line for line in ax.get_lines() if line.get_label() == "2025年目标 ≥65%")
    labels = [t for t in ax.texts if t.get_text() in ("64.0%", "66.0%")]
    assert len(labels) == 2
    for label in labels:
        assert label.get_zorder() > target_line.get_zorder()
        assert label.get_bbox_patch().get_facecolor() == (1.0, 1.0, 1.0, 1.0)
