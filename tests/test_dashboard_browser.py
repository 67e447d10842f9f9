"""The dashboard in headless Chromium: four KPIs with the mart's values, offline, no console error."""

from __future__ import annotations

import pytest

from browser import open_page

pytestmark = pytest.mark.browser

HEADLINE = [
    "eldercare.care_workers_per_10k_elderly",
    "funeral.eco_burial_rate",
    "volunteer.registered_share_of_residents",
    "digital.online_service_rate",
]


def test_dashboard_shows_the_published_values(warehouse, tmp_path):
    marts = warehouse.query(
        """SELECT o.kpi_id, o.period_year, o.value, c.unit FROM kpi_observations o JOIN kpi_catalog c USING (kpi_id)
           WHERE o.geo_level = 'district' AND NOT o.is_partial_year
           QUALIFY o.period_year = max(o.period_year) OVER (PARTITION BY o.kpi_id)"""
    ).set_index("kpi_id")
    url = (warehouse.dashboard / "index.html").as_uri()
    with open_page(url) as (page, errors, external):
        for kpi_id in HEADLINE:
            card = page.locator(f'[data-kpi-id="{kpi_id}"]')
            assert card.count() == 1, kpi_id
            expected = marts.loc[kpi_id]
            assert int(card.get_attribute("data-year")) == expected.period_year
            assert abs(float(card.get_attribute("data-value")) - expected.value) < 1e-9
            shown = card.locator(".kpi-value").inner_text().strip()
            assert shown == (f"{expected.value:.1f}%" if expected.unit == "pct" else f"{expected.value:.1f}")
            # the trend and the town/street comparison are drawn
            charts = 1 if kpi_id.startswith("digital.") else 2  # digital KPIs have no town/street breakdown
            assert card.locator(".js-plotly-plot").count() == charts, kpi_id
        assert page.evaluate("typeof Plotly") == "object"
        page.screenshot(path=str(tmp_path / "overview.png"))
    assert errors == []
    assert external == []
