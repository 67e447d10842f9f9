#!/usr/bin/env python
"""Screenshots of the planners' dashboard for the README (docs/screenshots/).

Opens a built dashboard in headless Chromium (Debian's /usr/bin/chromium through Playwright, a
test dependency: ``scripts/install.sh --test``; no browser download, no request leaves the
machine) and writes, for a laptop (1366x768) and a phone (390x844) screen: the overview, the
top of one KPI page and its towns/streets comparison; plus the overview in English.

    .venv/bin/python scripts/dashboard_screenshots.py [--dashboard dashboards/build] [--out docs/screenshots]
                                                      [--kpi funeral.eco_burial_rate]

Exit code 1 when a page logs a console error or tries to load anything from the network.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

SIZES = {"laptop": (1366, 768), "phone": (390, 844)}


def take(dashboard: Path, out: Path, kpi_id: str) -> list[Path]:
    from browser import BrowserSession

    out.mkdir(parents=True, exist_ok=True)
    overview = (dashboard / "index.html").resolve().as_uri()
    kpi = (dashboard / "kpi" / f"{kpi_id}.html").resolve().as_uri()
    written = []
    session = BrowserSession()
    try:
        for size, (w, h) in SIZES.items():
            shots = [("overview", overview, None), ("kpi", kpi, None), ("kpi_towns", kpi, "#towns")]
            if size == "laptop":
                shots.append(("overview_en", overview + "#lang=en&review=mid_term", None))
            for name, url, anchor in shots:
                with session.page(url, w, h) as page:
                    if "kpi" in name:
                        page.wait_for_selector("#trend-chart .scatterlayer")
                    if anchor:
                        page.locator(anchor).scroll_into_view_if_needed()
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
    ap.add_argument("--kpi", default="funeral.eco_burial_rate", help="the KPI page to show")
    args = ap.parse_args(argv)
    if not (args.dashboard / "index.html").exists():
        ap.error(f"{args.dashboard}/index.html does not exist: run the nightly job (kpi run) first")
    for p in take(args.dashboard, args.out, args.kpi):
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
