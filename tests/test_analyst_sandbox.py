"""Analysts cannot reach personal data (issue 19.1), and a damaged published database is reported in
plain words (issue 19.5), on the warehouse of one real run of the nightly job (``conftest.warehouse``).

Every reader function of the installed DuckDB is tried against the files that hold personal data: a
landing file (names, ID numbers, phone numbers), the working database ``work.duckdb`` (raw layer and
quarantine), the Parquet raw layer, and a system file; through ``kpi sql`` (the analyst's command) and
through the connection every analyst entry point opens (:func:`daxing_kpi.analyst.connect_published`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from daxing_kpi import analyst

# reader statements: {path} is the target file; glob takes a folder pattern
READERS = {
    "read_csv": "SELECT * FROM read_csv('{path}')",
    "read_csv_auto": "SELECT * FROM read_csv_auto('{path}')",
    "replacement scan": "SELECT * FROM '{path}'",
    "sniff_csv": "SELECT * FROM sniff_csv('{path}')",
    "read_parquet": "SELECT * FROM read_parquet('{path}')",
    "parquet_scan": "SELECT * FROM parquet_scan('{path}')",
    "parquet_metadata": "SELECT * FROM parquet_metadata('{path}')",
    "parquet_schema": "SELECT * FROM parquet_schema('{path}')",
    "read_json": "SELECT * FROM read_json('{path}')",
    "read_json_auto": "SELECT * FROM read_json_auto('{path}')",
    "read_ndjson": "SELECT * FROM read_ndjson('{path}')",
    "read_json_objects": "SELECT * FROM read_json_objects('{path}')",
    "read_text": "SELECT * FROM read_text('{path}')",
    "read_blob": "SELECT * FROM read_blob('{path}')",
    "glob": "SELECT * FROM glob('{folder}/*')",
    "read_duckdb": "SELECT * FROM read_duckdb('{path}', table_name='quarantine')",
    "ATTACH": "ATTACH '{path}' AS other (READ_ONLY)",
}


def targets(wh) -> dict[str, tuple[Path, str]]:
    """Files holding personal data (and a system file), each with a text only that file contains."""
    (csv,) = (wh.root / "landing" / "volunteers").glob("*.csv")
    id_number = pd.read_csv(csv, dtype=str, nrows=1)["身份证号码"].iloc[0]
    parquet = next((wh.root / "raw_parquet" / "volunteer_volunteers").rglob("*.parquet"))
    with duckdb.connect() as probe:  # the test's own look at the raw layer: a person key
        person_key = probe.execute(f"SELECT person_key FROM read_parquet('{parquet}') LIMIT 1").fetchone()[0]
    return {
        "landing file": (csv, id_number),
        "work.duckdb": (wh.root / "work" / "work.duckdb", "volunteer_volunteers"),
        "raw Parquet": (parquet, person_key),
        "system file": (Path("/etc/passwd"), "root:"),
    }


def kpi(wh, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "daxing_kpi.cli", *args], env=env or wh.env, input="",
                          capture_output=True, text=True, timeout=300)


def test_settings_are_fixed_before_the_first_statement(warehouse):
    con = analyst.connect_published(warehouse.analytics)
    settings = dict(con.execute(
        "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', 'lock_configuration',"
        " 'python_enable_replacements', 'autoload_known_extensions', 'autoinstall_known_extensions')").fetchall())
    assert settings == {"enable_external_access": "false", "lock_configuration": "true", "python_enable_replacements": "false",
                        "autoload_known_extensions": "false", "autoinstall_known_extensions": "false"}
    for statement in ("SET enable_external_access = true", "RESET enable_external_access", "SET lock_configuration = false",
                      "SET allowed_directories = ['/']"):
        with pytest.raises(duckdb.Error, match="configuration"):
            con.execute(statement)
    # a Python frame in this process is not a table for the analyst's SQL
    secret_frame = pd.DataFrame({"id_number": ["110115199001011234"]})  # noqa: F841
    with pytest.raises(duckdb.CatalogException):
        con.execute("SELECT * FROM secret_frame")
    con.close()


@pytest.mark.parametrize("target", ["landing file", "work.duckdb", "raw Parquet", "system file"])
@pytest.mark.parametrize("reader", list(READERS))
def test_every_reader_is_refused_by_the_connection_of_every_entry_point(warehouse, reader, target):
    path, _ = targets(warehouse)[target]
    con = analyst.connect_published(warehouse.analytics)
    if reader == "replacement scan" and not path.suffix:  # no reader is picked for a name without .csv/.parquet/...
        with pytest.raises(duckdb.CatalogException, match="does not exist"):
            con.execute(READERS[reader].format(path=path, folder=path.parent)).fetchall()
    else:
        with pytest.raises(duckdb.PermissionException, match="disabled by configuration"):
            con.execute(READERS[reader].format(path=path, folder=path.parent)).fetchall()
    con.close()


@pytest.mark.parametrize("reader", list(READERS))
def test_kpi_sql_refuses_every_reader_and_shows_no_personal_data(warehouse, reader):
    """Through the analyst's command: exit 3, a plain refusal, nothing of the file on the screen."""
    for target, (path, secret) in targets(warehouse).items():
        proc = kpi(warehouse, "sql", READERS[reader].format(path=path, folder=path.parent))
        if reader == "replacement scan" and not path.suffix:
            assert proc.returncode == 1 and "does not exist" in proc.stderr, proc.stderr  # not read: no such table
        else:
            assert proc.returncode == 3, (target, proc.stdout, proc.stderr)
            assert "refused" in proc.stderr and "{" not in proc.stderr, proc.stderr  # no raw JSON
        assert secret not in proc.stdout + proc.stderr.replace(str(path), "")


def test_no_table_function_of_the_installed_duckdb_returns_a_file(warehouse):
    """Every table function taking a text first argument, called with each target: none returns
    anything of the file (most fail on the sandbox; the rest are DuckDB's own generators)."""
    con = analyst.connect_published(warehouse.analytics)
    functions = [r[0] for r in con.execute(
        "SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_type IN ('table', 'table_macro')"
        " AND len(parameter_types) >= 1 AND parameter_types[1] IN ('VARCHAR', 'ANY', 'VARCHAR[]') ORDER BY 1").fetchall()]
    assert {"read_csv", "read_text", "read_blob", "read_duckdb", "glob", "read_parquet", "read_json"} <= set(functions)
    refused = 0
    for fn in functions:
        for target, (path, secret) in targets(warehouse).items():
            try:
                rows = con.execute(f"SELECT * FROM {fn}('{path}') LIMIT 50").fetchall()
            except duckdb.PermissionException:
                refused += 1
                continue
            except duckdb.Error:
                continue  # not a reader (wrong arguments, not a table name, ...)
            assert secret not in repr(rows), (fn, target)
    assert refused >= 4 * 15  # every reader, every target
    con.close()


def test_export_and_status_run_in_the_sandbox(warehouse, tmp_path):
    """kpi export still writes Parquet (the analyst's process writes the file, not DuckDB) and kpi
    status works: both through the sandboxed connection."""
    out = tmp_path / "exp"
    proc = kpi(warehouse, "export", "--format", "parquet", "--output", str(out), "--tables", "kpi_catalog", "geographies")
    assert proc.returncode == 0, proc.stderr
    got = pd.read_parquet(out / "geographies.parquet").sort_values("geo_code").reset_index(drop=True)
    expected = warehouse.query("SELECT * FROM geographies ORDER BY geo_code")
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    status = kpi(warehouse, "status")
    assert status.returncode == 0 and "Latest publication" in status.stdout


def _damaged_copy(warehouse, tmp_path: Path) -> dict:
    """A warehouse folder whose published database was truncated to half its size."""
    root = tmp_path / "wh"
    root.mkdir()
    db = root / "analytics.duckdb"
    shutil.copyfile(warehouse.analytics, db)
    with open(db, "r+b") as fh:
        fh.truncate(db.stat().st_size // 2)
    return {**warehouse.env, "KPI_WAREHOUSE_DIR": str(root)}


@pytest.mark.parametrize("args", [["status"], ["sql", "SELECT * FROM kpi_long"],
                                  ["export", "--format", "csv", "--output", "OUT"]])
def test_damaged_published_database_is_reported_in_one_plain_sentence(warehouse, tmp_path, args):
    env = _damaged_copy(warehouse, tmp_path)
    proc = kpi(warehouse, *[str(tmp_path / "out") if a == "OUT" else a for a in args], env=env)
    assert proc.returncode == 4, (proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert err.count("\n") == 0 and "Traceback" not in err and "{" not in err, err
    assert "is damaged and cannot be read" in err and "next successful `kpi run` replaces" in err
