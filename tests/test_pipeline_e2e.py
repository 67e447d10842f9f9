"""End to end: the real Dagster job on a generated sample, compared with the generator's ground truth."""

from __future__ import annotations

import hashlib

import duckdb
import numpy as np
import pandas as pd

KEY = ["kpi_id", "period_year", "geo_code"]


def test_main_command_prints_dashboard_and_database_paths(warehouse):
    out = warehouse.first_run_output
    assert f"Published database: {warehouse.analytics}" in out
    assert f"Dashboard: {warehouse.dashboard / 'index.html'}" in out
    assert 'class="kpi-card"' in (warehouse.dashboard / "index.html").read_text(encoding="utf-8")
    # plotly.js once, as a local file shared by every page (issue 7), not inlined in each page
    assert (warehouse.dashboard / "assets" / "plotly.min.js").stat().st_size > 1_000_000
    assert all(p.stat().st_size < 1_000_000 for p in (warehouse.dashboard / "kpi").glob("*.html"))


def test_every_observation_equals_ground_truth(warehouse):
    truth = warehouse.ground_truth()
    obs = warehouse.query("SELECT kpi_id, period_year, geo_code, numerator, denominator, value FROM kpi_observations")
    merged = truth.merge(obs, on=KEY, how="outer", suffixes=("_truth", "_mart"), indicator=True)
    missing = merged[merged._merge != "both"]
    assert missing.empty, f"rows only on one side:\n{missing.head(10)}"
    assert (merged.numerator_truth == merged.numerator_mart).all(), "numerators are counts and must match exactly"
    assert (merged.denominator_truth == merged.denominator_mart).all()
    np.testing.assert_allclose(merged.value_mart, merged.value_truth, rtol=0, atol=1e-9)
    # every KPI of the catalog, each with district observations for the plan years 2021-2025
    catalog_ids = set(warehouse.query("SELECT kpi_id FROM kpi_catalog").kpi_id)
    assert set(obs.kpi_id) == catalog_ids
    district_years = obs[obs.geo_code == "110115"].groupby("kpi_id").period_year.apply(set)
    assert {k for k in catalog_ids if not set(range(2021, 2026)) <= district_years.get(k, set())} == set()
    assert sorted(obs.period_year.unique()) == list(range(2020, 2027))
    towns = obs[obs.kpi_id == "funeral.eco_burial_rate"].groupby("period_year").geo_code.nunique()
    assert (towns == 23).all()


def test_partial_year_is_flagged(warehouse):
    obs = warehouse.query("SELECT DISTINCT period_year, is_partial_year, period_end_date FROM kpi_observations ORDER BY 1")
    assert obs.set_index("period_year").is_partial_year.to_dict() == {y: y == 2026 for y in range(2020, 2027)}
    assert str(obs.period_end_date.iloc[-1])[:10] == "2026-10-31"


def test_analyst_contract_tables(warehouse):
    cols = warehouse.query(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'"
    ).groupby("table_name").column_name.apply(set)
    assert {"kpi_id", "domain", "name_zh", "name_en", "unit", "direction", "baseline_year", "target_year",
            "target_value", "plan_section", "source_clause_zh"} <= cols["kpi_catalog"]
    assert {"kpi_id", "period_year", "geo_level", "geo_code", "geo_name_zh", "numerator", "denominator", "value",
            "is_partial_year"} <= cols["kpi_observations"]
    geos = warehouse.query("SELECT geo_code, geo_level, kind FROM geographies")
    assert len(geos) == 27 and (geos.geo_level == "district").sum() == 1
    assert geos[geos.geo_level == "district"].geo_code.item() == "110115"
    assert geos.geo_code.str.fullmatch(r"110115(\d{3})?").all()
    catalog = warehouse.query("SELECT * FROM kpi_catalog")
    targets = catalog.set_index("kpi_id").target_value.to_dict()
    assert targets["eldercare.care_workers_per_10k_elderly"] == 50
    assert targets["funeral.eco_burial_rate"] == 65
    assert targets["volunteer.registered_share_of_residents"] == 21
    assert targets["digital.online_service_rate"] == 95


def test_published_database_holds_no_personal_data(warehouse):
    with duckdb.connect(str(warehouse.analytics), read_only=True) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema='main'").fetchall()]
        for t in tables:
            cols = con.execute(f"SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '{t}'").fetchall()
            for c, typ in cols:
                assert not any(w in c for w in ("name_person", "id_number", "phone", "person_key")), (t, c)
                if typ == "VARCHAR":
                    # ID-number-like and phone-like text standing alone (not inside a SHA-256 or run id)
                    from daxing_kpi.privacy import ID_NUMBER_SQL, PHONE_SQL

                    hits = con.execute(
                        f"""SELECT count(*) FROM "{t}" WHERE regexp_matches("{c}", ?) OR regexp_matches("{c}", ?)""",
                        [ID_NUMBER_SQL, PHONE_SQL],
                    ).fetchone()[0]
                    assert hits == 0, (t, c)


def _mart_digest(wh) -> str:
    df = wh.query("SELECT * EXCLUDE (period_end_date) FROM kpi_observations ORDER BY kpi_id, period_year, geo_code")
    return hashlib.sha256(pd.util.hash_pandas_object(df, index=False).values.tobytes()).hexdigest()


def test_second_run_on_unchanged_input_is_identical_without_duplicates(warehouse):
    before = _mart_digest(warehouse)
    warehouse.run("run")
    assert _mart_digest(warehouse) == before
    with duckdb.connect(str(warehouse.root / "work" / "work.duckdb"), read_only=True) as con:
        for source, landing in [
            ("volunteer_volunteers", "volunteers"),
            ("funeral_burials", "burials"),
            ("govservice_service_cases", "service_cases"),
        ]:
            n_raw = con.execute(f"SELECT count(*) FROM raw.{source}").fetchone()[0]
            n_file = sum(len(pd.read_csv(p)) for p in (warehouse.root / "landing" / landing).glob("*.csv"))
            assert n_raw == n_file, source
            dup = con.execute(f"SELECT count(*) - count(DISTINCT (_source_file, _row_number)) FROM raw.{source}").fetchone()[0]
            assert dup == 0
