"""Scale-out (issue 11): the same dbt project builds on Spark and gives DuckDB's KPI results.

A tiny generated sample (scale 0.02, about 40,000 residents) is ingested once in-process, which writes the
DuckDB raw tables and the Parquet raw layer. The dbt project is then built from that Parquet raw layer on
both engines: DuckDB (a fresh database file, sources as views over the Parquet files) and Spark (a local
in-process session, ``method: session``). Only what parity needs is built (``engines.PARITY_SELECT``: the
two KPI marts, everything upstream and the singular tests on them); the full Spark build with every dbt test
is documented in docs/development.md (Spark). About three minutes on two busy cores, most of it Spark.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import duckdb
import numpy as np
import pandas as pd
import pytest

from daxing_kpi import engines, raw_parquet
from daxing_kpi.paths import DBT_PROJECT_DIR, SEEDS_DIR

SCALE = 0.02
KEY = ["kpi_id", "period_year", "geo_code"]


@pytest.fixture(scope="module")
def parquet_warehouse(tmp_path_factory):
    """A warehouse folder with the generated sample ingested: DuckDB raw tables and Parquet raw layer."""
    from daxing_kpi.ingest import ingest_source, load_contracts
    from daxing_kpi.paths import landing_dir
    from daxing_kpi.plans.load import ingest_plan_workbooks, write_plan_workbooks
    from daxing_kpi.sample.generator import generate
    from daxing_kpi.warehouse import write_raw

    root = tmp_path_factory.mktemp("spark_parity") / "warehouse"
    saved = {k: os.environ.get(k) for k in ("KPI_WAREHOUSE_DIR", "KPI_RAW_PARQUET_DIR")}
    os.environ["KPI_WAREHOUSE_DIR"] = str(root)
    os.environ.pop("KPI_RAW_PARQUET_DIR", None)
    try:
        generate(root, scale=SCALE)
        for contract in load_contracts().values():
            write_raw(contract, ingest_source(contract, landing_dir()), "parity-test")
        write_plan_workbooks(ingest_plan_workbooks(landing_dir()), "parity-test")  # the sample's example plan
        yield root
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def duckdb_build(parquet_warehouse) -> engines.BuildResult:
    return engines.parity_build("duckdb", duckdb_path=parquet_warehouse / "duckdb_from_parquet.duckdb", raw_from_parquet=True,
                                timeout=900)


@pytest.fixture(scope="module")
def spark_build(parquet_warehouse) -> engines.BuildResult:
    return engines.parity_build("spark", timeout=1200)


def test_parquet_raw_layer_holds_the_raw_tables_partitioned_by_delivery(parquet_warehouse):
    pq = parquet_warehouse / "raw_parquet"
    with duckdb.connect(str(parquet_warehouse / "work" / "work.duckdb"), read_only=True) as con:
        sources = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw' ORDER BY 1").fetchall()]
        assert len(sources) >= 20 and sorted(p.name for p in pq.iterdir() if not p.name.startswith((".", "_"))) == sources
        for source in sources:
            files = f"{pq / source}/*/part-0.parquet"
            # every row of the table, no other: the Parquet copy minus the table and the reverse are empty
            cols = ", ".join(f'"{c[0]}"' for c in con.execute(f'DESCRIBE raw."{source}"').fetchall())
            n_table = con.execute(f'SELECT count(*) FROM raw."{source}"').fetchone()[0]
            n_files = con.execute(f"SELECT count(*) FROM read_parquet('{files}')").fetchone()[0]
            assert n_files == n_table, source
            extra = con.execute(
                f"SELECT count(*) FROM (SELECT {cols} FROM read_parquet('{files}') EXCEPT ALL SELECT {cols} FROM raw.\"{source}\")"
            ).fetchone()[0]
            assert extra == 0, source
            # one partition per delivery (landing file), named by the file's SHA-256
            partitions = sorted(p.name for p in (pq / source).iterdir())
            shas = sorted(f"delivery={r[0]}" for r in con.execute(f'SELECT DISTINCT _file_sha256 FROM raw."{source}"').fetchall())
            assert partitions == (shas or [f"delivery={raw_parquet.EMPTY_PARTITION}"]), source
        n_audit = con.execute("SELECT count(*) FROM audit.ingest_audit").fetchone()[0]
        assert con.execute(f"SELECT count(*) FROM read_parquet('{pq}/_audit/ingest_audit/part-0.parquet')").fetchone()[0] == n_audit > 0
    # no temporary or replaced folder is left behind
    assert not [p for p in pq.rglob(".*")]


def test_rewriting_a_source_replaces_its_folder_whole(parquet_warehouse, tmp_path):
    with duckdb.connect(str(parquet_warehouse / "work" / "work.duckdb"), read_only=True) as con:
        out = raw_parquet.write_source(con, "funeral_burials", root=tmp_path)
        (out / "delivery=stale").mkdir()  # a partition of a delivery since superseded
        raw_parquet.write_source(con, "funeral_burials", root=tmp_path)
        n = con.execute('SELECT count(DISTINCT _file_sha256) FROM raw."funeral_burials"').fetchone()[0]
    assert len(list(out.iterdir())) == n and not (out / "delivery=stale").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["funeral_burials"]


def test_kpi_results_are_identical_on_spark_and_duckdb(duckdb_build, spark_build, parquet_warehouse):
    diffs = engines.parity(duckdb_build, spark_build)
    assert diffs == {"kpi_observations": [], "kpi_scorecard": []}
    # the parity build kept its tables in the session's in-memory catalog: no Derby metastore was made
    assert not (spark_build.database / "metastore_db").exists() and (spark_build.database / "spark-warehouse").is_dir()
    # the comparison is not vacuous: every KPI of the catalog, every status class seen
    obs = engines.read_table(spark_build, "kpi_observations")
    card = engines.read_table(spark_build, "kpi_scorecard")
    catalog = engines.read_table(spark_build, "kpi_catalog", schema="seeds")
    assert set(obs.kpi_id) == set(catalog.kpi_id) and len(catalog) >= 25
    assert len(obs) > 2000 and len(card) > 1000
    assert {"target_achieved", "on_track", "deterioration", "insufficient_data"} <= set(card.status)
    # and the Spark numbers are the generator's ground truth
    truth = pd.read_csv(parquet_warehouse / "sample_truth" / "ground_truth.csv", dtype={"geo_code": str})
    merged = truth.merge(obs, on=KEY, how="outer", suffixes=("_truth", "_spark"), indicator=True)
    assert (merged._merge == "both").all(), merged[merged._merge != "both"].head()
    t, s = merged.numerator_truth.astype(float), merged.numerator_spark.astype(float)
    assert ((t == s) | (t.isna() & s.isna())).all()  # NULL where a town/street sent no return (issue 16.3)
    np.testing.assert_allclose(merged.value_spark.astype(float), merged.value_truth.astype(float), rtol=0, atol=1e-9)
    # the persons counted (issue 16.1) are the same on both engines
    assert engines.parity(duckdb_build, spark_build, {"kpi_person_duplicates": ("marts", ("kpi_id", "period_year", "geo_code"))}) == {
        "kpi_person_duplicates": []}
    assert len(engines.read_table(spark_build, "kpi_person_duplicates")) > 100


def test_kpi_build_command_and_the_default_duckdb_path_agree_with_spark(spark_build, parquet_warehouse):
    # `kpi build --target duckdb` builds the working database from the DuckDB raw tables (the nightly job's
    # path, not the Parquet copy): the Spark build from Parquet gives the same KPI tables
    proc = subprocess.run([sys.executable, "-m", "daxing_kpi.cli", "build", "--target", "duckdb", "--parity-only"],
                          env=dict(os.environ), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^dbt build on duckdb: [0-9.]+ s wall time \(pass [1-9][0-9]*, success [1-9][0-9]*\)$", proc.stdout, re.M), proc.stdout
    assert engines.parity(engines.existing_build("duckdb"), spark_build) == {"kpi_observations": [], "kpi_scorecard": []}


def test_seeds_load_on_spark_with_the_same_values(duckdb_build, spark_build):
    # kpi_catalog carries quotes, Chinese text, empty cells (NULL) and typed columns from the seed
    tables = {"kpi_catalog": ("seeds", ("kpi_id",)), "geographies": ("marts", ("geo_code",))}
    assert engines.parity(duckdb_build, spark_build, tables) == {"kpi_catalog": [], "geographies": []}
    catalog = engines.read_table(spark_build, "kpi_catalog", schema="seeds")
    assert catalog.astype(str).apply(lambda c: c.str.contains("'")).any().any()
    assert not catalog.isin(["None"]).any().any()


def test_spark_builds_the_progress_method_from_the_same_macro(spark_build):
    # the singular test comparing every scorecard row with the SQL functions created from macros/progress.sql
    test_id = "test.daxing_kpi.assert_scorecard_equals_progress_sql_macros"
    assert spark_build.nodes.get(test_id) == "pass"
    assert spark_build.nodes.get("model.daxing_kpi.kpi_scorecard") == "success"


def test_parity_check_fails_when_a_model_changes_on_one_engine_only(spark_build, parquet_warehouse, tmp_path):
    # a copy of the dbt project (and of the seeds it reads as ../seeds) where one KPI model counts one
    # eco-burial too many per town/street and year, built on DuckDB only
    project = tmp_path / "dbt"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    shutil.copytree(SEEDS_DIR, tmp_path / "seeds")
    model = project / "models" / "intermediate" / "funeral" / "int_kpi_funeral__eco_burial_rate.sql"
    sql = model.read_text(encoding="utf-8")
    original = "sum(case when burials.is_eco_burial then 1 else 0 end) as numerator"
    assert original in sql
    model.write_text(sql.replace(original, "sum(case when burials.is_eco_burial then 1 else 0 end) + 1 as numerator"), encoding="utf-8")
    altered = engines.parity_build("duckdb", project_dir=project, duckdb_path=tmp_path / "altered.duckdb",
                                   raw_from_parquet=True, timeout=900)
    diffs = engines.parity(altered, spark_build)
    obs = engines.read_table(spark_build, "kpi_observations")
    eco_rows = int((obs.kpi_id == "funeral.eco_burial_rate").sum())
    assert eco_rows > 100
    lines = diffs["kpi_observations"]
    # exactly the eco-burial rows (towns/streets and the district roll-up) differ, in numerator and value
    assert [line.split(":")[0] for line in lines] == ["column numerator", "column value"], lines
    assert all(f": {eco_rows} rows differ" in line for line in lines), lines
    assert all("funeral.eco_burial_rate" in line for line in lines)
    assert diffs["kpi_scorecard"], "the scorecard's latest and baseline values move with the observations"


def test_compare_tables_tolerance_nulls_and_keys():
    key = ("kpi_id", "period_year")
    base = pd.DataFrame({"kpi_id": ["a", "a", "b"], "period_year": [2020, 2021, 2020],
                         "value": [1.0, 2.0, None], "status": ["on_track", None, "deterioration"],
                         "as_of": pd.to_datetime(["2023-12-31"] * 3)})
    other = base.copy()
    other["period_year"] = other.period_year.astype("int32")  # Spark's int vs DuckDB's bigint
    other["as_of"] = [pd.Timestamp("2023-12-31").date()] * 3  # a date object instead of a timestamp
    other.loc[0, "value"] = 1.0 + 5e-10
    assert engines.compare_tables(base, other, key) == []
    near = other.copy()
    near.loc[0, "value"] = 1.0 + 2e-9
    assert [d.split(":")[0] for d in engines.compare_tables(base, near, key)] == ["column value"]
    null_vs_zero = other.copy()
    null_vs_zero.loc[2, "value"] = 0.0
    assert [d.split(":")[0] for d in engines.compare_tables(base, null_vs_zero, key)] == ["column value"]
    status = other.copy()
    status.loc[1, "status"] = "on_track"
    assert [d.split(":")[0] for d in engines.compare_tables(base, status, key)] == ["column status"]
    fewer = other.iloc[:2]
    diffs = engines.compare_tables(base, fewer, key)
    assert diffs[0] == "row count: left 3, right 2" and "1 keys on one side only" in diffs[1]
