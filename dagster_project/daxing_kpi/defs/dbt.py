"""dbt models as Dagster assets (dagster-dbt), grouped by their dbt folder (staging, intermediate, marts)."""


import os
import shutil
import sys
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from daxing_kpi.paths import DBT_PROJECT_DIR, work_db_path, warehouse_dir

# The dbt installed beside this Python (the project's virtual environment), else the one on PATH.
_VENV_DBT = os.path.join(os.path.dirname(sys.executable), "dbt")
DBT_EXECUTABLE = _VENV_DBT if os.path.exists(_VENV_DBT) else (shutil.which("dbt") or "dbt")

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()
if not dbt_project.manifest_path.exists():  # first start outside `dagster dev`: parse once
    DbtCliResource(project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=DBT_EXECUTABLE).cli(
        ["parse", "--quiet"], target_path=dbt_project.target_path
    ).wait()


class LayerTranslator(DagsterDbtTranslator):
    """Group = the model's layer folder (``staging``, ``intermediate``, ``marts``) or ``seeds``."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "seeds"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"


def dbt_env() -> dict[str, str]:
    """Environment of the dbt subprocess: the working database and the spill folder of this warehouse."""
    return {
        "KPI_WORK_DB": str(work_db_path()),
        "KPI_DUCKDB_TEMP_DIR": os.environ.get("KPI_DUCKDB_TEMP_DIR") or str(warehouse_dir() / "tmp"),
    }


@dbt_assets(manifest=dbt_project.manifest_path, dagster_dbt_translator=LayerTranslator(), project=dbt_project)
def daxing_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """``dbt build``: seeds, staging and intermediate views, marts tables and every dbt test."""
    os.environ.update(dbt_env())
    yield from dbt.cli(["build"], context=context).stream()


dbt_resource = DbtCliResource(project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=DBT_EXECUTABLE)
