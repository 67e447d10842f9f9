"""The report's :class:`Document` as PDF (fpdf2), offline, with the machine's Chinese font embedded.

fpdf2 (pure Python, maintained by the py-pdf organisation) embeds a subset of each font used: only the
glyphs of the characters in the report, so the file stays small and reads the same on any computer. It
reads OpenType CFF fonts and ``.ttc`` collections (Debian's Noto CJK), which reportlab does not. The
layout follows :mod:`daxing_kpi.report.render_docx` (A4, GB/T 9704 margins, page number — N — at the
foot), with the machine's faces in the roles of the Chinese document fonts: a serif (宋体-like) for body
text and tables, a bold sans (黑体-like) for titles and level-1 headings. Headings are PDF bookmarks.
Raises :class:`daxing_kpi.report.fonts.FontsMissing` without a Chinese font.

Speed (a report of 48 pages, 25 tables of 7,000 cells, 29 charts: about 3 s): lines are broken here once,
with widths summed in font units (:func:`wrap_lines`); tables are drawn cell by cell in the layout of
fpdf2's ``FPDF.table``, which measured and broke every cell twice more (:func:`_table`); the faces are
read only for the characters of the document (:func:`_characters`, drawn again with whole faces should
a character be missing); fontTools does not recompute the subsets' bounding boxes (:func:`_setup`). Most
of what remains is fpdf2's work: reading the faces, subsetting them (fontTools runs every kept glyph's
CFF program), compressing the charts' pixels.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, MethodReturnValue, TableCellStyle, WrapMode, XPos, YPos

from daxing_kpi.report.document import Document, Figure, Heading, PageBreak, Para, Table
from daxing_kpi.report.fonts import ReportFonts, require_fonts

MARGIN_TOP, MARGIN_BOTTOM, MARGIN_LEFT, MARGIN_RIGHT = 37, 35, 28, 26  # mm (GB/T 9704)
TITLE_PT, BODY_PT, SMALL_PT, TABLE_PT = 20, 14, 10.5, 9
LINE = {"body": 8.2, "small": 5.6}  # mm per line
SHADE = (242, 220, 219)
HEADER_FILL = (217, 217, 217)
PENDING = (192, 0, 0)
TABLE_LINE = 4.6  # mm per line of a table cell
CELL_PAD = (1, 1.2, 1, 1.2)  # mm around a cell's text: top, right, bottom, left
_BORDER = TableCellStyle(left=True, bottom=True, right=True, top=True)  # a cell's frame, as FPDF.table draws it
ALIGN = {"left": Align.L, "center": Align.C, "right": Align.R, "justify": Align.J}


# Line breaking of Chinese text (禁则): closing punctuation never starts a line, opening punctuation never
# ends one, and a number stays whole with its sign and unit (56.4%, ≥1,500). fpdf2 breaks Chinese text
# anywhere, so the lines are made here and handed to it whole.
_OPEN = "（《「『【〔“‘([{差超"  # 差/超 stay with the number of a gap (差5,694)
_CLOSE = "，。、；：？！）》」』】〕”’％%…,.;:?!)]}"
_TOKEN = re.compile(rf"[{re.escape(_OPEN)}]*(?:[0-9A-Za-z.,%+\-_/～~≥≤×÷]+|.)[{re.escape(_CLOSE)}]*", re.S)
_EPS = 0.4  # mm kept free at the end of a line, so fpdf2 never re-breaks it


def wrap_lines(pdf: "_ReportPDF", text: str, width: float, first_width: float | None = None) -> list[str]:
    """``text`` in lines no wider than ``width`` mm (the first: ``first_width``) in the current font, broken
    by the rules of Chinese typesetting; explicit line breaks kept.

    Widths are summed in font units (:meth:`_ReportPDF.units`, exact integers) and compared in mm exactly
    as ``FPDF.get_string_width`` would compute them: the same lines, without measuring every growing line
    again (that made tables of a few thousand cells take seconds)."""
    lines: list[str] = []
    units, mm = pdf.units, pdf.units_to_mm
    limit = (first_width if first_width is not None else width) - _EPS
    for para in text.split("\n"):
        line, line_u = "", 0
        for token in _TOKEN.findall(para):
            token_u = units(token)
            if mm(line_u + token_u) <= limit or not line:
                if mm(token_u) > limit and not line:  # a token wider than the line: by character
                    for ch in token:
                        ch_u = units(ch)
                        if mm(line_u + ch_u) > limit and line:
                            lines.append(line)
                            line, line_u, limit = "", 0, width - _EPS
                        line, line_u = line + ch, line_u + ch_u
                    continue
                line, line_u = line + token, line_u + token_u
            else:
                lines.append(line)
                line, line_u, limit = token, token_u, width - _EPS
        lines.append(line)
        limit = width - _EPS
    return lines


class _ReportPDF(FPDF):
    """FPDF with the report's page footer and a fast measure of text widths."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._units_cache: dict[str, dict[str, int]] = {}  # font key -> text -> width in font units

    def units(self, text: str) -> int:
        """Advance width of ``text`` in the current font, in font units (1/1000 em, fpdf2's integer character
        widths ``current_font.cw``), without kerning or shaping (the report uses neither); cached by text."""
        font = self.current_font
        cache = self._units_cache.setdefault(font.fontkey, {})
        u = cache.get(text)
        if u is None:
            cw = font.cw
            u = cache[text] = sum(cw[ord(c)] for c in text)
        return u

    def units_to_mm(self, units: int) -> float:
        """``units`` (font units of the current font) in mm at the current font size, computed as fpdf2's
        ``get_string_width`` computes it (the same float: line breaks come out the same)."""
        return units * self.font_size_pt * 0.001 / self.k

    def footer(self) -> None:
        self.set_y(-MARGIN_BOTTOM + 12)
        self.set_font("body", size=12)
        self.set_text_color(0, 0, 0)
        self.cell(0, 8, f"— {self.page_no()} —", align=Align.C)


# Characters this module draws itself: page numbers (— 12 —), brackets of the date, the notes' 注：, indents.
_OWN_TEXT = "—（）注：\u3000" + "".join(map(chr, range(0x20, 0x7F)))


def _characters(doc: Document) -> set[int]:
    """Every character (code point) the PDF of ``doc`` draws: the document's text and :data:`_OWN_TEXT`."""
    texts = [_OWN_TEXT, doc.title, doc.subtitle or "", doc.date_line, *doc.info_lines]
    for b in doc.blocks:
        if isinstance(b, Heading):
            texts.append(b.text)
        elif isinstance(b, Para):
            texts += [b.text, b.lead or ""]
        elif isinstance(b, Table):
            texts += [b.title, b.unit_line or "", *b.header, *b.notes, *(v for row in b.rows for v in row)]
        elif isinstance(b, Figure):
            texts.append(b.title)
    return {ord(c) for text in texts for c in text}


def _setup(fonts: ReportFonts, doc: Document, chars: set[int] | None) -> _ReportPDF:
    """A PDF with the page layout and the faces of the report; only the characters ``chars`` of each face
    are read (``None``: all of them)."""
    pdf = _ReportPDF(orientation="P", unit="mm", format="A4")
    pdf.set_margins(MARGIN_LEFT, MARGIN_TOP, MARGIN_RIGHT)
    pdf.set_auto_page_break(True, margin=MARGIN_BOTTOM)
    # Only the faces drawn are loaded, and only for the characters drawn: fpdf2 reads a face's widths for
    # every character it is given (~0.3 s for the 45,000 of a CJK face) and subsets it at output. "heading"
    # is a bold face already (titles, headings, table headers: never "B"); the body's bold only draws the
    # 待填写 mark of a missing explanation.
    faces = [("body", "", fonts.body), ("body", "B", fonts.body_bold), ("heading", "", fonts.heading)]
    if not any(isinstance(b, Para) and b.pending for b in doc.blocks):
        del faces[1]
    for family, style, face in faces:
        pdf.add_font(family, style, str(face.path), collection_font_number=face.index, unicode_range=chars)
    for font in pdf.fonts.values():
        # fontTools would otherwise recompute the bounding boxes of the subset (hhea, vhea, the CFF FontBBox)
        # from every glyph's outline, twice: seconds for a CJK font. A PDF viewer draws with the charstrings
        # and the PDF's own widths and font descriptor (its FontBBox from the whole font's head table), so
        # the pages look the same.
        font.ttfont.recalcBBoxes = False
    pdf.set_title(doc.properties.get("title", doc.title))
    pdf.set_subject(doc.properties.get("subject", ""))
    pdf.set_keywords(doc.properties.get("keywords", ""))
    pdf.set_creator("daxing-kpi")
    pdf.set_lang("zh-CN")
    pdf.set_creation_date(dt.datetime.now(dt.timezone.utc))
    return pdf


def _para(pdf: FPDF, p: Para) -> None:
    size = BODY_PT if p.size == "body" else SMALL_PT
    line = LINE[p.size]
    indent = "\u3000\u3000" if p.indent else ""
    pdf.set_text_color(0, 0, 0)
    first = pdf.epw
    pdf.set_x(pdf.l_margin)
    if p.lead:  # the bold lead, then the text on the same line
        pdf.set_font("heading", size=size)
        pdf.cell(pdf.get_string_width(indent + p.lead), line, indent + p.lead)
        first = pdf.epw - pdf.get_string_width(indent + p.lead)
        indent = ""
    pdf.set_font("body", "B" if p.pending else "", size=size)
    if p.pending:
        pdf.set_text_color(*PENDING)
    lines = wrap_lines(pdf, indent + p.text, pdf.epw, first)
    align = Align.C if p.align == "center" else Align.R if p.align == "right" else Align.L
    for k, text in enumerate(lines):
        w = first if k == 0 else pdf.epw
        spacing = (w - pdf.get_string_width(text)) / max(len(text), 1)  # mm per character to fill the line
        # Chinese is justified by spacing the characters (fpdf2 only stretches spaces); a line cut short by the
        # line-breaking rules (more than a quarter character per character to fill) stays ragged
        justify = p.align == "justify" and k < len(lines) - 1 and len(text) > 1 and 0 < spacing < size * 0.3528 / 4
        if justify:
            pdf.set_char_spacing(spacing * 72 / 25.4)
        pdf.cell(w, line, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if justify:
            pdf.set_char_spacing(0)
    pdf.set_text_color(0, 0, 0)


@dataclass
class _Cell:
    """One table cell as drawn: its lines (already broken), face, size (pt), alignment and height (mm:
    the lines and the top and bottom padding; 0 for an empty cell)."""

    lines: list[str]
    family: str
    size: float
    align: Align
    height: float


def _cell(lines: list[str], family: str, size: float, align: Align) -> _Cell:
    height = 0.0
    if "\n".join(lines):  # a cell without text is drawn empty, its height 0 (as FPDF.table has it)
        for _ in lines:  # summed line by line, as fpdf2's multi_cell sums them: the same float
            height += TABLE_LINE
        height = height + CELL_PAD[0] + CELL_PAD[2]
    return _Cell(lines, family, size, align, height)


def _row_height(cells: list[_Cell]) -> float:
    """Height of a row (mm): its tallest cell's, one line for a row without text."""
    return max((c.height for c in cells), default=0.0) or TABLE_LINE


def _table_row(pdf: _ReportPDF, cells: list[_Cell], height: float, xs: list[float], widths: list[float], fill) -> None:
    """Draw one row ``height`` mm high at the current y, its cells at ``xs`` with ``widths`` (mm): each cell's
    frame and ``fill`` (an RGB tuple or ``None``), its lines centred vertically; then move y under the row."""
    y = pdf.y
    for c, x, w in zip(cells, xs, widths):
        _BORDER.draw_cell_border(pdf, x, y, x + w, y + height, fill_color=fill)
        if not c.height:
            continue
        pdf.set_font(c.family, "", c.size)
        pdf.x = x + CELL_PAD[3]
        pdf.y = y + (height - c.height) / 2
        pdf.y += CELL_PAD[0]
        for line in c.lines:
            pdf.cell(w - CELL_PAD[1] - CELL_PAD[3], TABLE_LINE, line, align=c.align, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_y(y)
    pdf.ln(height)


def _table(pdf: _ReportPDF, t: Table) -> None:
    """The table ``t`` with its caption, unit line and notes: all borders, the header row shaded and repeated
    at the top of every page, the rows of ``t.highlight`` shaded, cells centred vertically.

    Drawn cell by cell with ``FPDF.cell``, in the layout of fpdf2's ``FPDF.table`` with these settings (the
    pages come out the same): the table as wide as the text, centred on the page, the column widths in
    proportion to ``t.widths``, a row never split across pages nor the header left alone at the foot of one.
    ``FPDF.table`` broke and measured every cell's lines twice more (seconds for the 7,000 cells of a
    report); here they are broken once, by :func:`wrap_lines` (the header: by character, as fpdf2 does)."""
    if pdf.get_y() > pdf.h - pdf.b_margin - 35:  # the caption never sits alone at the foot of a page
        pdf.add_page()
    pdf.ln(2)
    pdf.set_font("heading", size=11)
    pdf.cell(0, 7, t.title, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if t.unit_line:
        pdf.set_font("body", size=SMALL_PT - 1)
        pdf.cell(0, 5, t.unit_line, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    # a table cell is never justified (Chinese has no spaces to stretch): left-aligned
    align = [ALIGN[a] if a != "justify" else Align.L for a in (t.align or ["left"] * len(t.header))]
    total = sum(t.widths)
    widths = [(w / total) * pdf.epw for w in t.widths]  # mm
    inner = [pdf.epw * w / total - 2.4 for w in t.widths]  # minus the cell's left and right padding

    def char_wrap(text: str, w: float) -> list[str]:  # as fpdf2 breaks a cell's text: by character, in the current font
        return pdf.multi_cell(w, TABLE_LINE, text, max_line_height=TABLE_LINE, padding=CELL_PAD, wrapmode=WrapMode.CHAR,
                              dry_run=True, output=MethodReturnValue.LINES)

    pdf.set_font("heading", size=TABLE_PT)
    header = [_cell(char_wrap(h, w), "heading", TABLE_PT, Align.C) for w, h in zip(widths, t.header)]
    pdf.set_font("body", size=TABLE_PT)
    rows: list[list[_Cell]] = []
    for values in t.rows:
        row = []
        for j, v in enumerate(values):
            # a number wider than its column is drawn smaller rather than broken (≥6,000)
            widest = pdf.units_to_mm(max((pdf.units(tok) for tok in _TOKEN.findall(v)), default=0))
            size = TABLE_PT if widest <= inner[j] - _EPS else max(6.5, TABLE_PT * (inner[j] - _EPS) / widest)
            if size != TABLE_PT:
                pdf.set_font("body", size=size)
            lines = wrap_lines(pdf, v, inner[j])
            if any(pdf.units_to_mm(pdf.units(line)) > inner[j] - 0.01 for line in lines):
                lines = char_wrap("\n".join(lines), widths[j])  # a word too wide even at 6.5 pt: broken as well
            row.append(_cell(lines, "body", size, align[j]))
            pdf.set_font("body", size=TABLE_PT)
        rows.append(row)

    header_h, row_hs = _row_height(header), [_row_height(r) for r in rows]
    fills = [SHADE if i in t.highlight else None for i in range(len(rows))]
    prev_l_margin, prev_c_margin = pdf.l_margin, pdf.c_margin
    # Centred on the page, as FPDF.table places it: its left margin while it is drawn (which also centres
    # the page number of a page that ends inside the table, as before), and no cell margin (the padding is).
    pdf.l_margin, pdf.c_margin = (pdf.w - pdf.epw) / 2, 0
    xs = [pdf.l_margin]
    for w in widths[:-1]:
        xs.append(xs[-1] + w)
    if pdf.will_page_break(header_h + (row_hs[0] if rows else 0.0)):  # the header with a row under it
        pdf.add_page()
    _table_row(pdf, header, header_h, xs, widths, HEADER_FILL)
    for row, height, fill in zip(rows, row_hs, fills):
        if pdf.will_page_break(height):
            pdf.add_page()
            _table_row(pdf, header, header_h, xs, widths, HEADER_FILL)
        _table_row(pdf, row, height, xs, widths, fill)
    pdf.l_margin, pdf.c_margin = prev_l_margin, prev_c_margin
    pdf.x = pdf.l_margin
    pdf.set_font("body", size=TABLE_PT)

    for k, note in enumerate(t.notes):
        pdf.set_font("body", size=SMALL_PT - 1.5)
        for text in wrap_lines(pdf, ("注：" if k == 0 else "\u3000\u3000") + note, pdf.epw):
            pdf.cell(pdf.epw, 4.6, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)


def _figure(pdf: FPDF, f: Figure) -> None:
    from PIL import Image

    with Image.open(f.path) as im:
        w_px, h_px = im.size
    h = pdf.epw * h_px / w_px
    if pdf.get_y() + h + 8 > pdf.h - pdf.b_margin:
        pdf.add_page()
    pdf.image(str(f.path), x=pdf.l_margin, w=pdf.epw, h=h, alt_text=f.title)
    pdf.set_font("heading", size=10.5)
    pdf.cell(0, 6, f.title, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)


def write_pdf(doc: Document, path: Path, fonts: ReportFonts | None = None) -> Path:
    """Write ``doc`` to ``path`` (PDF) with ``fonts`` (default: the machine's, :func:`require_fonts`)."""
    fonts = fonts or require_fonts()
    chars = _characters(doc)
    pdf = _render(doc, fonts, chars)
    if any(set(font.missing_glyphs) - chars for font in pdf.fonts.values()):
        pdf = _render(doc, fonts, None)  # a character drawn that _characters did not foresee: with whole faces
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path


def _render(doc: Document, fonts: ReportFonts, chars: set[int] | None) -> _ReportPDF:
    """``doc`` drawn page by page (see :func:`_setup` for ``chars``)."""
    pdf = _setup(fonts, doc, chars)
    pdf.add_page()
    pdf.set_font("heading", size=TITLE_PT)
    for line in wrap_lines(pdf, doc.title, pdf.epw):
        pdf.cell(pdf.epw, 11, line, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if doc.subtitle:
        pdf.set_font("body", size=BODY_PT)
        pdf.cell(0, 8, doc.subtitle, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_font("body", size=BODY_PT)
    pdf.cell(0, 8, f"（{doc.date_line}）", align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("body", size=SMALL_PT)
    for line in doc.info_lines:
        pdf.cell(0, 6, line, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    for b in doc.blocks:
        if isinstance(b, Heading):
            if b.level == 1 and pdf.get_y() > pdf.h - pdf.b_margin - 30:
                pdf.add_page()
            pdf.start_section(b.text, level=b.level - 1, strict=False)
            pdf.set_font("heading", size=BODY_PT if b.level == 1 else BODY_PT - 1)
            indent = "\u3000\u3000" if b.text[0] in "一二三四五六七八九十（" else ""
            pdf.ln(1)
            for text in wrap_lines(pdf, indent + b.text, pdf.epw):
                pdf.cell(pdf.epw, LINE["body"], text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        elif isinstance(b, Para):
            _para(pdf, b)
        elif isinstance(b, Table):
            _table(pdf, b)
        elif isinstance(b, Figure):
            _figure(pdf, b)
        elif isinstance(b, PageBreak):
            pdf.add_page()
    return pdf
