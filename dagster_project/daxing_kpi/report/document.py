"""The report as a list of blocks, written once and drawn twice (.docx and PDF).

:mod:`daxing_kpi.report.content` fills a :class:`Document` with the words, tables and charts;
:mod:`daxing_kpi.report.render_docx` and :mod:`daxing_kpi.report.render_pdf` draw the same blocks in
the layout of a Chinese government document (GB/T 9704-2012, 党政机关公文格式, as far as it applies to a
report): A4 portrait, the title centred in a large bold face, the date under it, level-1 headings
一、二、 in a bold sans (黑体), level-2 headings （一）（二） in bold, body text in a serif (宋体/仿宋)
with a two-character first-line indent, tables captioned 表1 with their unit line, figures captioned
图1 under the image, annexes (附件) on new pages, page numbers centred at the foot as — 1 —.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Heading:
    level: int  # 1: 一、 2: （一）
    text: str  # with its number: 一、总体情况


@dataclass
class Para:
    text: str
    lead: str | None = None  # a bold lead phrase before the text (情况说明：)
    indent: bool = True  # two-character first-line indent
    align: str = "justify"  # justify, center, right
    size: str = "body"  # body or small (notes)
    pending: bool = False  # the text is the 待填写 mark of a missing explanation (shown highlighted)


@dataclass
class Table:
    number: int
    caption: str  # without its number: 规划指标完成情况一览表
    header: list[str]
    rows: list[list[str]]
    widths: list[float]  # relative column widths
    unit_line: str | None = None  # 单位：… (above the table, right-aligned)
    notes: list[str] = field(default_factory=list)  # under the table
    align: list[str] | None = None  # per column: left, center, right
    highlight: set[int] = field(default_factory=set)  # row indexes drawn with a shaded background

    @property
    def title(self) -> str:
        return f"表{self.number}　{self.caption}"


@dataclass
class Figure:
    number: int
    caption: str
    path: Path

    @property
    def title(self) -> str:
        return f"图{self.number}　{self.caption}"


@dataclass
class PageBreak:
    pass


@dataclass
class Document:
    title: str
    subtitle: str | None  # a line under the title (（示例）…)
    date_line: str  # 2026年12月2日
    info_lines: list[str]  # 评估基准日 …, 数据截至 …
    blocks: list = field(default_factory=list)
    properties: dict = field(default_factory=dict)  # title, subject, keywords of the file

    def add(self, block) -> None:
        self.blocks.append(block)

    def tables(self) -> list[Table]:
        return [b for b in self.blocks if isinstance(b, Table)]

    def figures(self) -> list[Figure]:
        return [b for b in self.blocks if isinstance(b, Figure)]
