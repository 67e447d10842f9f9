"""The report's :class:`Document` as a Word file (.docx, python-docx).

Word draws the text with the reader's fonts: the East Asian font names are the ones a Chinese Windows
installation has (宋体 for the title, 黑体 for level-1 headings, 楷体 for level-2 headings, 仿宋 for body
text, as GB/T 9704 prescribes), with Latin text in Times New Roman. No font is embedded, so the .docx
needs no font on the machine that writes it. Page: A4 portrait, margins 37/35/28/26 mm (top, bottom,
left, right); body text 三号 (16 pt) with a fixed 28 pt line pitch; tables 五号 (10.5 pt) with the header
row repeated on every page; page number — N — centred in the footer.
"""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path

from docx import Document as new_docx
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt, RGBColor

from daxing_kpi.report.document import Document, Figure, Heading, PageBreak, Para, Table

LATIN = "Times New Roman"
TITLE_FONT, H1_FONT, H2_FONT, BODY_FONT, TABLE_FONT = "宋体", "黑体", "楷体", "仿宋", "宋体"
TITLE_PT, BODY_PT, SMALL_PT, TABLE_PT, LINE_PT = 22, 16, 12, 10.5, 28
ALIGN = {"left": WD_ALIGN_PARAGRAPH.LEFT, "center": WD_ALIGN_PARAGRAPH.CENTER, "right": WD_ALIGN_PARAGRAPH.RIGHT,
         "justify": WD_ALIGN_PARAGRAPH.JUSTIFY}
SHADE = "F2DCDB"  # rows of targets not achieved
PENDING_COLOR = RGBColor(0xC0, 0x00, 0x00)


def _fonts(run_or_style, east_asia: str, size: float | None = None, bold: bool | None = None) -> None:
    font = run_or_style.font
    font.name = LATIN
    if size is not None:
        font.size = Pt(size)
    if bold is not None:
        font.bold = bold
    rpr = run_or_style.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    for attr in ("w:ascii", "w:hAnsi"):
        rfonts.set(qn(attr), LATIN)
    rfonts.set(qn("w:eastAsia"), east_asia)


def _spacing(paragraph, before: float = 0, after: float = 0, exact: float | None = LINE_PT) -> None:
    pf = paragraph.paragraph_format
    pf.space_before, pf.space_after = Pt(before), Pt(after)
    if exact:
        pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        pf.line_spacing = Pt(exact)


def _page_number_footer(section) -> None:
    p = section.footer.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _fonts(p.add_run("— "), "宋体", 14)
    run = p.add_run()
    _fonts(run, "宋体", 14)
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        else:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = text
        run._r.append(el)
    _fonts(p.add_run(" —"), "宋体", 14)


def _shade(cell, color: str) -> None:
    tcpr = cell._tc.get_or_add_tcPr()
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), color)
    tcpr.append(shd)


def _repeat_header(row) -> None:
    trpr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    trpr.append(el)


def _cell_text(cell, text: str, align: str, bold: bool = False, size: float = TABLE_PT) -> None:
    p = cell.paragraphs[0]
    p.alignment = ALIGN[align]
    _spacing(p, exact=None)
    p.paragraph_format.line_spacing = 1.0
    _fonts(p.add_run(text), TABLE_FONT, size, bold)


class _CellWriter:
    """Writes table cells (width, text, shading) as python-docx would, faster: the first cell of each format
    (width, alignment, bold, size, shading) through python-docx (:func:`_cell_text`, :func:`_shade`), every
    later one as a copy of that cell's properties and paragraph XML with its own text. The same XML, without
    python-docx's element-by-element work for each of a report's few thousand cells."""

    def __init__(self) -> None:
        self._formatted: dict[tuple, tuple] = {}  # format -> (the cell's <w:tcPr>, an empty formatted <w:p>)

    def __call__(self, cell, text: str, width, align: str, bold: bool = False, size: float = TABLE_PT,
                 shade: str | None = None) -> None:
        """Fill ``cell`` (fresh from ``add_table``: default properties, one empty paragraph) with ``text``,
        ``width`` (a python-docx Length), ``align``, ``bold``, ``size`` (pt) and ``shade`` (hex RGB or None)."""
        key = (width, align, bold, size, shade)
        tc, p = cell._tc, cell.paragraphs[0]
        formatted = self._formatted.get(key)
        if formatted is None:
            cell.width = width
            _cell_text(cell, "", align, bold, size)
            if shade:
                _shade(cell, shade)
            self._formatted[key] = (deepcopy(tc.tcPr), deepcopy(p._p))
        else:
            tc_pr, p_el = formatted
            tc.replace(tc.tcPr, deepcopy(tc_pr))
            p._p.extend(deepcopy(child) for child in p_el)
        if text and not any(c in text for c in "\t\r\n"):
            p._p.r_lst[0].add_t(text)  # what Run.text writes for text without tabs or line breaks: one <w:t>
        elif text:
            p.runs[0].text = text  # tabs and line breaks as Word's own elements


def _table(docx, t: Table, text_width_cm: float) -> None:
    cap = docx.add_paragraph()
    cap.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _spacing(cap, before=6, exact=None)
    _fonts(cap.add_run(t.title), H1_FONT, 12, False)
    if t.unit_line:
        u = docx.add_paragraph()
        u.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        _spacing(u, exact=None)
        _fonts(u.add_run(t.unit_line), BODY_FONT, 10.5)
    table = docx.add_table(rows=1 + len(t.rows), cols=len(t.header))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    total = sum(t.widths)
    widths = [Cm(text_width_cm * w / total) for w in t.widths]
    align = t.align or ["left"] * len(t.header)
    write = _CellWriter()
    rows = list(table.rows)
    for cell, width, h in zip(rows[0].cells, widths, t.header):
        write(cell, h, width, "center", bold=True, shade="D9D9D9")
    _repeat_header(rows[0])
    for i, (row, values) in enumerate(zip(rows[1:], t.rows)):
        shade = SHADE if i in t.highlight else None
        for cell, width, a, value in zip(row.cells, widths, align, values):
            write(cell, value, width, a, shade=shade)
    for note in t.notes:
        p = docx.add_paragraph()
        _spacing(p, exact=None)
        _fonts(p.add_run("注：" + note if note == t.notes[0] else "　　" + note), BODY_FONT, 10.5)


def write_docx(doc: Document, path: Path) -> Path:
    """Write ``doc`` to ``path`` (.docx); returns ``path``."""
    docx = new_docx()
    section = docx.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.footer_distance = Mm(20)
    text_width_cm = (210 - 28 - 26) / 10
    normal = docx.styles["Normal"]
    _fonts(normal, BODY_FONT, BODY_PT)
    for name, font, size in (("Heading 1", H1_FONT, BODY_PT), ("Heading 2", H2_FONT, BODY_PT)):
        style = docx.styles[name]
        _fonts(style, font, size, name == "Heading 2")
        style.font.color.rgb = RGBColor(0, 0, 0)
        style.font.italic = False
    _page_number_footer(section)
    props = docx.core_properties
    props.title = doc.properties.get("title", doc.title)
    props.subject = doc.properties.get("subject", "")
    props.keywords = doc.properties.get("keywords", "")
    props.author = ""

    p = docx.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _spacing(p, before=0, after=12, exact=None)
    _fonts(p.add_run(doc.title), TITLE_FONT, TITLE_PT, True)
    if doc.subtitle:
        p = docx.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _fonts(p.add_run(doc.subtitle), H2_FONT, BODY_PT)
    p = docx.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _spacing(p, after=6)
    _fonts(p.add_run(f"（{doc.date_line}）"), H2_FONT, BODY_PT)
    for line in doc.info_lines:
        p = docx.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _spacing(p, exact=None)
        _fonts(p.add_run(line), BODY_FONT, SMALL_PT)

    for b in doc.blocks:
        if isinstance(b, Heading):
            h = docx.add_heading(level=b.level)
            _spacing(h, before=6 if b.level == 1 else 0)
            h.paragraph_format.first_line_indent = Pt(BODY_PT * 2) if b.text[0] in "一二三四五六七八九十（" else None
            _fonts(h.add_run(b.text), H1_FONT if b.level == 1 else H2_FONT, BODY_PT, b.level == 2)
        elif isinstance(b, Para):
            p = docx.add_paragraph()
            p.alignment = ALIGN[b.align]
            size = BODY_PT if b.size == "body" else SMALL_PT
            _spacing(p, exact=LINE_PT if b.size == "body" else None)
            if b.indent:
                p.paragraph_format.first_line_indent = Pt(size * 2)
            if b.lead:
                _fonts(p.add_run(b.lead), H2_FONT, size, True)
            run = p.add_run(b.text)
            _fonts(run, BODY_FONT, size)
            if b.pending:
                run.font.color.rgb = PENDING_COLOR
                run.font.bold = True
        elif isinstance(b, Table):
            _table(docx, b, text_width_cm)
        elif isinstance(b, Figure):
            docx.add_picture(str(b.path), width=Cm(text_width_cm))
            docx.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
            cap = docx.add_paragraph()
            cap.alignment = WD_ALIGN_PARAGRAPH.CENTER
            _spacing(cap, after=6, exact=None)
            _fonts(cap.add_run(b.title), H1_FONT, 12)
        elif isinstance(b, PageBreak):
            docx.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    path.parent.mkdir(parents=True, exist_ok=True)
    docx.save(str(path))
    return path
