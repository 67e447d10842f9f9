"""A small, fast writer of Excel workbooks (.xlsx, Office Open XML) holding plain tables.

The dashboard writes one workbook per KPI and one for all KPIs of each plan every night, about
200,000 cells; openpyxl builds and styles an object per cell (about 18 µs a cell, most of the
dashboard's time). :func:`write_workbook` writes each sheet's XML as text instead (about 2 µs a cell,
compression included). What it writes, all the dashboard needs:

- cells of ``str`` (inline strings, as openpyxl's streaming writer writes them), ``int`` and
  ``float`` (numbers; floats with 16 significant digits as openpyxl writes them: 59.0 as 59),
  ``bool``, and ``None`` (no cell); another type raises ``TypeError``, a NaN or infinite float
  ``ValueError``; characters XML 1.0 forbids (control characters but tab and line breaks) are left
  out of strings;
- one style per row (:data:`STYLES`): plain, bold or shaded (light grey fill);
- column widths (in Excel's character units) and a frozen pane.

The package holds the parts openpyxl writes less its theme and document properties (both optional).
The tests read the files back with openpyxl and python-calamine (``pandas.read_excel``).
"""

from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from openpyxl.utils import coordinate_to_tuple, get_column_letter

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
SHADE_RGB = "00E5E7EB"  # the shaded rows' fill (#E5E7EB), as the downloads had it from openpyxl
# Row style -> index into the cellXfs of STYLES_XML.
STYLES = {None: 0, "plain": 0, "bold": 1, "shaded": 2}
STYLES_XML = (
    f'{XML_HEAD}<styleSheet xmlns="{MAIN_NS}">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b val="1"/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    f'<fill><patternFill patternType="solid"><fgColor rgb="{SHADE_RGB}"/></patternFill></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="2" borderId="0" xfId="0" applyFill="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass
class Sheet:
    """One worksheet: ``rows`` of ``(values, style)`` from row 1, ``style`` a key of :data:`STYLES`
    (a shaded or bold row styles its empty cells too, so the whole row reads as one);
    ``widths`` of the columns from A (characters); ``freeze``: the top-left cell of the part that
    scrolls (``"C2"`` keeps row 1 and columns A–B in view), or None."""

    name: str
    rows: Iterable[tuple[Sequence, str | None]]
    widths: Sequence[float] = ()
    freeze: str | None = None


def _pane(freeze: str | None) -> str:
    """The sheet view's frozen pane: everything above and left of cell ``freeze`` stays in view."""
    if not freeze:
        return '<selection activeCell="A1" sqref="A1"/>'
    row, col = coordinate_to_tuple(freeze)
    split = (f' xSplit="{col - 1}"' if col > 1 else "") + (f' ySplit="{row - 1}"' if row > 1 else "")
    active = "bottomRight" if col > 1 and row > 1 else ("bottomLeft" if row > 1 else "topRight")
    return (f'<pane{split} topLeftCell="{freeze}" activePane="{active}" state="frozen"/>'
            f'<selection pane="{active}" activeCell="{freeze}" sqref="{freeze}"/>')


def _sheet_xml(sheet: Sheet) -> str:
    """The worksheet part of one sheet (``xl/worksheets/sheetN.xml``)."""
    cols = "".join(f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>' for i, w in enumerate(sheet.widths, start=1))
    out = [f'{XML_HEAD}<worksheet xmlns="{MAIN_NS}"><sheetViews><sheetView workbookViewId="0">{_pane(sheet.freeze)}</sheetView></sheetViews>'
           f'<sheetFormatPr defaultRowHeight="15"/>{f"<cols>{cols}</cols>" if cols else ""}<sheetData>']
    starts: list[str] = []  # '<c r="A' ... per column
    for n, (values, style) in enumerate(sheet.rows, start=1):
        s = STYLES[style]
        ref = f'{n}" s="{s}"' if s else f'{n}"'  # the rest of each cell's reference (and style)
        if len(starts) < len(values):
            starts = [f'<c r="{get_column_letter(i)}' for i in range(1, len(values) + 1)]
        cells = []
        for start, v in zip(starts, values, strict=False):
            kind = type(v)
            if kind is str:  # an inline string, blanks at either end kept; characters XML forbids go below
                text = v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                space = ' xml:space="preserve"' if text != text.strip() else ""
                cells.append(f'{start}{ref} t="inlineStr"><is><t{space}>{text}</t></is></c>')
            elif v is None:
                if s:
                    cells.append(f"{start}{ref}/>")
            elif kind is bool:
                cells.append(f'{start}{ref} t="b"><v>{int(v)}</v></c>')
            elif isinstance(v, int):
                cells.append(f"{start}{ref}><v>{v}</v></c>")
            elif isinstance(v, float):
                if not math.isfinite(v):
                    raise ValueError(f"sheet {sheet.name!r}, row {n}: {v} cannot be written to Excel")
                cells.append(f"{start}{ref}><v>{v:.16g}</v></c>")  # as openpyxl writes them: 59.0 as 59
            else:
                raise TypeError(f"sheet {sheet.name!r}, row {n}: cannot write a {type(v).__name__}")
        out.append(f'<row r="{n}">{"".join(cells)}</row>')
    out.append('</sheetData><pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/></worksheet>')
    return _NOT_XML.sub("", "".join(out))  # characters XML forbids: only strings can hold them


def write_workbook(path: Path, sheets: Sequence[Sheet]) -> None:
    """Write ``sheets`` (in order, the first one shown on opening) as the workbook ``path``."""
    n = len(sheets)
    overrides = "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
                        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                        for i in range(1, n + 1))
    parts = {
        "[Content_Types].xml": (
            f'{XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            f"{overrides}</Types>"),
        "_rels/.rels": (
            f'{XML_HEAD}<Relationships xmlns="{PKG_REL_NS}"><Relationship Id="rId1" '
            f'Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (
            f'{XML_HEAD}<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><bookViews><workbookView activeTab="0"/></bookViews><sheets>'
            + "".join(f'<sheet name={quoteattr(s.name)} sheetId="{i}" r:id="rId{i}"/>' for i, s in enumerate(sheets, start=1))
            + '</sheets><calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>'),
        "xl/_rels/workbook.xml.rels": (
            f'{XML_HEAD}<Relationships xmlns="{PKG_REL_NS}">'
            + "".join(f'<Relationship Id="rId{i}" Type="{REL_NS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                      for i in range(1, n + 1))
            + f'<Relationship Id="rId{n + 1}" Type="{REL_NS}/styles" Target="styles.xml"/></Relationships>'),
        "xl/styles.xml": STYLES_XML,
        **{f"xl/worksheets/sheet{i}.xml": _sheet_xml(sheet) for i, sheet in enumerate(sheets, start=1)},  # raises before writing
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, text in parts.items():
            z.writestr(name, text)


__all__ = ["Sheet", "STYLES", "write_workbook"]
