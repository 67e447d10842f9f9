"""What a night must redo: the inputs compared with those of the last publication (issue 20.2).

A night does only what changed. Before a run, :func:`plan_night` compares a fingerprint of every input of
the published data (:func:`snapshot`) with the one recorded when the published database and dashboard
were made (``<warehouse>/state/published_inputs.json``, :func:`record_publication`):

* one unit per landing source (``source/<source_id>``): the contract's digest and, for every data file of
  its folder, the name, size and modification time (nanoseconds); a file added, removed, replaced or
  touched changes it;
* ``plans``: the planners' workbooks in ``landing/plans/``;
* ``code``: the product itself: the package's Python files and contracts, the dbt project (models,
  macros, tests, project and profiles files), the seeds, the dashboard's templates and texts, and the
  versions of Python and the libraries the results depend on;
* ``settings``: the person-key secret (its fingerprint) and the settings that change what is published
  (``KPI_STRICT_FILES``, ``KPI_ACCEPT_ROW_COUNT_CHANGE``, ``KPI_REPORT_FONT``, ``KPI_REPORT_FONT_BOLD``).

The outcome, a :class:`NightPlan`:

* **nothing new**: every unit as published, the published database and dashboard in place and of the
  same run: ``kpi run`` records a ``pipeline_runs`` row with status ``no_new_data`` and stops, without
  loading Dagster (:func:`record_no_new_data`); the published files are not touched;
* **some sources**: only the raw assets of the changed sources (:attr:`NightPlan.roots`) and everything
  downstream of them run (Dagster asset selection: the dbt models and tests fed by them, the quality
  checks of those assets, the publication, dashboard and reports); every other check keeps its latest
  result (:mod:`daxing_kpi.dq`); within a changed source, a file whose content was already loaded is not
  read again (its checked rows are kept in the working database: :mod:`daxing_kpi.ingest.stagecache`);
* **the whole job** (:attr:`NightPlan.full`): ``kpi run --full``, the code or a setting changed, no
  publication recorded yet, the published database or dashboard missing, damaged or of different runs,
  or the working database to be rebuilt. A full rebuild also re-reads every landing file (run tag
  ``kpi/full``, :func:`full_rebuild_requested`).

Only a publication moves the recorded state forward, and only for the units the publishing run refreshed
(every unit for the whole job): a night that failed leaves its changes pending, so the next night does
them again. A file changed while a run is under way is seen as changed by the next night (the state
records the inputs as the run started): a night may redo work, never skip it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from daxing_kpi.paths import (DBT_PROJECT_DIR, PACKAGE_DIR, PROJECT_ROOT, SEEDS_DIR, analytics_db_path, contracts_dir,
                              dashboard_dir, landing_dir, warehouse_dir, work_db_path)

STATE_VERSION = 1
FULL_TAG = "kpi/full"  # run tag of a full rebuild: every file read again, every model, test and page rebuilt
# run tag of a full rebuild the operator asked for (``kpi run --full``), not one the plan chose (a new warehouse,
# a change of code or settings): only then is work that depends on the code alone redone (dbt unit tests, docs site)
FULL_ASKED_TAG = "kpi/full-asked"
PLAN_TAG = "kpi/plan"  # run tag: the one-sentence reason of the run's selection
CODE, SETTINGS, PLANS = "code", "settings", "plans"
SOURCE_PREFIX = "source/"
# settings that change what a run publishes (their values are fingerprinted, never stored)
OUTPUT_SETTINGS = ("KPI_STRICT_FILES", "KPI_ACCEPT_ROW_COUNT_CHANGE", "KPI_REPORT_FONT", "KPI_REPORT_FONT_BOLD")
# libraries whose version can change a result or a page
VERSIONED_PACKAGES = ("dagster", "dagster-dbt", "dbt-core", "dbt-duckdb", "duckdb", "pandas", "numpy", "pyarrow",
                      "great-expectations", "plotly", "jinja2", "python-docx", "fpdf2", "matplotlib", "openpyxl", "xlsxwriter",
                      "python-calamine", "lxml")
_CODE_SUFFIXES = (".py", ".yaml", ".yml", ".sql", ".csv", ".md", ".json", ".html", ".css", ".js", ".jinja", ".txt", ".xlsx")


# -- fingerprints ---------------------------------------------------------------------------------------------


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")).hexdigest()[:32]


def _files_of(folder: Path, suffixes: tuple[str, ...] | None = None, skip: tuple[str, ...] = ()) -> list[Path]:
    if not folder.exists():
        return []
    out = []
    for p in folder.rglob("*"):
        rel = p.relative_to(folder).parts
        if any(part.startswith(".") or part == "__pycache__" or part in skip for part in rel):
            continue
        if p.is_file() and (suffixes is None or p.suffix.lower() in suffixes):
            out.append(p)
    return sorted(out)


def code_fingerprint() -> str:
    """Digest of the product's code and what ships with it (see the module docstring): the content of
    every file, and the versions of Python and of :data:`VERSIONED_PACKAGES`."""
    h = hashlib.sha256()
    roots = [(PACKAGE_DIR, _CODE_SUFFIXES, ()), (contracts_dir(), None, ()), (SEEDS_DIR, None, ()),
             (PROJECT_ROOT / "dashboards", None, ("build",))]
    roots += [(DBT_PROJECT_DIR / d, None, ()) for d in ("models", "macros", "tests", "snapshots", "analyses")]
    for root, suffixes, skip in roots:
        for p in _files_of(root, suffixes, skip):
            h.update(str(p.relative_to(root.parent)).encode("utf-8") + b"\0")
            h.update(p.read_bytes())
            h.update(b"\0")
    for name in ("dbt_project.yml", "profiles.yml", "packages.yml"):
        p = DBT_PROJECT_DIR / name
        if p.exists():
            h.update(name.encode() + b"\0" + p.read_bytes())
    h.update(json.dumps(package_versions(VERSIONED_PACKAGES), sort_keys=True).encode())
    return h.hexdigest()[:32]


def package_versions(packages) -> dict[str, str | None]:
    """The version of Python and of each installed package named (None when not installed): part of a
    fingerprint of what the code makes of the same inputs."""
    versions: dict[str, str | None] = {"python": sys.version.split()[0]}
    for pkg in packages:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return versions


def settings_fingerprint() -> str:
    """Digest of the person-key secret's fingerprint and of :data:`OUTPUT_SETTINGS`."""
    from daxing_kpi import personkey

    try:
        key = personkey.key_fingerprint(personkey.pii_key())
    except Exception as exc:  # noqa: BLE001 - a bad key stops the run later, in preflight; here it is just different
        key = f"unusable: {type(exc).__name__}"
    return _digest({"person_key": key, **{k: os.environ.get(k, "") for k in OUTPUT_SETTINGS}})


def _file_facts(files: list[Path]) -> list[list]:
    out = []
    for p in files:
        st = p.stat()
        out.append([p.name, st.st_size, st.st_mtime_ns])
    return out


def landing_units() -> dict[str, dict]:
    """``unit -> {"digest", "files"}`` for every landing source and the plan workbooks."""
    from daxing_kpi.ingest import landing_files, load_contracts
    from daxing_kpi.plans.contract import LANDING_FOLDER

    root = landing_dir()
    units: dict[str, dict] = {}
    for contract in load_contracts().values():
        files = _file_facts(landing_files(root / contract.landing_dir))
        units[SOURCE_PREFIX + contract.source_id] = {"digest": _digest([contract.digest, files]), "files": files}
    folder = root / LANDING_FOLDER
    books = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".xlsx", ".xlsm")
                   and not p.name.startswith((".", "~$"))) if folder.exists() else []
    files = _file_facts(books)
    units[PLANS] = {"digest": _digest(files), "files": files}
    return units


def snapshot() -> dict:
    """The fingerprint of every input now: ``{"version", "taken_at", "units": {unit: {"digest", "files"?}}}``."""
    units = landing_units()
    units[CODE] = {"digest": code_fingerprint()}
    units[SETTINGS] = {"digest": settings_fingerprint()}
    return {"version": STATE_VERSION, "taken_at": dt.datetime.now().isoformat(timespec="seconds"), "units": units}


# -- the recorded state ---------------------------------------------------------------------------------------


def state_dir() -> Path:
    path = warehouse_dir() / "state"
    path.mkdir(parents=True, exist_ok=True)
    return path


def published_state_path() -> Path:
    """The inputs of the published data: ``<warehouse>/state/published_inputs.json``."""
    return state_dir() / "published_inputs.json"


def pending_path(run_id: str) -> Path:
    """The inputs a run started from (moved into the published state when it publishes)."""
    return state_dir() / f"run-{run_id}.inputs.json"


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("version") == STATE_VERSION else None


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def published_inputs() -> dict | None:
    return _read_json(published_state_path())


def save_run_inputs(run_id: str, snap: dict | None = None, replace: bool = False) -> dict:
    """Keep the inputs a run starts from (:func:`snapshot`) until it publishes; an existing record of the
    run (written by ``kpi run`` as it planned the night) is kept unless ``replace`` (the run generated the
    sample into its empty landing folder). Returns the snapshot."""
    path = pending_path(run_id)
    existing = None if replace else _read_json(path)
    if existing is not None:
        return existing
    snap = snap or snapshot()
    _write_json(path, snap)
    return snap


def record_publication(run_id: str, refreshed: set[str] | None) -> None:
    """A run published: the units it refreshed take the values it started from. ``refreshed``: the
    units (``source/<id>``, ``plans``) whose assets the run selected; ``None`` = the whole job (every
    unit, the code and settings included). Pending records of other runs (killed ones) are removed."""
    started = _read_json(pending_path(run_id))
    if started is None:
        return
    previous = published_inputs() or {"version": STATE_VERSION, "units": {}}
    units = dict(previous.get("units", {}))
    for unit, value in started["units"].items():
        if refreshed is None or unit in refreshed:
            units[unit] = value
    if refreshed is None:  # units that no longer exist (a contract removed) go with a whole-job run
        units = {u: v for u, v in units.items() if u in started["units"]}
    _write_json(published_state_path(), {"version": STATE_VERSION, "units": units, "run_id": run_id,
                                         "published_at": dt.datetime.now().isoformat(timespec="seconds")})
    for p in state_dir().glob("run-*.inputs.json"):
        p.unlink(missing_ok=True)


def units_of_selection(asset_keys) -> set[str]:
    """The input units refreshed by a selection of asset keys (user strings such as ``raw/funeral_burials``)."""
    from daxing_kpi.plans.load import RAW_TABLES

    plan_tables = {source_id for source_id, _ in RAW_TABLES.values()}
    units = set()
    for key in asset_keys:
        parts = str(key).split("/")
        if len(parts) == 2 and parts[0] == "raw":
            units.add(PLANS if parts[1] in plan_tables else SOURCE_PREFIX + parts[1])
    return units


# -- the plan -------------------------------------------------------------------------------------------------


@dataclass
class NightPlan:
    """What a night does. ``full``: the whole job; else the raw assets ``roots`` and everything downstream
    (empty: nothing new). ``why``: one sentence; ``changes``: one line per changed unit."""

    full: bool
    why: str
    roots: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    snapshot: dict = field(default_factory=dict)
    published_run: str | None = None
    published_at: str | None = None

    @property
    def nothing_new(self) -> bool:
        return not self.full and not self.roots

    def describe(self) -> list[str]:
        """Lines for the console: what the night does and why."""
        if self.full:
            return [f"Whole job: {self.why}"]
        if self.nothing_new:
            return [f"No new data: {self.why}"]
        return [f"Only what changed: {self.why}"] + [f"  {c}" for c in self.changes]


def _published_problem() -> tuple[str | None, str | None, str | None]:
    """``(problem, run_id, published_at)`` of the published database and dashboard: a problem is a
    sentence saying why they must be made again (missing, damaged, of different runs)."""
    from daxing_kpi import atomic

    db = analytics_db_path()
    if not db.exists():
        return "nothing has been published yet", None, None
    import duckdb

    try:
        with duckdb.connect(str(db), read_only=True) as con:
            run_id, published_at = con.execute("SELECT run_id, published_at FROM publish_metadata").fetchone()
    except duckdb.Error as exc:
        return f"the published database cannot be read ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})", None, None
    version = atomic.current_version(dashboard_dir())
    if version is None or not (version / "index.html").exists():
        return "the dashboard is missing", run_id, str(published_at)[:19]
    dashboard_run = version.name.split("_", 1)[1] if "_" in version.name else None
    if dashboard_run != run_id:
        return f"the dashboard (run {dashboard_run}) and the database (run {run_id}) are of different runs", run_id, str(published_at)[:19]
    return None, run_id, str(published_at)[:19]


def _file_changes(before: dict | None, now: dict) -> str:
    old = {f[0]: f for f in (before or {}).get("files", [])}
    new = {f[0]: f for f in now.get("files", [])}
    parts = []
    for label, names in (("new", sorted(set(new) - set(old))), ("changed", sorted(n for n in set(new) & set(old) if new[n] != old[n])),
                         ("removed", sorted(set(old) - set(new)))):
        if names:
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            parts.append(f"{len(names)} {label} ({shown})")
    return "; ".join(parts) or "its contract changed"


def plan_night(full: bool = False, snap: dict | None = None) -> NightPlan:
    """Compare the inputs now with those of the last publication (see the module docstring).
    ``full``: the whole job whatever changed (``kpi run --full``)."""
    from daxing_kpi.selfheal import rebuild_marker

    snap = snap or snapshot()
    problem, run_id, published_at = _published_problem()
    plan = NightPlan(full=True, why="", snapshot=snap, published_run=run_id, published_at=published_at)
    state = published_inputs()
    if full:
        plan.why = "a full rebuild was asked for (kpi run --full): every file is read again, every model, test and page rebuilt."
    elif problem:
        plan.why = f"{problem[0].upper()}{problem[1:]}."
    elif state is None:
        plan.why = "the inputs of the published data are not recorded yet (first night of this version)."
    elif not work_db_path().exists() or rebuild_marker().exists():
        plan.why = "the working database is to be rebuilt from the landing files."
    elif state["units"].get(CODE, {}).get("digest") != snap["units"][CODE]["digest"]:
        plan.why = "the product changed since the last publication (code, dbt project, seeds, contracts or library versions)."
    elif state["units"].get(SETTINGS, {}).get("digest") != snap["units"][SETTINGS]["digest"]:
        plan.why = ("a setting that changes the published data changed since the last publication (the person-key "
                    f"secret, {', '.join(OUTPUT_SETTINGS)}).")
    else:
        plan.full = False
        from daxing_kpi.plans.load import RAW_TABLES

        for unit, now in sorted(snap["units"].items()):
            if unit in (CODE, SETTINGS):
                continue
            before = state["units"].get(unit)
            if before is not None and before.get("digest") == now["digest"]:
                continue
            if unit == PLANS:
                plan.roots += [f"raw/{source_id}" for source_id, _ in RAW_TABLES.values()]
                plan.changes.append(f"plan workbooks: {_file_changes(before, now)}")
            else:
                plan.roots.append(f"raw/{unit.removeprefix(SOURCE_PREFIX)}")
                plan.changes.append(f"{unit.removeprefix(SOURCE_PREFIX)}: {_file_changes(before, now)}")
        since = f"the publication of run {run_id} ({published_at})"
        if plan.roots:
            n = len(plan.changes)
            plan.why = (f"{n} input{'s' if n != 1 else ''} changed since {since}; the other sources, their models and checks "
                        "keep their published results.")
        else:
            plan.why = (f"no landing file is new, changed or removed since {since}, and the product and its settings "
                        "are the same: nothing was rebuilt; the published database and dashboard stay as they are.")
    return plan


def full_rebuild_requested(context) -> bool:
    """Whether the run is a full rebuild (the whole job: ``kpi run --full`` or the plan's choice): its tag
    :data:`FULL_TAG` is ``1``."""
    try:
        return context.run.tags.get(FULL_TAG) == "1"
    except AttributeError:
        return False


def code_work_due(mark: Path, context=None) -> str | None:
    """The code fingerprint (:func:`code_fingerprint`) when work that depends on the code alone and is kept per
    checkout must be done again, else ``None``. ``mark`` is the file that holds the fingerprint the work was
    last done with (``dbt/target/unit_tests.passed``, ``dbt/target/docs_site/code.digest``): the work is due
    when the mark is missing or holds another fingerprint, or when the operator asked for it
    (:func:`full_rebuild_asked`). The caller writes the returned fingerprint into ``mark`` once the work succeeded."""
    code = code_fingerprint()
    if context is not None and full_rebuild_asked(context):
        return code
    try:
        done = mark.read_text(encoding="utf-8").strip()
    except OSError:
        done = None
    return None if done == code else code


def full_rebuild_asked(context) -> bool:
    """Whether the operator asked for the full rebuild (``kpi run --full``, tag :data:`FULL_ASKED_TAG`): work that
    depends on the code alone, kept per checkout (the dbt unit tests' mark, the dbt docs site), is redone only
    then or when the code changed; a new warehouse's first night (a full rebuild by the plan) keeps it."""
    try:
        return context.run.tags.get(FULL_ASKED_TAG) == "1"
    except AttributeError:
        return False


def record_no_new_data(run_id: str, trigger: str, started: dt.datetime, plan: NightPlan) -> dict:
    """The run history row of a night that found nothing new: status ``no_new_data``, nothing loaded,
    nothing checked, the reason in ``notes``."""
    from daxing_kpi import operations

    now = dt.datetime.now()
    row = {"run_id": run_id, "trigger": trigger, "status": "no_new_data", "started_at": started, "finished_at": now,
           "duration_seconds": round((now - started).total_seconds(), 3), "sources": "none", "files_loaded": 0,
           "rows_loaded": 0, "rows_quarantined": 0, "checks_failed": 0, "notes": f"no new data: {plan.why}"}
    row.update({f"{s}_seconds": 0.0 for s in operations.STAGES})
    operations.upsert_run(row)
    return row
