#!/usr/bin/env python
"""Screenshots of the planners' dashboard for the guides (docs/screenshots/).

Opens a built dashboard in headless Chromium (Debian's /usr/bin/chromium through Playwright, a
test dependency: ``scripts/install.sh --test``; no browser download, no request leaves the
machine) and writes, for a laptop (1366x768) and a phone (390x844) screen: the overview (it opens
on the plan's default view: the final review once the plan's target years have passed), the
towns/streets x KPIs table, the top of one KPI page and its towns/streets comparison, and one
town/street page; plus, on the laptop, the overview in English and the overview of every other
plan (``plan/<plan_id>/``: the example next plan as ``overview_example_plan_1366x768.png``).

    .venv/bin/python scripts/dashboard_screenshots.py [--dashboard dashboards/build] [--out docs/screenshots]
                                                      [--kpi social_org.community_social_orgs] [--town 110115105]

Exit code 1 when a page logs a console error or tries to load anything from the network.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

SIZES = {"laptop": (1366, 768), "phone": (390, 844)}


def shots(dashboard: Path, kpi_id: str, town: str) -> list[tuple[str, str, str | None, tuple[str, ...]]]:
    """``(name, url, element to scroll to, sizes)`` of every screenshot."""
    overview = (dashboard / "index.html").resolve().as_uri()
    kpi = (dashboard / "kpi" / f"{kpi_id}.html").resolve().as_uri()
    town_page = (dashboard / "town" / f"{town}.html").resolve().as_uri()
    out = [
        ("overview", overview, None, ("laptop", "phone")),
        ("overview_towns", overview, "#towns-overview", ("laptop", "phone")),
        ("kpi", kpi, None, ("laptop", "phone")),
        ("kpi_towns", kpi, "#towns", ("laptop", "phone")),
        ("town", town_page, None, ("laptop", "phone")),
        ("overview_en", overview + "#lang=en", None, ("laptop",)),
    ]
    for other in sorted((dashboard / "plan").glob("*/index.html")) if (dashboard / "plan").exists() else []:
        example = 'class="example-banner"' in other.read_text(encoding="utf-8")
        name = "overview_example_plan" if example else f"overview_plan_{other.parent.name}"
        out.append((name, other.resolve().as_uri(), None, ("laptop",)))
    return out


def take(dashboard: Path, out: Path, kpi_id: str, town: str) -> list[Path]:
    from browser import BrowserSession

    out.mkdir(parents=True, exist_ok=True)
    written = []
    session = BrowserSession()
    try:
        for name, url, anchor, sizes in shots(dashboard, kpi_id, town):
            for size in sizes:
                w, h = SIZES[size]
                with session.page(url, w, h) as page:
                    if name.startswith("kpi"):
                        page.wait_for_selector("#trend-chart .scatterlayer")
                    if anchor:
                        page.evaluate(f"document.querySelector('{anchor}').scrollIntoView({{block: 'start'}})")
                    page.wait_for_timeout(300)
                    path = out / f"{name}_{w}x{h}.png"
                    page.screenshot(path=str(path))
                    written.append(path)
    finally:
        session.close()
    if session.errors or session.external:
        print("console errors:", session.errors, "external requests:", session.external, file=sys.stderr)
        raise SystemExit(1)
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dashboard", type=Path, default=ROOT / "dashboards" / "build", help="built dashboard folder")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="where the PNG files go")
    ap.add_argument("--kpi", default="social_org.community_social_orgs", help="the KPI page to show")
    ap.add_argument("--town", default="110115105", help="the town/street page to show (geo_code)")
    args = ap.parse_args(argv)
    if not (args.dashboard / "index.html").exists():
        ap.error(f"{args.dashboard}/index.html does not exist: run the nightly job (kpi run) first")
    for p in take(args.dashboard, args.out, args.kpi, args.town):
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
