"""The plan text as data: joining the scraped page fragments and finding the quantified targets.

A bundled plan's text is ``seeds/plan/<plan_id>*.txt`` (see ``seeds/plan/README.md``). A text scraped
from a document-sharing site has the site's header as its first line, and page fragments start with
``N、`` at line starts, sometimes in the middle of a sentence. :func:`plan_text` joins them back into
one text; :func:`target_sentences` returns every sentence that carries a quantified target (a number
with a unit or %, or 全覆盖/覆盖率, near 到<year>年/不少于/达到/至少/建成/完成), and
:func:`target_fragments` the parts of such a sentence that state one quantity each.
"""

from __future__ import annotations

import re
from pathlib import Path

from daxing_kpi.paths import SEEDS_DIR

PLAN_TEXT_DIR = SEEDS_DIR / "plan"
QUANTITY = re.compile(r"\d+(?:\.\d+)?\s*(?:%|％|名|家|个|所|处|张|人|平方米|㎡)|全覆盖|覆盖率")
COMMITMENT = re.compile(r"到\d{4}年|不少于|不低于|达到|至少|建成|完成")
# Sentence ends: 。 ！ ？ ； and the OCR artifact 'o' standing for 。 right after a % sign.
SENTENCE_END = re.compile(r"(?<=[。！？；])|(?<=%o)")


def plan_text_file(plan_id: str | None = None) -> Path:
    """The text file of a bundled plan, ``seeds/plan/<plan_id>*.txt`` (the first by name when several or,
    without ``plan_id``, the first text of the folder). Raises ``FileNotFoundError`` when there is none."""
    files = sorted(PLAN_TEXT_DIR.glob(f"{plan_id}*.txt" if plan_id else "*.txt"))
    if not files:
        raise FileNotFoundError(f"no plan text {plan_id or ''}*.txt in {PLAN_TEXT_DIR}")
    return files[0]


def plan_text(path: Path | None = None, plan_id: str | None = None) -> str:
    """The plan as one string: the site header dropped, ``N、`` fragment prefixes removed, lines joined.
    ``path`` defaults to :func:`plan_text_file` of ``plan_id``."""
    lines = Path(path or plan_text_file(plan_id)).read_text(encoding="utf-8").splitlines()[1:]
    return "".join(re.sub(r"^\d+、", "", line) for line in lines)


def sentences(text: str) -> list[str]:
    """The text split into sentences (ending punctuation kept)."""
    return [s for s in (p.strip() for p in SENTENCE_END.split(text)) if s]


def target_fragments(sentence: str) -> list[str]:
    """The comma-separated parts of a target sentence that state a quantity (one target each)."""
    parts = re.split(r"[,，;；]", sentence)
    return [re.sub(r"(。|(?<=%)o)$", "", p.strip()) for p in parts if QUANTITY.search(p)]


def target_sentences(text: str | None = None) -> list[str]:
    """Sentences carrying a quantified target: a quantity and a commitment word."""
    text = plan_text() if text is None else text
    return [s for s in sentences(text) if QUANTITY.search(s) and COMMITMENT.search(s)]
