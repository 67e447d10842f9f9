"""Memory bounded by one setting (issue 20.4): ``KPI_MEMORY_LIMIT`` (formerly ``KPI_DUCKDB_MEMORY_LIMIT``)
reaches every DuckDB of the job (its connections, dbt's profile, the docs site), and ingestion never holds a
file whole in Python: CSV files go from DuckDB's reader through the set-based pass, the Python CSV reader
hands on pieces. (How much memory a run takes is measured by the benchmark, never asserted here.)
"""

from __future__ import annotations

import os
import re

import duckdb
import jinja2
import pandas as pd
import pytest

from daxing_kpi import ingest, memory, warehouse
from daxing_kpi.ingest import load_contracts, readers
from daxing_kpi.paths import DBT_PROJECT_DIR

MiB = 1 << 20


@pytest.mark.parametrize("text, size", [("2GiB", 2 << 30), ("1500MB", 1_500_000_000), ("4G", 4_000_000_000), (" 512 mib ", 512 * MiB),
                                        ("1.5GiB", 3 << 29), ("1073741824", 1 << 30)])
def test_sizes_are_read_as_written(text, size):
    assert memory.parse_size(text) == size


def test_a_size_that_is_no_size_names_itself():
    with pytest.raises(ValueError, match="'two gigabytes' is not a memory size"):
        memory.parse_size("two gigabytes")


def test_the_former_name_still_works_and_the_new_one_wins(monkeypatch):
    monkeypatch.delenv(memory.MEMORY_ENV, raising=False)
    monkeypatch.delenv(memory.FORMER_MEMORY_ENV, raising=False)
    assert memory.memory_limit() is None and memory.duckdb_memory_limit() is None and "memory_limit" not in memory.duckdb_config()
    monkeypatch.setenv(memory.FORMER_MEMORY_ENV, "2GiB")
    assert memory.memory_limit() == 2 << 30 and memory.duckdb_memory_limit() == "1024MiB"
    monkeypatch.setenv(memory.MEMORY_ENV, "4GiB")
    assert memory.memory_limit() == 4 << 30 and memory.duckdb_memory_limit() == "2048MiB"
    monkeypatch.setenv(memory.MEMORY_ENV, "1.5GiB")  # the Python process keeps its 700 MiB
    assert memory.duckdb_memory_limit() == "768MiB"
    monkeypatch.setenv(memory.MEMORY_ENV, "1GiB")
    assert memory.duckdb_memory_limit() == "324MiB"
    monkeypatch.setenv(memory.MEMORY_ENV, "600MiB")  # a small budget: DuckDB keeps a working minimum
    assert memory.duckdb_memory_limit() == "256MiB"


def test_every_duckdb_of_the_job_gets_its_share_and_the_spill_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KPI_WAREHOUSE_DIR", str(tmp_path / "wh"))
    monkeypatch.setenv(memory.MEMORY_ENV, "2GiB")
    monkeypatch.setenv(memory.TEMP_DIR_ENV, str(tmp_path / "spill"))
    for con in (warehouse.connect_work(), ingest.ingest_connection()):
        with con:
            limit, temp = con.execute("SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchall()[0]
        assert limit in ("1.0 GiB", "1024.0 MiB") and temp == str(tmp_path / "spill")
    from daxing_kpi.defs.dbt import dbt_env

    env = dbt_env()
    assert env["KPI_DUCKDB_MEMORY"] == "1024MiB" and env[memory.TEMP_DIR_ENV] == str(tmp_path / "spill")
    # dbt's profile takes that share (the budget itself is for the whole job)
    profile = (DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8")
    expr = re.search(r"memory_limit: \"(\{\{.*\}\})\"", profile).group(1)
    render = lambda e: jinja2.Template(expr).render(env_var=lambda k, d="": e.get(k, d))  # noqa: E731
    assert render({**os.environ, **env}) == "1024MiB"
    assert render({"KPI_DUCKDB_MEMORY_LIMIT": "3GB"}) == "3GB"  # dbt run by hand with the former setting
    assert render({}) == "80%"


def test_dbt_gets_the_spill_folder_once_per_database_so_spilling_does_not_fail_its_next_thread(tmp_path):
    """dbt-duckdb runs ``SET`` for each key of the profile's ``settings`` on every thread's new cursor, and
    DuckDB refuses to switch ``temp_directory`` once it has spilled there: a memory-limited night (benchmark
    at scale 16, ``KPI_MEMORY_LIMIT=2GiB``) failed in dbt with "Cannot switch temporary directory after the
    current one has been used". The spill folder and the limit are therefore ``config_options`` (given once,
    when dbt opens the database), never ``settings``."""
    import yaml

    spill = tmp_path / "spill"
    con = duckdb.connect(str(tmp_path / "w.duckdb"), config={"memory_limit": "64MiB", "temp_directory": str(spill)})
    con.execute("SET preserve_insertion_order = false")
    con.execute("CREATE TABLE t AS SELECT i, md5(i::VARCHAR) AS h FROM range(3000000) r(i) ORDER BY h")  # spills
    cursor = con.cursor()  # what dbt-duckdb does for its next thread, with `settings` (the error says the folder was used)
    with pytest.raises(duckdb.Error, match="Cannot switch temporary directory"):
        cursor.execute(f"SET temp_directory = '{spill}'")
    con.close()

    duck = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8"))["daxing_kpi"]["outputs"]["duckdb"]
    assert {"temp_directory", "memory_limit"} <= set(duck["config_options"])
    assert not {"temp_directory", "memory_limit"} & set(duck.get("settings") or {})


def test_a_regular_csv_file_never_passes_through_pandas_or_the_python_reader(tmp_path, monkeypatch):
    """DuckDB reads it; neither pandas' reader nor the Python CSV reader is asked to."""
    folder = tmp_path / "burials"
    folder.mkdir()
    lines = ["逝者编号,逝者姓名,死亡日期,安葬日期,户籍所在镇街,安葬方式,安葬地点"]
    lines += [f"B{i},姓名,2023-01-02,2023-{1 + i % 12:02d}-05,黄村地区,树葬,公墓" for i in range(5000)]
    (folder / "b.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def refuse(*a, **k):
        raise AssertionError("a CSV file DuckDB can read went through Python")

    monkeypatch.setattr(pd, "read_csv", refuse)
    monkeypatch.setattr(readers, "read_csv_tables", refuse)
    monkeypatch.setattr(readers.CsvPieces, "pieces", refuse)
    res = ingest.ingest_source(load_contracts()["funeral_burials"], tmp_path)
    assert res.audit[0]["rows_loaded"] == 5000 and res.accepted._row_number.tolist() == list(range(2, 5002))


def test_the_python_csv_reader_works_in_pieces_with_the_same_result(tmp_path, monkeypatch):
    """A file DuckDB must not read (a quoted line break) is read by Python's csv module a few records at a time."""
    folder = tmp_path / "burials"
    folder.mkdir()
    lines = ["逝者编号,逝者姓名,死亡日期,安葬日期,户籍所在镇街,安葬方式,安葬地点", 'B0,"两行\n的名字",2023-01-02,2023-01-05,黄村,树葬,园']
    lines += [f"B{i},姓名,2023-01-02,{'去年' if i == 20 else '2023-01-05'},{'火星镇' if i % 5 == 0 else '黄村'},树葬,园" for i in range(1, 40)]
    (folder / "b.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    contract = load_contracts()["funeral_burials"]
    whole = ingest.ingest_source(contract, tmp_path)
    sizes = []
    real = readers.CsvPieces.pieces

    def small(self, rows_per_piece=readers.ROWS_PER_PIECE):
        for piece in real(self, 4):
            sizes.append(len(piece.frame))
            yield piece

    monkeypatch.setattr(readers.CsvPieces, "pieces", small)
    pieces = ingest.ingest_source(contract, tmp_path)
    assert sizes and max(sizes) <= 4 and sum(sizes) == 40
    pd.testing.assert_frame_equal(whole.accepted, pieces.accepted)
    pd.testing.assert_frame_equal(whole.quarantine, pieces.quarantine)
    assert whole.audit == pieces.audit
    assert pieces.accepted._row_number.tolist()[:2] == [2, 4]  # the record of two lines starts on line 2
    assert whole.audit[0]["rows_read"] == 40 and json_reasons(whole) == {ingest.Reason.BAD_DATE: 1, ingest.Reason.UNKNOWN_TOWN: 1}


def json_reasons(result) -> dict:
    import json

    return json.loads(result.audit[0]["reasons"])


def test_staged_rows_spill_to_disk_beyond_duckdbs_share(tmp_path, monkeypatch):
    """With a small budget the staging of a source is written to the spill folder rather than held."""
    monkeypatch.setenv("KPI_WAREHOUSE_DIR", str(tmp_path / "wh"))
    monkeypatch.setenv(memory.MEMORY_ENV, "300MiB")
    con = ingest.ingest_connection()
    limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert limit in ("256.0 MiB", "256.0MiB")
    con.execute("CREATE TEMP TABLE big AS SELECT range AS i, md5(range::VARCHAR) || md5((range + 1)::VARCHAR) AS t FROM range(6000000)")
    spilled = con.execute("SELECT coalesce(sum(size), 0) FROM duckdb_temporary_files()").fetchall()[0][0]
    assert spilled > 0 and con.execute("SELECT count(*) FROM big").fetchall()[0][0] == 6_000_000
    con.close()
    assert not isinstance(con, duckdb.DuckDBPyRelation)
