#!/usr/bin/env python
"""Pictures of the planners' workbooks for the planners' guide (docs/screenshots/plan_workbook_*.png,
docs/screenshots/explanations_workbook.png).

Each sheet is drawn as a spreadsheet would show it (column letters, row numbers, the workbook's own fills,
bold headers, column widths, merged title rows, a ▾ where a cell has a drop-down list, the sheet tabs) in an
HTML page, which headless Chromium (Debian's /usr/bin/chromium through Playwright, a test dependency:
``scripts/install.sh --test``) photographs. No spreadsheet program is needed.

    .venv/bin/python scripts/workbook_screenshots.py [--out docs/screenshots] [--explanations FILE.xlsx]

The plan workbook is the sample's example next plan, written by the product
(:func:`daxing_kpi.sample.example_plan.write_example_plan`), i.e. the template filled as a planner would.
The explanations workbook (情况说明填报表) is the file ``kpi report`` writes next to a report (give its path
with ``--explanations``; skipped without it).
"""

from __future__ import annotations

import argparse
import html
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

PLAN_SHEETS = {"规划": "plan_workbook_plan", "指标目标": "plan_workbook_targets"}
EXPLANATIONS_SHEET = ("情况说明", "explanations_workbook")


def _color(cell) -> str | None:
    fill = cell.fill
    if fill is None or fill.fill_type != "solid":
        return None
    rgb = fill.fgColor.rgb if fill.fgColor is not None and fill.fgColor.type == "rgb" else None
    return f"#{rgb[-6:]}" if isinstance(rgb, str) and len(rgb) >= 6 else None


def _value(v) -> str:
    if v is None:
        return ""
    if hasattr(v, "strftime"):
        return v.strftime("%Y-%m-%d")
    if isinstance(v, float) and v == int(v):
        return str(int(v))
    return str(v)


def sheet_html(wb, sheet_name: str, max_rows: int, max_cols: int, tall_rows: dict[int, int] | None = None) -> str:
    """An HTML page that looks like ``sheet_name`` of ``wb`` open in a spreadsheet program."""
    from openpyxl.utils import get_column_letter, range_boundaries

    ws = wb[sheet_name]
    nrows, ncols = min(ws.max_row, max_rows), min(ws.max_column, max_cols)
    merged = {}
    covered = set()
    for rng in ws.merged_cells.ranges:
        c0, r0, c1, r1 = range_boundaries(str(rng))
        merged[(r0, c0)] = (min(c1, ncols) - c0 + 1)
        covered |= {(r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)} - {(r0, c0)}
    dropdown = set()
    for dv in ws.data_validations.dataValidation:
        if dv.type == "list":
            for rng in dv.sqref.ranges:
                c0, r0, c1, r1 = range_boundaries(str(rng))
                dropdown |= {(r, c) for r in range(r0, min(r1, nrows) + 1) for c in range(c0, c1 + 1)}
    widths = [max(6.0, (ws.column_dimensions[get_column_letter(c)].width or 9)) * 7.2 for c in range(1, ncols + 1)]
    out = [f'<table style="width:{34 + sum(widths):.0f}px"><colgroup><col style="width:34px">']
    out += [f'<col style="width:{w:.0f}px">' for w in widths]
    out.append('</colgroup><tr class="letters"><th></th>')
    out += [f"<th>{get_column_letter(c)}</th>" for c in range(1, ncols + 1)]
    out.append("</tr>")
    for r in range(1, nrows + 1):
        height = (tall_rows or {}).get(r) or ws.row_dimensions[r].height
        style = f' style="height:{height * 1.33:.0f}px"' if height else ""
        out.append(f'<tr{style}><th class="rownum">{r}</th>')
        for c in range(1, ncols + 1):
            if (r, c) in covered:
                continue
            cell = ws.cell(row=r, column=c)
            css = []
            if (bg := _color(cell)):
                css.append(f"background:{bg}")
            font = cell.font
            if font is not None:
                if font.b:
                    css.append("font-weight:bold")
                if font.sz and font.sz != 11:
                    css.append(f"font-size:{font.sz * 1.2:.0f}px")
                if font.color is not None and font.color.type == "rgb" and isinstance(font.color.rgb, str):
                    css.append(f"color:#{font.color.rgb[-6:]}")
            if cell.alignment is not None and cell.alignment.horizontal == "center":
                css.append("text-align:center")
            if cell.alignment is not None and cell.alignment.wrap_text:
                css.append("white-space:normal")
            span = f' colspan="{merged[(r, c)]}"' if (r, c) in merged else ""
            text = html.escape(_value(cell.value))
            if (r, c) in dropdown and r == ws.min_row + 3 and text:  # the first data row shows its list arrow
                text += '<span class="dd">▾</span>'
            out.append(f'<td{span} style="{";".join(css)}">{text}</td>')
        out.append("</tr>")
    out.append("</table>")
    tabs = "".join(
        f'<span class="tab{" active" if name == sheet_name else ""}">{html.escape(name)}</span>'
        for name in wb.sheetnames if wb[name].sheet_state == "visible"
    )
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><style>
body {{ margin: 0; font-family: "Noto Sans CJK SC", "Noto Sans SC", sans-serif; font-size: 13px; background: #fff; }}
table {{ border-collapse: collapse; table-layout: fixed; }}
td, th {{ border: 1px solid #d4d4d4; padding: 2px 4px; overflow: hidden; white-space: nowrap; vertical-align: top; position: relative; }}
tr.letters th, th.rownum {{ background: #f3f3f3; color: #555; font-weight: normal; text-align: center; font-size: 12px; }}
.dd {{ position: absolute; right: 2px; top: 2px; padding: 0 3px; border: 1px solid #999; background: #eee; font-size: 10px; }}
.tabs {{ padding: 4px 0 6px 36px; border-top: 1px solid #bbb; background: #f3f3f3; }}
.tab {{ display: inline-block; padding: 3px 14px; margin-right: 2px; color: #333; }}
.tab.active {{ background: #fff; border-bottom: 2px solid #217346; color: #217346; font-weight: bold; }}
</style></head><body>{"".join(out)}<div class="tabs">{tabs}</div></body></html>"""


def shoot(pages: list[tuple[str, str]], out: Path, width: int = 1700) -> list[Path]:
    """Write each ``(name, html)`` page as ``out/<name>.png``, cut to the page's content."""
    from browser import BrowserSession

    out.mkdir(parents=True, exist_ok=True)
    written = []
    session = BrowserSession()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, page_html in pages:
                page_file = Path(tmp) / f"{name}.html"
                page_file.write_text(page_html, encoding="utf-8")
                with session.page(page_file.as_uri(), width, 400) as page:
                    box = page.evaluate("() => [document.querySelector('table').getBoundingClientRect().width,"
                                        " document.body.getBoundingClientRect().height]")
                    path = out / f"{name}.png"
                    page.screenshot(path=str(path), full_page=True,
                                    clip={"x": 0, "y": 0, "width": min(box[0] + 1, width), "height": box[1]})
                    written.append(path)
    finally:
        session.close()
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--explanations", type=Path, help="an explanations workbook (情况说明填报表.xlsx) written by kpi report")
    args = ap.parse_args(argv)
    from openpyxl import load_workbook

    from daxing_kpi.sample.example_plan import write_example_plan

    pages = []
    with tempfile.TemporaryDirectory() as tmp:
        wb = load_workbook(write_example_plan(Path(tmp), first_year=2026))
        for sheet, name in PLAN_SHEETS.items():
            pages.append((name, sheet_html(wb, sheet, max_rows=18, max_cols=11, tall_rows={2: 75})))
    if args.explanations:
        wb = load_workbook(args.explanations)
        pages.append((EXPLANATIONS_SHEET[1], sheet_html(wb, EXPLANATIONS_SHEET[0], max_rows=12, max_cols=12)))
    for path in shoot(pages, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
