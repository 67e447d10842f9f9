#!/usr/bin/env python
"""Benchmark of the nightly job at district and city scale, against bare DuckDB (issue 10).

    .venv/bin/python benchmarks/run_benchmarks.py                      # scales 1, 4 and 16 (takes a while)
    .venv/bin/python benchmarks/run_benchmarks.py --scales 0.05,0.2    # a quick look
    .venv/bin/python benchmarks/run_benchmarks.py --help

For every scale (1 = a district of 2.0 million residents, 16 = a city of about 30 million) it

1. generates the sample (record counts printed) into a fresh warehouse folder;
2. runs the full nightly job (``kpi run``, the Dagster job ``refresh_kpis_job``) in its own process and
   prints, per stage (generate, ingest, checks, dbt, publish, dashboard, docs; plus the start-up of the
   process), wall time, CPU time and peak memory of the process tree (psutil samples attributed to
   stages by the step windows of Dagster's event log), input rows per second and the published size;
3. runs the bare-DuckDB baseline on the same files (``bare_duckdb.py``: read_csv + the dbt-compiled SQL,
   no orchestration, no checks) and prints the ratio pipeline / bare and the fixed overhead (the
   pipeline's time at the smallest scale);
4. the nights after the full run (issue 20.2; ``--incremental-scales``): times a night with no new file (it
   records ``no_new_data`` without starting Dagster; target < 8 s at scale 1), then delivers one more day of
   records for every source (``new_day.py``) and times the night that loads it (only what changed; target
   < 15 s at scale 1), then runs ``kpi run --full`` on a copy of the same state and files and compares the
   two publications table by table (:mod:`daxing_kpi.pubcompare`): "identical" or the tables that differ;
5. at the largest scale (``--memory-scale``), runs the job again in a fresh warehouse with the DuckDB
   memory limit ``--memory-limit`` (default 2 GiB) and a spill folder, and reports peak memory per stage
   against the limit and the bytes spilled;
6. with ``--test-suite`` (about half an hour, so only on request), runs the default test run (the README's
   ``pytest``: the project's options, three workers) in its own measured process tree and reports its wall
   time beside the target of issue 20.5 (< 15 min on a quiet 2-core machine) with pytest's summary line.
   ``--scales none --test-suite --no-latest`` measures the test run alone.

Results: ``<out>/benchmark-<time>.json`` and ``.md`` (a short Markdown table with the machine's facts),
copied to ``latest.json`` / ``latest.md``. Targets are reported, never asserted. ``--skip`` leaves parts
out (pipeline, bare, incremental, memory, extras). The extras of issues 6, 7 and 11 run when their
scripts exist: ``benchmarks/check_memory.py`` (peak memory of the check step at ``--check-memory-scale``),
``benchmarks/dashboard_benchmark.py`` (dashboard size and load time) and, with ``--spark``, the dbt
build of the smallest scale on the Spark target (:mod:`daxing_kpi.engines`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from procmon import Measured, folder_bytes, run_measured  # noqa: E402

STAGE_ORDER = ("startup", "ingest", "checks", "dbt", "publish", "dashboard", "docs", "other")
DOCS_STEPS = {"dbt_docs_site", "quality_data_docs"}  # built after the dashboard: shown apart from publish
TARGETS = {
    # issue 20's table of targets
    "scale1_full_run_seconds": 30, "pipeline_over_bare_at_largest": 2.0, "fixed_overhead_seconds": 20,
    "incremental_scale1_seconds": 15, "ingest_rows_per_cpu_second": 600_000, "no_new_data_scale1_seconds": 8,
    "default_test_run_seconds": 15 * 60,
}
PACKAGES = ("duckdb", "dagster", "dagster-dbt", "dbt-core", "dbt-duckdb", "pandas", "numpy", "great-expectations", "psutil")
GiB = 1024 ** 3


def mib(n: int | None) -> str:
    return "–" if n is None else f"{n / 2**20:,.0f} MiB"


def sec(v: float | None) -> str:
    return "–" if v is None or v != v else f"{v:.1f} s"


def log(msg: str = "") -> None:
    print(msg, flush=True)


# -- facts -----------------------------------------------------------------------------------------------


def machine_facts() -> dict:
    """Cores, memory, CPU model, OS, Python and package versions, git commit, load average."""
    import psutil

    cpu_model = ""
    try:
        cpu_model = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "")
    except OSError:
        pass
    versions = {}
    for p in PACKAGES:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            versions[p] = None
    commit = None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip() or None
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        commit = f"{commit}{' + uncommitted changes' if dirty else ''}" if commit else None
    except OSError:
        pass
    return {
        "cores_logical": os.cpu_count(), "cores_physical": psutil.cpu_count(logical=False), "cpu_model": cpu_model,
        "memory_total_bytes": psutil.virtual_memory().total, "os": platform.platform(), "python": platform.python_version(),
        "packages": versions, "commit": commit, "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# -- one measured command --------------------------------------------------------------------------------


def base_env(warehouse: Path, dashboard: Path, memory_limit: str | None = None) -> dict:
    """Environment of the job's process: a fresh warehouse, no sample generation, DuckDB settings."""
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "KPI_DUCKDB_MEMORY_LIMIT", "KPI_DUCKDB_TEMP_DIR")}
    env.update({"KPI_WAREHOUSE_DIR": str(warehouse), "KPI_DASHBOARD_DIR": str(dashboard), "KPI_SAMPLE_ON_EMPTY": "0",
                "KPI_DUCKDB_TEMP_DIR": str(warehouse / "duckdb_tmp"), "PYTHONUNBUFFERED": "1"})
    # generated files without the sample's marker need a person-key secret (issue 19.2); a fixed one for benchmarks
    env.setdefault("KPI_PII_KEY", "benchmark-person-key-secret-0123456789")
    if memory_limit:
        env["KPI_DUCKDB_MEMORY_LIMIT"] = memory_limit
    return env


KILL_ABOVE: int | None = None  # --kill-above: the memory safety valve of every measured command


def summary(m: Measured) -> dict:
    out = {"wall_seconds": round(m.wall_seconds, 3), "cpu_seconds": m.cpu_seconds, "peak_rss_bytes": m.peak_rss,
           "peak_spill_bytes": m.peak_spill, "returncode": m.returncode, "machine_busy_seconds": m.machine_busy_seconds,
           "cores_busy_share": None if m.cores_busy_share is None else round(m.cores_busy_share, 3)}
    if m.killed:
        out["killed"] = f"stopped by the benchmark: process tree above {mib(KILL_ABOVE)} (--kill-above)"
    return out


def generator_digest() -> str:
    """A fingerprint of the sample generator's code and the contracts it writes to (what a kept sample depends on)."""
    from daxing_kpi.paths import CONTRACTS_DIR, PACKAGE_DIR

    h = hashlib.sha256()
    for folder in (PACKAGE_DIR / "sample", CONTRACTS_DIR):
        for f in sorted(folder.rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts:
                h.update(str(f.relative_to(folder)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:20]


def copy_sample(src: Path, dst: Path) -> None:
    """The generated sample's folders (``landing/``, ``sample_truth/``) of ``src`` copied into ``dst``."""
    for part in ("landing", "sample_truth"):
        if (src / part).exists():
            shutil.copytree(src / part, dst / part, dirs_exist_ok=True)


def generate(warehouse: Path, scale: float, logs: Path, interval: float, samples: Path | None = None) -> dict:
    """The sample at ``scale`` into ``warehouse`` (``landing/``, ``sample_truth/``; measured); returns counts and
    measures. With ``samples`` (``--samples``), a sample generated earlier by the same generator code is copied
    from ``samples/scale-<s>-<digest>/`` instead (its generation's measures are reported, marked ``reused_from``),
    and a newly generated one is kept there: generation is not part of any target, and scale 16 takes minutes."""
    kept = samples / f"scale-{scale:g}-{generator_digest()}" if samples else None
    if kept is not None and (kept / "generate.json").exists():
        copy_sample(kept, warehouse)
        return {**json.loads((kept / "generate.json").read_text(encoding="utf-8")), "reused_from": str(kept)}
    counts_file = logs / f"generate_{scale}.json"
    m = run_measured([sys.executable, str(Path(__file__).resolve()), "_generate", "--dir", str(warehouse), "--scale", str(scale),
                      "--counts", str(counts_file)], log=logs / f"generate_{scale}.log", interval=interval, kill_above=KILL_ABOVE)
    if m.returncode:
        raise SystemExit(f"generating the sample at scale {scale} failed: see {logs / f'generate_{scale}.log'}")
    counts = json.loads(counts_file.read_text())
    out = {"counts": counts, **summary(m), "landing_bytes": folder_bytes(warehouse / "landing")}
    if kept is not None:
        tmp = kept.with_name(kept.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        copy_sample(warehouse, tmp)
        (tmp / "generate.json").write_text(json.dumps(out), encoding="utf-8")
        tmp.rename(kept)
    return out


# -- the nightly job and its stages ----------------------------------------------------------------------


def stage_of_step(step: str) -> str:
    """The stage of a Dagster step: the product's rule (:func:`daxing_kpi.operations.stage_of`), with the
    docs sites (dbt docs, GX Data Docs) shown as their own stage."""
    if step in DOCS_STEPS:
        return "docs"
    import warnings

    with warnings.catch_warnings():  # loading the definitions imports optional engines (pyspark warns about pandas 3)
        warnings.simplefilter("ignore")
        from daxing_kpi.operations import stage_of

        return stage_of(step)


def run_record(warehouse: Path, run_id: str) -> dict:
    """From the run's Dagster event log (``warehouse/dagster_home``): ``windows`` (step key -> (start, end)),
    ``selection`` (the assets the run selected; None = the whole job) and ``materialized`` (asset key ->
    metadata of its materialization)."""
    import dagster as dg

    from daxing_kpi.operations import run_facts

    home = warehouse / "dagster_home"
    old = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            facts = run_facts(instance, run_id)
            materialized = {}
            for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
                m = e.dagster_event.event_specific_data.materialization
                materialized[m.asset_key.to_user_string()] = {k: v.value for k, v in m.metadata.items()
                                                              if isinstance(v.value, (int, float, str, bool))}
    finally:
        if old is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = old
    return {"windows": {s: (t0, facts.step_end.get(s, t0)) for s, t0 in facts.step_start.items()},
            "selection": facts.asset_selection, "materialized": materialized}


def step_windows(warehouse: Path, run_id: str) -> dict[str, tuple[float, float]]:
    """``step key -> (start, end)`` from the run's Dagster event log (``warehouse/dagster_home``)."""
    return run_record(warehouse, run_id)["windows"]


def dbt_test_seconds(warehouse: Path, run_id: str) -> float | None:
    """Seconds dbt spent in tests during the run's ``dbt build`` (its run_results.json in the warehouse's
    ``dbt_runs/``), or None."""
    folders = sorted((warehouse / "dbt_runs").glob(f"daxing_dbt_models-{run_id[:7]}-*"))
    for folder in folders:
        rr = folder / "run_results.json"
        if rr.exists():
            results = json.loads(rr.read_text())["results"]
            return round(sum(r.get("execution_time") or 0 for r in results if r["unique_id"].startswith("test.")), 3)
    return None


def run_job(warehouse: Path, dashboard: Path, logs: Path, name: str, interval: float, memory_limit: str | None = None,
            args: tuple[str, ...] = ()) -> dict:
    """``kpi run [args]`` in its own process on ``warehouse``; wall/CPU/peak memory per stage and totals. A night
    that found nothing new (no Dagster run) has ``no_new_data`` set and no stages."""
    env = base_env(warehouse, dashboard, memory_limit)
    log_path = logs / f"{name}.log"
    m = run_measured([sys.executable, "-m", "daxing_kpi.cli", "run", *args], env=env, cwd=ROOT, log=log_path, interval=interval,
                     watch=warehouse / "duckdb_tmp", kill_above=KILL_ABOVE)
    text = log_path.read_text(encoding="utf-8", errors="replace")
    first = next((ln.split() for ln in text.splitlines() if ln.startswith("kpi run ")), [])
    run_id = first[2].rstrip(":") if len(first) > 2 else None
    out = {"log": str(log_path), "run_id": run_id, "succeeded": m.returncode == 0, **summary(m)}
    if m.returncode:
        out["error_tail"] = text[-3000:]
    out["no_new_data"] = any(ln.startswith("kpi run ") and ln.rstrip().endswith(": no new data.") for ln in text.splitlines())
    if not run_id or out["no_new_data"]:
        return out
    record = run_record(warehouse, run_id)
    windows = record["windows"]
    out["selected_assets"] = None if record["selection"] is None else len(record["selection"])
    raw = {k.split("/", 1)[1]: v for k, v in record["materialized"].items() if k.startswith("raw/") and "files_read" in v}
    out["sources_loaded"] = len(raw)
    out["files_parsed"] = sum(v["files_read"] for v in raw.values())
    out["files_reused"] = sum(v["files_reused"] for v in raw.values())
    out["rows_parsed"] = sum(v.get("rows_parsed", 0) for v in raw.values())
    out["files_superseded_unread"] = sum(v.get("files_superseded_unread", 0) for v in raw.values())
    out["rows_superseded_unread"] = sum(v.get("rows_superseded_unread", 0) for v in raw.values())
    out["models_built"] = sum(1 for k in record["materialized"] if k.split("/", 1)[0] in ("staging", "intermediate", "marts"))
    docs = record["materialized"].get("dbt_docs_site", {})
    out["docs_site_rebuilt"] = docs.get("rebuilt")
    by_stage: dict[str, list[tuple[float, float]]] = {}
    for step, w in windows.items():
        by_stage.setdefault(stage_of_step(step), []).append(w)
    first_start = min((a for a, _ in windows.values()), default=m.ended)
    last_end = max((b for _, b in windows.values()), default=m.ended)
    by_stage["startup"] = [(m.started, first_start)]
    by_stage.setdefault("other", []).append((last_end, m.ended))
    out["stages"] = {s: m.window(by_stage[s]) for s in STAGE_ORDER if s in by_stage}
    out["dbt_test_seconds"] = dbt_test_seconds(warehouse, run_id)
    work_db = warehouse / "work" / "work.duckdb"
    if work_db.exists():
        import duckdb

        with duckdb.connect(str(work_db), read_only=True) as con:
            r = con.execute("SELECT count(*), coalesce(sum(rows_read), 0), coalesce(sum(rows_loaded), 0) FROM audit.ingest_audit"
                            " WHERE run_id = ? AND status <> 'skipped_duplicate_file'", [run_id]).fetchone()
            by_status = con.execute("SELECT status, count(*), coalesce(sum(rows_read), 0) FROM audit.ingest_audit WHERE run_id = ?"
                                    " GROUP BY status ORDER BY status", [run_id]).fetchall()
        out["files_read"], out["rows_read"], out["rows_loaded"] = int(r[0]), int(r[1]), int(r[2])
        out["audit_by_status"] = {st: {"files": int(n), "rows_read": int(rows)} for st, n, rows in by_status}
        ing = out["stages"].get("ingest", {})
        out["ingest_rows_per_second"] = round(out["rows_read"] / ing["wall_seconds"]) if ing.get("wall_seconds") else None
        out["ingest_rows_per_cpu_second"] = round(out["rows_read"] / ing["cpu_seconds"]) if ing.get("cpu_seconds") else None
        out["work_db_bytes"] = work_db.stat().st_size
    out["csv"] = csv_figures(raw, out["stages"].get("ingest", {}))  # the CSV-only view beside the stage figure
    published = warehouse / "analytics.duckdb"
    out["published_db_bytes"] = published.stat().st_size if published.exists() else None
    out["dashboard_bytes"] = folder_bytes(dashboard.resolve()) if dashboard.exists() else None
    return out


def csv_figures(raw: dict[str, dict], ingest_stage: dict) -> dict | None:
    """The CSV-only view of ingestion (issue 20.1), beside the stage figure, from the raw assets' metadata
    (:func:`daxing_kpi.defs.ingest.read_cost_metadata`); None when the run's metadata does not have it.

    The stage figure divides all rows read by the CPU of every ingest step: the landing inventory, the Excel
    workbooks and town return forms, each step's fixed cost and Dagster's bookkeeping. Here:

    * ``rows_per_read_cpu_second``: rows of the delimited-text files read now / the CPU seconds of reading and
      checking exactly those files (header, line scan, the set-based pass into the staged table; per file, in
      the process, DuckDB's threads included), no writing;
    * ``rows_per_load_cpu_second``: over the sources whose files read now are all delimited text, their rows /
      the CPU seconds of their whole load (reading, checking, duplicates, the raw table, its Parquet copy, the
      stage cache), Dagster's bookkeeping of the steps excluded;
    * ``other_read_cpu_seconds``: reading the other files (Excel, HTML, forms); ``outside_loads_cpu_seconds``:
      the ingest stage's CPU not inside any source's load (inventory, workbook plan, audit asset, Dagster)."""
    if not raw or not all("read_cpu_seconds_text" in v for v in raw.values()):
        return None
    files = sum(v["files_read_text"] for v in raw.values())
    rows = sum(v["rows_read_text"] for v in raw.values())
    cpu = sum(v["read_cpu_seconds_text"] for v in raw.values())
    text_only = [v for v in raw.values() if v.get("files_read") and v["files_read_text"] == v["files_read"]]
    src_rows = sum(v.get("rows_parsed", 0) for v in text_only)
    src_cpu = sum(v["load_cpu_seconds"] for v in text_only)
    loads = sum(v["load_cpu_seconds"] for v in raw.values())
    stage_cpu = ingest_stage.get("cpu_seconds")
    return {"files_read": files, "rows_read": rows, "read_cpu_seconds": round(cpu, 3),
            "rows_per_read_cpu_second": round(rows / cpu) if cpu else None,
            "sources": len(text_only), "source_rows": src_rows, "source_load_cpu_seconds": round(src_cpu, 3),
            "rows_per_load_cpu_second": round(src_rows / src_cpu) if src_cpu else None,
            "other_read_cpu_seconds": round(sum(v["read_cpu_seconds_other"] for v in raw.values()), 3),
            "all_loads_cpu_seconds": round(loads, 3),
            "outside_loads_cpu_seconds": round(stage_cpu - loads, 3) if stage_cpu is not None else None}


def bare(template: Path, landing: Path, db: Path, logs: Path, name: str, interval: float) -> dict:
    """The bare-DuckDB baseline on ``landing`` (its own process, measured)."""
    env = {k: v for k, v in os.environ.items() if k not in ("KPI_DUCKDB_MEMORY_LIMIT",)}
    env["KPI_DUCKDB_TEMP_DIR"] = str(db.parent / "duckdb_tmp")
    m = run_measured([sys.executable, str(HERE / "bare_duckdb.py"), "run", "--template", str(template), "--landing", str(landing),
                      "--db", str(db)], env=env, cwd=ROOT, log=logs / f"{name}.log", interval=interval, kill_above=KILL_ABOVE)
    text = (logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")
    out = {"succeeded": m.returncode == 0, **summary(m)}
    if m.returncode:
        out["error_tail"] = text[-3000:]
        return out
    out.update(json.loads(text.strip().splitlines()[-1]))
    return out


def compare_observations(pipeline_db: Path, bare_db: Path) -> dict:
    """Rows of ``marts.kpi_observations`` in both, rows only in one, and the largest value difference."""
    import duckdb

    if not pipeline_db.exists() or not bare_db.exists():
        return {}
    with duckdb.connect(str(bare_db), read_only=True) as con:
        con.execute(f"ATTACH '{pipeline_db}' AS p (READ_ONLY)")
        key = "kpi_id, period_year, geo_level, geo_code"
        r = con.execute(f"""
            SELECT (SELECT count(*) FROM p.marts.kpi_observations), (SELECT count(*) FROM marts.kpi_observations),
                   count(*) FILTER (WHERE a.kpi_id IS NULL OR b.kpi_id IS NULL),
                   max(abs(a.value - b.value))
            FROM p.marts.kpi_observations AS a FULL JOIN marts.kpi_observations AS b USING ({key})""").fetchone()
    return {"pipeline_rows": r[0], "bare_rows": r[1], "rows_in_one_only": r[2], "max_abs_value_difference": r[3]}


# -- extras of other issues ------------------------------------------------------------------------------


def extras(args, results: dict, logs: Path) -> dict:
    """Dashboard size/load time (issue 7), check-step memory (issue 6), Spark build (issue 11), when present."""
    out: dict = {}
    smallest = results["scales"][0] if results["scales"] else None
    dash_script = HERE / "dashboard_benchmark.py"
    if not dash_script.exists():
        out["dashboard"] = {"status": "not available: benchmarks/dashboard_benchmark.py missing"}
    elif smallest is None or not smallest.get("pipeline", {}).get("succeeded"):
        out["dashboard"] = {"status": "not run: no successful pipeline run"}
    else:
        proc = subprocess.run([sys.executable, str(dash_script), "--dashboard", smallest["dashboard_dir"], "--runs", "3"], cwd=ROOT,
                              capture_output=True, text=True)
        (logs / "dashboard_benchmark.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
        out["dashboard"] = {"scale": smallest["scale"], "returncode": proc.returncode, "output": proc.stdout.strip()[-4000:]}
    check_script = HERE / "check_memory.py"
    if not check_script.exists():
        out["check_memory"] = {"status": "not available: benchmarks/check_memory.py missing"}
    else:
        m = run_measured([sys.executable, str(check_script), "--scale", str(args.check_memory_scale)], cwd=ROOT,
                         log=logs / "check_memory.log", interval=args.interval)
        out["check_memory"] = {"scale": args.check_memory_scale, **summary(m),
                               "output": (logs / "check_memory.log").read_text(errors="replace").strip()[-4000:]}
    if not args.spark:
        out["spark"] = {"status": "not run: pass --spark (needs the spark extra)"}
    elif smallest is None or not smallest.get("pipeline", {}).get("succeeded"):
        out["spark"] = {"status": "not run: no successful pipeline run"}
    else:
        out["spark"] = spark_build(Path(smallest["warehouse"]), logs, args.interval)
    return out


def spark_build(warehouse: Path, logs: Path, interval: float) -> dict:
    """``dbt build`` of the smallest scale's raw layer on the Spark target (daxing_kpi.engines), measured."""
    code = ("import json, sys; from daxing_kpi import engines; r = engines.build(target='spark'); "
            "d = engines.parity(engines.existing_build('duckdb'), r); "
            "out = {k: (v if isinstance(v, (int, float, str, bool, type(None))) else str(v)) for k, v in vars(r).items()}; "
            "out['parity_differences'] = {t: len(v) for t, v in d.items()}; print(json.dumps(out))")
    env = {**os.environ, "KPI_WAREHOUSE_DIR": str(warehouse)}
    m = run_measured([sys.executable, "-c", code], env=env, cwd=ROOT, log=logs / "spark_build.log", interval=interval)
    text = (logs / "spark_build.log").read_text(errors="replace")
    out = {**summary(m), "succeeded": m.returncode == 0}
    try:
        out["build"] = json.loads(text.strip().splitlines()[-1])
    except (ValueError, IndexError):
        out["output_tail"] = text[-3000:]
    return out


def time_test_suite(logs: Path, interval: float, cmd: list[str] | None = None, cwd: Path = ROOT) -> dict:
    """The default test run (issue 20.5): ``cmd`` (default ``python -m pytest``, the project's options from
    pyproject.toml) in ``cwd``, measured as one process tree (wall, CPU, peak memory), outside any warehouse
    of the benchmark (``KPI_WAREHOUSE_DIR`` and ``KPI_DASHBOARD_DIR`` removed). Returns :func:`summary`'s
    figures plus pytest's summary line (``summary_line``), its counts (``counts``: passed, failed, skipped,
    errors, ...) and its own seconds (``pytest_seconds``), and ``passed``: exit code 0 and no failure."""
    cmd = cmd or [sys.executable, "-m", "pytest"]
    env = {k: v for k, v in os.environ.items() if k not in ("KPI_WAREHOUSE_DIR", "KPI_DASHBOARD_DIR", "PYTEST_ADDOPTS")}
    log_file = logs / "test_suite.log"
    m = run_measured(cmd, env=env, cwd=cwd, log=log_file, interval=interval, kill_above=KILL_ABOVE)
    out = {"command": " ".join(cmd), **summary(m), **pytest_summary(log_file.read_text(encoding="utf-8", errors="replace"))}
    out["passed"] = m.returncode == 0 and not out["counts"].get("failed") and not out["counts"].get("errors")
    return out


def pytest_summary(output: str) -> dict:
    """pytest's last summary line (``==== 646 passed, 2 skipped in 1844.21s (0:30:44) ====``) of ``output``:
    ``summary_line`` (without the ``=``), ``counts`` ({"passed": 646, "skipped": 2}; ``error``/``errors``
    as ``errors``) and ``pytest_seconds`` (None when no summary line is found, e.g. pytest was killed), the
    first ten of pytest's ``--durations`` lines (``slowest``: seconds, phase, test id; slowest first) and the short
    summary's ``FAILED``/``ERROR`` lines (``failures``: which tests failed and why, in pytest's words)."""
    import re

    for line in reversed(output.splitlines()):
        m = re.fullmatch(r"=+ (.+) in ([0-9.]+)s(?: \([0-9:]+\))? =+", line.strip())
        if m:
            counts = {}
            for n, what in re.findall(r"(\d+) (\w+)", m.group(1)):
                counts["errors" if what.startswith("error") else what] = int(n)
            slowest = [{"seconds": float(d[0]), "phase": d[1], "test": d[2]}
                       for d in re.findall(r"^([0-9.]+)s (setup|call|teardown) +(\S+)$", output, flags=re.M)][:10]
            short = output[output.rfind("short test summary info"):] if "short test summary info" in output else ""
            failures = re.findall(r"^((?:FAILED|ERROR) \S+.*)$", short, flags=re.M)
            return {"summary_line": f"{m.group(1)} in {float(m.group(2)):.0f} s", "counts": counts, "pytest_seconds": float(m.group(2)),
                    "slowest": slowest, "failures": [f[:300] for f in failures]}
    return {"summary_line": None, "counts": {}, "pytest_seconds": None, "slowest": [], "failures": []}


# -- report ----------------------------------------------------------------------------------------------


def verdicts(results: dict) -> list[tuple[str, str, str, str]]:
    """(target, aim, measured, met?) rows."""
    rows = []
    scales = {s["scale"]: s for s in results["scales"]}
    s1 = scales.get(1.0)
    if s1 and s1.get("pipeline", {}).get("wall_seconds") is not None:
        v = s1["pipeline"]["wall_seconds"]
        aim = TARGETS["scale1_full_run_seconds"]
        rows.append(("scale 1 full run", f"< {aim} s", f"{v:.1f} s", "yes" if v < aim else "no"))
    cmp_ = results.get("comparison", {})
    if cmp_.get("ratio_at_largest") is not None:
        v = cmp_["ratio_at_largest"]
        rows.append((f"pipeline / bare DuckDB at scale {cmp_['largest_scale']:g} (wall time)", "≤ 2", f"{v:.2f}", "yes" if v <= 2 else "no"))
        largest = next((s for s in results["scales"] if s["scale"] == cmp_["largest_scale"]), None)
        if largest is not None and cpu_ratio(largest) == cpu_ratio(largest):
            v = cpu_ratio(largest)
            rows.append((f"pipeline / bare DuckDB at scale {cmp_['largest_scale']:g} (CPU time)", "≤ 2", f"{v:.2f}", "yes" if v <= 2 else "no"))
    if cmp_.get("fixed_overhead_seconds") is not None:
        v = cmp_["fixed_overhead_seconds"]
        rows.append((f"fixed overhead (pipeline at scale {cmp_['smallest_scale']:g})", "< 20 s", f"{v:.1f} s", "yes" if v < 20 else "no"))
    if s1 and s1.get("no_new_data", {}).get("wall_seconds") is not None:
        q = s1["no_new_data"]
        v, aim = q["wall_seconds"], TARGETS["no_new_data_scale1_seconds"]
        rows.append(("night with no new file at scale 1", f"< {aim} s", f"{v:.1f} s" + ("" if q.get("no_new_data") else " (a Dagster run was started)"),
                     "yes" if v < aim and q.get("no_new_data") and q.get("succeeded") else "no"))
    if s1 and s1.get("incremental", {}).get("wall_seconds") is not None:
        v, aim = s1["incremental"]["wall_seconds"], TARGETS["incremental_scale1_seconds"]
        ok = s1["incremental"].get("succeeded")
        rows.append(("night with one more day of every source at scale 1", f"< {aim} s", f"{v:.1f} s" + ("" if ok else " (FAILED)"),
                     "yes" if v < aim and ok else "no"))
    for s in results["scales"]:
        c = s.get("nights_compared")
        if c:
            rows.append((f"incremental night and full night publish identical marts (scale {s['scale']:g})", "identical", c["summary"],
                         "yes" if c.get("identical") else "no"))
    aim = TARGETS["ingest_rows_per_cpu_second"]
    for s in results["scales"]:  # the figure is per scale (4 and 16); scales under 4 are shown too
        v = s.get("pipeline", {}).get("ingest_rows_per_cpu_second")
        if v:
            rows.append((f"CSV ingestion, rows per CPU-second (scale {s['scale']:g})", f"> {aim:,}", f"{v:,.0f}", "yes" if v > aim else "no"))
        c = s.get("pipeline", {}).get("csv") or {}
        if c.get("rows_per_read_cpu_second"):  # the CSV-only view beside it: not the measure, no verdict
            rows.append((f"– CSV files only, reading and checking: {c['rows_read']:,} rows of {c['files_read']} files / "
                         f"{c['read_cpu_seconds']:.1f} CPU-s of reading them, no writes (scale {s['scale']:g})", "(view)",
                         f"{c['rows_per_read_cpu_second']:,.0f}", "–"))
        if c.get("rows_per_load_cpu_second"):
            rows.append((f"– CSV-only sources, whole load (read, check, raw table, Parquet, stage cache): {c['source_rows']:,} rows of "
                         f"{c['sources']} sources / {c['source_load_cpu_seconds']:.1f} CPU-s, Dagster's bookkeeping excluded "
                         f"(scale {s['scale']:g})", "(view)", f"{c['rows_per_load_cpu_second']:,.0f}", "–"))
    t = results.get("test_suite")
    if t and t.get("wall_seconds") is not None:
        aim, v = TARGETS["default_test_run_seconds"], t["wall_seconds"]
        busy = f", cores busy {t['cores_busy_share']:.0%} of the time" if t.get("cores_busy_share") is not None else ""
        measured = (f"{int(v // 60)} min {v % 60:.0f} s, CPU {t['cpu_seconds'] / 60:.0f} min of the processes waited for{busy} "
                    f"({t.get('summary_line') or 'no pytest summary'})")
        rows.append((f"default test run ({results['machine']['cores_logical']} cores)", f"< {aim // 60} min", measured,
                     "yes" if v < aim and t.get("passed") else "no"))
    return rows


def cpu_ratio(s: dict) -> float:
    """Pipeline CPU seconds / bare-DuckDB CPU seconds of one scale (NaN when either is missing)."""
    p, b = s.get("pipeline", {}), s.get("bare", {})
    return p["cpu_seconds"] / b["cpu_seconds"] if p.get("cpu_seconds") and b.get("cpu_seconds") else float("nan")


def growth(results: dict) -> dict:
    """How cost grows with input: least-squares line of CPU and wall seconds against records read, for the
    pipeline and bare DuckDB (``fixed`` = the intercept, ``per_million`` = seconds per million records)."""
    out = {}
    for who in ("pipeline", "bare"):
        pts = [(s["pipeline"]["rows_read"], s[who]) for s in results["scales"]
               if s.get("pipeline", {}).get("rows_read") and s.get(who, {}).get("succeeded")]
        if len(pts) < 2:
            continue
        for metric in ("cpu_seconds", "wall_seconds"):
            xs = [x / 1e6 for x, _ in pts]
            ys = [m[metric] for _, m in pts]
            mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
            sxx = sum((x - mx) ** 2 for x in xs)
            slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else float("nan")
            out[f"{who}_{metric}"] = {"fixed": round(my - slope * mx, 1), "per_million": round(slope, 1)}
    return out


def markdown(results: dict) -> str:
    f = results["machine"]
    lines = [f"# Benchmark results, {results['started_at'][:16].replace('T', ' ')}", ""]
    lines.append(f"Machine: {f['cores_logical']} cores ({f['cpu_model'] or 'unknown CPU'}), {f['memory_total_bytes'] / GiB:.1f} GiB memory, "
                 f"{f['os']}, Python {f['python']}; " + ", ".join(f"{k} {v}" for k, v in f["packages"].items() if v)
                 + f". Commit {f['commit']}. Load average at start {f['load_average_at_start']}, at end {results.get('load_average_at_end')}.")
    if results.get("note"):
        lines += ["", f"Note: {results['note']}"]
    lines += ["", "Command: `" + results["command"] + "`", ""]
    lines += ["## Targets (measured, not asserted)", "", "| target | aim | measured | met |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in verdicts(results)]
    lines += test_suite_section(results)
    if not results["scales"]:  # the test run alone (--scales none)
        return "\n".join(lines) + "\n"
    lines += ["", "## Full nightly run per scale", "",
              "| scale | records read | landing files (size) | full run | CPU | peak memory (tree) | ingest rows/s | rows per CPU-s (ingest) "
              "| published DB | dashboard | bare DuckDB | pipeline / bare (wall) | pipeline / bare (CPU) | (pipeline − fixed overhead) / bare "
              "| kpi_observations equal |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in results["scales"]:
        p, b, c = s.get("pipeline", {}), s.get("bare", {}), s.get("observations_compared", {})
        equal = "–" if not c else ("yes" if c.get("rows_in_one_only") == 0 and (c.get("max_abs_value_difference") or 0) < 1e-9
                                   else f"no ({c})")
        lines.append(
            f"| {s['scale']:g} | {p.get('rows_read', s['generate']['records']):,} | {mib(s['generate']['landing_bytes'])} "
            f"| {p.get('wall_seconds', float('nan')):.1f} s{'' if p.get('succeeded', True) else ' (FAILED)'} "
            f"| {p.get('cpu_seconds', float('nan')):.1f} s | {mib(p.get('peak_rss_bytes'))} | {p.get('ingest_rows_per_second') or 0:,} "
            f"| {p.get('ingest_rows_per_cpu_second') or 0:,} | {mib(p.get('published_db_bytes'))} | {mib(p.get('dashboard_bytes'))} "
            f"| {sec(b.get('wall_seconds'))} (ingest {sec(b.get('ingest_seconds'))}, models {sec(b.get('models_seconds'))}) "
            f"| {s.get('ratio', float('nan')):.2f} | {cpu_ratio(s):.2f} | {s.get('ratio_without_overhead', float('nan')):.2f} | {equal} |")
    lines += csv_table(results)
    g = growth(results)
    if g:
        lines += ["", "## How cost grows (least-squares line over the scales: seconds = fixed + per million records × records)", "",
                  "| run | CPU: fixed | CPU: per million records | wall: fixed | wall: per million records |", "|---|---|---|---|---|"]
        for who in ("pipeline", "bare"):
            if f"{who}_cpu_seconds" in g:
                c, w = g[f"{who}_cpu_seconds"], g[f"{who}_wall_seconds"]
                lines.append(f"| {'nightly job' if who == 'pipeline' else 'bare DuckDB'} | {c['fixed']:.1f} s | {c['per_million']:.1f} s "
                             f"| {w['fixed']:.1f} s | {w['per_million']:.1f} s |")
    lines += ["", "## Where the time goes: wall / CPU / peak memory per stage", "",
              "| scale | run | generate | " + " | ".join(STAGE_ORDER) + " | dbt tests (inside dbt) |",
              "|---|---|---|" + "---|" * len(STAGE_ORDER) + "---|"]
    for s in results["scales"]:
        for label, key in (("full", "pipeline"), ("incremental", "incremental"), ("full night (--full)", "full_night"),
                           (f"memory limit {results.get('memory_limit')}", "memory_limited")):
            p = s.get(key)
            if not p or "stages" not in p:
                continue
            g = s["generate"] if key == "pipeline" else None
            cell = lambda st: "–" if st is None else f"{st['wall_seconds']:.1f} s / {st['cpu_seconds']:.1f} s / {mib(st['peak_rss_bytes'])}"  # noqa: E731
            gen = cell(g) if g else "–"
            lines.append(f"| {s['scale']:g} | {label} | {gen} | " + " | ".join(cell(p['stages'].get(st)) for st in STAGE_ORDER)
                         + f" | {sec(p.get('dbt_test_seconds'))} |")
    inc = [s for s in results["scales"] if s.get("incremental") or s.get("no_new_data")]
    if inc:
        lines += ["", "## Nights after the full run: no new file; one more day of every source; the same inputs rebuilt in full", "",
                  "| scale | night | new records | rows in the new files | run time | what was processed | published marts |",
                  "|---|---|---|---|---|---|---|"]
        for s in inc:
            sc = s["scale"]
            q = s.get("no_new_data")
            if q:
                lines.append(f"| {sc:g} | no new file | 0 | 0 | {q.get('wall_seconds', float('nan')):.1f} s{'' if q.get('succeeded') else ' (FAILED)'} "
                             f"| {'nothing: no_new_data recorded, Dagster not started' if q.get('no_new_data') else 'a Dagster run was started'} "
                             f"| untouched |")
            i, f = s.get("incremental"), s.get("full_night")
            same = s.get("nights_compared", {}).get("summary", "–")
            if i:
                lines.append(f"| {sc:g} | one more day (incremental) | {i.get('new_records', 0):,} | {i.get('rows_in_new_files', 0):,} "
                             f"| {i.get('wall_seconds', float('nan')):.1f} s{'' if i.get('succeeded') else ' (FAILED)'} | {i.get('reprocessed', '')} "
                             f"| {same} |")
            if f:
                lines.append(f"| {sc:g} | same inputs, `kpi run --full` | – | – | {f.get('wall_seconds', float('nan')):.1f} s"
                             f"{'' if f.get('succeeded') else ' (FAILED)'} | {f.get('reprocessed', '')} | (the reference) |")
    mem = [(s["scale"], s["memory_limited"]) for s in results["scales"] if s.get("memory_limited")]
    if mem:
        lines += ["", f"## Memory bounded by configuration (KPI_DUCKDB_MEMORY_LIMIT={results.get('memory_limit')})", "",
                  "| scale | completed | run time | peak memory (tree) | peak per stage | peak spilled to disk | stages above the limit |",
                  "|---|---|---|---|---|---|---|"]
        for sc, p in mem:
            per = ", ".join(f"{k} {mib(v['peak_rss_bytes'])}" for k, v in p.get("stages", {}).items())
            lines.append(f"| {sc:g} | {'yes' if p.get('succeeded') else 'no'} | {p.get('wall_seconds', float('nan')):.1f} s | {mib(p.get('peak_rss_bytes'))} "
                         f"| {per} | {mib(p.get('peak_spill_bytes'))} | {', '.join(p.get('stages_above_limit', [])) or 'none'} |")
    ex = results.get("extras", {})
    if ex:
        lines += ["", "## Other figures", ""]
        for k, v in ex.items():
            if "status" in v:
                lines.append(f"- {k}: {v['status']}")
            elif k == "check_memory":
                step = check_step_figures(v.get("output", ""))
                if step:
                    lines.append(f"- quality gate's check step alone at scale {v['scale']:g} (benchmarks/check_memory.py, issue 6): "
                                 f"peak memory {mib(step['peak_rss_bytes'])} (target < 2,048 MiB), {step['checks']} checks in "
                                 f"{step['check_seconds']:.1f} s, {len(step.get('failed', []))} failed; largest raw table "
                                 f"{step['largest_raw_table']['source_id']} ({step['largest_raw_table']['rows']:,} rows); DuckDB memory "
                                 f"limit {step['duckdb_memory_limit']}. Preparing its warehouse (generate + `kpi run` at that scale) "
                                 f"took {v['wall_seconds']:.1f} s with a peak of {mib(v['peak_rss_bytes'])}.")
                else:
                    lines.append(f"- check step at scale {v['scale']:g}: FAILED (benchmarks/check_memory.py; see its log)")
            elif k == "dashboard":
                lines.append(f"- dashboard (scale {v['scale']:g}, benchmarks/dashboard_benchmark.py)"
                             + ("" if v.get("returncode", 0) == 0 else ": load time not measured (the script needs Playwright and "
                                "Debian's chromium: `scripts/install.sh --test`)") + ":")
                lines += ["", "```", v.get("output", ""), "```", ""]
            elif k == "spark":
                lines += spark_table(results, v)
    lines += ["", "Peak memory: the sum of the resident set sizes of the job's process and its children (dbt), sampled every "
              f"{results['interval']} s. Stages: Dagster steps by the product's stage rule; `startup` = process start to the first "
              "step (imports, job and dbt manifest loading); `other` = after the last step; `checks` = the Great Expectations and "
              "landed-file check steps (dbt tests run inside the dbt step and are shown in the last column). Bare DuckDB: "
              "benchmarks/bare_duckdb.py (setup of seeds and compiled SQL not counted: "
              f"{results.get('bare_setup', {})})."]
    reused = [f"{x['scale']:g}" for x in results.get("scales", []) if x.get("generate", {}).get("reused_from")]
    if reused:
        lines += ["", f"Samples of scale {', '.join(reused)} were generated by an earlier run of the same generator code and copied "
                  "(`--samples`): their `generate` figures are that generation's."]
    return "\n".join(lines) + "\n"


def test_suite_section(results: dict) -> list[str]:
    """The default test run's failed tests (``test_suite.failures``) and slowest tests (pytest's ``--durations`` lines kept
    in ``test_suite.slowest``)."""
    t = results.get("test_suite") or {}
    out = []
    if t.get("failures"):
        out += ["", "## Tests that failed in the default test run (pytest's short summary)", ""] + [f"- `{f}`" for f in t["failures"]]
    if t.get("slowest"):
        out += ["", f"## The default test run's {len(t['slowest'])} slowest tests (pytest's durations; setup = the fixtures they wait for)", "",
                "| seconds | phase | test |", "|---|---|---|"] + [f"| {x['seconds']:.1f} | {x['phase']} | `{x['test']}` |" for x in t["slowest"]]
    return out


def csv_table(results: dict) -> list[str]:
    """What the ingest stage's CPU holds, per scale (:func:`csv_figures`): the stage figure beside the CSV-only ones."""
    rows = [(s["scale"], s["pipeline"]) for s in results["scales"] if (s.get("pipeline") or {}).get("csv")]
    if not rows:
        return []
    out = ["", "## Ingest stage: CSV parsing apart from the rest (CPU seconds)", "",
           "The stage figure (rows read / CPU of every ingest step) counts the landing inventory, the Excel workbooks and town "
           "return forms, each step's fixed cost and Dagster's bookkeeping. *CSV read* is the reading and checking of the "
           "delimited-text files alone (per file, no writes); *CSV-only sources* the whole load of the sources whose files are "
           "all CSV (read, check, raw table, Parquet copy, stage cache).", "",
           "| scale | ingest stage CPU | rows per CPU-s (stage) | inside the sources' loads | outside them (inventory, Dagster) "
           "| reading other files (Excel, HTML) | CSV read: files / rows / CPU | rows per CPU-s (CSV read) "
           "| CSV-only sources: rows / CPU | rows per CPU-s (CSV-only sources) |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for scale, p in rows:
        c, st = p["csv"], p.get("stages", {}).get("ingest", {})
        out.append(f"| {scale:g} | {sec(st.get('cpu_seconds'))} | {p.get('ingest_rows_per_cpu_second') or 0:,} | {sec(c['all_loads_cpu_seconds'])} "
                   f"| {sec(c.get('outside_loads_cpu_seconds'))} | {sec(c['other_read_cpu_seconds'])} "
                   f"| {c['files_read']} / {c['rows_read']:,} / {sec(c['read_cpu_seconds'])} | {c.get('rows_per_read_cpu_second') or 0:,} "
                   f"| {c['source_rows']:,} / {sec(c['source_load_cpu_seconds'])} | {c.get('rows_per_load_cpu_second') or 0:,} |")
    return out


def check_step_figures(output: str) -> dict | None:
    """The ``json: {...}`` line benchmarks/check_memory.py prints about the check step alone."""
    for line in reversed(output.splitlines()):
        if line.startswith("json: "):
            try:
                return json.loads(line[len("json: "):])
            except ValueError:
                return None
    return None


def spark_table(results: dict, v: dict) -> list[str]:
    """The Spark build of the smallest scale beside DuckDB's dbt step of the same scale (issue 11)."""
    s0 = results["scales"][0]
    duck = s0["pipeline"].get("stages", {}).get("dbt", {})
    build = v.get("build", {})
    parity = build.get("parity_differences")
    same = "–" if parity is None else ("yes" if not any(parity.values()) else f"no ({parity})")
    nodes = build.get("statuses", "")
    return ["", f"## dbt on Spark beside DuckDB, scale {s0['scale']:g} (same Parquet raw layer)", "",
            "| engine | dbt build wall | CPU (process tree) | peak memory (tree) | nodes | kpi_observations and kpi_scorecard equal to DuckDB's |",
            "|---|---|---|---|---|---|",
            f"| DuckDB (dbt step of the full run) | {duck.get('wall_seconds', float('nan')):.1f} s | {duck.get('cpu_seconds', float('nan')):.1f} s "
            f"| {mib(duck.get('peak_rss_bytes'))} | every model and test | – |",
            f"| Spark, local session{'' if v.get('succeeded') else ' (FAILED)'} | {v.get('wall_seconds', float('nan')):.1f} s "
            f"| {v.get('cpu_seconds', float('nan')):.1f} s | {mib(v.get('peak_rss_bytes'))} | {nodes} | {same} |", ""]


def print_scale(s: dict) -> None:
    p, b = s.get("pipeline", {}), s.get("bare", {})
    log(f"  records: {s['generate']['records']:,} ({', '.join(f'{k} {v:,}' for k, v in sorted(s['generate']['counts'].items(), key=lambda kv: -kv[1])[:6])}, ...)")
    if p:
        log(f"  full run: {'ok' if p.get('succeeded') else 'FAILED'} {p['wall_seconds']:.1f} s wall, {p['cpu_seconds']:.1f} s CPU, "
            f"peak {mib(p['peak_rss_bytes'])}; rows read {p.get('rows_read', 0):,}; ingest {p.get('ingest_rows_per_second') or 0:,} rows/s "
            f"({p.get('ingest_rows_per_cpu_second') or 0:,} per CPU-second); published {mib(p.get('published_db_bytes'))}, "
            f"dashboard {mib(p.get('dashboard_bytes'))}")
        for st, v in p.get("stages", {}).items():
            log(f"    {st:<10} {v['wall_seconds']:8.1f} s wall {v['cpu_seconds']:8.1f} s CPU  peak {mib(v['peak_rss_bytes'])}")
        c = p.get("csv")
        if c:
            log(f"    CSV only: {c['rows_read']:,} rows of {c['files_read']} files read and checked in {c['read_cpu_seconds']:.1f} CPU-s "
                f"({c.get('rows_per_read_cpu_second') or 0:,} per CPU-second, no writes); CSV-only sources' whole loads "
                f"{c.get('rows_per_load_cpu_second') or 0:,} rows per CPU-second")
        if p.get("dbt_test_seconds") is not None:
            log(f"    (dbt tests inside the dbt step: {p['dbt_test_seconds']:.1f} s)")
    if b:
        log(f"  bare DuckDB: {'ok' if b.get('succeeded') else 'FAILED'} {b['wall_seconds']:.1f} s wall (ingest {b.get('ingest_seconds', 0):.1f} s, "
            f"models {b.get('models_seconds', 0):.1f} s), peak {mib(b['peak_rss_bytes'])}; pipeline / bare = {s.get('ratio', float('nan')):.2f}")


# -- main ------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", default="1,4,16", help="comma-separated sample scales (1 = 2.0 million residents); default 1,4,16")
    ap.add_argument("--out", type=Path, default=HERE / "results", help="folder of the JSON and Markdown results")
    ap.add_argument("--work", type=Path, help="scratch folder for warehouses (default: a new folder in the system temp dir)")
    ap.add_argument("--skip", default="", help="comma-separated parts to leave out: pipeline, bare, incremental, memory, extras")
    ap.add_argument("--incremental-scales", help="scales of the nights after the full run: no new file, one more day, "
                    "the same inputs in full (default: all)")
    ap.add_argument("--memory-scale", type=float, help="scale of the memory-limited run (default: the largest)")
    ap.add_argument("--memory-limit", default="2GiB", help="DuckDB memory limit of that run (KPI_DUCKDB_MEMORY_LIMIT); default 2GiB")
    ap.add_argument("--check-memory-scale", type=float, default=10, help="scale of benchmarks/check_memory.py (issue 6); default 10")
    ap.add_argument("--spark", action="store_true", help="also build the smallest scale with dbt on the Spark target (issue 11)")
    ap.add_argument("--test-suite", action="store_true", help="also time the default test run (pytest with the project's options; "
                    "about half an hour on 2 cores; issue 20.5). With --scales none, only that")
    ap.add_argument("--interval", type=float, default=0.2, help="seconds between memory/CPU samples; default 0.2")
    ap.add_argument("--note", default="", help="written into the results, e.g. 'other work was running on the machine'")
    ap.add_argument("--kill-above", default="14GiB", help="stop a measured command whose process tree exceeds this memory "
                    "(a safety valve on a shared machine; recorded in the results); default 14GiB, 0 = never")
    ap.add_argument("--samples", type=Path, help="folder of generated samples kept between benchmark runs: a scale's sample "
                    "made earlier by the same generator code is copied from it (not generated again), a new one is kept in it")
    ap.add_argument("--keep", action="store_true", help="keep the scratch warehouses")
    ap.add_argument("--no-latest", action="store_true", help="do not update latest.json / latest.md")
    ap.add_argument("--render", type=Path, help="only write the Markdown table again from a results JSON file")
    args = ap.parse_args(argv)
    if args.render:
        md = args.render.with_suffix(".md")
        md.write_text(markdown(json.loads(args.render.read_text(encoding="utf-8"))), encoding="utf-8")
        log(f"written: {md}")
        return 0
    scales = [] if args.scales.strip().lower() == "none" else sorted(float(x) for x in args.scales.split(",") if x.strip())
    global KILL_ABOVE
    KILL_ABOVE = None if args.kill_above in ("0", "") else _bytes(args.kill_above)
    skip = {x.strip() for x in args.skip.split(",") if x.strip()}
    unknown = skip - {"pipeline", "bare", "incremental", "memory", "extras"}
    if unknown:
        ap.error(f"--skip: unknown part(s) {', '.join(sorted(unknown))}")
    inc_scales = set(scales) if args.incremental_scales is None else {float(x) for x in args.incremental_scales.split(",") if x}
    mem_scale = args.memory_scale if args.memory_scale is not None else (scales[-1] if scales else None)
    work = (args.work or Path(os.environ.get("TMPDIR", "/tmp")) / f"kpi-bench-{dt.datetime.now():%Y%m%d-%H%M%S}").resolve()
    work.mkdir(parents=True, exist_ok=True)
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now()
    results: dict = {"started_at": started.isoformat(timespec="seconds"), "command": " ".join([Path(sys.executable).name, *sys.argv]),
                     "machine": machine_facts(), "note": args.note, "interval": args.interval, "work": str(work),
                     "memory_limit": args.memory_limit, "targets": TARGETS, "scales": []}
    log(f"Benchmark: scales {', '.join(f'{s:g}' for s in scales) or 'none'}; scratch {work}; logs {logs}")
    f = results["machine"]
    log(f"Machine: {f['cores_logical']} cores, {f['memory_total_bytes'] / GiB:.1f} GiB, load average {f['load_average_at_start']}")

    template = work / "bare_template"
    if "bare" not in skip and scales:
        from bare_duckdb import prepare

        log("Bare DuckDB setup (dbt seed + dbt compile, once, not timed in the baseline) ...")
        results["bare_setup"] = prepare(template)

    for scale in scales:
        log(f"\n== scale {scale:g} ==")
        sdir = work / f"scale_{scale:g}"
        warehouse, dashboard = sdir / "warehouse", sdir / "dashboards" / "build"
        if sdir.exists():
            shutil.rmtree(sdir)
        warehouse.mkdir(parents=True)
        s: dict = {"scale": scale, "warehouse": str(warehouse), "dashboard_dir": str(dashboard)}
        s["generate"] = generate(warehouse, scale, logs, args.interval, args.samples)
        s["generate"]["records"] = sum(v for k, v in s["generate"]["counts"].items() if k != "town_returns")
        results["scales"].append(s)
        log(f"  generated in {s['generate']['wall_seconds']:.1f} s: " + ", ".join(f"{k} {v:,}" for k, v in s["generate"]["counts"].items()))
        # the memory-limited run gets its own fresh warehouse with the same files (hard links keep them and their times)
        if "memory" not in skip and "pipeline" not in skip and scale == mem_scale:
            mem_wh = sdir / "memory_limited" / "warehouse"
            mem_wh.mkdir(parents=True)
            shutil.copytree(warehouse / "landing", mem_wh / "landing", copy_function=os.link)
        if "pipeline" not in skip:
            log("  full nightly run ...")
            s["pipeline"] = run_job(warehouse, dashboard, logs, f"full_{scale:g}", args.interval)
        if "bare" not in skip:
            log("  bare DuckDB baseline ...")
            s["bare"] = bare(template, warehouse / "landing", sdir / "bare" / "work.duckdb", logs, f"bare_{scale:g}", args.interval)
            if s.get("pipeline", {}).get("succeeded") and s["bare"].get("succeeded"):
                s["ratio"] = round(s["pipeline"]["wall_seconds"] / s["bare"]["wall_seconds"], 3)
                s["observations_compared"] = compare_observations(warehouse / "work" / "work.duckdb", sdir / "bare" / "work.duckdb")
        print_scale(s)
        if "memory" not in skip and "pipeline" not in skip and scale == mem_scale:
            log(f"  nightly run with KPI_DUCKDB_MEMORY_LIMIT={args.memory_limit} (fresh warehouse) ...")
            mem_wh = sdir / "memory_limited" / "warehouse"
            p = run_job(mem_wh, sdir / "memory_limited" / "dashboards" / "build", logs, f"memory_{scale:g}", args.interval, args.memory_limit)
            limit = _bytes(args.memory_limit)
            p["memory_limit_bytes"] = limit
            p["stages_above_limit"] = [k for k, v in p.get("stages", {}).items() if limit and v["peak_rss_bytes"] > limit]
            s["memory_limited"] = p
            log(f"    {'completed' if p['succeeded'] else 'FAILED'} in {p['wall_seconds']:.1f} s; peak {mib(p['peak_rss_bytes'])} "
                f"(limit {args.memory_limit}); spilled up to {mib(p.get('peak_spill_bytes'))}; stages above the limit: "
                f"{', '.join(p['stages_above_limit']) or 'none'}")
            for st, v in p.get("stages", {}).items():
                log(f"    {st:<10} {v['wall_seconds']:8.1f} s wall  peak {mib(v['peak_rss_bytes'])}  spill {mib(v.get('peak_spill_bytes'))}")
            if not args.keep:
                shutil.rmtree(sdir / "memory_limited", ignore_errors=True)
        if "incremental" not in skip and "pipeline" not in skip and scale in inc_scales and s.get("pipeline", {}).get("succeeded"):
            nights(s, sdir, warehouse, dashboard, logs, args)
        save(results, args)  # after every scale: a long run leaves its partial results

    if results["scales"] and "bare" not in skip and "pipeline" not in skip:
        ok = [s for s in results["scales"] if s.get("ratio")]
        if ok:
            overhead = ok[0]["pipeline"]["wall_seconds"]
            for s in ok:
                s["ratio_without_overhead"] = round(max(0.0, s["pipeline"]["wall_seconds"] - overhead) / s["bare"]["wall_seconds"], 3)
            results["comparison"] = {"smallest_scale": ok[0]["scale"], "largest_scale": ok[-1]["scale"], "fixed_overhead_seconds": overhead,
                                     "ratio_at_largest": ok[-1]["ratio"], "ratio_without_overhead_at_largest": ok[-1]["ratio_without_overhead"]}
            log(f"\nFixed overhead (pipeline at scale {ok[0]['scale']:g}): {overhead:.1f} s; pipeline / bare at scale {ok[-1]['scale']:g}: "
                f"{ok[-1]['ratio']:.2f} ({ok[-1]['ratio_without_overhead']:.2f} without the fixed overhead)")
    if "extras" not in skip and scales:
        log("\nOther figures (issues 6, 7, 11) ...")
        results["extras"] = extras(args, results, logs)
        for k, v in results["extras"].items():
            log(f"  {k}: {v.get('status') or ('ok' if v.get('returncode', 0) == 0 else 'FAILED')}")
        spark = results["extras"].get("spark", {})
        if "status" not in spark:
            for line in spark_table(results, spark):
                log(line)
    if args.test_suite:
        log("\nDefault test run (pytest, the project's options) ...")
        save(results, args)
        t = results["test_suite"] = time_test_suite(logs, args.interval)
        log(f"  {'passed' if t['passed'] else 'FAILED'} in {t['wall_seconds'] / 60:.1f} min (CPU {t['cpu_seconds'] / 60:.1f} min): "
            f"{t.get('summary_line') or 'no pytest summary line'}; log {logs / 'test_suite.log'}")
        for line in t.get("failures", []):
            log(f"    {line}")
        if not t["passed"] and not args.keep:
            args.keep = True  # the log says why: the scratch folder stays
            log(f"  the scratch folder is kept for the test run's log: {work}")
    results["finished_at"] = dt.datetime.now().isoformat(timespec="seconds")
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    json_path, md_path = save(results, args)
    log("\nTargets (measured, not asserted):")
    for a, b, c, d in verdicts(results):
        log(f"  {a}: aim {b}, measured {c}, met: {d}")
    log(f"\nResults: {json_path}\n         {md_path}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def copy_warehouse(sdir: Path, twin: Path) -> None:
    """A copy of a scale's warehouse and dashboard (state, working database, Dagster home, published files);
    the landing files as hard links (same bytes and times, no space)."""
    if twin.exists():
        shutil.rmtree(twin)
    twin.mkdir(parents=True)
    landing = (sdir / "warehouse" / "landing").resolve()

    def link_or_copy(src, dst):
        if Path(src).resolve().is_relative_to(landing):
            os.link(src, dst)
        else:
            shutil.copy2(src, dst)

    shutil.copytree(sdir / "warehouse", twin / "warehouse", symlinks=True, copy_function=link_or_copy)
    if (sdir / "dashboards").exists():
        shutil.copytree(sdir / "dashboards", twin / "dashboards", symlinks=True)


def nights(s: dict, sdir: Path, warehouse: Path, dashboard: Path, logs: Path, args) -> None:
    """The nights after the full run of a scale (issue 20.2): a night with no new file; a night with one more day
    of every source (``new_day.py``); ``kpi run --full`` on a copy of the same state and files; whether the
    incremental night and the full night publish the same marts (:mod:`daxing_kpi.pubcompare`)."""
    from new_day import write_new_day

    from daxing_kpi import pubcompare

    scale = s["scale"]
    log("  night with no new file ...")
    q = run_job(warehouse, dashboard, logs, f"no_new_data_{scale:g}", args.interval)
    s["no_new_data"] = q
    log(f"    {'ok' if q['succeeded'] else 'FAILED'} {q['wall_seconds']:.1f} s "
        f"(target at scale 1: < {TARGETS['no_new_data_scale1_seconds']} s); "
        + ("recorded no_new_data, Dagster not started" if q.get("no_new_data") else "NOT a no-new-data night: a Dagster run was started"))
    files = write_new_day(warehouse / "landing")
    twin = sdir / "full_twin"
    copy_warehouse(sdir, twin)  # the same state and files, for kpi run --full
    log(f"  one more day: {len(files)} new files, {sum(x['new_records'] for x in files):,} new records "
        f"({sum(x['rows'] for x in files):,} rows in the new files); nightly run ...")
    p = run_job(warehouse, dashboard, logs, f"incremental_{scale:g}", args.interval)
    p.update(new_files=files, new_records=sum(x["new_records"] for x in files), rows_in_new_files=sum(x["rows"] for x in files))
    p["reprocessed"] = reprocessed(p)
    s["incremental"] = p
    log(f"    {'ok' if p['succeeded'] else 'FAILED'} {p['wall_seconds']:.1f} s (target at scale 1: < {TARGETS['incremental_scale1_seconds']} s); "
        f"{p['reprocessed']}")
    for st, v in p.get("stages", {}).items():
        log(f"    {st:<10} {v['wall_seconds']:8.1f} s wall {v['cpu_seconds']:8.1f} s CPU  peak {mib(v['peak_rss_bytes'])}")
    log("  the same inputs rebuilt in full (kpi run --full on a copy) ...")
    f = run_job(twin / "warehouse", twin / "dashboards" / "build", logs, f"full_night_{scale:g}", args.interval, args=("--full",))
    f["reprocessed"] = reprocessed(f)
    s["full_night"] = f
    log(f"    {'ok' if f['succeeded'] else 'FAILED'} {f['wall_seconds']:.1f} s; {f['reprocessed']}")
    if p.get("succeeded") and f.get("succeeded"):
        diffs = pubcompare.compare_published(warehouse / "analytics.duckdb", twin / "warehouse" / "analytics.duckdb")
        s["nights_compared"] = {"identical": all(d.equal for d in diffs), "summary": pubcompare.describe(diffs),
                                "tables": {d.table: {"rows_incremental": d.rows_a, "rows_full": d.rows_b, "only_incremental": d.only_a,
                                                     "only_full": d.only_b} for d in diffs}}
    else:
        s["nights_compared"] = {"identical": None, "summary": "not compared: a night failed"}
    log(f"  published marts, incremental night vs full night: {s['nights_compared']['summary']}")
    if not args.keep:
        shutil.rmtree(twin, ignore_errors=True)


def reprocessed(p: dict) -> str:
    """What a night processed, from its raw assets' materializations and its audit rows."""
    if p.get("no_new_data"):
        return "nothing: no new data"
    dup = p.get("audit_by_status", {}).get("skipped_duplicate_file", {"files": 0})
    sel = p.get("selected_assets")
    return (f"{p.get('sources_loaded', 0)} sources loaded; ingestion parsed {p.get('files_parsed', 0)} files / "
            f"{p.get('rows_parsed', 0):,} rows; {p.get('files_reused', 0)} files taken as staged at an earlier night (not read); "
            f"{p.get('files_superseded_unread', 0)} files wholly superseded by later deliveries "
            f"({p.get('rows_superseded_unread', 0):,} rows) not read; "
            f"{dup['files']} byte-identical re-sent files skipped; {p.get('models_built', 0)} dbt models built "
            f"({'the whole job' if sel is None else f'{sel} assets selected'}); docs site "
            f"{'rebuilt' if p.get('docs_site_rebuilt') else 'kept'}")


def _bytes(text: str) -> int | None:
    """``2GiB``, ``2GB``, ``1500MB`` ... as bytes (None when not understood)."""
    t = text.strip().upper().replace(" ", "")
    for unit, factor in (("GIB", 2**30), ("MIB", 2**20), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3), ("B", 1)):
        if t.endswith(unit):
            try:
                return int(float(t[: -len(unit)]) * factor)
            except ValueError:
                return None
    return None


def save(results: dict, args) -> tuple[Path, Path]:
    stamp = results["started_at"].replace(":", "").replace("-", "")[:13]
    json_path = args.out / f"benchmark-{stamp}.json"
    md_path = args.out / f"benchmark-{stamp}.md"
    json_path.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    md_path.write_text(markdown(results), encoding="utf-8")
    if not args.no_latest:
        shutil.copyfile(json_path, args.out / "latest.json")
        shutil.copyfile(md_path, args.out / "latest.md")
    return json_path, md_path


def _generate_main(argv: list[str]) -> int:
    """Internal: ``_generate --dir D --scale S --counts FILE`` (run as its own measured process)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", type=Path, required=True)
    ap.add_argument("--scale", type=float, required=True)
    ap.add_argument("--counts", type=Path, required=True)
    a = ap.parse_args(argv)
    from daxing_kpi.sample.generator import generate as gen

    a.counts.write_text(json.dumps(gen(a.dir, scale=a.scale)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_generate":
        sys.exit(_generate_main(sys.argv[2:]))
    sys.exit(main())
