"""The dbt project on another engine (issue 11): build it on Spark or DuckDB and compare the KPI results.

The same dbt project builds on two targets of ``dbt/profiles.yml``:

* ``duckdb`` (the default, the nightly job): the working database ``warehouse/work/work.duckdb``;
* ``spark``: an in-process Spark session (``method: session``, pyspark, ``local[2]``), with its metastore
  (Derby), table files and scratch space in ``<warehouse>/spark`` (or ``spark_dir``); ``spark_thrift``
  for a cluster (see docs/development.md, "Spark"). A parity build, which builds everything it reads, uses
  the session's in-memory catalog instead of the Derby metastore (``catalog="in-memory"``: a quarter faster).

Both read the same raw layer: on Spark, and on DuckDB with ``raw_from_parquet=True``, the dbt sources
``raw.<source_id>`` and ``audit.ingest_audit`` are views over the Parquet files ingestion writes
(:mod:`daxing_kpi.raw_parquet`). :func:`build` runs one dbt command and times it (wall time of the dbt
process, JVM start included); :func:`parity` compares ``kpi_observations`` and ``kpi_scorecard`` of two
builds row by row: same row count, same keys, every numeric value within 1e-9, every other value (status,
method, dates, flags) equal.

``kpi build --target spark`` runs :func:`build` from the command line; the benchmark script calls
:func:`build` for its Spark figures.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from daxing_kpi import raw_parquet
from daxing_kpi import memory
from daxing_kpi.paths import DBT_PROJECT_DIR, warehouse_dir, work_db_path

LOCAL_TARGETS = ("duckdb", "spark")
# Tables compared by parity(): schema, table and the key of one row (the tables' documented grain).
PARITY_TABLES = {
    "kpi_observations": ("marts", ("kpi_id", "period_year", "geo_code")),
    "kpi_scorecard": ("marts", ("plan_id", "kpi_id", "geo_code", "as_of_date")),
}
# Numeric values of the two engines may differ by floating-point rounding only.
VALUE_TOLERANCE = 1e-9
# What a parity check builds: the two KPI marts and everything upstream (seeds, staging, intermediate,
# kpi_catalog, geographies), with the singular tests on them (the scorecard equals the progress SQL
# functions); generic and unit tests are left to the full build.
PARITY_SELECT = "+kpi_observations +kpi_scorecard +kpi_person_duplicates"  # the KPIs and the persons counted (issue 16)
PARITY_EXCLUDE = "test_type:generic resource_type:unit_test"


def parity_build(target: str, **kwargs) -> "BuildResult":
    """:func:`build` of what a parity check compares (PARITY_SELECT without generic and unit tests; a test
    that also reads an unselected node is left out, ``--indirect-selection cautious``). On the local Spark
    session the catalog is in memory: the build makes every table it reads, so no metastore is needed."""
    if target == "spark":
        kwargs.setdefault("catalog", "in-memory")
    return build(target, select=PARITY_SELECT, exclude=PARITY_EXCLUDE, indirect_selection="cautious", **kwargs)


class DbtBuildError(RuntimeError):
    """The dbt command ended with an error; the message names the failed nodes and the log file."""


@dataclass
class BuildResult:
    """One dbt command on one target: how long it took and what it built.

    ``seconds``: wall time of the dbt process (Spark: JVM and session start included).
    ``statuses``: nodes per dbt status (``success``, ``pass``, ``error``, ``fail``, ``skipped`` ...).
    ``database``: the DuckDB file (duckdb) or the Spark folder holding metastore and table files (spark).
    """

    target: str
    command: str
    seconds: float
    statuses: dict[str, int]
    database: Path
    log_path: Path
    project_dir: Path
    export_seconds: float = 0.0
    failed_nodes: list[str] = field(default_factory=list)
    nodes: dict[str, str] = field(default_factory=dict)  # dbt unique_id -> status

    @property
    def ok(self) -> bool:
        return not self.failed_nodes

    def summary(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))
        return f"dbt {self.command} on {self.target}: {self.seconds:.1f} s wall time ({counts})"


def _dbt_executable() -> str:
    """The dbt beside this Python (the project's virtual environment), else the one on PATH."""
    venv_dbt = Path(sys.executable).with_name("dbt")
    return str(venv_dbt) if venv_dbt.exists() else "dbt"


def spark_dir() -> Path:
    """Default folder of the local Spark session: ``<warehouse>/spark`` (metastore, table files, scratch)."""
    return warehouse_dir() / "spark"


def ensure_raw_parquet() -> float:
    """Write the Parquet raw layer from the working database when it is missing (a warehouse built
    before it existed); returns the seconds spent (0 when present)."""
    root = raw_parquet.raw_parquet_dir()
    if root.exists() and any(p.is_dir() and not p.name.startswith(".") for p in root.iterdir()):
        return 0.0
    start = time.perf_counter()
    raw_parquet.export_all()
    return time.perf_counter() - start


def build(
    target: str = "spark",
    *,
    command: str = "build",
    select: str | None = None,
    exclude: str | None = None,
    project_dir: Path | None = None,
    duckdb_path: Path | None = None,
    spark_folder: Path | None = None,
    raw_from_parquet: bool | None = None,
    indirect_selection: str | None = None,
    check: bool = True,
    timeout: float | None = None,
    catalog: str = "hive",
) -> BuildResult:
    """Run ``dbt <command>`` (build, run, seed, test) of the prepared warehouse (``$KPI_WAREHOUSE_DIR``)
    on ``target`` and time it.

    ``target``: a target of ``<project_dir>/profiles.yml`` (``duckdb``, ``spark``, ``spark_thrift``).
    ``project_dir``: the dbt project (default the repository's ``dbt/``; a copy for experiments).
    ``duckdb_path``: database file of the duckdb target (default the working database).
    ``spark_folder``: metastore, table files and scratch of the spark target (default ``<warehouse>/spark``).
    ``raw_from_parquet``: read the sources from the Parquet raw layer (always on Spark; on DuckDB it
    replaces the raw tables by views, so use it with a ``duckdb_path`` other than the working database).
    The Parquet raw layer is written from the working database first when missing (``export_seconds``).

    Raises :class:`DbtBuildError` when dbt fails and ``check`` is true (the message lists the failed
    nodes and the log); ``subprocess.TimeoutExpired`` after ``timeout`` seconds.
    ``indirect_selection``: dbt's rule for tests of partly selected nodes (eager, cautious, buildable).
    ``catalog``: the local Spark session's catalog: ``hive`` (a Derby metastore in the Spark folder: a later
    command sees the tables) or ``in-memory`` (this command's only; the table files of earlier builds, which
    it does not know, are removed first: Spark will not write a new table into a folder that is not empty).
    Raises ``ValueError`` for another catalog.
    """
    if catalog not in ("hive", "in-memory"):
        raise ValueError(f"catalog must be hive or in-memory, not {catalog!r}")
    project = Path(project_dir or DBT_PROJECT_DIR).resolve()
    from_parquet = target != "duckdb" if raw_from_parquet is None else raw_from_parquet
    export_seconds = ensure_raw_parquet() if from_parquet else 0.0
    stamp = f"{dt.datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}"
    scratch = Path(spark_folder or spark_dir()).resolve()
    # dbt's target folder and logs of this command (never the shared dbt/target of the nightly job)
    run_dir = (scratch if target != "duckdb" else warehouse_dir()) / "dbt_runs" / f"{target}-{stamp}"
    run_dir.mkdir(parents=True, exist_ok=True)
    if target != "duckdb":
        (scratch / "tmp").mkdir(parents=True, exist_ok=True)
        if target == "spark" and catalog == "in-memory":
            shutil.rmtree(scratch / "spark-warehouse", ignore_errors=True)
    database = Path(duckdb_path or work_db_path()).resolve() if target == "duckdb" else scratch
    env = {
        **os.environ,
        "KPI_WORK_DB": str(database) if target == "duckdb" else str(work_db_path()),
        **memory.subprocess_env(),  # spill folder and DuckDB's share of KPI_MEMORY_LIMIT
        "KPI_RAW_PARQUET_DIR": raw_parquet.engine_location(),
        "KPI_SPARK_DIR": str(scratch),
        "KPI_SPARK_CATALOG": catalog,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    args = [
        _dbt_executable(), command, "--target", target, "--project-dir", str(project), "--profiles-dir", str(project),
        "--target-path", str(run_dir / "target"), "--log-path", str(run_dir), "--no-use-colors",
    ]
    if from_parquet and target == "duckdb":
        args += ["--vars", json.dumps({"raw_from_parquet": True})]
    if select:
        args += ["--select", select]
    if exclude:
        args += ["--exclude", exclude]
    if indirect_selection:
        args += ["--indirect-selection", indirect_selection]
    log_path = run_dir / "output.log"
    start = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as out:
        proc = subprocess.run(args, cwd=project, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
    seconds = time.perf_counter() - start
    statuses: dict[str, int] = {}
    nodes: dict[str, str] = {}
    failed: list[str] = []
    results_file = run_dir / "target" / "run_results.json"
    if results_file.exists():
        for r in json.loads(results_file.read_text(encoding="utf-8")).get("results", []):
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
            nodes[r["unique_id"]] = r["status"]
            if r["status"] in ("error", "fail", "runtime error"):
                failed.append(f"{r['unique_id']}: {(r.get('message') or '').strip()[:300]}")
    if proc.returncode != 0 and not failed:
        failed.append(f"dbt exited with code {proc.returncode}")
    result = BuildResult(target, command, seconds, statuses, database, log_path, project, export_seconds, failed, nodes)
    if check and not result.ok:
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise DbtBuildError(
            f"dbt {command} on target {target} failed ({len(failed)} nodes); log {log_path}:\n"
            + "\n".join(failed[:20]) + f"\n--- end of the log ---\n{tail}"
        )
    return result


def read_table(result: BuildResult, table: str, schema: str = "marts") -> pd.DataFrame:
    """Rows of ``schema.table`` built by ``result``: from the DuckDB file, or (spark, local session) from
    the table's Parquet files in ``<spark folder>/spark-warehouse/<schema>.db/<table>/`` read by DuckDB,
    so no second Spark session is needed. Raises ``FileNotFoundError`` when the table was not built."""
    if result.target == "duckdb":
        with duckdb.connect(str(result.database), read_only=True) as con:
            return con.execute(f'SELECT * FROM "{schema}"."{table}"').df()
    folder = result.database / "spark-warehouse" / f"{schema}.db" / table
    if not folder.is_dir() or not any(folder.glob("*.parquet")):
        raise FileNotFoundError(f"no table files of {schema}.{table} in {folder}: was it built on this Spark target?")
    with duckdb.connect() as con:
        return con.execute(f"SELECT * FROM read_parquet('{folder}/*.parquet')").df()


def _normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """Engine-neutral column types: dates and timestamps as ISO text, booleans as bool, numbers as float."""
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_bool_dtype(s) or (s.dtype == object and s.dropna().map(type).eq(bool).all() and s.notna().any()):
            out[col] = s.astype("boolean")
        elif pd.api.types.is_numeric_dtype(s):
            out[col] = pd.to_numeric(s).astype("float64")
        elif pd.api.types.is_datetime64_any_dtype(s):
            out[col] = s.dt.strftime("%Y-%m-%d %H:%M:%S").str.replace(" 00:00:00", "", regex=False)
        elif s.dropna().map(lambda v: isinstance(v, (dt.date, dt.datetime))).all() and s.notna().any():
            out[col] = s.map(lambda v: None if v is None or v is pd.NaT else str(v).replace(" 00:00:00", ""))
        else:
            out[col] = s.astype("string")
    return out


def compare_tables(left: pd.DataFrame, right: pd.DataFrame, key: tuple[str, ...], tolerance: float = VALUE_TOLERANCE,
                   names: tuple[str, str] = ("left", "right")) -> list[str]:
    """Differences between two versions of one table, as readable lines (empty when they agree): columns
    present on one side only, row counts, duplicate keys, keys on one side only, numeric values further
    apart than ``tolerance`` (absolute; NULL only equals NULL), other values not equal."""
    a_name, b_name = names
    diffs: list[str] = []
    only_a = sorted(set(left.columns) - set(right.columns))
    only_b = sorted(set(right.columns) - set(left.columns))
    if only_a or only_b:
        diffs.append(f"columns only in {a_name}: {only_a}; only in {b_name}: {only_b}")
    if len(left) != len(right):
        diffs.append(f"row count: {a_name} {len(left)}, {b_name} {len(right)}")
    cols = [c for c in left.columns if c in right.columns]
    a, b = _normalised(left[cols]), _normalised(right[cols])
    key = tuple(key)
    for side, frame in ((a_name, a), (b_name, b)):
        dup = frame.duplicated(list(key)).sum()
        if dup:
            diffs.append(f"{side}: {dup} duplicate keys {key}")
    merged = a.merge(b, on=list(key), how="outer", suffixes=("__a", "__b"), indicator=True)
    lonely = merged[merged["_merge"] != "both"]
    if len(lonely):
        sample = lonely[list(key) + ["_merge"]].head(5).to_dict("records")
        diffs.append(f"{len(lonely)} keys on one side only (left_only = {a_name}), e.g. {sample}")
    both = merged[merged["_merge"] == "both"]
    for col in cols:
        if col in key:
            continue
        x, y = both[f"{col}__a"], both[f"{col}__b"]
        if x.dtype == "float64" and y.dtype == "float64":
            xv, yv = x.to_numpy(), y.to_numpy()
            same_null = np.isnan(xv) == np.isnan(yv)
            close = np.where(np.isnan(xv) | np.isnan(yv), np.isnan(xv) & np.isnan(yv), np.abs(xv - yv) <= tolerance)
            bad = ~(same_null & close)
        else:
            xs, ys = x.astype("string"), y.astype("string")
            bad = ~((xs == ys).fillna(False) | (xs.isna() & ys.isna())).to_numpy()
        if bad.any():
            rows = both.loc[bad, list(key) + [f"{col}__a", f"{col}__b"]].head(3).to_dict("records")
            diffs.append(f"column {col}: {int(bad.sum())} rows differ ({a_name} vs {b_name}), e.g. {rows}")
    return diffs


def parity(left: BuildResult, right: BuildResult, tables: dict | None = None,
           tolerance: float = VALUE_TOLERANCE) -> dict[str, list[str]]:
    """Compare the KPI tables of two builds (default ``kpi_observations`` and ``kpi_scorecard``) row by
    row; returns the differences per table (all lists empty: the engines agree)."""
    out = {}
    for table, (schema, key) in (tables or PARITY_TABLES).items():
        out[table] = compare_tables(read_table(left, table, schema), read_table(right, table, schema), key,
                                    tolerance, (left.target, right.target))
    return out


def existing_build(target: str = "duckdb", database: Path | None = None) -> BuildResult:
    """A :class:`BuildResult` for tables already built (default: the nightly job's marts in the working
    database), to compare a new build with them."""
    db = Path(database or (work_db_path() if target == "duckdb" else spark_dir()))
    return BuildResult(target, "existing", 0.0, {}, db, db, DBT_PROJECT_DIR)


def add_subcommand(sub) -> None:
    """``kpi build``: the dbt build of the prepared warehouse on a target, timed (see :func:`build`)."""
    p = sub.add_parser(
        "build",
        help="run the dbt build of the prepared warehouse on a target (spark, duckdb, spark_thrift) and print its wall time",
        description="Runs `dbt build` of the warehouse in $KPI_WAREHOUSE_DIR on the target of dbt/profiles.yml and prints "
        "its wall time. On Spark the sources are the Parquet raw layer (written from the working database first if missing). "
        "Exit codes: 0 built (and equal, with --compare), 1 dbt failed or the results differ, 2 usage error, "
        "5 a run of the nightly job holds the warehouse (run lock).",
    )
    p.add_argument("--target", default="spark", help="dbt target (default spark: local Spark session)")
    p.add_argument("--select", help="dbt node selection (default everything)")
    p.add_argument("--exclude", help="dbt nodes to leave out")
    p.add_argument("--parity-only", action="store_true",
                   help=f"build only what the parity check needs (--select '{PARITY_SELECT}' --exclude '{PARITY_EXCLUDE}'"
                   " --indirect-selection cautious)")
    p.add_argument("--compare", action="store_true",
                   help="compare kpi_observations and kpi_scorecard with the nightly job's (working database); local targets only")


def run_subcommand(args) -> int:
    """Run ``kpi build``; prints the wall time, the failed nodes and, with --compare, the differences.

    Holds the warehouse's run lock while it builds (the nightly job never runs at the same time; the lock
    file keeps naming the last nightly run); returns 5 when a run holds it."""
    from daxing_kpi.runlock import RunLock, RunLockBusy

    lock = RunLock()
    try:
        lock.acquire(claim=False)
    except RunLockBusy as busy:
        print(str(busy), file=sys.stderr)
        return 5
    try:
        if args.parity_only:
            result = parity_build(args.target, check=False)
        else:
            result = build(args.target, select=args.select, exclude=args.exclude, check=False)
    except FileNotFoundError as e:
        print(str(e), file=sys.stderr)
        return 1
    finally:
        lock.release()
    print(result.summary())
    if result.export_seconds:
        print(f"Parquet raw layer written from the working database first: {result.export_seconds:.1f} s")
    print(f"dbt log: {result.log_path}")
    if not result.ok:
        print("FAILED:\n  " + "\n  ".join(result.failed_nodes[:20]), file=sys.stderr)
        return 1
    if args.compare:
        diffs = parity(existing_build("duckdb"), result)
        for table, lines in diffs.items():
            print(f"{table}: " + ("identical to the working database's" if not lines else f"{len(lines)} differences"))
            for line in lines:
                print(f"  {line}")
        if any(diffs.values()):
            return 1
    return 0
