"""Analysts' access (issue 9): ``kpi sql``, ``kpi export``, ``kpi status``, ``kpi_long``, the data dictionary
and the offline dbt docs site, on the published database of one real run of the nightly job.

The five worked queries are read from the analysts' guide (docs/analysts.md, section "Example queries"), run through ``kpi sql`` and
their answers compared with values computed from the sample generator's ground truth; statuses are
computed by this module's own implementation of the progress method (issue 4).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from daxing_kpi.docs_site import DocsSiteError, external_loads, make_offline
from daxing_kpi.paths import PROJECT_ROOT, SEEDS_DIR
from daxing_kpi.plans.bundled import catalog_with_targets, plans
from daxing_kpi.sample.generator import CUTOFF, DISTRICT_CODE
from progress_reference import judged_series

PLAN_14 = "daxing_civil_affairs_14th_fyp"  # the bundled plan whose worked queries the analysts' guide shows

ANALYSTS_GUIDE = PROJECT_ROOT / "docs" / "analysts.md"
MID_TERM, FINAL = dt.date(2023, 12, 31), dt.date(2025, 12, 31)


# --------------------------------------------------------------------------- helpers


def kpi(warehouse, *args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``kpi <args>`` (the installed entry point's module) against the test warehouse."""
    return subprocess.run(
        [sys.executable, "-m", "daxing_kpi.cli", *args], input=stdin if stdin is not None else "",
        env=env or warehouse.env, capture_output=True, text=True, timeout=300,
    )


def readme_queries() -> dict[str, str]:
    """The ```sql blocks of the analysts' guide's "Example queries" section, by their ``-- Qn`` label."""
    text = ANALYSTS_GUIDE.read_text(encoding="utf-8")
    section = re.search(r"^## Example queries.*?(?=^## )", text, re.S | re.M)
    assert section, "docs/analysts.md has no '## Example queries' section"
    blocks = re.findall(r"```sql\n(.*?)```", section.group(0), re.S)
    return {re.match(r"-- (Q\d):", b).group(1): b for b in blocks if re.match(r"-- Q\d:", b)}


def catalog() -> pd.DataFrame:
    return catalog_with_targets(PLAN_14)


def town_targets() -> dict:
    t = pd.read_csv(SEEDS_DIR / "kpi_town_street_targets.csv", dtype={"geo_code": str})
    return {(r.kpi_id, r.geo_code): r for r in t.itertuples()}


def target_for(kpi_row: pd.Series, kpi_id: str, geo_code: str, own: dict) -> tuple[float | None, int | None]:
    """The target a geography is held to: its own (seed), else the district's; a district count is no
    target for one town/street (kpi_scorecard.target_source)."""
    value = None if pd.isna(kpi_row.target_value) else float(kpi_row.target_value)
    year = None if pd.isna(kpi_row.target_year) else int(kpi_row.target_year)
    if geo_code != DISTRICT_CODE:
        if (kpi_id, geo_code) in own:
            t = own[(kpi_id, geo_code)]
            return float(t.target_value), (year if pd.isna(t.target_year) else int(t.target_year))
        if kpi_row.unit == "count":
            return None, year
    return value, year


def meets(value: float, target: float, direction: str) -> bool:
    return (value - target if direction == "increase" else target - value) >= 0


def status_of(y0, t0, yi, ti, yt, tt, direction) -> str:
    """The progress status (issue 4, written here from the issue's text, independently of dbt)."""
    d = 1 if direction == "increase" else -1
    if y0 is None or yi is None or ti - t0 < 1:
        return "insufficient_data"
    moved_away = d * (yi - y0) < 0
    if yt is not None and tt is not None:
        if ti >= tt:
            return "target_achieved" if d * (yi - yt) >= 0 else "target_not_achieved"
        if d * (yi - yt) >= 0:
            return "target_achieved"
        if moved_away:
            return "deterioration"
        if y0 > 0 and yi > 0 and yt > 0:
            r = ((yi / y0) ** (1 / (ti - t0)) - 1) / ((yt / y0) ** (1 / (tt - t0)) - 1)
        else:
            r = ((yi - y0) / (ti - t0)) / ((yt - y0) / (tt - t0))
        bounds = (0.95, 0.60)
    else:
        if moved_away:
            return "deterioration"
        if y0 > 0 and yi > 0:
            r = d * ((yi / y0) ** (1 / (ti - t0)) - 1)
        elif y0 != 0:
            r = d * (yi - y0) / abs(y0) / (ti - t0)
        else:
            return "limited_progress" if yi == y0 else "on_track"
        bounds = (0.015, 0.005)
    r = round(r, 9)
    return "on_track" if r >= bounds[0] else "needs_acceleration" if r >= bounds[1] else "limited_progress" if r >= 0 else "deterioration"


def truth_with_dates(warehouse) -> pd.DataFrame:
    """The ground truth with each year's snapshot date and ``judged``: the value the bundled plan's target is
    judged on (kpi_scorecard.assessed_value: the additions since the plan's first year for count_basis
    new_in_period, else the value)."""
    truth = warehouse.ground_truth()
    truth["period_end"] = [min(dt.date(int(y), 12, 31), CUTOFF) for y in truth.period_year]
    cat = catalog()
    plan = plans().loc[PLAN_14]
    truth["judged"] = truth.value
    for (kpi_id, _), g in truth.groupby(["kpi_id", "geo_code"]):
        if kpi_id in cat.index:
            j = judged_series(g, cat.loc[kpi_id].count_basis, int(plan.period_start_year), int(plan.baseline_year))
            truth.loc[j.index, "judged"] = j.value
    return truth


def expected_status(truth: pd.DataFrame, cat: pd.DataFrame, kpi_id: str, geo_code: str, as_of: dt.date, own: dict) -> str:
    kpi_row = cat.loc[kpi_id]
    s = truth[(truth.kpi_id == kpi_id) & (truth.geo_code == geo_code) & truth.judged.notna()
              & (truth.period_end <= as_of) & (truth.period_year >= kpi_row.baseline_year)].sort_values("period_year")
    yt, tt = target_for(kpi_row, kpi_id, geo_code, own)
    if s.empty:
        return status_of(None, None, None, None, yt, tt, kpi_row.direction)
    return status_of(float(s.judged.iloc[0]), int(s.period_year.iloc[0]), float(s.judged.iloc[-1]),
                     int(s.period_year.iloc[-1]), yt, tt, kpi_row.direction)


def run_readme_query(warehouse, tmp_path: Path, label: str, mode: str) -> pd.DataFrame:
    """Run the guide's query ``label`` through ``kpi sql`` (``mode``: file, stdin or argument) as CSV."""
    sql = readme_queries()[label]
    out = tmp_path / f"{label}.csv"
    if mode == "file":
        (tmp_path / f"{label}.sql").write_text(sql, encoding="utf-8")
        proc = kpi(warehouse, "sql", "--file", str(tmp_path / f"{label}.sql"), "--format", "csv", "--output", str(out))
    elif mode == "stdin":
        proc = kpi(warehouse, "sql", "--format", "csv", "--output", str(out), stdin=sql)
    else:
        proc = kpi(warehouse, "sql", sql, "--format", "csv", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    return pd.read_csv(out, encoding="utf-8-sig", dtype={"geo_code": str})


def file_fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


# --------------------------------------------------------------------------- the five worked queries of docs/analysts.md


def test_readme_has_five_worked_queries_against_contract_tables():
    queries = readme_queries()
    assert sorted(queries) == ["Q1", "Q2", "Q3", "Q4", "Q5"]
    for sql in queries.values():
        assert re.search(r"\bFROM (kpi_long|kpi_scorecard|kpi_observations|kpi_catalog)\b", sql)


def test_q1_towns_ranked_by_change_since_mid_term(warehouse, tmp_path):
    got = run_readme_query(warehouse, tmp_path, "Q1", "file")
    truth = warehouse.ground_truth()
    eco = truth[(truth.kpi_id == "funeral.eco_burial_rate") & (truth.geo_code != DISTRICT_CODE)]
    wide = eco.pivot(index="geo_code", columns="period_year", values="value")
    expected = (wide[2025] - wide[2023]).rename("change").reset_index()
    expected = expected.sort_values(["change", "geo_code"], ascending=[False, True], na_position="last")
    assert got.geo_code.tolist() == expected.geo_code.tolist()
    np.testing.assert_allclose(got.change_points, expected.change, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got.value_final, wide.loc[got.geo_code, 2025], rtol=0, atol=1e-9)
    assert len(got) == 22 and got.change_points.is_monotonic_decreasing


def test_q2_kpis_whose_status_worsened_between_reviews(warehouse, tmp_path):
    got = run_readme_query(warehouse, tmp_path, "Q2", "stdin")
    truth, cat, own = truth_with_dates(warehouse), catalog(), town_targets()
    rank = {s: i for i, s in enumerate(
        ["target_achieved", "on_track", "needs_acceleration", "limited_progress", "target_not_achieved", "deterioration"])}
    expected = []
    for kpi_id in sorted(truth[truth.geo_code == DISTRICT_CODE].kpi_id.unique()):
        mid = expected_status(truth, cat, kpi_id, DISTRICT_CODE, MID_TERM, own)
        fin = expected_status(truth, cat, kpi_id, DISTRICT_CODE, FINAL, own)
        if mid in rank and fin in rank and rank[fin] > rank[mid]:
            expected.append((kpi_id, mid, fin))
    assert list(got.itertuples(index=False, name=None)) == expected
    assert expected, "the sample should have at least one KPI that worsened"


def test_q3_district_values_against_the_2025_target(warehouse, tmp_path):
    got = run_readme_query(warehouse, tmp_path, "Q3", "argument").set_index("kpi_id")
    truth, cat, own = truth_with_dates(warehouse), catalog(), town_targets()
    district = truth[(truth.geo_code == DISTRICT_CODE) & (truth.period_year == 2025)].set_index("kpi_id")
    assert sorted(got.index) == sorted(district.index)
    for kpi_id, row in got.iterrows():
        exp_value = district.loc[kpi_id, "value"]
        assert math.isclose(row.value, exp_value, abs_tol=1e-9) or (pd.isna(row.value) and pd.isna(exp_value)), kpi_id
        target = cat.loc[kpi_id, "target_value"]
        assert (pd.isna(row.target_value) and pd.isna(target)) or row.target_value == target, kpi_id
        if pd.notna(target) and pd.notna(exp_value):  # judged on the additions for a count of what the plan adds
            judged = district.loc[kpi_id, "judged"]
            assert bool(row.meets_target) == meets(judged, target, cat.loc[kpi_id, "direction"]), kpi_id
        assert row.status == expected_status(truth, cat, kpi_id, DISTRICT_CODE, FINAL, own), kpi_id


def test_q4_latest_value_per_kpi(warehouse, tmp_path):
    got = run_readme_query(warehouse, tmp_path, "Q4", "file").set_index("kpi_id")
    truth = warehouse.ground_truth()
    d = truth[(truth.geo_code == DISTRICT_CODE) & truth.value.notna()]
    latest = d.loc[d.groupby("kpi_id").period_year.idxmax()].set_index("kpi_id")
    assert sorted(got.index) == sorted(latest.index)
    np.testing.assert_allclose(got.loc[latest.index, "value"], latest.value, rtol=0, atol=1e-9)
    assert (got.loc[latest.index, "period_year"] == latest.period_year).all()
    for kpi_id, row in got.iterrows():
        assert bool(row.is_partial_year) == (row.period_year == CUTOFF.year)
        assert row.period_end_date == str(min(dt.date(int(row.period_year), 12, 31), CUTOFF))


def test_q5_towns_below_target_in_2025(warehouse, tmp_path):
    got = run_readme_query(warehouse, tmp_path, "Q5", "stdin")
    truth, cat, own = warehouse.ground_truth(), catalog(), town_targets()
    towns = truth[(truth.geo_code != DISTRICT_CODE) & (truth.period_year == 2025) & truth.value.notna()]
    expected = {}
    for r in towns.itertuples():
        target, _ = target_for(cat.loc[r.kpi_id], r.kpi_id, r.geo_code, own)
        if target is not None and not meets(r.value, target, cat.loc[r.kpi_id, "direction"]):
            expected[(r.kpi_id, r.geo_code)] = (r.value, target)
    got_map = {(r.kpi_id, r.geo_code): (r.value, r.target_value) for r in got.itertuples()}
    assert set(got_map) == set(expected)
    for key, (value, target) in expected.items():
        assert math.isclose(got_map[key][0], value, abs_tol=1e-9) and got_map[key][1] == target, key
    # within a KPI the largest shortfall comes first
    for _, g in got.groupby("kpi_id", sort=False):
        assert g.shortfall.is_monotonic_decreasing
    assert len(expected) > 0


# --------------------------------------------------------------------------- kpi sql: output, errors, refusals


def test_sql_prints_an_aligned_table_and_says_when_the_result_is_empty(warehouse):
    proc = kpi(warehouse, "sql", "SELECT geo_code, geo_name_zh FROM geographies WHERE geo_code IN ('110115', '110115001') ORDER BY 1")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["geo_code", "geo_name_zh"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].split() == ["110115", "大兴区"] and lines[3].split() == ["110115001", "兴丰街道"]
    # columns line up: the second column starts at the same place on every line
    assert lines[0].index("geo_name_zh") == lines[2].index("大兴区") == lines[3].index("兴丰街道")
    assert lines[-1] == "(2 rows)"
    empty = kpi(warehouse, "sql", "SELECT * FROM kpi_observations WHERE period_year = 1900")
    assert empty.returncode == 0
    assert "no rows" in empty.stdout and "empty result" in empty.stdout
    empty_csv = kpi(warehouse, "sql", "--format", "csv", "SELECT kpi_id FROM kpi_catalog WHERE false")
    assert empty_csv.returncode == 0 and empty_csv.stdout.lstrip("\ufeff").strip() == "kpi_id"
    assert "no rows" in empty_csv.stderr


def test_sql_json_and_parquet_outputs_hold_the_query_result(warehouse, tmp_path):
    sql = "SELECT kpi_id, period_year, value, is_partial_year, period_end_date FROM kpi_observations WHERE geo_level = 'district' ORDER BY 1, 2"
    expected = warehouse.query(sql)
    proc = kpi(warehouse, "sql", "--format", "json", sql)
    assert proc.returncode == 0, proc.stderr
    records = json.loads(proc.stdout)
    assert len(records) == len(expected)
    assert records[0]["kpi_id"] == expected.kpi_id[0] and records[0]["period_end_date"] == str(expected.period_end_date[0])[:10]
    np.testing.assert_allclose([r["value"] if r["value"] is not None else np.nan for r in records], expected.value, rtol=0, atol=0)
    out = tmp_path / "r.parquet"
    assert kpi(warehouse, "sql", "--format", "parquet", "--output", str(out), sql).returncode == 0
    _assert_same_values(pd.read_parquet(out), expected, "parquet")
    usage = kpi(warehouse, "sql", "--format", "parquet", sql)
    assert usage.returncode == 2 and "--output" in usage.stderr


def test_query_error_shows_duckdbs_message_and_the_position(warehouse):
    proc = kpi(warehouse, "sql", "SELECT kpi_id,\n       no_such_column\nFROM kpi_catalog")
    assert proc.returncode == 1
    assert 'Binder Error: Referenced column "no_such_column" not found' in proc.stderr
    assert "at line 2, column 8" in proc.stderr
    second = kpi(warehouse, "sql", "SELECT 1;\n\n-- then\nSELECT kpi_id,\n  '大兴' AS d, nope FROM kpi_catalog")
    assert second.returncode == 1 and "at line 5, column 14" in second.stderr  # position in the whole input
    syntax = kpi(warehouse, "sql", "SELECT * FORM kpi_catalog")
    assert syntax.returncode == 1
    assert "Parser Error: syntax error" in syntax.stderr and "line 1, column" in syntax.stderr


WRITES = [
    "INSERT INTO geographies SELECT * FROM geographies",
    "UPDATE kpi_observations SET value = 0",
    "DELETE FROM kpi_catalog",
    "CREATE TABLE mine AS SELECT 1 AS a",
    "CREATE TEMP TABLE mine AS SELECT 1 AS a",
    "DROP TABLE kpi_catalog",
    "ALTER TABLE kpi_catalog ADD COLUMN x INTEGER",
    "ATTACH '{tmp}/other.duckdb' AS other",
    "ATTACH '{tmp}/other.duckdb' AS other (READ_WRITE)",
    "COPY kpi_catalog TO '{tmp}/out.csv'",
    "COPY (SELECT * FROM kpi_observations) TO '{tmp}/out.parquet' (FORMAT parquet)",
    "EXPLAIN ANALYZE COPY kpi_catalog TO '{tmp}/out.csv'",
    "EXPORT DATABASE '{tmp}/export'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET threads = 1",
    "PRAGMA enable_profiling",
    "SELECT 1; DELETE FROM kpi_catalog",
]


@pytest.mark.parametrize("statement", WRITES)
def test_sql_refuses_writes_on_the_published_database(warehouse, tmp_path, statement):
    before = file_fingerprint(warehouse.analytics)
    if "other.duckdb" in statement:
        duckdb.connect(str(tmp_path / "other.duckdb")).close()  # an existing file ATTACH could write to
    other_before = file_fingerprint(tmp_path / "other.duckdb") if "other.duckdb" in statement else None
    proc = kpi(warehouse, "sql", statement.format(tmp=tmp_path))
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert "read-only" in proc.stderr and "Nothing was run" in proc.stderr
    assert file_fingerprint(warehouse.analytics) == before
    assert not any(p.name.startswith(("out", "export")) for p in tmp_path.iterdir())
    if other_before:
        assert file_fingerprint(tmp_path / "other.duckdb") == other_before


def test_sql_runs_read_only_statements_that_are_not_select(warehouse):
    proc = kpi(warehouse, "sql", "SET VARIABLE y = 2025; SELECT count(*) AS n FROM kpi_observations WHERE period_year = getvariable('y')")
    assert proc.returncode == 0, proc.stderr
    n = warehouse.query("SELECT count(*) AS n FROM kpi_observations WHERE period_year = 2025").n[0]
    assert proc.stdout.splitlines()[2].strip() == str(n)
    info = kpi(warehouse, "sql", "PRAGMA table_info('kpi_long')")
    assert info.returncode == 0 and "meets_target" in info.stdout


def test_interactive_prompt_keeps_going_after_an_error(warehouse):
    script = ".tables\nSELECT count(*) AS n\n  FROM kpi_catalog;\nSELECT nope;\nDELETE FROM kpi_catalog;\nSELECT 42 AS answer;\n.quit\n"
    proc = kpi(warehouse, "sql", "--interactive", stdin=script)
    assert proc.returncode == 0
    assert "kpi_long" in proc.stdout and "data_dictionary" in proc.stdout  # .tables
    n = warehouse.query("SELECT count(*) AS n FROM kpi_catalog").n[0]
    assert f"\n{n}\n" in proc.stdout.replace(" ", "") + "\n"
    assert "Binder Error" in proc.stderr and "read-only" in proc.stderr
    # the prompt went on after both errors: the last query ran
    assert re.search(r"answer\n-+\n\s*42\n\(1 row\)", proc.stdout)


def test_missing_database_exit_code(warehouse, tmp_path):
    env = {**warehouse.env, "KPI_WAREHOUSE_DIR": str(tmp_path / "empty")}
    for args in (["sql", "SELECT 1"], ["status"], ["export", "--format", "csv", "--output", str(tmp_path / "x")]):
        proc = kpi(warehouse, *args, env=env)
        assert proc.returncode == 4, args
        assert "does not exist yet" in proc.stderr and "kpi run" in proc.stderr


# --------------------------------------------------------------------------- exports


def _published_table(warehouse, table: str) -> pd.DataFrame:
    return warehouse.query(f'SELECT * FROM "{table}"')


def _assert_same_values(got: pd.DataFrame, expected: pd.DataFrame, table: str, rtol: float = 0) -> None:
    """Equal values column by column (numbers to ``rtol``); dates compared as dates, missing as missing."""
    assert list(got.columns) == list(expected.columns), table
    assert len(got) == len(expected), table
    for col in expected.columns:
        e, g = expected[col], got[col]
        if pd.api.types.is_datetime64_any_dtype(e) or e.map(lambda v: isinstance(v, (dt.date, dt.datetime))).any():
            e, g = pd.to_datetime(e), pd.to_datetime(g)
            assert (e.isna() == g.isna()).all() and (e[e.notna()] == g[g.notna()]).all(), (table, col)
        elif pd.api.types.is_numeric_dtype(e) and not pd.api.types.is_bool_dtype(e):
            np.testing.assert_allclose(pd.to_numeric(g).to_numpy(float), e.to_numpy(float), rtol=rtol, atol=0,
                                       err_msg=f"{table}.{col}")
        else:
            ev = [None if (v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA) else v for v in e]
            gv = [None if (v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA) else v for v in g]
            if pd.api.types.is_bool_dtype(e) or all(isinstance(v, (bool, np.bool_)) or v is None for v in ev):
                gv = [None if v is None else bool(v) for v in gv]
            assert ev == gv, (table, col)


def test_export_xlsx_round_trips_with_one_sheet_per_table(warehouse, tmp_path):
    out = tmp_path / "kpi.xlsx"
    proc = kpi(warehouse, "export", "--format", "xlsx", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    sheets = pd.read_excel(out, sheet_name=None, dtype={"geo_code": str, "parent_geo_code": str})
    assert list(sheets) == ["kpi_scorecard", "kpi_observations", "kpi_catalog"]
    for table, frame in sheets.items():
        # openpyxl writes 16 significant digits (Excel itself keeps 15): equal to one part in 10^15
        _assert_same_values(frame, _published_table(warehouse, table), table, rtol=1e-15)
        assert f"{table}: {len(frame)} rows" in proc.stdout


def test_export_parquet_and_csv_round_trip(warehouse, tmp_path):
    assert kpi(warehouse, "export", "--format", "parquet", "--output", str(tmp_path / "pq"), "--tables", "all").returncode == 0
    tables = warehouse.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").table_name
    for table in tables:
        _assert_same_values(pd.read_parquet(tmp_path / "pq" / f"{table}.parquet"), _published_table(warehouse, table), table)
    assert kpi(warehouse, "export", "--format", "csv", "--output", str(tmp_path / "csv")).returncode == 0
    raw = (tmp_path / "csv" / "kpi_observations.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel shows the Chinese names
    got = pd.read_csv(tmp_path / "csv" / "kpi_observations.csv", encoding="utf-8-sig", dtype={"geo_code": str})
    _assert_same_values(got, _published_table(warehouse, "kpi_observations"), "kpi_observations")


def _from_chinese_headers(frame: pd.DataFrame, labels: pd.Series, table: str, columns) -> pd.DataFrame:
    """``frame`` read from an export with Chinese headers, its columns renamed back to the published names
    (the headers must be exactly the data dictionary's labels, in the table's order)."""
    assert list(frame.columns) == [labels[(table, c)] for c in columns], table
    return frame.set_axis(list(columns), axis=1)


def test_export_with_chinese_headers_round_trips_every_row(warehouse, tmp_path):
    """Issue 17.7: --chinese-headers wrote the headers and no rows (the data query's rows were replaced by the
    label query's on the same connection before they were fetched) and exited 0."""
    labels = warehouse.query(
        "SELECT table_name, column_name, label_zh FROM data_dictionary WHERE column_name IS NOT NULL"
    ).set_index(["table_name", "column_name"]).label_zh
    out = tmp_path / "zh.xlsx"
    proc = kpi(warehouse, "export", "--format", "xlsx", "--output", str(out), "--chinese-headers")
    assert proc.returncode == 0, proc.stderr
    sheets = pd.read_excel(out, sheet_name=None, dtype={"区划代码": str})
    assert list(sheets) == ["kpi_scorecard", "kpi_observations", "kpi_catalog"]
    for table, frame in sheets.items():
        published = _published_table(warehouse, table)
        assert len(published) > 0, table
        assert f"{table}: {len(published)} rows" in proc.stdout
        _assert_same_values(_from_chinese_headers(frame, labels, table, published.columns), published, table, rtol=1e-15)
    assert {"统计年度", "区划代码", "指标值", "分子", "分母"} <= set(sheets["kpi_observations"].columns)

    proc = kpi(warehouse, "export", "--format", "csv", "--output", str(tmp_path / "csv"), "--chinese-headers")
    assert proc.returncode == 0, proc.stderr
    for table in ("kpi_scorecard", "kpi_observations", "kpi_catalog"):
        published = _published_table(warehouse, table)
        got = pd.read_csv(tmp_path / "csv" / f"{table}.csv", encoding="utf-8-sig", dtype={"区划代码": str})
        _assert_same_values(_from_chinese_headers(got, labels, table, published.columns), published, table)

    bad = kpi(warehouse, "export", "--format", "parquet", "--output", str(tmp_path / "p"), "--chinese-headers")
    assert bad.returncode == 2
    unknown = kpi(warehouse, "export", "--format", "csv", "--output", str(tmp_path / "c"), "--tables", "no_such_table")
    assert unknown.returncode == 1 and "no_such_table" in unknown.stderr


def test_an_export_that_writes_no_rows_exits_non_zero(warehouse, tmp_path):
    """A published database whose exported tables are empty (same tables and columns, no rows): the files are
    written with their headers, and the command says nothing was exported and exits 1."""
    empty = tmp_path / "empty.duckdb"
    with duckdb.connect(str(empty)) as con:
        con.execute(f"ATTACH '{warehouse.analytics}' AS pub (READ_ONLY)")
        for t in ("kpi_scorecard", "kpi_catalog", "data_dictionary"):
            con.execute(f"CREATE TABLE main.{t} AS SELECT * FROM pub.main.{t}" + ("" if t == "data_dictionary" else " WHERE false"))
    for fmt, out in (("csv", tmp_path / "csv"), ("xlsx", tmp_path / "x.xlsx"), ("parquet", tmp_path / "pq")):
        args = ["export", "--format", fmt, "--output", str(out), "--database", str(empty), "--tables", "kpi_scorecard", "kpi_catalog"]
        proc = kpi(warehouse, *args, *(["--chinese-headers"] if fmt != "parquet" else []))
        assert proc.returncode == 1, (fmt, proc.stdout, proc.stderr)
        assert "nothing exported" in proc.stderr and "kpi_scorecard" in proc.stderr, fmt
    # one empty table among tables with rows: exported, with a note, exit 0
    proc = kpi(warehouse, "export", "--format", "csv", "--output", str(tmp_path / "mixed"), "--tables", "kpi_catalog",
               "data_dictionary", "--database", str(empty))
    assert proc.returncode == 0, proc.stderr
    assert "note: kpi_catalog has no rows" in proc.stderr
    assert len(pd.read_csv(tmp_path / "mixed" / "data_dictionary.csv", encoding="utf-8-sig")) > 0


# --------------------------------------------------------------------------- status, help


def test_status_prints_publication_freshness_and_checks(warehouse):
    proc = kpi(warehouse, "status")
    assert proc.returncode == 0, proc.stderr
    run_id, published_at = warehouse.query("SELECT run_id, published_at FROM publish_metadata").iloc[0]
    assert f"run_id {run_id}" in proc.stdout and str(published_at)[:19] in proc.stdout
    fresh = proc.stdout.split("Data freshness per source")[1].split("Latest file loaded per source")[0]
    published = warehouse.query("SELECT * FROM source_freshness")
    for r in published.itertuples(index=False):  # one line per source: 数据截至 and, apart, the latest record date
        line = next(ln for ln in fresh.splitlines() if ln.startswith(f"{r.source_id} "))
        cutoff = "NULL" if pd.isna(r.delivery_cutoff_date) else str(r.delivery_cutoff_date)[:10]
        record = "NULL" if pd.isna(r.latest_record_date) else str(r.latest_record_date)[:10]
        assert cutoff in line.split() and record in line.split(), line
    sources = {s for v in catalog().sources for s in v.split(";")}
    assert sources <= set(published.source_id)
    assert "data_as_of (数据截至) is the cut-off date of the delivery" in proc.stdout
    assert "Failed checks" in proc.stdout


def test_data_as_of_is_the_cut_off_of_the_delivery_the_figures_use(warehouse):
    """Issue 17.8: one meaning of 数据截至 per source, the delivery cut-off date recorded by ingestion
    (ingest_audit.delivery_cutoff_date) of the files whose rows are loaded; a KPI's is the oldest of its sources'.
    The sample's files are named <source>_<export date>.csv, the export date the day after the cut-off."""
    audit = warehouse.query("SELECT * FROM ingest_audit")
    if "delivery_cutoff_date" not in audit.columns:
        pytest.skip("ingest_audit has no delivery_cutoff_date yet (issue 15, ingestion)")
    used = audit[audit.status.isin(["loaded", "partly_superseded"]) & (audit.rows_loaded > 0)]
    # sources with a delivery cut-off (the plan workbooks of landing/plans/ are plans, not data: they have none)
    expected = used.groupby("source_id").delivery_cutoff_date.max().dropna()
    fresh = warehouse.query("SELECT source_id, delivery_cutoff_date, delivery_cutoff_source FROM source_freshness").set_index("source_id")
    for source_id, cutoff in expected.items():
        assert pd.Timestamp(fresh.delivery_cutoff_date[source_id]) == pd.Timestamp(cutoff), source_id
    assert pd.Timestamp(fresh.delivery_cutoff_date["funeral_burials"]) == pd.Timestamp(CUTOFF)  # funeral_burials_20261101.csv
    status = warehouse.query("SELECT kpi_id, sources, delivery_cutoff_date FROM dq_kpi_status")
    for r in status.itertuples(index=False):
        dates = [fresh.delivery_cutoff_date[s] for s in r.sources.split(";") if s in fresh.index and pd.notna(fresh.delivery_cutoff_date[s])]
        assert pd.Timestamp(r.delivery_cutoff_date) == pd.Timestamp(min(dates)), r.kpi_id


@pytest.mark.parametrize(
    "command, options",
    [
        ("run", ["--trigger"]),
        ("sql", ["--file", "--interactive", "--format", "--output", "--max-rows", "--max-width", "--database"]),
        ("export", ["--format", "--output", "--tables", "--chinese-headers", "--database"]),
        ("status", ["--database"]),
    ],
)
def test_help_of_every_subcommand_names_its_options(warehouse, command, options):
    proc = kpi(warehouse, command, "--help")
    assert proc.returncode == 0, proc.stderr
    for option in options:
        assert option in proc.stdout, (command, option)
    if command != "run":
        assert "exit codes" in proc.stdout and "read-only" in proc.stdout


def test_every_subcommand_listed_by_kpi_help_has_help(warehouse):
    top = kpi(warehouse, "--help")
    assert top.returncode == 0
    commands = re.search(r"\{([\w,-]+)\}", top.stdout).group(1).split(",")
    assert {"run", "sql", "export", "status"} <= set(commands)
    for command in commands:
        proc = kpi(warehouse, command, "--help")
        assert proc.returncode == 0 and f"usage: kpi {command}" in proc.stdout, command


# --------------------------------------------------------------------------- kpi_long, data dictionary, docs site


def test_kpi_long_has_the_observations_with_catalog_and_scorecard(warehouse):
    con = duckdb.connect(str(warehouse.analytics), read_only=True)
    with con:
        n_obs = con.execute("SELECT count(*) FROM kpi_observations").fetchone()[0]
        assert con.execute("SELECT count(*) FROM kpi_long").fetchone()[0] == n_obs
        diff = con.execute(
            """SELECT count(*) FROM kpi_long l JOIN kpi_observations o USING (kpi_id, period_year, geo_code)
               WHERE l.value IS DISTINCT FROM o.value OR l.numerator IS DISTINCT FROM o.numerator"""
        ).fetchone()[0]
        assert diff == 0
        mismatched = con.execute(
            """SELECT count(*) FROM kpi_long l JOIN kpi_scorecard s
                 ON s.plan_id = l.plan_id AND s.kpi_id = l.kpi_id AND s.geo_code = l.geo_code AND s.as_of_date = l.period_end_date
               WHERE l.status IS DISTINCT FROM s.status OR l.review IS DISTINCT FROM s.review
                  OR l.target_value IS DISTINCT FROM s.target_value"""
        ).fetchone()[0]
        assert mismatched == 0
        reviews = dict(con.execute("SELECT review, min(period_year) FROM kpi_long WHERE review IS NOT NULL GROUP BY 1").fetchall())
        assert reviews == {"mid_term": 2023, "final": 2025}
        assert con.execute("SELECT count(*) FROM kpi_long WHERE period_year = 2020 AND status IS NOT NULL").fetchone()[0] == 0


def test_every_published_table_and_column_is_described_in_english_and_chinese(warehouse):
    cjk = re.compile(r"[\u4e00-\u9fff]")
    columns = warehouse.query(
        """SELECT c.table_name, c.column_name, d.label_zh, d.description_en, d.description_zh
           FROM information_schema.columns c
           LEFT JOIN data_dictionary d ON d.table_name = c.table_name AND d.column_name = c.column_name
           WHERE c.table_schema = 'main'"""
    )
    undescribed = columns[columns.label_zh.isna() | columns.description_en.isna() | columns.description_zh.isna()]
    assert undescribed.empty, f"columns without English and Chinese descriptions:\n{undescribed[['table_name', 'column_name']]}"
    assert columns.label_zh.map(lambda s: bool(cjk.search(s))).all()
    assert columns.description_zh.map(lambda s: bool(cjk.search(s))).all()
    tables = warehouse.query(
        """SELECT t.table_name, d.label_zh, d.description_en, d.description_zh FROM information_schema.tables t
           LEFT JOIN data_dictionary d ON d.table_name = t.table_name AND d.column_name IS NULL
           WHERE t.table_schema = 'main'"""
    )
    assert tables.notna().all().all(), tables[tables.isna().any(axis=1)]
    # grain first: every table's description starts by saying what one row is
    assert tables.description_en.str.match(r"One row").all(), tables[~tables.description_en.str.match(r"One row")]
    assert tables.description_zh.str.contains(r"一行").all()
    # no stale entry: everything the dictionary describes exists
    stale = warehouse.query(
        """SELECT d.table_name, d.column_name FROM data_dictionary d LEFT JOIN information_schema.columns c
             ON c.table_schema = 'main' AND c.table_name = d.table_name AND c.column_name = d.column_name
           WHERE d.column_name IS NOT NULL AND c.column_name IS NULL"""
    )
    assert stale.empty, stale


def test_docs_site_is_built_next_to_the_dashboard_and_offline(warehouse):
    page = warehouse.dashboard / "docs" / "index.html"
    assert page.exists(), "the dbt docs site is missing next to the dashboard"
    text = page.read_text(encoding="utf-8")
    assert external_loads(text) == []
    assert "turn_on_tracking:function(){return;" in text
    for needle in ("kpi_long", "data_dictionary", "指标长表", "是否达到目标值", "source.daxing_kpi.publication.publish_metadata"):
        assert needle in text or json.dumps(needle)[1:-1] in text, needle  # the manifest is inlined as JSON
    dashboard = (warehouse.dashboard / "index.html").read_text(encoding="utf-8")
    assert 'href="docs/index.html"' in dashboard


def test_make_offline_disables_tracking_and_rejects_network_loads():
    page = 'x={turn_on_tracking:function(){i.src="//d1fc8wv8zag5ca.cloudfront.net/2.9.0/sp.js"}};a.href="http://[::1]"'
    cleaned = make_offline(page)
    assert "cloudfront" not in cleaned and "turn_on_tracking:function(){return;" in cleaned
    for bad in ('<script src="https://cdn.example.org/x.js"></script>', '<link rel="stylesheet" href="//fonts.example.org/a.css">',
                "@import url('https://fonts.example.org/css');", "body{background:url(http://x.example.org/a.png)}"):
        with pytest.raises(DocsSiteError):
            make_offline(bad)


@pytest.mark.browser
def test_docs_site_opens_from_the_dashboard_without_network(warehouse):
    from browser import open_page

    with open_page((warehouse.dashboard / "index.html").as_uri()) as (page, errors, external):
        page.click("#docs-link")
        page.wait_for_load_state("load")
        assert "/docs/index.html" in page.url
        page.wait_for_function("document.body.innerText.includes('daxing_kpi')", timeout=30_000)
        # the model page shows the English description and the Chinese text (meta, under Details)
        page.evaluate("location.hash = '#!/model/model.daxing_kpi.kpi_long'")
        page.wait_for_function("document.body.innerText.includes('指标长表')", timeout=30_000)
        assert "One row per KPI, year and geography" in page.inner_text("body")
        # nothing left the machine (dbt-docs' own console noise about icon templates under file: is not checked)
        assert external == []
