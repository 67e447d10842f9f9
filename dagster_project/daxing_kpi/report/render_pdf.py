"""The report's :class:`Document` as PDF (fpdf2), offline, with the machine's Chinese font embedded.

fpdf2 (pure Python, maintained by the py-pdf organisation) embeds a subset of each font used: only the
glyphs of the characters in the report, so the file stays small and reads the same on any computer. It
reads OpenType CFF fonts and ``.ttc`` collections (Debian's Noto CJK), which reportlab does not. The
layout follows :mod:`daxing_kpi.report.render_docx` (A4, GB/T 9704 margins, page number — N — at the
foot), with the machine's faces in the roles of the Chinese document fonts: a serif (宋体-like) for body
text and tables, a bold sans (黑体-like) for titles and level-1 headings. Headings are PDF bookmarks.
Raises :class:`daxing_kpi.report.fonts.FontsMissing` without a Chinese font.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, WrapMode, XPos, YPos
from fpdf.fonts import FontFace

from daxing_kpi.report.document import Document, Figure, Heading, PageBreak, Para, Table
from daxing_kpi.report.fonts import ReportFonts, require_fonts

MARGIN_TOP, MARGIN_BOTTOM, MARGIN_LEFT, MARGIN_RIGHT = 37, 35, 28, 26  # mm (GB/T 9704)
TITLE_PT, BODY_PT, SMALL_PT, TABLE_PT = 20, 14, 10.5, 9
LINE = {"body": 8.2, "small": 5.6}  # mm per line
SHADE = (242, 220, 219)
HEADER_FILL = (217, 217, 217)
PENDING = (192, 0, 0)
ALIGN = {"left": Align.L, "center": Align.C, "right": Align.R, "justify": Align.J}


# Line breaking of Chinese text (禁则): closing punctuation never starts a line, opening punctuation never
# ends one, and a number stays whole with its sign and unit (56.4%, ≥1,500). fpdf2 breaks Chinese text
# anywhere, so the lines are made here and handed to it whole.
_OPEN = "（《「『【〔“‘([{差超"  # 差/超 stay with the number of a gap (差5,694)
_CLOSE = "，。、；：？！）》」』】〕”’％%…,.;:?!)]}"
_TOKEN = re.compile(rf"[{re.escape(_OPEN)}]*(?:[0-9A-Za-z.,%+\-_/～~≥≤×÷]+|.)[{re.escape(_CLOSE)}]*", re.S)
_EPS = 0.4  # mm kept free at the end of a line, so fpdf2 never re-breaks it


def wrap_lines(pdf: FPDF, text: str, width: float, first_width: float | None = None) -> list[str]:
    """``text`` in lines no wider than ``width`` (the first: ``first_width``) in the current font, broken
    by the rules of Chinese typesetting; explicit line breaks kept."""
    lines: list[str] = []
    limit = (first_width if first_width is not None else width) - _EPS
    for para in text.split("\n"):
        line = ""
        for token in _TOKEN.findall(para):
            if pdf.get_string_width(line + token) <= limit or not line:
                if pdf.get_string_width(token) > limit and not line:  # a token wider than the line: by character
                    for ch in token:
                        if pdf.get_string_width(line + ch) > limit and line:
                            lines.append(line)
                            line, limit = "", width - _EPS
                        line += ch
                    continue
                line += token
            else:
                lines.append(line)
                line, limit = token, width - _EPS
        lines.append(line)
        limit = width - _EPS
    return lines


class _ReportPDF(FPDF):
    def footer(self) -> None:
        self.set_y(-MARGIN_BOTTOM + 12)
        self.set_font("body", size=12)
        self.set_text_color(0, 0, 0)
        self.cell(0, 8, f"— {self.page_no()} —", align=Align.C)


def _setup(fonts: ReportFonts, doc: Document) -> _ReportPDF:
    pdf = _ReportPDF(orientation="P", unit="mm", format="A4")
    pdf.set_margins(MARGIN_LEFT, MARGIN_TOP, MARGIN_RIGHT)
    pdf.set_auto_page_break(True, margin=MARGIN_BOTTOM)
    pdf.add_font("body", "", str(fonts.body.path), collection_font_number=fonts.body.index)
    pdf.add_font("body", "B", str(fonts.body_bold.path), collection_font_number=fonts.body_bold.index)
    pdf.add_font("heading", "", str(fonts.heading.path), collection_font_number=fonts.heading.index)
    pdf.add_font("heading", "B", str(fonts.heading.path), collection_font_number=fonts.heading.index)
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


def _table(pdf: FPDF, t: Table) -> None:
    if pdf.get_y() > pdf.h - pdf.b_margin - 35:  # the caption never sits alone at the foot of a page
        pdf.add_page()
    pdf.ln(2)
    pdf.set_font("heading", size=11)
    pdf.cell(0, 7, t.title, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if t.unit_line:
        pdf.set_font("body", size=SMALL_PT - 1)
        pdf.cell(0, 5, t.unit_line, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("body", size=TABLE_PT)
    align = t.align or ["left"] * len(t.header)
    heading_style = FontFace(family="heading", emphasis="", size_pt=TABLE_PT, fill_color=HEADER_FILL)
    total = sum(t.widths)
    inner = [pdf.epw * w / total - 2.4 for w in t.widths]  # minus the cell's left and right padding
    with pdf.table(col_widths=t.widths, width=pdf.epw, line_height=4.6, wrapmode=WrapMode.CHAR, headings_style=heading_style,
                   repeat_headings=1, text_align="CENTER", padding=(1, 1.2, 1, 1.2), v_align="MIDDLE") as table:
        header = table.row()
        for h in t.header:
            header.cell(h, align=Align.C)
        for i, values in enumerate(t.rows):
            row = table.row()
            fill = SHADE if i in t.highlight else None
            for j, v in enumerate(values):
                # a number wider than its column is drawn smaller rather than broken (≥6,000)
                widest = max((pdf.get_string_width(tok) for tok in _TOKEN.findall(v)), default=0.0)
                size = TABLE_PT if widest <= inner[j] - _EPS else max(6.5, TABLE_PT * (inner[j] - _EPS) / widest)
                style = FontFace(fill_color=fill, size_pt=size) if fill or size != TABLE_PT else None
                if size != TABLE_PT:
                    pdf.set_font("body", size=size)
                text = "\n".join(wrap_lines(pdf, v, inner[j]))
                pdf.set_font("body", size=TABLE_PT)
                row.cell(text, align=ALIGN[align[j]], style=style)
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
    pdf = _setup(fonts, doc)
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
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path
