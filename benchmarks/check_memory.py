#!/usr/bin/env python
"""Peak memory of the quality gate's check step at a given sample scale (issue 6).

    .venv/bin/python benchmarks/check_memory.py                    # scale 10 (about 20 million residents)
    .venv/bin/python benchmarks/check_memory.py --scale 0.05       # a quick look
    .venv/bin/python benchmarks/check_memory.py --warehouse DIR    # reuse a warehouse a `kpi run` has built

1. Unless ``--warehouse`` names a warehouse that has been through ``kpi run``, generates the sample at
   ``--scale`` in a fresh folder and runs the nightly job once (``kpi run``, its own process): the raw
   layer, the audit and the marts the checks read.
2. Runs the check step alone in a fresh process: every landed-file check of every source and the
   Great Expectations checks of the mart kpi_observations (:mod:`daxing_kpi.checks`, exactly what the
   Dagster check steps run), with the DuckDB memory limit ``--memory-limit`` (``KPI_DUCKDB_MEMORY_LIMIT``).
3. Prints the peak resident memory of that process (``ru_maxrss``: Python, pandas, Great Expectations and
   DuckDB together), its wall time, the largest raw table and each check that failed, and a verdict
   against the target (2 GiB). Exit code 0 when under the target, 1 otherwise.

The checks validate bounded batches only (DuckDB aggregates the raw tables first: one row per file,
per town/street and year, per source, or the mart of a few thousand rows), so the peak should not grow
with the scale beyond DuckDB's own buffers, which the memory limit caps (spilling to disk).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_BYTES = 2 * 1024 ** 3


def measure(warehouse: Path) -> dict:
    """In this process: run every check on ``warehouse`` and return peak memory and what was checked."""
    os.environ["KPI_WAREHOUSE_DIR"] = str(warehouse)
    started = time.perf_counter()
    from daxing_kpi import checks
    from daxing_kpi.ingest import load_contracts
    from daxing_kpi.warehouse import connect_work

    imported = time.perf_counter()
    rss_after_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    outcomes, largest = [], ("", 0)
    with connect_work(read_only=True) as con:
        for contract in load_contracts().values():
            n = con.execute(f'SELECT count(*) FROM raw."{contract.source_id}"').fetchone()[0]
            largest = max(largest, (contract.source_id, n), key=lambda x: x[1])
            for o in checks.landed_file_outcomes(con, contract, None):
                outcomes.append((f"raw/{contract.source_id}", o))
        for o in checks.mart_outcomes(con):
            outcomes.append(("marts/kpi_observations", o))
    done = time.perf_counter()
    return {
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,  # Linux: KiB
        "rss_after_imports_bytes": rss_after_import,
        "import_seconds": round(imported - started, 2),
        "check_seconds": round(done - imported, 2),
        "checks": len(outcomes),
        "failed": [f"{a} {o.name} [{o.severity}]: {o.observed}" for a, o in outcomes if not o.passed],
        "largest_raw_table": {"source_id": largest[0], "rows": largest[1]},
        "duckdb_memory_limit": os.environ.get("KPI_DUCKDB_MEMORY_LIMIT"),
    }


def prepare(warehouse: Path, scale: float) -> None:
    """Generate the sample and run the nightly job once (`kpi run`) into ``warehouse``."""
    env = {**os.environ, "KPI_WAREHOUSE_DIR": str(warehouse), "KPI_DASHBOARD_DIR": str(warehouse.parent / "dashboard"),
           "KPI_SAMPLE_SCALE": str(scale)}
    print(f"preparing: kpi run at scale {scale:g} in {warehouse} (generates the sample; this takes a while at large scales)", flush=True)
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "daxing_kpi.cli", "run"], env=env, capture_output=True, text=True)
    print(f"  kpi run exited {proc.returncode} after {time.perf_counter() - t:.0f} s", flush=True)
    if not (warehouse / "work" / "work.duckdb").exists():
        raise SystemExit(f"kpi run built no working database:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=10, help="sample scale (1 = 2.0 million residents); default 10")
    ap.add_argument("--warehouse", type=Path, help="an existing warehouse folder (after `kpi run`) to check instead of a new one")
    ap.add_argument("--memory-limit", default="1GB", help="DuckDB memory limit during the checks (KPI_DUCKDB_MEMORY_LIMIT); default 1GB")
    ap.add_argument("--keep", action="store_true", help="keep the generated warehouse folder")
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # internal: the measuring child process
    args = ap.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0

    tmp = None
    warehouse = args.warehouse
    if warehouse is None:
        tmp = Path(tempfile.mkdtemp(prefix=f"check-memory-{args.scale:g}-"))
        warehouse = tmp / "warehouse"
        prepare(warehouse, args.scale)
    env = {**os.environ, "KPI_DUCKDB_MEMORY_LIMIT": args.memory_limit}
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--measure", str(warehouse)], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n", file=sys.stderr)
        return 2
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    mib = r["peak_rss_bytes"] / 2 ** 20
    print(f"check step at scale {args.scale:g}: peak memory {mib:,.0f} MiB (target < 2,048 MiB), {r['checks']} checks in "
          f"{r['check_seconds']:.1f} s (+{r['import_seconds']:.1f} s imports, {r['rss_after_imports_bytes'] / 2 ** 20:,.0f} MiB after them), "
          f"wall {wall:.1f} s; largest raw table {r['largest_raw_table']['source_id']} ({r['largest_raw_table']['rows']:,} rows); "
          f"DuckDB memory limit {r['duckdb_memory_limit']}")
    for f in r["failed"]:
        print(f"  failed: {f}")
    verdict = r["peak_rss_bytes"] < TARGET_BYTES
    print(f"verdict: {'PASS' if verdict else 'FAIL'} (peak {mib:,.0f} MiB vs 2,048 MiB)")
    print("json: " + json.dumps({"scale": args.scale, **r, "wall_seconds": round(wall, 2)}))
    if tmp is not None and not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
