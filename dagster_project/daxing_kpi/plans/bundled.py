"""The bundled plans as pandas frames, read from the seeds (``seeds/plans.csv``, ``plan_targets.csv``,
``plan_target_milestones.csv``, ``plan_sections.csv``) and the KPI definitions (``seeds/kpi_catalog.csv``).

The warehouse reads the same files through dbt (``models/intermediate/progress/int_plan*``); these helpers
serve tests and tools that need a plan's targets without a published database. No function names a plan:
callers pass the ``plan_id``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from daxing_kpi.paths import SEEDS_DIR

TARGET_COLUMNS = ("comparator", "target_year", "target_value", "plan_section", "source_clause_zh",
                  "target_kind", "target_value_upper", "count_basis")


def plans(seeds_dir: Path = SEEDS_DIR) -> pd.DataFrame:
    """``seeds/plans.csv``: one row per bundled plan, indexed by ``plan_id``."""
    return pd.read_csv(Path(seeds_dir) / "plans.csv", dtype={"plan_id": str}).set_index("plan_id")


def plan_targets(plan_id: str | None = None, seeds_dir: Path = SEEDS_DIR) -> pd.DataFrame:
    """``seeds/plan_targets.csv``: one row per target (all plans, or ``plan_id``'s)."""
    targets = pd.read_csv(Path(seeds_dir) / "plan_targets.csv", dtype={"plan_id": str, "kpi_id": str})
    return targets if plan_id is None else targets[targets.plan_id == plan_id].reset_index(drop=True)


def catalog_with_targets(plan_id: str, seeds_dir: Path = SEEDS_DIR) -> pd.DataFrame:
    """The KPI definitions joined with one plan's measurable targets and its baseline year, indexed by
    ``kpi_id``: the rows of that plan in the published ``kpi_catalog`` (columns of the definitions plus
    ``plan_id``, ``baseline_year`` and :data:`TARGET_COLUMNS`). Raises ``KeyError`` for an unknown plan."""
    plan = plans(seeds_dir).loc[plan_id]
    definitions = pd.read_csv(Path(seeds_dir) / "kpi_catalog.csv")
    targets = plan_targets(plan_id, seeds_dir).dropna(subset=["kpi_id"])
    out = definitions.merge(targets[["plan_id", "kpi_id", *TARGET_COLUMNS]], on="kpi_id", how="inner")
    out["baseline_year"] = int(plan.baseline_year)
    return out.set_index("kpi_id")

