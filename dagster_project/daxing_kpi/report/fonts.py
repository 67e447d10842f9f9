"""The Chinese (CJK) fonts the review report's PDF and charts are drawn with, found on the machine.

A PDF shows Chinese only with a font that has the glyphs, embedded in the file (a subset: only the
characters used), so the PDF reads the same on any computer. The product ships no font: it uses one
installed on the machine. ``scripts/install.sh`` installs Debian's ``fonts-noto-cjk`` (Noto Serif CJK
and Noto Sans CJK, SIL Open Font License) when no Chinese font is found; any other font with Chinese
glyphs works too (TrueType or OpenType, a ``.ttc`` collection included).

Where the fonts come from, first found wins:

1. ``$KPI_REPORT_FONT``: a font file (``.ttf``, ``.otf``, ``.ttc``; ``path#N`` for face N of a
   collection) used for every role; ``$KPI_REPORT_FONT_BOLD`` optionally for headings.
2. fontconfig (``fc-list :lang=zh-cn``): the preferred families of :data:`PREFERRED` (a serif, 宋体-like,
   for body text; a bold sans, 黑体-like, for headings), else any font that covers Chinese.
3. Without fontconfig: the usual font folders, by file name (:data:`FILE_PATTERNS`).

:func:`find_fonts` returns ``None`` when none is found; the report then writes the .docx only (Word
draws it with the reader's own Chinese fonts) and says that the PDF and the charts need a Chinese font
(:class:`FontsMissing` carries that message).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

FONT_ENV, BOLD_FONT_ENV = "KPI_REPORT_FONT", "KPI_REPORT_FONT_BOLD"
# Family names by role, best first (fontconfig names). Simplified-Chinese faces first: the same
# character is drawn differently in the Japanese or Traditional faces of a collection.
PREFERRED = {
    "body": ("Noto Serif CJK SC", "Source Han Serif SC", "Source Han Serif CN", "SimSun", "宋体", "AR PL UMing CN",
             "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "SimHei", "黑体"),
    "heading": ("Noto Sans CJK SC", "Source Han Sans SC", "Source Han Sans CN", "SimHei", "黑体", "WenQuanYi Zen Hei",
                "WenQuanYi Micro Hei", "Noto Serif CJK SC"),
}
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts", "C:/Windows/Fonts")
FILE_PATTERNS = ("NotoSerifCJK*", "NotoSansCJK*", "SourceHan*", "wqy-*", "simsun*", "simhei*", "msyh*", "uming*")
MISSING_MESSAGE = (
    "no font with Chinese characters was found on this machine: the report's PDF and charts need one. "
    "Install Debian's fonts-noto-cjk (apt-get install fonts-noto-cjk; scripts/install.sh does it), or set "
    f"{FONT_ENV} to a .ttf/.otf/.ttc font file with Chinese characters. The .docx is written all the same."
)


class FontsMissing(RuntimeError):
    """No Chinese font: the PDF and the charts cannot be drawn (the message says what to install)."""

    def __init__(self, message: str = MISSING_MESSAGE):
        super().__init__(message)


@dataclass(frozen=True)
class Face:
    """One font face: its file, its index in a collection (0 for a single font) and its family name."""

    path: Path
    index: int
    family: str
    bold: bool = False


@dataclass(frozen=True)
class ReportFonts:
    """The faces of the report: ``body`` (regular text, tables), ``body_bold`` and ``heading`` (titles)."""

    body: Face
    body_bold: Face
    heading: Face

    def describe(self) -> str:
        return ", ".join(f"{role} {f.family} ({f.path.name}#{f.index})" for role, f in
                         (("body", self.body), ("bold", self.body_bold), ("heading", self.heading)))


def _face_from_spec(spec: str, bold: bool = False) -> Face:
    path, _, index = spec.partition("#")
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"{FONT_ENV if not bold else BOLD_FONT_ENV}={spec}: no such font file")
    idx = int(index) if index.strip() else _simplified_index(p)
    return Face(p, idx, _family_name(p, idx), bold)


def _fc_list() -> list[Face]:
    """Faces fontconfig knows that cover Simplified Chinese."""
    if not shutil.which("fc-list"):
        return []
    try:
        out = subprocess.run(["fc-list", ":lang=zh-cn", "--format", "%{file}|%{index}|%{family[0]}|%{weight}\n"],
                             capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    faces = []
    for line in out.splitlines():
        parts = line.split("|")
        if len(parts) != 4 or not parts[0]:
            continue
        try:
            weight = float(parts[3] or 80)
        except ValueError:
            weight = 80.0
        faces.append(Face(Path(parts[0]), int(parts[1] or 0), parts[2], weight >= 180))  # 200 = bold in fontconfig
    return faces


def _scan_folders() -> list[Face]:
    faces = []
    for folder in FONT_DIRS:
        root = Path(folder).expanduser()
        if not root.is_dir():
            continue
        for pattern in FILE_PATTERNS:
            for p in sorted(root.rglob(pattern)):
                if p.suffix.lower() in (".ttf", ".otf", ".ttc", ".otc"):
                    idx = _simplified_index(p)
                    faces.append(Face(p, idx, _family_name(p, idx), "bold" in p.name.lower()))
    return faces


def _names(path: Path) -> list[str]:
    """Family names of every face of a font file (fontTools, installed with matplotlib and fpdf2)."""
    from fontTools.ttLib import TTCollection, TTFont

    try:
        if path.suffix.lower() in (".ttc", ".otc"):
            fonts = TTCollection(str(path), lazy=True).fonts
        else:
            fonts = [TTFont(str(path), lazy=True)]
        return [f["name"].getBestFamilyName() or "" for f in fonts]
    except Exception:  # noqa: BLE001 - an unreadable font file is skipped
        return []


def _simplified_index(path: Path) -> int:
    names = _names(path)
    for i, n in enumerate(names):
        if re.search(r"\b(SC|CN|GB)\b|简", n):
            return i
    return 0


def _family_name(path: Path, index: int) -> str:
    names = _names(path)
    return names[index] if index < len(names) else path.stem


def _pick(faces: list[Face], role: str, bold: bool) -> Face | None:
    for family in PREFERRED[role]:
        for f in faces:
            if f.family == family and f.bold == bold:
                return f
    # a family not in the list: Simplified-Chinese faces first, the right weight first
    ranked = sorted(faces, key=lambda f: (not re.search(r"\b(SC|CN|GB)\b", f.family), f.bold != bold, str(f.path), f.index))
    return ranked[0] if ranked else None


@lru_cache(maxsize=1)
def find_fonts() -> ReportFonts | None:
    """The report's fonts (see the module docstring), or ``None`` when the machine has no Chinese font.

    Raises ``FileNotFoundError`` when ``$KPI_REPORT_FONT`` names a file that does not exist."""
    if os.environ.get(FONT_ENV):
        body = _face_from_spec(os.environ[FONT_ENV])
        bold = _face_from_spec(os.environ[BOLD_FONT_ENV], bold=True) if os.environ.get(BOLD_FONT_ENV) else body
        return ReportFonts(body, bold, bold)
    faces = [f for f in _fc_list() if f.path.is_file()] or _scan_folders()
    if not faces:
        return None
    body = _pick(faces, "body", bold=False)
    body_bold = next((f for f in faces if f.family == body.family and f.bold), None) or _pick(faces, "body", bold=True)
    heading = _pick(faces, "heading", bold=True)
    return ReportFonts(body, body_bold or body, heading or body_bold or body)


def require_fonts() -> ReportFonts:
    """:func:`find_fonts`, raising :class:`FontsMissing` when there is none."""
    fonts = find_fonts()
    if fonts is None:
        raise FontsMissing()
    return fonts
