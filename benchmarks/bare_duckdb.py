"""The bare-DuckDB baseline of the benchmark (issue 10): the same ingestion and KPI SQL, no orchestration.

What the nightly job does in Dagster + pandas + dbt, done here with one DuckDB connection, to show
the limit set by the engine itself:

1. ingestion: for every landing file, ``read_csv`` (all columns as text) and one ``INSERT ... SELECT``
   typing each column the way the data contract says (dates in the accepted spellings, numbers,
   yes/no, town/street names through the alias table, ID numbers replaced by the same keyed
   HMAC-SHA256 ``person_key``, names/phones/addresses never selected) into ``raw.<source_id>``,
   plus one ``audit.ingest_audit`` row per file. No quarantine, no duplicate or re-delivery rules,
   no checks. Excel files (the towns' return forms, a few hundred rows) have no reader built into
   DuckDB (the machine is offline, no extensions): they are read with the product's own reader.
2. models: the SQL dbt compiled for every model (``manifest.json`` ``compiled_code``), executed as
   ``CREATE OR REPLACE VIEW/TABLE`` in dependency order. No dbt tests, no hooks.

Setup (once per benchmark, not timed with the baseline, reported apart): ``prepare`` loads the
seeds with ``dbt seed`` and compiles the models with ``dbt compile`` into a template database
``work.duckdb`` (the file must be called ``work.duckdb``: compiled SQL names the catalog ``work``).

    python benchmarks/bare_duckdb.py prepare --dir DIR
    python benchmarks/bare_duckdb.py run --template DIR --landing LANDING --db OUT/work.duckdb

``run`` prints one JSON object: seconds of ingestion and of each model layer, rows loaded per
source, and the settings used. Raises ``SystemExit`` with a message when the template is missing.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from graphlib import TopologicalSorter
from pathlib import Path

import duckdb

from daxing_kpi.ingest import (
    Contract, header_index, ingest_source, landing_files, load_contracts, normalize_text, pii_key, raw_table_ddl,
    sha256_file, town_lookup,
)
from daxing_kpi.paths import DBT_PROJECT_DIR
from daxing_kpi.readers import CSV_SUFFIXES
from daxing_kpi.warehouse import ensure_audit_tables

DATE_FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d"]
TRUE_WORDS = ("是", "y", "yes", "true", "1")
FALSE_WORDS = ("否", "n", "no", "false", "0")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def dbt_executable() -> str:
    exe = Path(sys.executable).with_name("dbt")
    return str(exe) if exe.exists() else (shutil.which("dbt") or "dbt")


# -- setup ------------------------------------------------------------------------------------------------


def prepare(template_dir: Path) -> dict:
    """Seeds (``dbt seed``) and compiled models (``dbt compile``) in ``template_dir/work.duckdb`` and
    ``template_dir/target/manifest.json``. Returns the seconds of each. Raises ``CalledProcessError``
    (dbt's output printed) when dbt fails."""
    template_dir = Path(template_dir).resolve()
    template_dir.mkdir(parents=True, exist_ok=True)
    db = template_dir / "work.duckdb"
    db.unlink(missing_ok=True)
    env = {**os.environ, "KPI_WORK_DB": str(db), "KPI_DUCKDB_TEMP_DIR": str(template_dir / "tmp"),
           "DBT_TARGET_PATH": str(template_dir / "target"), "DBT_LOG_PATH": str(template_dir / "logs"),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    out = {}
    for step in (["seed"], ["compile"]):
        t0 = time.perf_counter()
        proc = subprocess.run([dbt_executable(), *step, "--quiet", "--project-dir", str(DBT_PROJECT_DIR),
                               "--profiles-dir", str(DBT_PROJECT_DIR)], env=env, capture_output=True, text=True)
        if proc.returncode:
            print(proc.stdout[-4000:], proc.stderr[-4000:], file=sys.stderr)
            raise subprocess.CalledProcessError(proc.returncode, proc.args)
        out[f"dbt_{step[0]}_seconds"] = round(time.perf_counter() - t0, 3)
    return out


# -- ingestion ----------------------------------------------------------------------------------------------


def _hmac_pads(key: bytes) -> tuple[str, str]:
    """HMAC-SHA256's inner and outer padded keys as hex (RFC 2104), for SQL."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key).hex(), bytes(b ^ 0x5C for b in key).hex()


def column_sql(kind: str, col: str, pads: tuple[str, str]) -> str:
    """SQL typing one text column ``col`` (quoted name) as the contract type ``kind``; NULL where blank."""
    v = f"nullif(trim({col}), '')"
    if kind == "text":
        return v
    if kind == "integer":
        return f"CAST(TRY_CAST(replace({v}, ',', '') AS DOUBLE) AS BIGINT)"
    if kind == "number":
        return f"TRY_CAST(rtrim(replace({v}, ',', ''), '%') AS DOUBLE)"
    if kind == "date":
        fmts = "[" + ", ".join(_lit(f) for f in DATE_FORMATS) + "]"
        return f"CAST(try_strptime({v}, {fmts}) AS DATE)"
    if kind == "boolean":
        t = ", ".join(_lit(w) for w in TRUE_WORDS)
        f = ", ".join(_lit(w) for w in FALSE_WORDS)
        return f"CASE WHEN lower({v}) IN ({t}) THEN true WHEN lower({v}) IN ({f}) THEN false END"
    if kind == "id_number":
        inner, outer = pads
        return (f"left(sha256(unhex('{outer}') || unhex(sha256(unhex('{inner}') || CAST(upper({v}) AS BLOB)))), 32)")
    raise ValueError(f"unknown contract type {kind!r}")


def header_of(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return next(csv.reader(f))


def ingest_csv(con: duckdb.DuckDBPyConnection, contract: Contract, path: Path, label: str, digest: str) -> int:
    """One CSV landing file into ``raw.<source_id>`` with one INSERT ... SELECT; returns rows inserted."""
    known = header_index(contract)
    by_name = {}
    for h in header_of(path):
        c = known.get(normalize_text(h))
        if c is not None and c.name not in by_name:
            by_name[c.name] = h
    pads = _hmac_pads(pii_key())
    select, joins = [], []
    for i, c in enumerate(contract.kept_columns):
        if c.name not in by_name:
            select.append("NULL")
            continue
        src = "f." + _q(by_name[c.name])
        if c.type == "town":
            joins.append(f"LEFT JOIN town_lookup AS t{i} ON t{i}.spelling = regexp_replace(coalesce({src}, ''), '\\s+', '', 'g')")
            select.append(f"t{i}.geo_code")
        else:
            select.append(column_sql(c.type, src, pads))
    select += [_lit(label), "NULL", "f.__line + 1", _lit(digest)]
    sql = (f'INSERT INTO raw.{_q(contract.source_id)} SELECT {", ".join(select)} FROM '
           f"(SELECT *, row_number() OVER () AS __line FROM read_csv({_lit(str(path))}, header = true, all_varchar = true)) AS f "
           + " ".join(joins))
    return con.execute(sql).fetchone()[0]


def ingest(con: duckdb.DuckDBPyConnection, landing: Path) -> dict:
    """Every source's landing files into the raw layer and ``audit.ingest_audit``. Returns rows per source."""
    ensure_audit_tables(con)
    lookup = town_lookup()
    con.execute("CREATE OR REPLACE TEMP TABLE town_lookup (spelling VARCHAR, geo_code VARCHAR)")
    con.executemany("INSERT INTO town_lookup VALUES (?, ?)", list(lookup.items()))
    rows, audit, now = {}, [], dt.datetime.now()
    for contract in load_contracts().values():
        con.execute(f'CREATE OR REPLACE TABLE raw.{_q(contract.source_id)} ({raw_table_ddl(contract)})')
        files = landing_files(landing / contract.landing_dir)
        n_source = 0
        if any(p.suffix.lower() not in CSV_SUFFIXES for p in files):
            # Excel return forms: no reader in DuckDB itself; the product's reader, then one INSERT
            result = ingest_source(contract, landing)
            con.register("accepted_df", result.accepted)
            con.execute(f"INSERT INTO raw.{_q(contract.source_id)} SELECT * FROM accepted_df")
            con.unregister("accepted_df")
            for a in result.audit:
                audit.append((contract.source_id, a["file_name"], a["sha256"], a["rows_read"], a["rows_loaded"]))
            n_source = len(result.accepted)
        else:
            for path in files:
                label = f"{contract.landing_dir}/{path.name}"
                digest = sha256_file(path)
                n = ingest_csv(con, contract, path, label, digest)
                audit.append((contract.source_id, label, digest, n, n))
                n_source += n
        rows[contract.source_id] = n_source
    # the planners' workbooks (landing/plans/): the product's reader, then one INSERT per raw table
    from daxing_kpi.plans.load import ingest_plan_workbooks, replace_raw_tables

    rows.update(replace_raw_tables(con, ingest_plan_workbooks(landing)))
    con.executemany(
        "INSERT INTO audit.ingest_audit (run_id, source_id, file_name, sha256, rows_read, rows_loaded, rows_quarantined,"
        " status, reasons, loaded_at, rows_superseded) VALUES ('bare', ?, ?, ?, ?, ?, 0, 'loaded', '{}', ?, 0)",
        [(*a, now) for a in audit],
    )
    return rows


# -- models -------------------------------------------------------------------------------------------------


def model_order(manifest: dict) -> list[dict]:
    """Enabled view/table models of the manifest in dependency order."""
    nodes = {k: n for k, n in manifest["nodes"].items() if n["resource_type"] == "model"
             and n["config"].get("enabled", True) and n["config"].get("materialized") in ("view", "table")}
    graph = {k: [d for d in n["depends_on"]["nodes"] if d in nodes] for k, n in nodes.items()}
    return [nodes[k] for k in TopologicalSorter(graph).static_order()]


def run_models(con: duckdb.DuckDBPyConnection, manifest: dict) -> dict:
    """Execute every model's compiled SQL; returns seconds per layer (staging, intermediate, marts)."""
    seconds: dict[str, float] = {}
    for node in model_order(manifest):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(node['schema'])}")
        kind = "VIEW" if node["config"]["materialized"] == "view" else "TABLE"
        t0 = time.perf_counter()
        con.execute(f"CREATE OR REPLACE {kind} {node['relation_name']} AS {node['compiled_code']}")
        layer = node["fqn"][1] if len(node["fqn"]) > 2 else "other"
        seconds[layer] = seconds.get(layer, 0.0) + time.perf_counter() - t0
    return {k: round(v, 3) for k, v in seconds.items()}


def run(template_dir: Path, landing: Path, db: Path) -> dict:
    """The baseline on one set of landing files, in a copy of the template database at ``db``."""
    template_dir = Path(template_dir)
    manifest_path = template_dir / "target" / "manifest.json"
    if not (template_dir / "work.duckdb").exists() or not manifest_path.exists():
        raise SystemExit(f"{template_dir}: no template; run `bare_duckdb.py prepare --dir {template_dir}` first")
    if Path(db).name != "work.duckdb":
        raise SystemExit(f"{db}: the database must be called work.duckdb (the compiled SQL names the catalog 'work')")
    db = Path(db)
    db.parent.mkdir(parents=True, exist_ok=True)
    db.unlink(missing_ok=True)
    shutil.copyfile(template_dir / "work.duckdb", db)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    settings = {"temp_directory": os.environ.get("KPI_DUCKDB_TEMP_DIR") or str(db.parent / "tmp")}
    if os.environ.get("KPI_DUCKDB_MEMORY_LIMIT"):
        settings["memory_limit"] = os.environ["KPI_DUCKDB_MEMORY_LIMIT"]
    t0 = time.perf_counter()
    with duckdb.connect(str(db), config=settings) as con:
        rows = ingest(con, Path(landing))
        t1 = time.perf_counter()
        layers = run_models(con, manifest)
        t2 = time.perf_counter()
        con.execute("CHECKPOINT")
        n_obs = con.execute("SELECT count(*) FROM marts.kpi_observations").fetchone()[0]
        threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    return {
        "ingest_seconds": round(t1 - t0, 3), "models_seconds": round(t2 - t1, 3), "total_seconds": round(t2 - t0, 3),
        "model_layer_seconds": layers, "rows_loaded": sum(rows.values()), "rows_by_source": rows,
        "kpi_observations_rows": n_obs, "duckdb_threads": threads, "settings": settings, "db": str(db),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="dbt seed + dbt compile into a template folder (once)")
    p.add_argument("--dir", required=True, type=Path)
    r = sub.add_parser("run", help="ingest the landing files and run the compiled models")
    r.add_argument("--template", required=True, type=Path)
    r.add_argument("--landing", required=True, type=Path)
    r.add_argument("--db", required=True, type=Path, help="…/work.duckdb, replaced")
    args = parser.parse_args(argv)
    out = prepare(args.dir) if args.command == "prepare" else run(args.template, args.landing, args.db)
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
