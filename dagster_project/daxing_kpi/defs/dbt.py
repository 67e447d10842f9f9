"""dbt models as Dagster assets (dagster-dbt), grouped by their dbt folder (staging, intermediate, marts)."""


import hashlib
import logging
import os
import pprint
import shutil
import sys
import tempfile
from collections.abc import Mapping
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from packaging import version

from daxing_kpi.atomic import hold_point
from daxing_kpi.defs.operations import RunGuard
from daxing_kpi.gxload import import_in_background
from daxing_kpi.paths import DBT_PROJECT_DIR, SEEDS_DIR, dbt_runs_dir, work_db_path
from daxing_kpi.yamlfile import read_yaml

# The dbt installed beside this Python (the project's virtual environment), else the one on PATH.
_VENV_DBT = os.path.join(os.path.dirname(sys.executable), "dbt")
DBT_EXECUTABLE = _VENV_DBT if os.path.exists(_VENV_DBT) else (shutil.which("dbt") or "dbt")

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def _newest_source_mtime() -> float:
    """Newest modification time of the files dbt parses (models, macros, tests, seeds, project)."""
    roots = [DBT_PROJECT_DIR / d for d in ("models", "macros", "tests")] + [SEEDS_DIR]
    files = [DBT_PROJECT_DIR / "dbt_project.yml"] + [p for r in roots if r.exists() for p in r.rglob("*") if p.is_file()]
    return max(p.stat().st_mtime for p in files)


PARTIAL_PARSE = "partial_parse.msgpack"


def ensure_manifest() -> None:
    """Parse the dbt project when the manifest (or dbt's partial-parse state beside it) is missing or older
    than a dbt file.

    Parses into a private target folder and moves the manifest and ``partial_parse.msgpack`` into place with
    one rename each, so processes starting at the same time never read a half-written file. dagster-dbt
    copies ``partial_parse.msgpack`` into each run's own target folder, so ``dbt build`` reads the parsed
    project instead of parsing every model, test and macro again (issue 20.3: about 5 s a night).
    """
    manifest = dbt_project.manifest_path
    partial = manifest.with_name(PARTIAL_PARSE)
    newest = _newest_source_mtime()
    if manifest.exists() and manifest.stat().st_mtime >= newest and partial.exists() and partial.stat().st_mtime >= newest:
        return
    manifest.parent.mkdir(parents=True, exist_ok=True)
    tmp_target = Path(tempfile.mkdtemp(prefix="parse-", dir=manifest.parent))
    KpiDbtCliResource(project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=DBT_EXECUTABLE).cli(
        ["parse", "--quiet"], target_path=tmp_target
    ).wait()
    if (tmp_target / PARTIAL_PARSE).exists():
        _write_parse_key(partial, dbt_connection())  # the parse was made with this process's environment
        os.replace(tmp_target / PARTIAL_PARSE, partial)
    os.replace(tmp_target / "manifest.json", manifest)
    shutil.rmtree(tmp_target, ignore_errors=True)


# -- dbt's partial-parse state for another warehouse ------------------------------------------------------------
#
# dbt reuses its parsed project (partial_parse.msgpack) only if the hash of the connection it records matches
# this run's, and the connection includes the working database's path and spill folder: each new warehouse, and
# each copy of one (a trial warehouse, every test's copy), parsed the whole project again (about 4 s of dbt's
# start). The parse itself does not depend on where the files are (dbt's models name the database by its name,
# "work", and the schema, both compared here). So a kept parse made with the same connection except
# PATH_KEYS is given this run's hash; any other difference leaves dbt to parse again, as before.

PATH_KEYS = frozenset({"path", "config_options"})  # where the database file and its spill folder are, its memory limit


def dbt_connection() -> list[tuple[str, Any]] | None:
    """dbt's connection of a ``dbt`` command started now (this process's environment: ``KPI_WORK_DB`` ...):
    the sorted ``(key, value)`` pairs of the adapter's ``connection_info()``, computed by dbt's own profile code
    as dbt's partial-parse check does (``dbt.parser.manifest``, ``profile_hash``). ``None`` (with a warning) if
    dbt's profile code cannot give it (another dbt version): then dbt parses the project again, as it would."""
    try:
        from dbt.config.profile import Profile, read_profile
        from dbt.config.renderer import ProfileRenderer
        from dbt_common.context import set_invocation_context

        set_invocation_context(dict(os.environ))
        name = read_yaml(DBT_PROJECT_DIR / "dbt_project.yml")["profile"]
        target, data = Profile.render_profile(read_profile(str(DBT_PROJECT_DIR))[name], name, dbt_project.target, ProfileRenderer({}))
        data.pop("threads", None)  # as dbt: not part of the connection
        return sorted(Profile._credentials_from_profile(data, name, target).connection_info())
    except Exception as exc:  # an optimisation only: never the cause of a failed night
        logging.getLogger(__name__).warning("dbt's connection not computed (dbt will parse the project again): %s", exc)
        return None


def profile_hash(connection: list[tuple[str, Any]]) -> str:
    """The sha256 dbt records as ``state_check.profile_hash`` for ``connection`` (of :func:`dbt_connection`)."""
    return hashlib.sha256(pprint.pformat(connection).encode()).hexdigest()


def _parse_key(connection: list[tuple[str, Any]]) -> str:
    return profile_hash([kv for kv in connection if kv[0] not in PATH_KEYS])


def _write_parse_key(msgpack_path: Path, connection: list[tuple[str, Any]] | None) -> None:
    """``<msgpack>.key``: what the parse beside it depends on of its connection (all but PATH_KEYS); no file
    when the connection is not known."""
    key = msgpack_path.with_name(msgpack_path.name + ".key")
    if connection is None:
        key.unlink(missing_ok=True)
        return
    tmp = key.with_name(f".{key.name}.{os.getpid()}.tmp")
    tmp.write_text(_parse_key(connection) + "\n", encoding="utf-8")
    os.replace(tmp, key)


def adopt_partial_parse(src: Path, dst: Path, connection: list[tuple[str, Any]] | None) -> bool:
    """Copy dbt's partial-parse state ``src`` to ``dst`` (a run's target folder), with this run's profile hash
    when ``src`` was parsed with the same connection but for PATH_KEYS (its ``.key`` file says so). Returns
    whether the hash was given; otherwise ``dst`` is a plain copy and dbt decides (it parses again if the
    connection differs). Raises nothing for a missing or unreadable state: dbt then parses the project."""
    import msgpack

    key = src.with_name(src.name + ".key")
    try:
        same = connection is not None and key.read_text(encoding="utf-8").strip() == _parse_key(connection)
        data = msgpack.unpackb(src.read_bytes(), raw=False, strict_map_key=False) if same else None
        if data is not None:  # dbt packs dates as msgpack ExtTypes, which round-trip unchanged
            data["state_check"]["profile_hash"]["checksum"] = profile_hash(connection)
            dst.write_bytes(msgpack.packb(data, use_bin_type=True))
            return True
    except (OSError, ValueError, KeyError, TypeError, msgpack.UnpackException):
        pass
    if src.exists():
        shutil.copyfile(src, dst)
    return False


class KpiDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt resource without two start-up costs the job does not need (issue 20.3): the
    version of dbt is read from the installed package instead of by running ``dbt --version`` (a whole
    dbt start, about 2 s), and no dbt adapter is opened inside the Dagster process before each command
    (dagster-dbt uses it only to fetch column metadata, which this project does not ask for; about 3 s).
    Both are private methods of dagster-dbt 0.29: ``tests/test_night.py`` runs the dbt step through them."""

    @cached_property
    def _cli_version(self) -> version.Version:
        if os.path.realpath(self.dbt_executable) == os.path.realpath(_VENV_DBT):
            return version.parse(metadata.version("dbt-core"))
        return DbtCliResource._cli_version.func(self)

    def _initialize_dbt_core_adapter(self, args):  # noqa: ARG002 - the job fetches no column metadata
        return None

    def _get_unique_target_path(self, *, context) -> Path:
        """The run's own target folder, ``<warehouse>/dbt_runs/<step>-<run id[:7]>-<id>`` (:func:`daxing_kpi.paths.dbt_runs_dir`:
        each warehouse keeps and prunes its own, so two warehouses on one checkout never touch each other's
        folders), starting with this warehouse's partial-parse state (:func:`partial_parse_path`), or the
        checkout's for a new warehouse, given this run's connection (:func:`adopt_partial_parse`): dbt then reads
        the parsed project instead of parsing it again."""
        folder = dbt_runs_dir() / super()._get_unique_target_path(context=context).name
        folder.mkdir(parents=True, exist_ok=True)
        kept = partial_parse_path()
        src = kept if kept.exists() else dbt_project.manifest_path.with_name(PARTIAL_PARSE)  # else the checkout's
        adopt_partial_parse(src, folder / PARTIAL_PARSE, dbt_connection())
        return folder


def partial_parse_path() -> Path:
    """``<warehouse>/state/dbt_partial_parse.msgpack``: dbt's parsed project as the last build of this warehouse
    left it. dbt accepts it only for the same project files, variables and connection (the working database's
    path and settings are part of it, so each warehouse keeps its own) and parses again otherwise."""
    from daxing_kpi.nightplan import state_dir

    return state_dir() / "dbt_partial_parse.msgpack"


def keep_partial_parse(target_path: Path) -> None:
    """Keep the partial-parse state a finished ``dbt build`` wrote (see :func:`partial_parse_path`)."""
    src = Path(target_path) if Path(target_path).is_absolute() else DBT_PROJECT_DIR / target_path
    src = src / PARTIAL_PARSE
    if src.exists():
        dst = partial_parse_path()
        tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
        shutil.copyfile(src, tmp)
        _write_parse_key(dst, dbt_connection())  # made with this process's environment, as the build was
        os.replace(tmp, dst)




dbt_project.prepare_if_dev()
ensure_manifest()


class LayerTranslator(DagsterDbtTranslator):
    """Group = the model's layer folder (``staging``, ``intermediate``, ``marts``) or ``seeds``."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "seeds"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"


def dbt_env() -> dict[str, str]:
    """Environment of the dbt subprocess: the working database, the spill folder of this warehouse and
    the memory limit of dbt's DuckDB (its share of ``KPI_MEMORY_LIMIT``)."""
    from daxing_kpi.memory import subprocess_env

    # spill folder and dbt's DuckDB share of KPI_MEMORY_LIMIT (daxing_kpi.memory). dbt's own log file
    # (dbt.log in the run's folder) at info level, not dbt's default debug: the debug lines (every query,
    # every adapter call) are written under a lock shared by dbt's threads and cost a small night about a
    # tenth of its dbt time (measured with py-spy); errors, warnings and each model's and test's result stay.
    return {"KPI_WORK_DB": str(work_db_path()), "DBT_LOG_LEVEL_FILE": os.environ.get("DBT_LOG_LEVEL_FILE", "info"),
            **subprocess_env()}


def unit_tests_passed_path() -> Path:
    """``dbt/target/unit_tests.passed``: the code fingerprint the dbt unit tests last passed with on this
    checkout. Unit tests check the code on fixed inputs, never a warehouse's data, so the mark belongs to the
    checkout: a new warehouse (a second plan's trial warehouse, a benchmark) does not run them again."""
    return DBT_PROJECT_DIR / "target" / "unit_tests.passed"


def unit_tests_due(context: dg.AssetExecutionContext | None = None) -> str | None:
    """The code fingerprint when the dbt unit tests must run in this build, else ``None``.

    Unit tests check the models' SQL on fixed inputs, never the data: they run when the code (dbt project,
    seeds, package, library versions: :func:`daxing_kpi.nightplan.code_fingerprint`) differs from the one
    they last passed with on this checkout (:func:`unit_tests_passed_path`), and in a full rebuild the operator
    asked for (``kpi run --full``; not the first night of a new warehouse of the same checkout); the test suite
    runs them too (issue 20.3)."""
    from daxing_kpi import nightplan

    return nightplan.code_work_due(unit_tests_passed_path(), context)


@dbt_assets(manifest=dbt_project.manifest_path, dagster_dbt_translator=LayerTranslator(), project=dbt_project)
def daxing_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, run_guard: RunGuard):
    """``dbt build`` of the selected models: seeds, staging views, intermediate and marts tables and their
    data tests; the unit tests only when :func:`unit_tests_due`."""
    os.environ.update(dbt_env())
    import_in_background()  # Great Expectations, for the mart checks after this step, while dbt runs
    due = unit_tests_due(context)
    args = ["build"] if due else ["build", "--exclude-resource-type", "unit_test"]
    context.log.info("dbt unit tests: " + ("run (the code changed since they last passed, or a full rebuild)" if due
                                           else "not run (passed with this code already)"))
    invocation = dbt.cli(args, context=context)
    events = iter(invocation.stream())
    first = next(events, None)
    if first is not None:
        yield first
        hold_point("dbt:building")  # crash tests kill the run here, with dbt half-way
        yield from events
    keep_partial_parse(invocation.target_path)
    if due and not context.selected_asset_keys ^ set(context.assets_def.keys):  # every model's unit tests ran and passed
        mark = unit_tests_passed_path()
        tmp = mark.with_name(f".{mark.name}.{os.getpid()}.tmp")
        tmp.write_text(due + "\n", encoding="utf-8")
        os.replace(tmp, mark)


dbt_resource = KpiDbtCliResource(project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=DBT_EXECUTABLE)
