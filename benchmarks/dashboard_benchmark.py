#!/usr/bin/env python
"""Size and load time of the planners' dashboard (a benchmark, not a test).

Prints the dashboard's total size on disk, by part (plotly.js, pages, downloads, dbt docs), and the
load time of the overview and of a KPI page in headless Chromium (Debian's /usr/bin/chromium through
Playwright; every request that would leave the machine is refused and counted): time to
DOMContentLoaded, to the load event, and until the KPI page's charts are drawn; median and worst of
``--runs`` fresh loads. With ``--db`` it first builds the dashboard from that published database
into a temporary folder and prints the build time too.

    .venv/bin/python benchmarks/dashboard_benchmark.py [--dashboard dashboards/build] [--runs 5]
    .venv/bin/python benchmarks/dashboard_benchmark.py --db warehouse/analytics.duckdb
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

TIMING_JS = """() => { const n = performance.getEntriesByType('navigation')[0];
    return {dom: n.domContentLoadedEventEnd, load: n.loadEventEnd, transfer: n.transferSize}; }"""


def sizes(folder: Path) -> dict[str, tuple[int, int]]:
    """Bytes and file count per part of the dashboard folder."""
    parts: dict[str, list[int]] = {}
    for p in folder.rglob("*"):
        if not p.is_file():
            continue
        rel = p.relative_to(folder).as_posix()
        if rel == "assets/plotly.min.js":
            key = "plotly.js (assets/plotly.min.js, once)"
        elif rel.startswith("assets/"):
            key = "style sheet and page script (assets/)"
        elif rel == "index.html":
            key = "overview (index.html)"
        elif rel.startswith("kpi/"):
            key = "KPI pages (kpi/*.html)"
        elif rel.startswith("data/"):
            key = "downloads (data/*.csv, *.xlsx)"
        elif rel.startswith("docs/"):
            key = "dbt docs (docs/)"
        elif rel.startswith("quality/"):
            key = "quality Data Docs (quality/)"
        else:
            key = "other"
        parts.setdefault(key, []).append(p.stat().st_size)
    return {k: (sum(v), len(v)) for k, v in sorted(parts.items())}


def load_times(folder: Path, kpi_id: str, runs: int) -> dict[str, list[dict]]:
    from browser import BrowserSession

    session = BrowserSession()
    results: dict[str, list[dict]] = {"overview": [], "kpi": []}
    try:
        for _ in range(runs):
            for name, path in (("overview", folder / "index.html"), ("kpi", folder / "kpi" / f"{kpi_id}.html")):
                t0 = time.perf_counter()
                with session.page(path.resolve().as_uri()) as page:
                    if name == "kpi":
                        page.wait_for_selector("#trend-chart .scatterlayer")
                        if page.locator("#towns-chart").count():
                            page.wait_for_selector("#towns-chart .bars .point")
                    else:
                        page.wait_for_selector(".kpi-card")
                    wall = (time.perf_counter() - t0) * 1000
                    timing = page.evaluate(TIMING_JS)
                    drawn = page.evaluate("performance.now()")
                results[name].append({"dom": timing["dom"], "load": timing["load"], "drawn": drawn, "wall": wall})
    finally:
        session.close()
    if session.errors or session.external:
        print(f"console errors: {session.errors}\nrequests refused (would leave the machine): {session.external}")
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dashboard", type=Path, default=ROOT / "dashboards" / "build")
    ap.add_argument("--db", type=Path, help="build the dashboard from this published database first")
    ap.add_argument("--kpi", default="eldercare.care_workers_per_10k_elderly")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    folder = args.dashboard
    tmp = None
    if args.db:
        from daxing_kpi.dashboard import build_dashboard

        tmp = tempfile.TemporaryDirectory(prefix="dashboard-bench-")
        t0 = time.perf_counter()
        folder = build_dashboard(args.db, Path(tmp.name) / "build").parent
        print(f"build: {time.perf_counter() - t0:.1f} s from {args.db}")
    if not (folder / "index.html").exists():
        ap.error(f"{folder}/index.html does not exist: run the nightly job (kpi run) or pass --db")
    parts = sizes(folder)
    total = sum(b for b, _ in parts.values())
    print(f"dashboard: {folder}")
    print(f"total size: {total / 1e6:.2f} MB in {sum(n for _, n in parts.values())} files")
    for key, (b, n) in parts.items():
        print(f"  {key:<42} {b / 1e6:8.2f} MB  {n:4d} files")
    print(f"load time in headless Chromium ({args.runs} fresh loads each, ms: median / worst):")
    for name, rows in load_times(folder, args.kpi, args.runs).items():
        label = "overview" if name == "overview" else f"KPI page {args.kpi}"
        stats = {k: (statistics.median(r[k] for r in rows), max(r[k] for r in rows)) for k in ("dom", "load", "drawn", "wall")}
        print(f"  {label}: DOMContentLoaded {stats['dom'][0]:.0f} / {stats['dom'][1]:.0f}, load {stats['load'][0]:.0f} / "
              f"{stats['load'][1]:.0f}, {'charts drawn' if name == 'kpi' else 'cards shown'} {stats['drawn'][0]:.0f} / "
              f"{stats['drawn'][1]:.0f}; wall clock incl. browser context {stats['wall'][0]:.0f} / {stats['wall'][1]:.0f}")
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
