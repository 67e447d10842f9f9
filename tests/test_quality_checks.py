"""The quality gate's rules, one by one, on hand-made inputs (issue 6): no job run.

Landed-file checks run on files loaded through the real ingestion (``ingest_source`` and
``write_raw``) into a temporary working database; the mart checks on a hand-made
``kpi_observations`` in an in-memory DuckDB; every expected value below is counted by hand.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

import dagster as dg
import duckdb
import pandas as pd
import pytest

from daxing_kpi import checks, dq, quality, quality_docs
from daxing_kpi.ingest import ingest_source, load_contracts
from daxing_kpi.warehouse import connect_work, write_raw

TOWNS = checks.plan_towns()  # the plan's 22 towns/streets (seeds/townships.csv)
NAME = checks.townships().set_index("code").name_zh
POP_HEADER = ["统计年度", "镇街", "年龄组", "常住人口"]
BANDS = ["0-17", "18-59", "60-79", "80+"]
ORG_HEADER = ["组织编号", "组织名称", "组织类别", "组织形式", "登记备案状态", "所在镇街", "成立日期", "状态", "注销日期"]


def _write(folder, name, header, rows, mtime):
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=header).to_csv(folder / name, index=False)
    os.utime(folder / name, (mtime, mtime))


def _load(contract, landing, run_id="run-1"):
    write_raw(contract, ingest_source(contract, landing), run_id)


def _population_rows(years, skip=(), negative=None):
    rows = []
    for y in years:
        for code in TOWNS:
            if (y, code) in skip:
                continue
            for b in BANDS:
                rows.append([y, NAME[code], b, -5 if negative == (y, code, b) else 1000])
    return rows


@pytest.fixture
def wh(tmp_path, monkeypatch):
    monkeypatch.setenv("KPI_WAREHOUSE_DIR", str(tmp_path / "wh"))
    monkeypatch.delenv(checks.ACCEPT_ROW_COUNT_CHANGE_ENV, raising=False)
    return tmp_path


def _outcome(contract, name, run_id="run-1"):
    with connect_work(read_only=True) as con:
        (out,) = checks.landed_file_outcomes(con, contract, run_id, {name})
    return out


# -- landed files -----------------------------------------------------------------------------------------


def test_source_rules_default_and_from_the_contract(tmp_path):
    contracts = load_contracts()
    assert checks.source_rules(contracts["funeral_burials"]) == checks.SOURCE_RULE_DEFAULTS
    assert checks.source_rules(contracts["statbureau_population"])["max_rejected_share"] == 0.0
    bad = dataclasses.replace(contracts["funeral_burials"], extra={"quality": {"max_share": 0.1}})
    with pytest.raises(ValueError, match="contract funeral_burials: unknown quality rule 'max_share'"):
        checks.source_rules(bad)


def _audit(file_name: str) -> dict:
    with connect_work(read_only=True) as con:
        df = con.execute("SELECT * FROM audit.ingest_audit WHERE file_name = ? ORDER BY loaded_at DESC LIMIT 1", [file_name]).df()
    return df.iloc[0].to_dict()


def test_a_negative_count_in_a_statistics_table_sets_the_file_aside(wh):
    """88 records (22 towns × 4 bands), one count of -5 (below the minimum 0) and a totals row (合计, no
    record): 1 of 88 unusable; the population contract allows none, so ingestion sets the file aside (issue 15)
    and the conformance check, over the files loaded, has nothing to object to."""
    contract = load_contracts()["statbureau_population"]
    rows = _population_rows([2021], negative=(2021, TOWNS[3], "60-79")) + [["合计", "", "", 88000]]
    _write(wh / "landing" / "population", "p.csv", POP_HEADER, rows, 1_000)
    _load(contract, wh / "landing")
    a = _audit("population/p.csv")
    assert (a["status"], a["rows_read"], a["rows_loaded"], a["rows_quarantined"]) == ("rejected", 89, 0, 89)
    assert ("1 of 88 records (1.1%) cannot be used, more than the limit of 0%" in a["rejected_reason_en"]
            and "First at row 16, column 常住人口" in a["rejected_reason_en"])  # line 1 header, 3 towns × 4 bands, 3rd band
    assert "88 条记录中有 1 条" in a["rejected_reason_zh"] and "小于最小值 0" in a["rejected_reason_zh"]
    out = _outcome(contract, "records_conform_to_the_contract")
    assert out.passed and out.counts == {"records": 0, "rejected": 0}
    assert "at most 0.0% of each file's records" in out.expected
    assert out.gx is not None and out.gx.result_json["suite_name"] == "raw_statbureau_population_conformance"


def test_a_few_rejected_records_within_the_default_share_pass(wh):
    """Burials: 1 unreadable burial date among 20 records = 5.0%, the default limit: passes; 2 = 10%: the file is
    set aside. Unknown towns are field faults (loaded, counted for the district only): never counted here."""
    contract = load_contracts()["funeral_burials"]
    header = ["逝者编号", "死亡日期", "安葬日期", "户籍所在镇街", "安葬方式"]
    rows = [[f"B{i}", "2021-03-01", "2021-03-05", "火星镇" if i < 4 else "黄村地区", "树葬"] for i in range(19)]
    rows += [["B19", "2021-03-01", "去年", "黄村地区", "树葬"]]
    _write(wh / "landing" / "burials", "b.csv", header, rows, 1_000)
    _load(contract, wh / "landing")
    out = _outcome(contract, "records_conform_to_the_contract")
    assert out.passed and out.observed == "1 of 20 records (5.0%) quarantined for breaking the contract: unreadable date ×1"
    a = _audit("burials/b.csv")
    assert (a["status"], a["rows_loaded"], a["rows_loaded_with_field_faults"]) == ("loaded", 19, 4)
    rows[0][2] = "2021-02-30"
    _write(wh / "landing" / "burials", "b.csv", header, rows, 1_000)
    _load(contract, wh / "landing", "run-2")
    a = _audit("burials/b.csv")
    assert a["status"] == "rejected" and "2 of 20 records (10.0%) cannot be used, more than the limit of 5%" in a["rejected_reason_en"]
    out = _outcome(contract, "records_conform_to_the_contract", "run-2")
    assert out.passed and out.counts == {"records": 0, "rejected": 0}


def test_a_town_missing_in_one_year_of_a_statistics_table(wh):
    contract = load_contracts()["statbureau_population"]
    gone = TOWNS[5]
    _write(wh / "landing" / "population", "p.csv", POP_HEADER, _population_rows([2020, 2021], skip={(2021, gone)}), 1_000)
    _load(contract, wh / "landing")
    out = _outcome(contract, "every_town_street_is_present_and_known")
    assert not out.passed
    assert out.offending == [f"2021 {gone} {NAME[gone]}: no records"]
    assert out.observed == f"1 of 44 town/street and period_year cells without records (towns/streets missing: {gone} {NAME[gone]})"
    # present every year: passes
    _write(wh / "landing" / "population", "p.csv", POP_HEADER, _population_rows([2020, 2021]), 1_000)
    _load(contract, wh / "landing", "run-2")
    assert _outcome(contract, "every_town_street_is_present_and_known", "run-2").observed == "all 22 towns/streets present in each of 2 years"


def _orgs(n, town="清源街道"):
    return [[f"ORG{i:03d}", f"协会{i}", "应急类", "社会团体", "登记", town, "2020-05-18", "正常", ""] for i in range(n)]


def test_a_duplicated_delivery_of_a_source_without_key_fails(wh):
    """A contract without key or delivery scope (files add up; e.g. a site's own contract in
    KPI_CONTRACTS_DIR): b.csv repeats a.csv's 10 records (a re-export, not byte-identical): 10 of b's 11
    records repeat an earlier file."""
    contract = dataclasses.replace(load_contracts()["social_org_organisations"], key=(), delivery_scope=None)
    folder = wh / "landing" / "social_orgs"
    _write(folder, "a.csv", ORG_HEADER, _orgs(10), 1_000)
    _write(folder, "b.csv", ORG_HEADER, _orgs(10) + [["ORG999", "新协会", "应急类", "社会团体", "登记", "清源街道", "2021-01-01", "正常", ""]], 2_000)
    _load(contract, wh / "landing")
    out = _outcome(contract, "no_record_is_delivered_twice")
    assert not out.passed
    assert out.observed == "10 of 21 records repeat an earlier file's records (worst: social_orgs/b.csv, 10 of 11 = 90.9%)"
    assert out.offending == ["social_orgs/b.csv: 10 of 11 records repeat social_orgs/a.csv"]


def test_a_resent_complete_register_supersedes_the_earlier_one_and_passes(wh):
    """The organisation register is exported whole every time (key org_id, delivery_scope []): b.csv is
    a.csv's 22 records (one per town/street) again, ORG003 now deregistered, plus one new organisation.
    a.csv's 22 rows are superseded, b.csv's 23 loaded, nothing quarantined; every landed-file check passes."""
    contract = load_contracts()["social_org_organisations"]
    assert (contract.key, contract.delivery_scope) == (("org_id",), ())
    register = [[f"ORG{i:03d}", f"协会{i}", "应急类", "社会团体", "登记", NAME[code], "2020-05-18", "正常", ""] for i, code in enumerate(TOWNS)]
    folder = wh / "landing" / "social_orgs"
    _write(folder, "a.csv", ORG_HEADER, register, 1_000)
    again = [list(r) for r in register]
    again[3][7:9] = ["已注销", "2021-06-30"]
    _write(folder, "b.csv", ORG_HEADER, again + [["ORG999", "新协会", "应急类", "社会团体", "登记", "清源街道", "2021-01-01", "正常", ""]], 2_000)
    _load(contract, wh / "landing")
    a, b = _audit("social_orgs/a.csv"), _audit("social_orgs/b.csv")
    assert (a["status"], a["rows_read"], a["rows_loaded"], a["rows_quarantined"], a["rows_superseded"]) == ("superseded", 22, 0, 0, 22)
    assert (b["status"], b["rows_read"], b["rows_loaded"], b["rows_quarantined"], b["rows_superseded"]) == ("loaded", 23, 23, 0, 0)
    assert a["superseded_by"] == "social_orgs/b.csv"
    with connect_work(read_only=True) as con:
        raw = con.execute('SELECT org_id, status_zh, _source_file FROM raw."social_org_organisations"').df()
    assert len(raw) == 23 and raw.org_id.is_unique and set(raw._source_file) == {"social_orgs/b.csv"}
    assert raw.set_index("org_id").status_zh["ORG003"] == "已注销"
    dup = _outcome(contract, "no_record_is_delivered_twice")
    assert dup.passed and dup.observed == "0 of 23 records repeat an earlier file's records"
    with connect_work(read_only=True) as con:
        outcomes = checks.landed_file_outcomes(con, contract, "run-1")
    assert {o.name: o.passed for o in outcomes} == dict.fromkeys(checks.landed_file_check_names(contract), True)


def test_a_byte_identical_resend_is_skipped_and_passes(wh):
    contract = load_contracts()["social_org_organisations"]
    folder = wh / "landing" / "social_orgs"
    _write(folder, "a.csv", ORG_HEADER, _orgs(10), 1_000)
    (folder / "a_again.csv").write_bytes((folder / "a.csv").read_bytes())
    os.utime(folder / "a_again.csv", (2_000, 2_000))
    _load(contract, wh / "landing")
    out = _outcome(contract, "no_record_is_delivered_twice")
    assert out.passed and out.observed == "0 of 10 records repeat an earlier file's records; 1 byte-identical re-sent files skipped"


def test_duplicate_keys_across_files_count_as_a_duplicated_delivery(wh):
    """A keyed source whose files add up (burials without delivery_scope): ingestion quarantines the
    second file's records as duplicates "same as burials/a.csv row n"; the check reads that file name."""
    contract = dataclasses.replace(load_contracts()["funeral_burials"], delivery_scope=None)
    header = ["逝者编号", "死亡日期", "安葬日期", "户籍所在镇街", "安葬方式"]
    rows = [[f"B{i}", "2021-03-01", "2021-03-05", "黄村地区", "树葬"] for i in range(8)]
    _write(wh / "landing" / "burials", "a.csv", header, rows, 1_000)
    _write(wh / "landing" / "burials", "b.csv", header, rows[:4] + [["B99", "2021-04-01", "2021-04-05", "黄村地区", "树葬"]] * 1, 2_000)
    _load(contract, wh / "landing")
    out = _outcome(contract, "no_record_is_delivered_twice")
    assert not out.passed and out.offending == ["burials/b.csv: 4 of 5 records repeat burials/a.csv"]
    # a duplicate within one file is a data-entry duplicate, not a repeated delivery
    _write(wh / "landing" / "burials", "b.csv", header, [["B99", "2021-04-01", "2021-04-05", "黄村地区", "树葬"]] * 2, 2_000)
    _load(contract, wh / "landing", "run-2")
    assert _outcome(contract, "no_record_is_delivered_twice", "run-2").passed


def test_row_count_against_the_last_publication(wh, monkeypatch):
    contract = load_contracts()["social_org_organisations"]
    _write(wh / "landing" / "social_orgs", "a.csv", ORG_HEADER, _orgs(10), 1_000)
    _load(contract, wh / "landing")
    first = _outcome(contract, "row_count_is_plausible_against_the_last_delivery")
    assert first.passed and first.observed == "10 rows loaded; no earlier publication to compare with"
    dq.record_source_baselines("run-0")  # as after a publication: 10 rows
    with connect_work() as con:
        con.execute("UPDATE audit.source_baselines SET rows_loaded = 20 WHERE source_id = 'social_org_organisations'")
    half = _outcome(contract, "row_count_is_plausible_against_the_last_delivery")
    assert not half.passed and half.counts == {"rows_loaded": 10, "previous_rows_loaded": 20}
    assert half.observed.startswith("10 rows loaded, 20 at the last publication (run run-0, ") and half.observed.endswith("): −50.0%")
    assert half.offending == ["social_org_organisations: 20 → 10 rows"]
    with connect_work() as con:
        con.execute("UPDATE audit.source_baselines SET rows_loaded = 8 WHERE source_id = 'social_org_organisations'")
    assert _outcome(contract, "row_count_is_plausible_against_the_last_delivery").passed  # +25% is within ±30%
    with connect_work() as con:  # a source with no rows at the last publication: delivered for the first time
        con.execute("UPDATE audit.source_baselines SET rows_loaded = 0 WHERE source_id = 'social_org_organisations'")
    first_delivery = _outcome(contract, "row_count_is_plausible_against_the_last_delivery")
    assert first_delivery.passed and first_delivery.observed == "10 rows loaded; none at the last publication (run run-0), nothing to compare with"
    with connect_work() as con:
        con.execute("UPDATE audit.source_baselines SET rows_loaded = 20 WHERE source_id = 'social_org_organisations'")
    monkeypatch.setenv(checks.ACCEPT_ROW_COUNT_CHANGE_ENV, "funeral_burials, social_org_organisations")
    accepted = _outcome(contract, "row_count_is_plausible_against_the_last_delivery")
    assert accepted.passed and accepted.observed.endswith("(accepted for this run by KPI_ACCEPT_ROW_COUNT_CHANGE)")


def test_row_accounting_names_an_unbalanced_file(wh):
    contract = load_contracts()["social_org_organisations"]
    _write(wh / "landing" / "social_orgs", "a.csv", ORG_HEADER, _orgs(10), 1_000)
    _load(contract, wh / "landing")
    assert _outcome(contract, "every_row_is_loaded_or_quarantined").passed
    with connect_work() as con:
        con.execute("UPDATE audit.ingest_audit SET rows_read = 12")
    out = _outcome(contract, "every_row_is_loaded_or_quarantined")
    assert not out.passed and out.observed == "1 of 1 files unbalanced (2 rows unaccounted)"
    assert out.offending == ["social_orgs/a.csv: read 12, loaded 10, quarantined 0, superseded 0"]


def test_town_coverage_applies_only_to_sources_that_promise_it():
    contracts = load_contracts()
    assert "every_town_street_is_present_and_known" in checks.landed_file_check_names(contracts["funeral_burials"])
    assert checks.landed_file_check_names(contracts["govservice_service_items"]) == [
        "every_row_is_loaded_or_quarantined", "records_conform_to_the_contract", "no_record_is_delivered_twice",
        "row_count_is_plausible_against_the_last_delivery"]


# -- marts -------------------------------------------------------------------------------------------------

A, B, Z = "110115001", "110115103", "110115403"  # a street, a town (both in the plan's 22), a special zone


@pytest.fixture
def mart():
    """kpi_observations of two KPIs: t.rate (%, additive, every town/street) and t.count (count,
    district only), years 2020-2022 (2022 partial). Every check passes on it as built."""
    con = duckdb.connect()
    for s in ("marts", "seeds", "intermediate"):
        con.execute(f"CREATE SCHEMA {s}")
    con.execute("""CREATE TABLE marts.geographies AS SELECT * FROM (VALUES
        ('110115', 'district', 'district', false), ('110115001', 'town_street', 'street', true),
        ('110115103', 'town_street', 'town', true), ('110115403', 'special_zone', 'special_zone', false),
        ('110115999', 'unassigned', 'unassigned', false))
        t(geo_code, geo_level, kind, is_in_town_street_denominator)""")
    con.execute("""CREATE TABLE marts.kpi_catalog AS SELECT * FROM (VALUES
        ('t.rate', 'pct', true, 2020), ('t.count', 'count', false, 2020)) t(kpi_id, unit, is_additive, baseline_year)""")
    con.execute("""CREATE TABLE seeds.kpi_quality_rules AS SELECT * FROM (VALUES
        ('t.rate', NULL, 'every_town_street', 'points', 10.0), ('t.count', NULL, 'district_only', 'relative', 0.5))
        t(kpi_id, first_year, town_street_coverage, yoy_measure, max_yoy_change)""")
    con.execute("CREATE TABLE intermediate.int_periods AS SELECT * FROM (VALUES (2020), (2021), (2022)) t(period_year)")
    rows = []
    for y, (na, da, nb, db) in {2020: (20, 40, 30, 60), 2021: (22, 40, 32, 60), 2022: (30, 40, 40, 40)}.items():
        part = y == 2022
        rows += [("t.rate", y, "town_street", A, na, da, na / da * 100, part), ("t.rate", y, "town_street", B, nb, db, nb / db * 100, part),
                 ("t.rate", y, "district", "110115", na + nb, da + db, (na + nb) / (da + db) * 100, part)]
    rows += [("t.count", 2020, "district", "110115", 10, 1, 10, False), ("t.count", 2021, "district", "110115", 14, 1, 14, False),
             ("t.count", 2022, "district", "110115", 40, 1, 40, True)]
    con.execute("CREATE TABLE marts.kpi_observations (kpi_id VARCHAR, period_year INTEGER, geo_level VARCHAR, geo_code VARCHAR,"
                " numerator DOUBLE, denominator DOUBLE, value DOUBLE, is_partial_year BOOLEAN)")
    con.executemany("INSERT INTO marts.kpi_observations VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    # persons of a per-person KPI: 2% of them with several active records (below the WARN threshold)
    con.execute("""CREATE TABLE marts.kpi_person_duplicates AS SELECT * FROM (VALUES
        ('t.rate', 2020, 'district', '110115', 1000, 1020, 20, 3, 2.0, false),
        ('t.rate', 2021, 'district', '110115', 1100, 1122, 22, 0, 2.0, false)) t(kpi_id, period_year, geo_level, geo_code,
        persons, records, persons_with_several_records, records_without_usable_id, share, is_partial_year)""")
    return con


def _mart(con, name):
    (out,) = checks.mart_outcomes(con, {name})
    return out


def test_every_mart_check_passes_on_a_consistent_mart(mart):
    outs = checks.mart_outcomes(mart)
    assert [(o.name, o.passed, o.severity) for o in outs] == [(n, True, s) for n, s in checks.MART_CHECKS.items()]
    by = {o.name: o for o in outs}
    # 2 KPIs × 3 years district rows + t.rate × 2 plan towns × 3 years (the special zone is not expected)
    assert by["every_kpi_has_a_value_for_every_year_and_geography"].observed == "all 12 expected KPI × year × geography rows present once"
    assert by["year_over_year_changes_are_within_bounds"].observed == "all 2 district year-over-year changes within their bounds"


def test_a_missing_town_row_fails_completeness(mart):
    mart.execute(f"DELETE FROM marts.kpi_observations WHERE geo_code = '{B}' AND period_year = 2021")
    out = _mart(mart, "every_kpi_has_a_value_for_every_year_and_geography")
    assert not out.passed and out.kpi_ids == ["t.rate"]
    assert out.observed == "1 expected rows missing, 0 duplicated, in 1 KPIs: t.rate"
    assert out.offending == [f"t.rate 2021 {B} {NAME[B]} rows_count=0"]


def test_rates_counts_and_denominators(mart):
    mart.execute(f"UPDATE marts.kpi_observations SET value = 100.5 WHERE geo_code = '{A}' AND period_year = 2020")
    mart.execute(f"UPDATE marts.kpi_observations SET numerator = -3 WHERE geo_code = '{B}' AND period_year = 2021")
    mart.execute(f"UPDATE marts.kpi_observations SET denominator = 0, value = NULL WHERE geo_code = '{A}' AND period_year = 2022")
    rates = _mart(mart, "rates_are_between_0_and_100")
    assert not rates.passed and rates.offending == [f"t.rate 2020 {A} {NAME[A]} pct_value=100.5"]
    neg = _mart(mart, "counts_and_per_10k_values_are_not_negative")
    assert not neg.passed and neg.offending == [f"t.rate 2021 {B} {NAME[B]} numerator=-3"]
    den = _mart(mart, "denominators_are_positive")
    assert not den.passed and den.observed == "1 rows with a denominator of 0 or none, in 1 KPIs: t.rate"
    assert den.offending == [f"t.rate 2022 {A} {NAME[A]} numerator=30 denominator=0"]


def test_district_numerator_must_equal_the_sum_of_its_towns(mart):
    mart.execute("UPDATE marts.kpi_observations SET numerator = 55 WHERE geo_level = 'district' AND kpi_id = 't.rate' AND period_year = 2021")
    out = _mart(mart, "town_street_numerators_sum_to_the_district")
    assert not out.passed and out.kpi_ids == ["t.rate"]
    assert out.offending == ["t.rate 2021 district_numerator=55 towns_numerator=54"]


def test_special_zone_and_unassigned_rows_count_in_the_district_only(mart):
    """PLAN.md Geographies: for an additive KPI the district is the sum of the town/street, special-zone and
    unassigned rows; a special zone has people but no residents of its own (denominator NULL), which is no
    failure of denominators_are_positive; it is never an expected town/street row."""
    mart.execute(f"INSERT INTO marts.kpi_observations VALUES ('t.rate', 2021, 'special_zone', '{Z}', 3, NULL, NULL, false),"
                 " ('t.rate', 2021, 'unassigned', '110115999', 1, NULL, NULL, false)")
    out = _mart(mart, "town_street_numerators_sum_to_the_district")
    assert not out.passed and out.offending == ["t.rate 2021 district_numerator=54 towns_numerator=58"]
    mart.execute("UPDATE marts.kpi_observations SET numerator = 58 WHERE geo_level = 'district' AND kpi_id = 't.rate' AND period_year = 2021")
    assert _mart(mart, "town_street_numerators_sum_to_the_district").passed
    assert _mart(mart, "denominators_are_positive").passed
    assert _mart(mart, "every_kpi_has_a_value_for_every_year_and_geography").passed
    mart.execute(f"UPDATE marts.kpi_observations SET denominator = NULL WHERE geo_code = '{A}' AND period_year = 2021")
    den = _mart(mart, "denominators_are_positive")  # a town/street must have one
    assert not den.passed and den.offending == [f"t.rate 2021 {A} {NAME[A]} numerator=22"]


def test_persons_on_several_active_records_beyond_five_percent_warn(mart):
    """Issue 16.1: 2% of the persons counted with several active records passes; a platform registering 8% of
    its people twice is a WARN naming the KPI and year, and the latest year's figures ride along for the
    quality page."""
    ok = _mart(mart, "persons_with_several_active_records_are_few")
    assert ok.passed and ok.severity == "WARN"
    assert ok.observed == "at most 2.00% of persons stand on several active records (t.rate 2020); 0 records without a usable ID number counted as one person each in the latest year"
    mart.execute("UPDATE marts.kpi_person_duplicates SET persons_with_several_records = 88, share = 8.0 WHERE period_year = 2021")
    out = _mart(mart, "persons_with_several_active_records_are_few")
    assert not out.passed and out.severity == "WARN" and out.kpi_ids == ["t.rate"]
    assert out.offending == ["t.rate 2021: 88 of 1,100 persons (8.0%) stand on several active records"]
    figures = out.gx.result_json["meta"][checks.PERSON_FIGURES_META]
    assert figures == [{"kpi_id": "t.rate", "period_year": 2021, "is_partial_year": False, "persons": 1100, "records": 1122,
                        "persons_with_several_records": 88, "records_without_usable_id": 0, "share": 8.0}]


def test_year_over_year_beyond_the_bound_is_a_warning(mart):
    """t.rate district: 50.0 (2020) → 54.0 (2021): +4 points, within 10. Raise 2021 to 62.5: +12.5
    points. t.count 10 → 16: +60 % beyond 50 %. The partial year 2022 (40) is left out."""
    mart.execute("UPDATE marts.kpi_observations SET value = 62.5 WHERE geo_level = 'district' AND kpi_id = 't.rate' AND period_year = 2021")
    mart.execute("UPDATE marts.kpi_observations SET value = 16 WHERE kpi_id = 't.count' AND period_year = 2021")
    out = _mart(mart, "year_over_year_changes_are_within_bounds")
    assert not out.passed and out.severity == "WARN" and out.kpi_ids == ["t.count", "t.rate"]
    assert out.offending == ["t.count 2021: 10 → 16 (+60.0%, bound 0.5 relative)", "t.rate 2021: 50 → 62.5 (+12.5 points, bound 10)"]
    # from 0 a relative change is not computed
    mart.execute("UPDATE marts.kpi_observations SET value = 0 WHERE kpi_id = 't.count' AND period_year = 2020")
    assert _mart(mart, "year_over_year_changes_are_within_bounds").kpi_ids == ["t.rate"]


# -- results, summary, gate, KPI status -------------------------------------------------------------------


def _results(rows):
    base = {"run_id": "r2", "check_level": "landed_file", "expected": None, "offending_keys": None, "kpi_ids": None,
            "checked_at": pd.Timestamp("2026-11-01 02:00")}
    return pd.DataFrame([{**base, **r} for r in rows], columns=list(dq.DQ_COLUMN_NAMES))


def test_failure_summary_is_one_paragraph_blocking_first():
    res = _results([
        {"asset": "marts/kpi_observations", "check_name": "year_over_year_changes_are_within_bounds", "severity": "WARN", "passed": False,
         "observed_value": "1 district changes beyond their bound: funeral.eco_burial_rate 2024: 55.7 → 80.1 (+24.4 points, bound 10)"},
        {"asset": "raw/funeral_burials", "check_name": "row_count_is_plausible_against_the_last_delivery", "severity": "ERROR", "passed": False,
         "observed_value": "817 rows loaded, 1,635 at the last publication: −50.0%", "expected": "within ±30.0% of the rows loaded at the last publication",
         "offending_keys": "funeral_burials: 1635 → 817 rows"},
        {"asset": "raw/funeral_burials", "check_name": "every_row_is_loaded_or_quarantined", "severity": "ERROR", "passed": True, "observed_value": "ok"},
    ])
    assert dq.failure_summary(res) == (
        "Quality gate: 1 blocking check failed (and 1 advisory) of 3 evaluated, so nothing was published. "
        "raw/funeral_burials row_count_is_plausible_against_the_last_delivery [ERROR]: 817 rows loaded, 1,635 at the last publication: "
        "−50.0%; expected within ±30.0% of the rows loaded at the last publication (e.g. funeral_burials: 1635 → 817 rows). "
        "marts/kpi_observations year_over_year_changes_are_within_bounds [WARN]: 1 district changes beyond their bound: "
        "funeral.eco_burial_rate 2024: 55.7 → 80.1 (+24.4 points, bound 10).")
    assert "\n" not in dq.failure_summary(res)
    assert dq.failure_summary(res[res.passed]) is None


def _store(con, run_id, rows):
    dq.store_results(con, run_id, [{**r, "run_id": run_id} for r in _results(rows).to_dict("records")])


def test_a_blocking_failure_of_an_earlier_run_not_rechecked_stops_publication():
    con = duckdb.connect()
    burials = ("raw/funeral_burials", "row_count_is_plausible_against_the_last_delivery")
    _store(con, "r1", [{"asset": burials[0], "check_name": burials[1], "severity": "ERROR", "passed": False, "observed_value": "−50.0%",
                        "checked_at": pd.Timestamp("2026-11-01 02:00")}])
    # run r2 refreshed volunteers only: the burials check did not run again
    _store(con, "r2", [{"asset": "raw/volunteer_volunteers", "check_name": burials[1], "severity": "ERROR", "passed": True, "observed_value": "ok",
                        "checked_at": pd.Timestamp("2026-11-02 02:00")}])
    keys = {burials, ("raw/volunteer_volunteers", burials[1])}
    with pytest.raises(dq.StaleFailureError, match=r"raw/funeral_burials row_count_is_plausible_against_the_last_delivery \(failed in run r1: −50.0%\)"):
        dq.assert_no_stale_failures(con, "r2", keys)
    dq.assert_no_stale_failures(con, "r2", keys - {burials})  # a check no longer defined does not count
    _store(con, "r3", [{"asset": burials[0], "check_name": burials[1], "severity": "ERROR", "passed": True, "observed_value": "ok",
                        "checked_at": pd.Timestamp("2026-11-03 02:00")}])
    dq.assert_no_stale_failures(con, "r3", keys)  # re-checked and passed


def test_kpi_lineage_and_status_from_the_real_asset_graph():
    from daxing_kpi.definitions import defs

    graph = defs.resolve_asset_graph()
    lineage = dq.kpi_lineage_checks(graph, ["funeral.eco_burial_rate", "volunteer.registered_share_of_residents"])
    eco = lineage["funeral.eco_burial_rate"]
    assert ("raw/funeral_burials", "records_conform_to_the_contract") in eco
    assert ("staging/stg_funeral__burials", "unique_stg_funeral__burials_burial_id") in eco
    assert ("intermediate/int_kpi_funeral__eco_burial_rate", "kpi_rows_are_keyed_and_known_int_kpi_funeral__eco_burial_rate_") in eco
    assert ("marts/kpi_observations", "denominators_are_positive") in eco
    # int_periods (the cut-off date of the partial year) reads every event source, so volunteers are upstream too
    assert ("raw/volunteer_volunteers", "row_count_is_plausible_against_the_last_delivery") in eco
    assert not any(a in ("raw/statbureau_population", "raw/social_org_organisations") for a, _ in eco)
    assert ("raw/statbureau_population", "every_town_street_is_present_and_known") in lineage["volunteer.registered_share_of_residents"]

    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE TABLE marts.kpi_catalog AS SELECT * FROM (VALUES ('funeral.eco_burial_rate', 'funeral_burials'),"
                " ('volunteer.registered_share_of_residents', 'volunteer_volunteers;statbureau_population')) t(kpi_id, sources)")
    _store(con, "r1", [
        {"asset": "marts/kpi_observations", "check_name": "year_over_year_changes_are_within_bounds", "severity": "WARN", "passed": False,
         "observed_value": "1 change", "kpi_ids": "funeral.eco_burial_rate", "check_level": "mart"},
        {"asset": "raw/funeral_burials", "check_name": "records_conform_to_the_contract", "severity": "ERROR", "passed": True, "observed_value": "ok"},
        {"asset": "raw/volunteer_volunteers", "check_name": "records_conform_to_the_contract", "severity": "ERROR", "passed": True, "observed_value": "ok"},
    ])
    fresh = pd.DataFrame({"source_id": ["funeral_burials", "volunteer_volunteers", "statbureau_population"],
                          "latest_record_date": pd.to_datetime(["2026-10-30", "2026-10-31", "2026-12-31"]).date,
                          "delivery_cutoff_date": pd.to_datetime(["2026-10-31", "2026-11-01", "2025-12-31"]).date})
    status = dq.kpi_status_frame(con, "r1", graph, fresh).set_index("kpi_id")
    eco, vol = status.loc["funeral.eco_burial_rate"], status.loc["volunteer.registered_share_of_residents"]
    # both KPIs' lineage holds both raw checks (int_periods reads burials and volunteers); the WARN names eco only
    assert (eco.status, eco.checks_evaluated, eco.checks_failed, eco.checks_warned) == ("warned", 3, 0, 1)
    assert eco.failed_checks == "marts/kpi_observations year_over_year_changes_are_within_bounds [WARN]: 1 change"
    assert (vol.status, vol.checks_evaluated, vol.checks_warned) == ("passed", 2, 0)
    assert str(eco.latest_record_date) == "2026-10-30" and str(vol.latest_record_date) == "2026-10-31"
    # 数据截至: the oldest cut-off among the KPI's sources (the population register's year end for volunteers)
    assert str(eco.delivery_cutoff_date) == "2026-10-31" and str(vol.delivery_cutoff_date) == "2025-12-31"
    assert eco.checks_carried_over == 0 and eco.files_rejected == 0  # every check ran in r1; no file set aside


def test_dq_results_from_the_dagster_event_log(tmp_path):
    """A tiny job with a failing WARN check and a passing ERROR check: the rows dq_results gets."""

    @dg.asset
    def thing():
        return 1

    @dg.multi_asset_check(specs=[dg.AssetCheckSpec("a_rule", asset=thing, blocking=True), dg.AssetCheckSpec("b_rule", asset=thing, blocking=True)])
    def thing_checks():
        o = checks.CheckOutcome("a_rule", False, "WARN", "3 offending", "none", ["k1", "k2"], ["x.kpi"], level="mart")
        yield dg.AssetCheckResult(asset_key=thing.key, check_name="a_rule", passed=False, severity=dg.AssetCheckSeverity.WARN, metadata=o.metadata())
        yield dg.AssetCheckResult(asset_key=thing.key, check_name="b_rule", passed=True, metadata={"observed": "fine", "expected": "fine"})

    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = dg.materialize([thing, thing_checks], instance=instance)
        assert result.success  # a failed WARN check blocks nothing
        rows = sorted(dq.evaluation_rows(instance, result.run_id), key=lambda r: r["check_name"])
    assert [(r["asset"], r["check_name"], r["severity"], r["passed"], r["observed_value"], r["offending_keys"], r["kpi_ids"], r["check_level"])
            for r in rows] == [("thing", "a_rule", "WARN", False, "3 offending", "k1; k2", "x.kpi", "mart"),
                               ("thing", "b_rule", "ERROR", True, "fine", None, None, "other")]


# -- Data Docs ---------------------------------------------------------------------------------------------


def test_make_offline_strips_every_external_reference():
    page = """<html><head><link href="https://cdn.jsdelivr.net/npm/x.css" rel="stylesheet">
<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script><script src="//unpkg.com/a.js"></script>
<style>@import url("https://fonts.example.com/f.css"); .a{background:url(https://x.example.org/i.png)}</style></head>
<body><img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=1">
<a href="https://greatexpectations.io">GX</a> <a href="validations/v.html">local</a><img src="static/images/favicon.ico"></body></html>"""
    out = quality_docs.make_offline(page)
    assert quality_docs.external_urls(out) == []
    assert '<a href="validations/v.html">local</a>' in out and "static/images/favicon.ico" in out and "<span>GX</span>" in out
    assert "<style>" in out and "daxing_kpi: offline layout" in out


def test_data_docs_are_built_offline_from_stored_results(wh):
    ok = quality.validate_frame(pd.DataFrame({"x": [1, 2]}), "raw_a_rows", [quality.E.ExpectColumnValuesToBeBetween(column="x", min_value=0)])
    bad = quality.validate_frame(pd.DataFrame({"k": ["p", "q"], "x": [1, -2]}), "marts_b_values",
                                 [quality.E.ExpectColumnValuesToBeBetween(column="x", min_value=0)], ["k"])
    assert bad.failures[0]["keys"] == [{"k": "q", "x": -2}]
    quality_docs.store_validation("run-1", "raw/a", "rows_are_fine", ok.result_json)
    quality_docs.store_validation("run-1", "marts/b", "values_are_not_negative", bad.result_json)
    index = quality_docs.build_quality_site()
    site = index.parent
    pages = [p for p in site.rglob("*") if p.suffix in (".html", ".css", ".js")]
    assert len([p for p in pages if "validations" in p.parts]) == 2
    for p in pages:
        assert quality_docs.external_urls(p.read_text(encoding="utf-8")) == [], p
    html = index.read_text(encoding="utf-8")
    assert html.index("values_are_not_negative") < html.index("rows_are_fine")  # failed suites first
    assert "未通过 failed" in html and "通过 passed" in html
    failed_page = next(p for p in pages if "marts_b_values" in p.parts)
    assert "marts/b · values_are_not_negative" in failed_page.read_text(encoding="utf-8")
    copied = quality_docs.copy_quality_site_into(wh / "dash_version")
    assert copied == wh / "dash_version" / "quality" / "index.html" and copied.read_text(encoding="utf-8") == html
    assert not (copied.parent / quality_docs.RENDERED).exists()  # the list of rendered results stays in the warehouse


def test_data_docs_render_again_only_the_suites_with_a_newer_result(wh, monkeypatch):
    """A later night that re-ran one check renders that suite's pages only; the other suite's pages are the kept
    ones, byte for byte; a build with nothing newer renders nothing and keeps GX's static files."""
    ok = quality.validate_frame(pd.DataFrame({"x": [1, 2]}), "raw_a_rows", [quality.E.ExpectColumnValuesToBeBetween(column="x", min_value=0)])
    later = quality.validate_frame(pd.DataFrame({"x": [1, -3]}), "marts_b_values", [quality.E.ExpectColumnValuesToBeBetween(column="x", min_value=0)])
    quality_docs.store_validation("run-1", "raw/a", "rows_are_fine", ok.result_json)
    quality_docs.store_validation("run-1", "marts/b", "values_are_not_negative", later.result_json)
    rendered = []
    real_render = quality_docs._render
    monkeypatch.setattr(quality_docs, "_render", lambda payloads, out: (rendered.append(sorted(payloads)), real_render(payloads, out)))
    site = quality_docs.build_quality_site().parent
    assert rendered == [["marts_b_values", "raw_a_rows"]]

    def pages():
        return {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*") if p.is_file() and p.name != "index.html"}

    first = pages()
    time.sleep(1.1)  # results are stamped to the second
    quality_docs.store_validation("run-2", "marts/b", "values_are_not_negative", later.result_json)
    quality_docs.build_quality_site()
    assert rendered[1:] == [["marts_b_values"]]
    second = pages()
    assert {k: v for k, v in second.items() if "raw_a_rows" in k} == {k: v for k, v in first.items() if "raw_a_rows" in k}
    b_pages = [k for k in second if k.startswith("validations/marts_b_values/")]
    assert len(b_pages) == 1 and "/run-2/" in b_pages[0]  # the newer result only, not both runs' pages
    assert json.loads(second[quality_docs.RENDERED])["marts_b_values"].startswith("run-2|")
    assert "run-2" in (site / "index.html").read_text(encoding="utf-8")
    quality_docs.build_quality_site()
    assert len(rendered) == 2 and pages() == second  # nothing newer: nothing rendered, static files kept
    for p in site.rglob("*.html"):
        assert quality_docs.external_urls(p.read_text(encoding="utf-8")) == [], p
        assert p.read_text(encoding="utf-8").count("daxing_kpi: offline layout") <= 1, p


# -- Dagster's blocking semantics, structurally (the job runs in tests/test_quality_gate.py) ---------------


def test_publication_waits_for_every_blocking_check():
    """Every check of ours is blocking (a failed ERROR result stops the assets downstream; a WARN
    result never does) and on an asset upstream of the publication; every dbt test of severity
    error is blocking (dagster-dbt). In the execution plan the dbt step waits for every source's
    check step, and the publish step for the mart check step (so all results are in dq_results)."""
    from dagster._core.execution.api import create_execution_plan

    from daxing_kpi.definitions import defs
    from daxing_kpi.defs.dbt import dbt_project

    graph = defs.resolve_asset_graph()
    publish = dg.AssetKey("analytics_database")
    upstream, todo = set(), [publish]
    while todo:
        for p in graph.get(todo.pop()).parent_keys:
            if p not in upstream:
                upstream.add(p)
                todo.append(p)
    ours = [s for a in graph.assets_defs if not a.keys for s in a.check_specs]  # multi_asset_checks of defs/quality.py
    assert len(ours) == sum(len(checks.landed_file_check_names(c)) for c in load_contracts().values()) + len(checks.MART_CHECKS)
    assert all(s.blocking for s in ours) and all(s.asset_key in upstream for s in ours)
    dbt_specs = [s for a in graph.assets_defs if a.node_def.name == "daxing_dbt_models" for s in a.check_specs]
    manifest = json.loads(dbt_project.manifest_path.read_text())
    severity = {n["name"]: (n["config"].get("severity") or "error").lower() for n in manifest["nodes"].values() if n["resource_type"] == "test"}
    assert len(dbt_specs) > 200
    assert all(s.blocking == (severity[s.name] == "error") for s in dbt_specs)
    assert "kpi_rows_are_keyed_and_known_int_kpi_funeral__eco_burial_rate_" in {s.name for s in dbt_specs}

    deps = create_execution_plan(defs.resolve_job_def("refresh_kpis_job")).get_executable_step_deps()
    assert {f"raw__{c}__landed_file_checks" for c in load_contracts()} <= deps["daxing_dbt_models"]
    assert "marts__kpi_observations__mart_checks" in deps["analytics_database"]
    assert deps["quality_data_docs"] == {"kpi_dashboard"}
