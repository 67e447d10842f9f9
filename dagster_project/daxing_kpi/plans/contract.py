"""The data contract of the plan workbook (计划指标模板.xlsx): its sheets, columns and drop-down lists.

The contract is four YAML files in ``plans/contract/``, written like the ingestion contracts
(``source_id``, ``landing_dir``, ``sheets``, ``columns`` with ``header_zh``, ``name``, ``type``,
``required``) plus, per column, a ``hint`` (the line under the header in the template) and a ``list``
(the drop-down list it takes its values from). The template writer (:mod:`daxing_kpi.plans.template`)
and the reader (:mod:`daxing_kpi.plans.workbook`) both follow it, so they cannot drift.

Drop-down lists (:func:`choices`): ``kpis`` (the Chinese names of the KPI definitions,
``seeds/kpi_catalog.csv``), ``kinds``, ``comparators``, ``count_bases`` (the labels below, each
mapped to the code the warehouse stores).
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from daxing_kpi.paths import SEEDS_DIR
from daxing_kpi.yamlfile import read_yaml

CONTRACT_DIR = Path(__file__).resolve().parent / "contract"
LANDING_FOLDER = "plans"  # landing/plans/: where planners drop filled workbooks
TEMPLATE_NAME = "计划指标模板.xlsx"
TYPES = {"text", "integer", "number", "boolean"}

# Labels of the drop-down lists -> codes stored in the warehouse (plan_targets.target_kind, ...).
KINDS = {"到目标年达到": "reach_by_year", "每年达到": "hold_every_year", "区间": "range", "只有方向": "direction_only"}
COMPARATORS = {"不少于（≥）": ">=", "不高于（≤）": "<=", "区间": "between"}
COUNT_BASES = {"年末存量": "stock", "规划期新增": "new_in_period"}
# Other spellings a planner may type instead of picking from the list.
COMPARATOR_SPELLINGS = {">=": ">=", "≥": ">=", "不少于": ">=", "不低于": ">=", "达到": ">=", "<=": "<=", "≤": "<=",
                        "不高于": "<=", "不超过": "<=", "between": "between", "介于": "between"}
YES = {"是", "y", "yes", "true", "1"}
NO = {"否", "n", "no", "false", "0"}


@dataclass(frozen=True)
class Column:
    """One column of a sheet of the plan workbook."""

    header_zh: str
    name: str
    type: str
    required: bool = False
    hint: str = ""
    list: str | None = None


@dataclass(frozen=True)
class Sheet:
    """One sheet of the plan workbook: its name, title and columns (one YAML contract)."""

    source_id: str
    name: str
    title_zh: str
    grain: str
    columns: tuple[Column, ...]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def normalize(value) -> str:
    """Text as compared: NFKC (full-width forms to ASCII), every whitespace removed."""
    return "".join(unicodedata.normalize("NFKC", str(value)).split())


def load_sheet(path: Path) -> Sheet:
    """One sheet's contract. Raises ``ValueError`` naming the file for an unknown type or list."""
    spec = read_yaml(path)
    columns = []
    for c in spec["columns"]:
        if c["type"] not in TYPES:
            raise ValueError(f"{path}: column {c['name']!r} has unknown type {c['type']!r}; use one of {sorted(TYPES)}")
        if c.get("list") and c["list"] not in LISTS:
            raise ValueError(f"{path}: column {c['name']!r} names unknown list {c['list']!r}; use one of {sorted(LISTS)}")
        columns.append(Column(c["header_zh"], c["name"], c["type"], bool(c.get("required")), c.get("hint", ""), c.get("list")))
    return Sheet(spec["source_id"], spec["sheets"][0], spec.get("title_zh", ""), spec.get("grain", ""), tuple(columns))


@lru_cache(maxsize=1)
def sheets() -> dict[str, Sheet]:
    """The sheets of the workbook keyed by role: ``plan``, ``targets``, ``milestones``, ``sections``."""
    loaded = {s.source_id: s for s in (load_sheet(p) for p in sorted(CONTRACT_DIR.glob("*.yaml")))}
    return {role: loaded[f"plan_workbook_{key}"] for role, key in
            (("plan", "plans"), ("targets", "targets"), ("milestones", "milestones"), ("sections", "sections"))}


def kpi_definitions(seeds_dir: Path = SEEDS_DIR) -> list[dict]:
    """The KPI definitions a target can name (``seeds/kpi_catalog.csv``): kpi_id, name_zh, unit, direction."""
    with open(Path(seeds_dir) / "kpi_catalog.csv", encoding="utf-8") as f:
        return [{k: r[k] for k in ("kpi_id", "name_zh", "unit", "direction")} for r in csv.DictReader(f)]


def bundled_plan_ids(seeds_dir: Path = SEEDS_DIR) -> set[str]:
    """Identifiers of the plans shipped in ``seeds/plans.csv`` (a workbook may not replace one)."""
    with open(Path(seeds_dir) / "plans.csv", encoding="utf-8") as f:
        return {r["plan_id"] for r in csv.DictReader(f)}


LISTS = ("kpis", "kinds", "comparators", "count_bases")


def choices(list_name: str, seeds_dir: Path = SEEDS_DIR) -> list[str]:
    """The labels of a drop-down list, in the order the template shows them."""
    if list_name == "kpis":
        return [d["name_zh"] for d in kpi_definitions(seeds_dir)]
    return list({"kinds": KINDS, "comparators": COMPARATORS, "count_bases": COUNT_BASES}[list_name])
