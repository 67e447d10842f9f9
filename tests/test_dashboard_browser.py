"""The planners' dashboard in headless Chromium (Debian's chromium, Playwright), on the session's
warehouse: every catalog KPI as a card with the published value and status, the review selector
against kpi_scorecard, the language switch keeping the view, keyboard navigation, a KPI page's
town/street chart and tables, downloads against kpi_observations, accessibility (axe-core, offline),
no console error, no request leaving the machine, no horizontal scrolling; screenshots are written
to tests/artifacts/.
"""

from __future__ import annotations

import math
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd
import pytest
import yaml

from browser import browser_session  # noqa: F401  (module fixture: one browser for this module)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
LABELS = yaml.safe_load((ROOT / "dashboards" / "i18n.yaml").read_text(encoding="utf-8"))
TOWNS_KPI = "eldercare.care_workers_per_10k_elderly"  # per person, by town/street, small counts at the test scale
COUNT_KPI = "social_org.community_social_orgs"  # unit count: integers, denominator 1
SIZES = {"laptop": (1366, 768), "phone": (390, 844)}

CARDS_JS = """() => Object.fromEntries([...document.querySelectorAll('.kpi-card')].map(c => [c.dataset.kpiId, {
    status: c.dataset.status, year: c.dataset.year, value: c.dataset.value, hidden: c.hidden,
    shown: c.querySelector('.kpi-value').textContent.trim(),
    badge: c.querySelector('.status-badge .status-text').textContent.trim(),
    name: c.querySelector('.kpi-link').textContent.trim()}]))"""


def shown_value(value: float, unit: str) -> str:
    """How the page must print a value: counts as integers, rates with one decimal and %."""
    if unit == "count":
        return f"{round(value):,}"
    return f"{value:.1f}%" if unit == "pct" else f"{value:,.1f}"


def expected_suppressed(obs: pd.DataFrame, catalog: pd.DataFrame) -> set[tuple[str, str, int]]:
    """The small-count rule computed here independently: per-person KPIs, town/street rows with a
    numerator (or a real denominator) below 5, plus the next smallest when only one of a KPI-year is hidden."""
    per_person = set(catalog[catalog.is_per_person].kpi_id)
    counts = set(catalog[catalog.unit == "count"].kpi_id)
    rows = obs[obs.kpi_id.isin(per_person) & (obs.geo_level == "town_street")]
    small = rows[(rows.numerator < 5) | (~rows.kpi_id.isin(counts) & (rows.denominator < 5))]
    keys = {(r.kpi_id, r.geo_code, int(r.period_year)) for r in small.itertuples()}
    for (kpi_id, year), g in rows.groupby(["kpi_id", "period_year"]):
        hidden = [r for r in g.itertuples() if (kpi_id, r.geo_code, int(year)) in keys]
        if len(hidden) == 1 and len(g) > 1:
            rest = g[~g.geo_code.isin([hidden[0].geo_code])].sort_values(["numerator", "geo_code"])
            keys.add((kpi_id, rest.geo_code.iloc[0], int(year)))
    return keys


@pytest.fixture(scope="module")
def pub(warehouse):
    """What the published database says (the truth the pages are checked against)."""
    catalog = warehouse.query("SELECT * FROM kpi_catalog")
    obs = warehouse.query("SELECT * FROM kpi_observations")
    scorecard = warehouse.query("SELECT * FROM kpi_scorecard WHERE geo_level = 'district'")
    return {"catalog": catalog, "obs": obs, "scorecard": scorecard, "units": dict(zip(catalog.kpi_id, catalog.unit, strict=True))}


def overview_url(warehouse, fragment: str = "") -> str:
    return (warehouse.dashboard / "index.html").as_uri() + (f"#{fragment}" if fragment else "")


def kpi_url(warehouse, kpi_id: str, fragment: str = "") -> str:
    return (warehouse.dashboard / "kpi" / f"{kpi_id}.html").as_uri() + (f"#{fragment}" if fragment else "")


def review_rows(scorecard: pd.DataFrame, review: str) -> pd.DataFrame:
    rows = scorecard[scorecard.is_data_cutoff] if review == "latest" else scorecard[scorecard.review == review]
    assert rows.kpi_id.is_unique
    return rows.set_index("kpi_id")


def test_overview_has_one_card_per_catalog_kpi_with_the_published_value_and_status(warehouse, pub, browser_session):
    latest = review_rows(pub["scorecard"], "latest")
    obs = pub["obs"]
    with browser_session.page(overview_url(warehouse)) as page:
        cards = page.evaluate(CARDS_JS)
        assert sorted(cards) == sorted(pub["catalog"].kpi_id)  # one card per catalog KPI, no other
        assert page.locator(".kpi-card").count() == len(pub["catalog"])
        for kpi_id, card in cards.items():
            row = latest.loc[kpi_id]
            published = obs[(obs.kpi_id == kpi_id) & (obs.geo_level == "district") & (obs.period_year == row.latest_year)]
            assert len(published) == 1, kpi_id
            value = float(published.value.iloc[0])
            assert int(card["year"]) == row.latest_year, kpi_id
            assert float(card["value"]) == pytest.approx(value, rel=1e-12), kpi_id
            assert value == pytest.approx(row.latest_value, rel=1e-12)
            assert card["shown"] == shown_value(value, pub["units"][kpi_id]), kpi_id
            assert card["status"] == row.status, kpi_id
            assert card["badge"] == LABELS["statuses"][row.status]["zh"], kpi_id
            assert card["name"] == pub["catalog"].set_index("kpi_id").name_zh[kpi_id]
        # counts as integers, never "306.0"
        assert "." not in cards[COUNT_KPI]["shown"]
        # a card per KPI under the plan's five parts, titled from the plan text
        titles = page.locator(".plan-section h2").all_inner_texts()
        assert titles[0] == "一、建设公平可持续的基本民生保障体系"
        assert [t[0] for t in titles] == ["一", "二", "三", "四", "五"][: len(titles)]
        # the summary counts statuses as the scorecard does
        chips = {c.get_attribute("data-status"): int(c.locator(".chip-count").inner_text()) for c in page.locator(".chip").all()}
        assert chips == {s: int((latest.status == s).sum()) for s in LABELS["statuses"]}
        # every card links to its KPI page, which exists
        for href in page.locator(".kpi-link").evaluate_all("els => els.map(a => a.href)"):
            assert Path(unquote(urlparse(href).path)).exists(), href
    assert browser_session.errors == []
    assert browser_session.external == []


def test_review_selector_switches_every_status_to_the_scorecard_of_that_date(warehouse, pub, browser_session):
    changed = 0
    with browser_session.page(overview_url(warehouse)) as page:
        latest = page.evaluate(CARDS_JS)
        for review, date in (("mid_term", "2023-12-31"), ("final", "2025-12-31")):
            rows = review_rows(pub["scorecard"], review)
            assert {str(d)[:10] for d in rows.as_of_date} == {date}
            page.select_option("#review-select", review)
            cards = page.evaluate(CARDS_JS)
            for kpi_id, card in cards.items():
                row = rows.loc[kpi_id]
                assert card["status"] == row.status, (review, kpi_id)
                assert card["badge"] == LABELS["statuses"][row.status]["zh"], (review, kpi_id)
                assert int(card["year"]) == row.latest_year <= int(date[:4]), (review, kpi_id)
                assert float(card["value"]) == pytest.approx(row.latest_value, rel=1e-12), (review, kpi_id)
                changed += card["status"] != latest[kpi_id]["status"]
            chips = {c.get_attribute("data-status"): int(c.locator(".chip-count").inner_text()) for c in page.locator(".chip").all()}
            assert chips == {s: int((rows.status == s).sum()) for s in LABELS["statuses"]}
            assert f"review={review}" in page.url
        # filtering by a status of the final review shows exactly those KPIs
        final = review_rows(pub["scorecard"], "final")
        status = final.status.value_counts().index[0]
        page.click(f'.chip[data-status="{status}"]')
        cards = page.evaluate(CARDS_JS)
        assert {k for k, c in cards.items() if not c["hidden"]} == set(final[final.status == status].index)
        assert page.locator(f'.chip[data-status="{status}"]').get_attribute("aria-pressed") == "true"
        # a page opened with the review in its address shows it straight away
    with browser_session.page(overview_url(warehouse, "review=mid_term")) as page:
        assert page.input_value("#review-select") == "mid_term"
        cards = page.evaluate(CARDS_JS)
        assert {k: c["status"] for k, c in cards.items()} == review_rows(pub["scorecard"], "mid_term").status.to_dict()
    assert changed > 0  # the reviews differ from the latest data somewhere, so the switch is visible
    assert browser_session.errors == []
    assert browser_session.external == []


def test_language_switch_keeps_the_view_and_the_keyboard_reaches_a_kpi(warehouse, pub, browser_session):
    catalog = pub["catalog"].set_index("kpi_id")
    final = review_rows(pub["scorecard"], "final")
    eldercare = set(catalog[catalog.domain == "eldercare"].index)
    with browser_session.page(overview_url(warehouse)) as page:
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        page.select_option("#review-select", "final")
        page.select_option("#domain-select", "eldercare")
        before = page.evaluate(CARDS_JS)
        assert {k for k, c in before.items() if not c["hidden"]} == eldercare
        page.click("#lang-switch")
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.locator("h1.brand").inner_text() == LABELS["ui"]["title"]["en"]
        assert page.inner_text('label[for="review-select"]') == LABELS["ui"]["review"]["en"]
        after = page.evaluate(CARDS_JS)
        # the same view: review, filter, statuses; labels now in English
        assert page.input_value("#review-select") == "final" and page.input_value("#domain-select") == "eldercare"
        assert {k for k, c in after.items() if not c["hidden"]} == eldercare
        for kpi_id, card in after.items():
            assert card["status"] == before[kpi_id]["status"] == final.status[kpi_id]
            assert card["badge"] == LABELS["statuses"][card["status"]]["en"]
            assert card["name"] == catalog.name_en[kpi_id]
        assert "lang=en" in page.url and "review=final" in page.url and "domain=eldercare" in page.url
        section = page.locator(".plan-section:not([hidden]) h2").first.inner_text()
        assert section == "一、" + LABELS["sections"]["一"]["en"]
        # keyboard: Tab reaches the first card, arrows move between cards, Enter opens the KPI
        page.focus("#lang-switch")
        for _ in range(25):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.classList.contains('kpi-link')"):
                break
        links = page.locator(".kpi-card:not([hidden]) .kpi-link")
        first_id = page.evaluate("document.activeElement.closest('.kpi-card').dataset.kpiId")
        assert first_id == links.first.evaluate("a => a.closest('.kpi-card').dataset.kpiId")
        page.keyboard.press("ArrowRight")
        second_id = page.evaluate("document.activeElement.closest('.kpi-card').dataset.kpiId")
        assert second_id == links.nth(1).evaluate("a => a.closest('.kpi-card').dataset.kpiId") != first_id
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/kpi/{second_id}.html*")
        page.wait_for_load_state("load")
        # the KPI page opens in English with the final review
        assert "lang=en" in page.url and "review=final" in page.url
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.locator("h1#kpi-title").inner_text() == catalog.name_en[second_id]
        assert page.input_value("#review-select") == "final"
        assert page.locator(".headline .status-text").inner_text() == LABELS["statuses"][final.status[second_id]]["en"]
        # back to the overview: same view, the card just visited has the focus
        page.click(".back-link")
        page.wait_for_url("**/index.html*")
        page.wait_for_load_state("load")
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.input_value("#review-select") == "final" and page.input_value("#domain-select") == "eldercare"
        assert page.evaluate("document.activeElement.closest('.kpi-card').dataset.kpiId") == second_id
        # and back to Chinese
        page.click("#lang-switch")
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        assert page.locator("h1.brand").inner_text() == LABELS["ui"]["title"]["zh"]
        assert "lang=en" not in page.url and page.input_value("#review-select") == "final"
    assert browser_session.errors == []
    assert browser_session.external == []


def test_kpi_page_shows_its_towns_and_streets_chart_with_the_district_line(warehouse, pub, browser_session):
    obs, catalog = pub["obs"], pub["catalog"]
    hidden = expected_suppressed(obs, catalog)
    with browser_session.page(kpi_url(warehouse, TOWNS_KPI)) as page:
        page.wait_for_selector("#towns-chart .bars .point")
        for review in ("latest", "mid_term"):
            if review != "latest":
                page.select_option("#review-select", review)
                page.wait_for_timeout(200)
            year = int(review_rows(pub["scorecard"], review).latest_year[TOWNS_KPI])
            towns = obs[(obs.kpi_id == TOWNS_KPI) & (obs.geo_level == "town_street") & (obs.period_year == year)]
            shown = towns[[(TOWNS_KPI, c, year) not in hidden for c in towns.geo_code]].sort_values("value")
            district = obs[(obs.kpi_id == TOWNS_KPI) & (obs.geo_level == "district") & (obs.period_year == year)].value.iloc[0]
            chart = page.evaluate("""() => { const g = document.getElementById('towns-chart');
                const bars = g.data.filter(t => t.type === 'bar');
                const pos = Object.fromEntries(g.layout.yaxis.categoryarray.map((n, i) => [n, i]));
                const pts = bars.flatMap(t => Array.from(t.y).map((y, i) => [pos[y], t.x[i], t.meta.status]));
                pts.sort((a, b) => a[0] - b[0]);
                return {x: pts.map(p => p[1]), status: pts.map(p => p[2]), shapes: g.layout.shapes.map(s => s.x0),
                        drawn: g.querySelectorAll('.bars .point').length}; }""")
            assert len(chart["x"]) == chart["drawn"] == len(shown) > 0, review
            assert chart["x"] == pytest.approx(list(shown.value), rel=1e-12)  # sorted, largest on top
            assert chart["shapes"][0] == pytest.approx(district, rel=1e-12)  # the district reference line
            where = "is_data_cutoff" if review == "latest" else f"review = '{review}'"
            town_status = warehouse.query(f"SELECT geo_code, status FROM kpi_scorecard WHERE kpi_id = ? AND geo_level = 'town_street' AND {where}",
                                          [TOWNS_KPI]).set_index("geo_code").status
            assert chart["status"] == [town_status[c] for c in shown.geo_code]  # bars coloured by the scorecard's status
            table = page.locator(f'.towns-table[data-review="{review}"]')
            assert table.is_visible()
            assert table.locator("tbody tr").count() == len(towns) == 22
            assert table.locator("tbody tr.suppressed").count() == len(towns) - len(shown)
            assert page.locator(".towns-table:visible").count() == 1
        # the trend chart has the target, the required path and a projection for the mid-term review
        trend = page.evaluate("""() => document.getElementById('trend-chart').data.map(t => [t.name, t.visible === undefined ? true : t.visible])""")
        names = [n for n, _ in trend]
        assert any("2025" in n and "50" in n for n in names) and "所需路径" in names
        assert [v for n, v in trend if n.startswith("预测")] == [True]
        assert page.locator("#district-table tbody tr").count() == len(obs[(obs.kpi_id == TOWNS_KPI) & (obs.geo_level == "district")])
    with browser_session.page(kpi_url(warehouse, "digital.online_service_rate")) as page:  # district only
        assert page.locator("#towns-chart").count() == 0
        assert page.locator("#towns .note").first.inner_text() == LABELS["ui"]["towns_none"]["zh"]
    assert browser_session.errors == []
    assert browser_session.external == []


def _compare_download(frame: pd.DataFrame, obs: pd.DataFrame, hidden: set) -> int:
    """Every row of ``obs`` is in ``frame`` with the same numbers, or marked suppressed; returns how many are."""
    frame = frame.copy()
    frame["geo_code"] = frame.geo_code.astype(str)
    merged = obs.merge(frame, on=["kpi_id", "geo_code", "period_year"], how="outer", suffixes=("", "_dl"), indicator=True)
    assert (merged._merge == "both").all(), merged[merged._merge != "both"]
    n = 0
    for r in merged.itertuples():
        key = (r.kpi_id, r.geo_code, int(r.period_year))
        if key in hidden:
            n += 1
            assert bool(r.is_suppressed) and all(pd.isna(v) for v in (r.numerator_dl, r.denominator_dl, r.value_dl)), key
        else:
            assert not bool(r.is_suppressed), key
            for a, b in ((r.numerator, r.numerator_dl), (r.denominator, r.denominator_dl), (r.value, r.value_dl)):
                assert math.isclose(float(a), float(b), rel_tol=1e-12), (key, a, b)
    return n


def test_downloads_hold_the_numbers_of_kpi_observations_with_small_counts_suppressed(warehouse, pub, browser_session):
    obs, catalog = pub["obs"], pub["catalog"]
    hidden = expected_suppressed(obs, catalog)
    suppressed_seen = 0
    for kpi_id in (TOWNS_KPI, COUNT_KPI):
        with browser_session.page(kpi_url(warehouse, kpi_id)) as page:
            files = {}
            for link in ("#download-csv", "#download-xlsx"):
                href = page.locator(link).evaluate("a => a.href")
                files[link] = Path(unquote(urlparse(href).path))
                assert files[link].exists(), href
        mine = obs[obs.kpi_id == kpi_id]
        csv = pd.read_csv(files["#download-csv"], dtype={"geo_code": str}, encoding="utf-8-sig")
        xlsx = pd.read_excel(files["#download-xlsx"], sheet_name="data", dtype={"geo_code": str})
        assert list(csv.columns) == list(xlsx.columns)
        assert len(csv) == len(xlsx) == len(mine)
        n_csv, n_xlsx = _compare_download(csv, mine, hidden), _compare_download(xlsx, mine, hidden)
        assert n_csv == n_xlsx
        suppressed_seen += n_csv
        if kpi_id == COUNT_KPI:  # not per person: nothing hidden, integers in the file
            assert n_csv == 0
            assert "306.0" not in files["#download-csv"].read_text(encoding="utf-8-sig")
        about = pd.read_excel(files["#download-xlsx"], sheet_name="about")
        assert catalog.set_index("kpi_id").definition_en[kpi_id] in set(about.English)
    everything = pd.read_csv(warehouse.dashboard / "data" / "all_kpis.csv", dtype={"geo_code": str}, encoding="utf-8-sig")
    assert _compare_download(everything, obs, hidden) == len(hidden) > 0  # the sample has small counts: the rule is exercised
    assert suppressed_seen == len({h for h in hidden if h[0] == TOWNS_KPI})
    # the page marks the same cells: the town table of the latest year
    year = int(review_rows(pub["scorecard"], "latest").latest_year[TOWNS_KPI])
    with browser_session.page(kpi_url(warehouse, TOWNS_KPI)) as page:
        marked = set(page.locator('.towns-table[data-review="latest"] tbody tr.suppressed').evaluate_all(
            "rows => rows.map(r => r.dataset.geoCode)"))
    assert marked == {c for k, c, y in hidden if k == TOWNS_KPI and y == year}
    assert browser_session.errors == []
    assert browser_session.external == []


def _axe(page) -> list[dict]:
    from axe_playwright_python.sync_playwright import Axe

    # preload off: axe would fetch the style sheets again by XMLHttpRequest, which file: pages refuse
    # (a console error of the checker, not of the page); only css-orientation-lock needs them.
    result = Axe().run(page, options={"resultTypes": ["violations"], "preload": False})
    assert result.response["testEngine"]["name"] == "axe-core"
    return [v for v in result.response["violations"] if v["impact"] in ("serious", "critical")]


def test_axe_core_runs_offline_and_flags_a_bad_page(browser_session):
    """The checker itself works here (bundled axe.min.js, no network) and can fail."""
    bad = ('<html><head><title>x</title></head><body><main><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
           '<p style="color:#bbb;background:#fff">faint text</p><a href="#x"></a></main></body></html>')
    with browser_session.page("about:blank") as page:
        page.set_content(bad)
        ids = {v["id"] for v in _axe(page)}
    assert {"image-alt", "color-contrast", "link-name"} <= ids
    assert browser_session.external == []


def test_pages_are_accessible_fit_both_screens_and_stay_offline(warehouse, browser_session):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pages = {"overview": overview_url(warehouse), "kpi": kpi_url(warehouse, "funeral.eco_burial_rate")}
    for size, (width, height) in SIZES.items():
        for name, url in pages.items():
            for lang in (("zh", "en") if size == "laptop" else ("zh",)):
                with browser_session.page(url + ("#lang=en" if lang == "en" else ""), width, height) as page:
                    if name == "kpi":
                        page.wait_for_selector("#trend-chart .scatterlayer")
                        page.wait_for_selector("#towns-chart .bars .point")
                    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
                    assert widths[0] <= widths[1], (size, name, widths)  # no horizontal scrolling of the page
                    if lang == "zh":
                        page.screenshot(path=str(ARTIFACTS / f"dashboard_{name}_{width}x{height}.png"), full_page=name == "kpi")
                    if size == "laptop" or name == "kpi":
                        serious = _axe(page)
                        assert serious == [], (size, name, lang, [(v["id"], v["impact"], [n["target"] for n in v["nodes"][:3]]) for v in serious])
                    # plotly.js is one shared file, never inlined
                    scripts = page.evaluate("[...document.scripts].map(s => s.src ? 'src:' + s.src.split('/').pop() : 'inline:' + s.text.length)")
                    assert all(not s.startswith("inline:") or int(s.split(":")[1]) < 200_000 for s in scripts)
                    assert (name == "kpi") == ("src:plotly.min.js" in scripts)
    for size, (width, height) in SIZES.items():
        assert (ARTIFACTS / f"dashboard_overview_{width}x{height}.png").stat().st_size > 10_000
        assert (ARTIFACTS / f"dashboard_kpi_{width}x{height}.png").stat().st_size > 10_000
    assert browser_session.errors == []
    assert browser_session.external == []
