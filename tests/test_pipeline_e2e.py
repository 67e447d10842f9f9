"""End to end: the real Dagster job on a generated sample, compared with the generator's ground truth."""

from __future__ import annotations

import hashlib

import duckdb
import numpy as np
import pandas as pd

KEY = ["kpi_id", "period_year", "geo_code"]


def test_main_command_prints_dashboard_and_database_paths(warehouse):
    out = warehouse.first_run_output
    built_at = warehouse.built_at  # the folder the night ran in (this worker's warehouse is a copy of it)
    assert f"Published database: {built_at.analytics}" in out
    assert f"Dashboard: {built_at.dashboard / 'index.html'}" in out
    assert 'class="kpi-card"' in (warehouse.dashboard / "index.html").read_text(encoding="utf-8")
    # plotly.js once, as a local file shared by every page (issue 7), not inlined in each page
    assert (warehouse.dashboard / "assets" / "plotly.min.js").stat().st_size > 1_000_000
    assert all(p.stat().st_size < 1_000_000 for p in (warehouse.dashboard / "kpi").glob("*.html"))


def test_every_observation_equals_ground_truth(warehouse):
    """Every KPI at every geography (district, towns/streets, special zones, unassigned) equals the corrected
    ground truth (issue 16): persons counted once, counts as stock with new_in_year, a town/street that sent no
    return without a value (reporting_status not_reported)."""
    truth = warehouse.ground_truth()
    obs = warehouse.query("SELECT kpi_id, period_year, geo_code, numerator, denominator, value, new_in_year, reporting_status"
                          " FROM kpi_observations")
    merged = truth.merge(obs, on=KEY, how="outer", suffixes=("_truth", "_mart"), indicator=True)
    missing = merged[merged._merge != "both"]
    assert missing.empty, f"rows only on one side:\n{missing.head(10)}"
    for col in ("numerator", "denominator", "new_in_year"):  # counts must match exactly; NULL where the truth has none
        t, m = merged[f"{col}_truth"].astype(float), merged[f"{col}_mart"].astype(float)
        assert ((t == m) | (t.isna() & m.isna())).all(), f"{col}:\n{merged[~((t == m) | (t.isna() & m.isna()))].head()}"
    np.testing.assert_allclose(merged.value_mart.astype(float), merged.value_truth.astype(float), rtol=0, atol=1e-9)
    assert (merged.reporting_status_truth.fillna("") == merged.reporting_status_mart.fillna("")).all()
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
    assert len(geos) == 28 and (geos.geo_level == "district").sum() == 1
    assert geos.groupby("geo_level").size().to_dict() == {"district": 1, "town_street": 22, "special_zone": 4, "unassigned": 1}
    assert geos[geos.geo_level == "district"].geo_code.item() == "110115"
    assert geos.geo_code.str.fullmatch(r"110115(\d{3})?").all()
    catalog = warehouse.query("SELECT * FROM kpi_catalog")
    assert not catalog.duplicated(["plan_id", "kpi_id"]).any()  # one row per plan and KPI
    # the bundled example 15th plan (sample/example_plan.py) sets its own target: 不少于70名
    example = catalog[catalog.plan_id == "daxing_civil_affairs_2026_2030_example"].set_index("kpi_id")
    assert example.target_value["eldercare.care_workers_per_10k_elderly"] == 70
    catalog = catalog[catalog.plan_id == "daxing_civil_affairs_14th_fyp"]  # the 14th plan's words
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


def test_a_special_zone_counts_in_the_district_and_never_in_a_town_street_list(warehouse):
    """Issue 16.6 / PLAN.md Geographies, on the sample: volunteers and care workers registered in 北京经济技术开发区
    (110115403) have their own special_zone row, count in the district (district = towns/streets + special zones +
    unassigned), are in no town/street list and in no scorecard assessment."""
    obs = warehouse.query("SELECT kpi_id, period_year, geo_level, geo_code, numerator, denominator FROM kpi_observations"
                          " WHERE kpi_id IN ('volunteer.registered_share_of_residents', 'eldercare.care_workers_per_10k_elderly')"
                          " AND period_year = 2025")
    zone = obs[obs.geo_code == "110115403"].set_index("kpi_id")
    assert (zone.geo_level == "special_zone").all() and (zone.numerator > 0).all() and zone.denominator.isna().all()
    for kpi, rows in obs.groupby("kpi_id"):
        district = rows[rows.geo_level == "district"].iloc[0]
        assert district.numerator == rows[rows.geo_level != "district"].numerator.sum()
        assert district.numerator > rows[rows.geo_level == "town_street"].numerator.sum()
        assert district.denominator == rows[rows.geo_level == "town_street"].denominator.sum()
    towns = warehouse.query("SELECT DISTINCT geo_code FROM kpi_observations WHERE geo_level = 'town_street'").geo_code
    assert len(towns) == 22 and not towns.str.startswith("1101154").any()
    assert warehouse.query("SELECT count(*) AS n FROM kpi_scorecard WHERE geo_code LIKE '1101154%' OR geo_code = '110115999'").n.item() == 0
    geo = warehouse.query("SELECT * FROM geographies WHERE geo_code = '110115403'").iloc[0]
    assert geo.geo_level == "special_zone" and not geo.is_in_town_street_denominator


def test_a_town_that_sent_no_return_is_not_reported_and_a_zero_report_is_zero(warehouse):
    """Issue 16.3 on the sample: one town/street sent no return workbook (no value, 未报送 every year), one last
    reported as of 31 Dec 2025 (2026 not reported); towns/streets without studios reported 0 on their cover (0,
    not missing); the district counts what was reported and says partly_reported."""
    kpi = "community.secretary_studio_demo_sites"
    rows = warehouse.query(f"SELECT period_year, geo_level, geo_code, numerator, value, reporting_status FROM kpi_observations"
                           f" WHERE kpi_id = '{kpi}'")
    towns = rows[rows.geo_level == "town_street"]
    assert towns.groupby("period_year").size().eq(22).all()
    silent = towns[towns.period_year == 2021].query("reporting_status == 'not_reported'").geo_code.tolist()
    assert len(silent) == 1
    assert towns[towns.geo_code == silent[0]].value.isna().all() and (towns[towns.geo_code == silent[0]].reporting_status == "not_reported").all()
    late = towns[(towns.period_year == 2026) & (towns.reporting_status == "not_reported")].geo_code.tolist()
    assert len(late) == 2 and silent[0] in late
    zero = towns[(towns.period_year == 2025) & (towns.reporting_status == "reported") & (towns.value == 0)]
    assert len(zero) >= 1
    district = rows[rows.geo_level == "district"].set_index("period_year")
    assert (district.reporting_status == "partly_reported").all()
    assert (district.numerator == towns.groupby("period_year").numerator.sum()).all()
    long = warehouse.query(f"SELECT reporting_status, value FROM kpi_long WHERE kpi_id = '{kpi}' AND geo_code = '{silent[0]}'")
    assert (long.reporting_status == "not_reported").all() and long.value.isna().all()


def test_persons_are_counted_once_and_their_duplicates_published(warehouse):
    """Issue 16.1 on the sample: the volunteer-share numerator is the number of persons (kpi_person_duplicates),
    fewer than the registrations active that day; the duplicate figure is published per KPI, year and geography,
    checked by a WARN in dq_results, shown on the quality page, and the catalog and kpi_long say persons."""
    dup = warehouse.query("SELECT * FROM kpi_person_duplicates WHERE geo_level = 'district' AND period_year = 2025").set_index("kpi_id")
    assert set(dup.index) == {"volunteer.registered_share_of_residents", "eldercare.care_workers_per_10k_elderly",
                              "social_work.professionals", "social_work.certified_professionals",
                              "social_work.community_workers_local_share"}
    vol = dup.loc["volunteer.registered_share_of_residents"]
    assert vol.records > vol.persons > 0 and 0 < vol.share < 5
    assert abs(vol.share - vol.persons_with_several_records / vol.persons * 100) < 1e-9
    obs = warehouse.query("SELECT numerator FROM kpi_observations WHERE kpi_id = 'volunteer.registered_share_of_residents'"
                          " AND geo_code = '110115' AND period_year = 2025")
    assert obs.numerator.item() == vol.persons
    towns = warehouse.query("SELECT sum(persons) AS p FROM kpi_person_duplicates WHERE geo_level <> 'district' AND period_year = 2025"
                            " AND kpi_id = 'volunteer.registered_share_of_residents'")
    assert towns.p.item() == vol.persons
    dq = warehouse.query("SELECT severity, passed FROM dq_results WHERE check_name = 'persons_with_several_active_records_are_few'")
    assert len(dq) >= 1 and (dq.severity == "WARN").all() and dq.passed.all()
    page = (warehouse.dashboard / "quality" / "index.html").read_text(encoding="utf-8")
    assert 'id="person-duplicates-table"' in page and "volunteer.registered_share_of_residents" in page
    cat = warehouse.query("SELECT numerator_zh, definition_en FROM kpi_catalog WHERE kpi_id = 'volunteer.registered_share_of_residents'").iloc[0]
    assert "按人去重" in cat.numerator_zh and "counted once" in cat.definition_en
    long = warehouse.query("SELECT DISTINCT numerator_zh, numerator_en FROM kpi_long WHERE kpi_id = 'volunteer.registered_share_of_residents'")
    assert len(long) == 1 and "按人去重" in long.numerator_zh.item() and "each counted once" in long.numerator_en.item()
