"""Town/street return forms (镇街报表): the Excel template the product provides.

Some counts are not kept in any department system; each of the 22 towns/streets reports them on
a return form (报表) instead, for instance the lists of demonstration sites (示范点). The product
provides one Excel workbook, ``seeds/templates/town_return_forms.xlsx``, with one sheet per form;
each town/street fills in a copy and drops it into the landing folder ``town_returns/``.

The forms are defined by the data contracts: a contract with a ``return_form`` block
(``sheet``, ``title_zh``, ``order``) is a sheet of the workbook, and its columns are the sheet's
header row, in contract order. The template (:func:`write_workbook` with no rows) and the
reading of the filled copies (:func:`daxing_kpi.ingest.ingest_source`) both follow the same
contracts, so they cannot drift; a test compares the committed template with a freshly built one. Regenerate it after changing a
form's contract with ``python -m daxing_kpi.returnforms``.

Layout of a sheet: row 1 the form's title (merged across the columns), row 2 the reporting
unit and date (填报单位 / 填报日期), row 3 the header, then one row per record and, in a
filled copy, a totals row (合计) (not on a sheet whose ``return_form`` says ``totals_row: false``).

The first sheet, 报送情况 (contract ``townreturn_submissions``), is the cover: one row per form the
town/street reports, with the date its lists are complete up to (数据截至日期) and the number of
records listed (填报个数; 0 for a form with nothing to list). It is what tells a report of zero (an
empty list with a cover row saying 0: the KPI is 0) from a town/street that sent nothing (no cover
row: 未报送, the KPI has no value that year); :func:`cover_rows` fills it from the lists. Columns with a closed list of values (towns/streets, allowed
values) get a drop-down list. The filled copies are read like any other landing file, by
:func:`daxing_kpi.ingest.ingest_source`: the contract's ``return_form.sheet`` selects the sheet,
title rows are skipped, the header is found by its contents and the totals row is accounted
for as such. A town/street's newer return replaces its earlier one (``delivery_scope``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from pathlib import Path

from daxing_kpi.ingest import Contract, load_contracts
from daxing_kpi.paths import SEEDS_DIR

TEMPLATE_PATH = SEEDS_DIR / "templates" / "town_return_forms.xlsx"
# Fixed timestamp inside the workbook file, so the same content always gives the same bytes
# (a re-sent identical file is then recognised by its SHA-256).
FIXED_TIME = dt.datetime(2026, 1, 1, 0, 0, 0)


def town_names() -> list[str]:
    """Names of the 22 towns/streets that report (``in_town_street_denominator = yes`` in ``seeds/townships.csv``)."""
    with open(SEEDS_DIR / "townships.csv", encoding="utf-8") as f:
        return [r["name_zh"] for r in csv.DictReader(f) if r["in_town_street_denominator"] == "yes"]


def form_contracts(contracts: dict[str, Contract] | None = None) -> list[Contract]:
    """The contracts that are sheets of the return-form workbook, in their ``order``."""
    contracts = load_contracts() if contracts is None else contracts
    forms = [c for c in contracts.values() if c.extra.get("return_form")]
    return sorted(forms, key=lambda c: (c.extra["return_form"].get("order", 99), c.source_id))


def form_sheet(contract: Contract) -> str:
    """Name of the contract's sheet in the return-form workbook."""
    return contract.extra["return_form"]["sheet"]


def _deterministic_zip(raw: bytes) -> bytes:
    """Rewrite an .xlsx (a zip file) with fixed entry timestamps: same content, same bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time here
                stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, data)
            dst.writestr(fixed, data)
    return out.getvalue()


def write_workbook(
    path: Path,
    rows_by_source: dict[str, list[list]] | None = None,
    unit_name: str = "",
    filled_date: dt.date | None = None,
    contracts: dict[str, Contract] | None = None,
) -> Path:
    """Write the return-form workbook to ``path``: blank (the template) or filled in.

    ``rows_by_source`` maps a form's ``source_id`` to its records, each a list of cell values in
    the contract's column order; a filled sheet ends with a totals row (合计). ``unit_name`` and
    ``filled_date`` go into row 2 (填报单位, 填报日期). Returns ``path``.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    forms = form_contracts(contracts)
    wb = Workbook()
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    wb.remove(wb.active)
    towns = town_names()
    for c in forms:
        ws = wb.create_sheet(form_sheet(c))
        headers = [col.header_zh for col in c.columns]
        ncol = len(headers)
        ws.append([c.extra["return_form"].get("title_zh", form_sheet(c))] + [None] * (ncol - 1))
        date_text = f"{filled_date.year}年{filled_date.month}月{filled_date.day}日" if filled_date else ""
        ws.append([f"填报单位(盖章):{unit_name}", None, None, f"填报日期:{date_text}"] + [None] * (ncol - 4))
        ws.append(headers)
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncol)
        ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=3)
        ws["A1"].font = Font(bold=True, size=14)
        ws["A1"].alignment = Alignment(horizontal="center")
        for j in range(1, ncol + 1):
            cell = ws.cell(row=3, column=j)
            cell.font = Font(bold=True)
            cell.border = box
            cell.alignment = Alignment(horizontal="center", wrap_text=True)
            ws.column_dimensions[get_column_letter(j)].width = max(10, 2.2 * len(headers[j - 1]) + 2)
        # drop-down lists for columns with a closed list of values (towns/streets, allowed values)
        for j, col in enumerate(c.columns, start=1):
            choices = towns if col.type == "town" else list(col.allowed or [])
            if choices:
                letter = get_column_letter(j)
                dv = DataValidation(type="list", formula1='"' + ",".join(choices) + '"', allow_blank=not col.required)
                dv.add(f"{letter}4:{letter}500")
                ws.add_data_validation(dv)
        if rows_by_source is not None:
            rows = rows_by_source.get(c.source_id, [])
            for r in rows:
                ws.append(list(r))
            if c.extra["return_form"].get("totals_row", True):
                ws.append(["合计", None, f"{len(rows)}个"] + [None] * (ncol - 3))
    wb.properties.creator = "daxing_kpi"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    buf = io.BytesIO()
    wb.save(buf)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_deterministic_zip(buf.getvalue()))
    return path


COVER_SOURCE = "townreturn_submissions"  # the contract of the cover sheet (报送情况)


def cover_rows(town_name: str, rows_by_source: dict[str, list[list]], reported_through: dt.date,
               contracts: dict[str, Contract] | None = None) -> list[list]:
    """The cover sheet's rows (contract ``townreturn_submissions``, in its column order) for a town/street
    that reports every form in ``rows_by_source``: 序号, 所属镇街, 报表名称 (the form's sheet name), 数据截至日期
    (``reported_through``), 填报个数 (the records listed: 0 for an empty list), 备注. A form missing from
    ``rows_by_source`` gets no cover row (not reported)."""
    forms = [c for c in form_contracts(contracts) if c.source_id != COVER_SOURCE and c.source_id in rows_by_source]
    return [[k, town_name, form_sheet(c), reported_through, len(rows_by_source[c.source_id]), None]
            for k, c in enumerate(forms, start=1)]


def write_template(path: Path = TEMPLATE_PATH) -> Path:
    """Write the blank template the towns/streets fill in (one sheet per form). Returns ``path``."""
    return write_workbook(path)


def main() -> None:
    """Regenerate the committed template from the contracts."""
    print(write_template())


if __name__ == "__main__":
    main()
