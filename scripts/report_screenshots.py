"""Screenshots of the review report for the docs: pages of the PDF rendered to PNG with PDFium (pypdfium2).

    .venv/bin/python scripts/report_screenshots.py [--database analytics.duckdb] [--plan PLAN_ID] [--out docs/screenshots]

Builds the final review report from the published database (default ``$KPI_WAREHOUSE_DIR/analytics.duckdb``)
into a temporary folder and writes ``report_page<N>.png`` for the first page (summary), the page with the
targets table and the first page of the explanations (情况说明) and of the charts. pypdfium2 is a test extra
(``scripts/install.sh --test``); Debian's poppler-utils (pdftoppm) is not needed.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pypdfium2

from daxing_kpi.paths import PROJECT_ROOT
from daxing_kpi.report.build import build_report

MARKERS = {"summary": "一、总体情况", "targets": "表2", "explanations": "情况说明：", "charts": "图1"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database")
    parser.add_argument("--plan")
    parser.add_argument("--out", default=str(PROJECT_ROOT / "docs" / "screenshots"))
    parser.add_argument("--scale", type=float, default=1.4, help="pixels per PDF point (1.4: about 830 x 1180 for A4)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        result = build_report(args.database, args.plan, "final", Path(tmp))
        pdf = pypdfium2.PdfDocument(str(result.pdf))
        texts = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
        for name, marker in MARKERS.items():
            page = next((i for i, t in enumerate(texts) if marker in t and (name != "targets" or "指标（规划条目）" in t)), None)
            if page is None:
                continue
            path = out / f"report_{name}.png"
            pdf[page].render(scale=args.scale).to_pil().convert("RGB").save(path, optimize=True)
            print(f"page {page + 1} -> {path}")
        pdf.close()


if __name__ == "__main__":
    main()
