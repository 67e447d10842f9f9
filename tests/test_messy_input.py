"""Real-world department files (issue 5): the messy sample (XLSX with title rows and merged headers, XLS,
GB18030 and BOM CSV, every date spelling, clerks' town spellings, faulty rows) against its own record
of what it broke, the KPIs against the ground truth of the good rows, re-delivery, and the PII scan.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import zipfile

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import make_warehouse

from daxing_kpi import ingest, privacy, warehouse
from daxing_kpi.ingest import Reason, load_contracts, normalize_text
from daxing_kpi.sample import messy
from daxing_kpi.sample.generator import SampleGenerator

CORE = {
    "population": "statbureau_population",
    "care_workers": "eldercare_care_workers",
    "burials": "funeral_burials",
    "volunteers": "volunteer_volunteers",
    "service_items": "govservice_service_items",
    "service_cases": "govservice_service_cases",
}
KEY = ["kpi_id", "period_year", "geo_code"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """A small messy sample (scale 0.02, 3 % faulty rows), written once."""
    root = tmp_path_factory.mktemp("messy")
    ms = messy.MessySample(scale=0.02, fault_rate=0.03)
    ms.write(root)
    ms.root = root
    ms.fault_table = pd.read_csv(root / "sample_truth" / "faults.csv", dtype=str, keep_default_na=False)
    ms.file_table = pd.read_csv(root / "sample_truth" / "messy_files.csv", dtype={"sheet": str}, keep_default_na=False)
    ms.rejected_table = pd.read_csv(root / "sample_truth" / "rejected_files.csv")
    ms.results = {src: ingest.ingest_source(load_contracts()[sid], root / "landing") for src, sid in CORE.items()}
    return ms


def _codes() -> dict[str, str]:
    """Name -> code of every unit a record can name: the 22 towns/streets and the special zones (issue 16.6)."""
    from daxing_kpi.sample.generator import geo_codes

    return {name: code for name, code in geo_codes(SampleGenerator(scale=0.01).towns).items() if name}


# -- shapes -----------------------------------------------------------------------------------------------------


def test_files_are_written_in_the_documented_shapes(sample):
    land = sample.root / "landing"
    gb = (land / "burials" / "安葬记录_2020-2023.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        gb.decode("utf-8")
    assert gb.decode("gb18030").splitlines()[0] == "大兴区安葬记录（2020—2023年）"
    assert re.search(r"\n[^\n]*,20\d\d/\d{1,2}/\d{1,2},", gb.decode("gb18030"))
    page = (land / "burials" / "安葬记录_2024-2026.xls").read_bytes()  # the web system's "导出Excel": an HTML table
    assert b'charset=gb2312' in page[:400] and page.decode("gb18030").count("<tr>") > 10
    assert re.search(r"<td>20\d\d年\d{1,2}月\d{1,2}日 \d{1,2}(时\d{1,2}分|:\d\d)</td>", page.decode("gb18030"))  # with a time of day
    vol = (land / "volunteers" / "志愿者名册.csv").read_bytes()
    assert vol.startswith(b"\xef\xbb\xbf") and re.search(r",20\d\d\.\d{1,2}\.\d{1,2},", vol.decode("utf-8-sig"))
    assert re.search(r",\d\.\d{5}E\+17,", vol.decode("utf-8-sig"))  # ID numbers Excel turned into numbers
    assert re.search(r",20\d\d\.\d{1,2}\.\d{1,2} \d{1,2}:\d\d(:\d\d)?,", vol.decode("utf-8-sig"))
    cases = (land / "service_cases" / "政务服务办件记录_2024-2026.csv").read_text(encoding="utf-8")
    assert re.search(r",20\d\d-\d\d-\d\d,", cases) and re.search(r",20\d{6},", cases)
    assert re.search(r",20\d\d-\d\d-\d\d \d\d:\d\d:\d\d,", cases) and re.search(r",20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d,", cases)
    gbk = (land / "service_cases" / "政务服务办件记录_2020-2021.xls").read_bytes()  # tab-separated text "exported to Excel"
    assert gbk.decode("gbk").split("\r\n")[0].split("\t")[:2] == ["办件编号", "事项编码"]
    utf16 = (land / "service_cases" / "政务服务办件记录_2022-2023.xls").read_bytes()
    assert utf16.startswith(b"\xff\xfe") and "\t受理日期\t" in utf16.decode("utf-16")
    xml = (land / "service_items" / "政务服务事项目录.xml").read_text(encoding="utf-8")
    assert 'xmlns="urn:schemas-microsoft-com:office:spreadsheet"' in xml and '<Worksheet ss:Name="2021年">' in xml
    assert (land / "volunteers" / "志愿者名册_补报.csv").stat().st_size == 0
    assert (land / "care_workers" / "养老护理员花名册_上月.xlsx").read_bytes()[:4] == b"PK\x03\x04"
    rejected = pd.read_csv(sample.root / "sample_truth" / "rejected_files.csv")
    assert rejected.to_dict("records") == [{"file": "care_workers/养老护理员花名册_上月.xlsx", "kind": "corrupt"},
                                           {"file": "volunteers/志愿者名册_补报.csv", "kind": "empty"}]
    xls = (land / "care_workers" / "养老护理员花名册.xls").read_bytes()
    assert xls.startswith(bytes.fromhex("D0CF11E0A1B11AE1"))  # Excel 97-2003 (OLE2)
    from python_calamine import load_workbook

    sheet = load_workbook(str(land / "care_workers" / "养老护理员花名册.xls")).get_sheet_by_index(0)
    cells = [c for row in sheet.to_python() for c in row]
    assert any(isinstance(c, dt.date) for c in cells) and any(isinstance(c, (int, float)) and not isinstance(c, bool) and c > 40000 for c in cells)  # date cells and serials
    assert any(isinstance(c, dt.datetime) and c.time() != dt.time(0) for c in cells)  # date-time cells with a time of day
    assert any(isinstance(c, float) and c > 1e17 for c in cells)  # an ID number that became a number cell
    assert any(isinstance(c, str) and re.fullmatch(r"\d{17}x", c) for c in cells)  # lower-case x
    rows = sheet.to_python()
    assert any(r[0] == "" and r[1] == "合计" for r in rows)  # a totals row labelled in column B, 序号 blank
    assert sum(1 for r in rows[3:] if r[0] == "" and re.fullmatch(r"\d{17}[\dXx]", str(r[3]))) > 0  # records with a blank 序号
    with zipfile.ZipFile(land / "population" / "大兴区常住人口分镇街分年龄组统计.xlsx") as z:
        assert z.testzip() is None
    wb = load_workbook(str(land / "population" / "大兴区常住人口分镇街分年龄组统计.xlsx"))
    assert wb.sheet_names == [f"{y}年" for y in range(2020, 2027)] + ["填表说明"]
    pop = wb.get_sheet_by_name("2021年")
    assert ((2, 3), (2, 4)) in pop.merged_cell_ranges and ((2, 2), (3, 2)) in pop.merged_cell_ranges  # 人口情况 over 年龄组/常住人口; 镇街 down
    assert pop.to_python(skip_empty_area=False)[0][0] == "大兴区常住人口分镇街分年龄组统计（2021年）"


def test_every_town_spelling_of_the_sample_maps_to_its_code_and_the_unknown_ones_to_none():
    codes = {**_codes(), **{n: c for n, c in [("北京经济技术开发区", "110115403"), ("中关村国家自主创新示范区大兴生物医药产业基地", "110115404"),
                                              ("大兴经济开发区", "110115405"), ("大兴国际机场", "110115406")]}}
    spellings = messy.town_spellings()
    assert set(spellings) == set(codes)
    for name, variants in spellings.items():
        got = ingest.resolve_towns(pd.Series(variants))
        assert got.tolist() == [codes[name]] * len(variants), (name, variants, got.tolist())
    assert ingest.resolve_towns(pd.Series(messy.UNKNOWN_TOWNS)).isna().all()
    assert [ingest.classify_town(normalize_text(t)) for t in messy.UNKNOWN_TOWNS] == [(None, Reason.UNKNOWN_TOWN)] * len(messy.UNKNOWN_TOWNS)
    assert [ingest.classify_town(normalize_text(t)) for t in messy.FOREIGN_TOWNS] == [(None, Reason.OUTSIDE_DISTRICT)] * len(messy.FOREIGN_TOWNS)


# -- every row loaded or quarantined, as the sample says --------------------------------------------------------


@pytest.mark.parametrize("source", list(CORE))
def test_every_broken_row_is_quarantined_with_its_reason_and_every_good_row_loaded(sample, source):
    res = sample.results[source]
    q = res.quarantine.fillna({"sheet": ""})
    got = sorted(zip(q.file_name, q.sheet, q.row_number.astype(int), q["column"], q.reason, q.disposition))
    f = sample.fault_table[sample.fault_table.file.str.startswith(source + "/")]
    expected = sorted(zip(f.file, f.sheet, f.row.astype(int), f["column"], f.reason, f.disposition))
    assert got == expected
    assert len(f) >= 1 + (source not in ("population", "service_items"))  # the sample did break rows here
    if source in ("care_workers", "burials", "volunteers", "service_cases"):  # field faults and quarantines both occur
        assert {"field_fault", "quarantined"} <= set(f.disposition)
    # per file and sheet: rows loaded = rows written - rows quarantined (records with a field fault are loaded)
    files = sample.file_table[sample.file_table.file.str.startswith(source + "/")]
    loaded = res.accepted.fillna({"_sheet": ""}).groupby(["_source_file", "_sheet"]).size()
    assert {(r.file, r.sheet): r.rows - r.faulty for r in files.itertuples()} == loaded.to_dict()
    for a in res.audit:
        if a["status"] == "rejected":  # the damaged and the empty file: set aside, named, nothing loaded
            assert a["file_name"] in set(sample.rejected_table.file) and a["rows_loaded"] == 0 and a["rejected_reason_en"]
            continue
        per_file = files[files.file == a["file_name"]]
        assert a["rows_read"] == per_file.rows.sum() == a["rows_loaded"] + a["rows_quarantined"]
        assert a["rows_quarantined"] == per_file.faulty.sum() and a["status"] == "loaded"
        assert a["rows_loaded_with_field_faults"] == per_file.field_faults.sum()
    assert {a["file_name"] for a in res.rejected} == set(sample.rejected_table.file[sample.rejected_table.file.str.startswith(source + "/")])


def test_loaded_values_equal_the_good_records(sample):
    codes = _codes()

    def key(ids: pd.Series) -> pd.Series:  # an ID number with a field fault is loaded empty
        return ingest.person_keys(ids).where(ids != "", None)
    acc = {s: sample.results[s].accepted for s in CORE}
    good = sample.good

    codes = {**codes, "": None}  # a town/street with a field fault is loaded empty (未落地到镇街)
    pop = acc["population"][["period_year", "geo_code", "age_band", "residents_count"]].astype(str)
    g = good["population"]
    exp = pd.DataFrame({"period_year": g["统计年度"], "geo_code": g["镇街"].map(codes), "age_band": g["年龄组"], "residents_count": g["常住人口"]}).astype(str)
    assert sorted(map(tuple, pop.values)) == sorted(map(tuple, exp.values))

    w, g = acc["care_workers"], good["care_workers"]
    got = sorted(zip(w.person_key.fillna(""), w.employer_name, w.geo_code.fillna(""), w.hire_date.astype(str),
                     w.leave_date.map(lambda d: "" if pd.isna(d) else str(d))))
    exp = sorted(zip(key(g["身份证号码"]).fillna(""), g["工作单位"], g["所属镇街"].map(codes).fillna(""), g["入职日期"], g["离职日期"]))
    assert w.person_key.isna().any() and w.geo_code.isna().any()  # loaded despite a mangled ID number / an unknown town
    assert got == exp

    b, g = acc["burials"], good["burials"]
    assert dict(zip(b.burial_id, zip(b.burial_date.astype(str), b.death_date.astype(str), b.geo_code.fillna(""), b.burial_type_zh))) == dict(
        zip(g["逝者编号"], zip(g["安葬日期"], g["死亡日期"], g["户籍所在镇街"].map(codes).fillna(""), g["安葬方式"])))

    v, g = acc["volunteers"], good["volunteers"]
    cancel = v.cancellation_date.map(lambda d: "" if pd.isna(d) else str(d))
    assert dict(zip(v.volunteer_id, zip(v.person_key.fillna(""), v.registration_date.astype(str), cancel, v.geo_code.fillna(""), v.status_zh))) == dict(
        zip(g["志愿者编号"], zip(key(g["身份证号码"]).fillna(""), g["注册日期"], g["注销日期"], g["所在镇街"].map(codes).fillna(""), g["状态"])))

    i, g = acc["service_items"], good["service_items"]
    assert sorted(zip(i.item_code, i.catalog_year.astype(int), i.is_fully_online.astype(bool))) == sorted(
        zip(g["事项编码"], g["年度"].astype(int), g["是否全程网办"] == "是"))

    c, g = acc["service_cases"], good["service_cases"]
    assert len(c) == len(g) and dict(zip(c.case_id, zip(c.accepted_date.astype(str), c.channel_zh))) == dict(
        zip(g["办件编号"], zip(g["受理日期"], g["申请渠道"])))
    blank_town = c.geo_code.isna().sum()
    assert 0 < blank_town < len(c) * 0.2  # about 10 % of cases name no town: optional, loaded without one


# -- re-delivery of messy files ----------------------------------------------------------------------------------


def test_same_file_twice_and_a_corrected_redelivery_of_messy_files_leave_no_duplicates(sample, tmp_path):
    land = tmp_path / "landing"
    shutil.copytree(sample.root / "landing" / "burials", land / "burials")
    shutil.copytree(sample.root / "landing" / "volunteers", land / "volunteers")
    old = land / "burials" / "安葬记录_2024-2026.xls"
    os.utime(old, (1_000, 1_000))
    os.utime(land / "burials" / "安葬记录_2020-2023.csv", (1_000, 1_000))
    # the volunteer roster sent twice under another name; the 2024-2026 burials corrected (faulty rows fixed)
    shutil.copy(land / "volunteers" / "志愿者名册.csv", land / "volunteers" / "志愿者名册(1).csv")
    (land / "volunteers" / "志愿者名册_补报.csv").unlink()
    g = sample.good["burials"]
    clean = sample.clean["burials"]  # the corrected file: every record with its faults fixed (towns too)
    fixed = clean[clean["逝者编号"].isin(g["逝者编号"]) & (clean["安葬日期"].str[:4].astype(int) >= 2024)]
    fixed.to_csv(land / "burials" / "安葬记录_2024-2026_更正.csv", index=False, encoding="gb18030")
    os.utime(land / "burials" / "安葬记录_2024-2026_更正.csv", (2_000, 2_000))
    contracts = load_contracts()
    vol = ingest.ingest_source(contracts["volunteer_volunteers"], land)
    assert sorted(a["status"] for a in vol.audit) == ["loaded", "skipped_duplicate_file"]
    assert len(vol.accepted) == len(sample.results["volunteers"].accepted) and vol.accepted.volunteer_id.is_unique
    bur = ingest.ingest_source(contracts["funeral_burials"], land)
    assert bur.accepted.burial_id.is_unique
    assert sorted(bur.accepted.burial_id) == sorted(g["逝者编号"])  # every good burial once, the broken late ones corrected
    status = {a["file_name"]: (a["status"], a["rows_superseded"]) for a in bur.audit}
    late = sample.file_table[sample.file_table.file == "burials/安葬记录_2024-2026.xls"].rows.item()
    assert status["burials/安葬记录_2024-2026.xls"] == ("superseded", late)
    assert status["burials/安葬记录_2024-2026_更正.csv"] == ("loaded", 0)
    q = bur.quarantine
    assert set(q.file_name) == {"burials/安葬记录_2020-2023.csv"}  # the superseded file's faults are gone


# -- the real job on a messy sample: KPIs, published audit, personal data -----------------------------------------


@pytest.fixture(scope="module")
def messy_warehouse(tmp_path_factory):
    """One real run of the nightly job on the messy sample (scale 0.05, 2 % faulty rows)."""
    wh = make_warehouse(tmp_path_factory.mktemp("messy_e2e"), KPI_SAMPLE_SHAPES="messy", KPI_SAMPLE_FAULT_RATE="0.02")
    wh.run("run")
    return wh


def test_the_run_generated_the_sample_and_marked_it_as_the_bundled_sample(messy_warehouse):
    """The landing folder was empty: the run generated the messy sample and marked it (issue 19.2), so the
    development key may be used for it and for nothing else."""
    from daxing_kpi import personkey

    assert personkey.sample_differences(messy_warehouse.root / "landing") == []
    files = [p for p in (messy_warehouse.root / "landing").rglob("*") if p.is_file()]
    assert len([p for p in files if p.suffix == ".csv"]) >= 20 and {".xls", ".xlsx"} <= {p.suffix for p in files}


def test_kpis_on_messy_files_equal_the_ground_truth_of_the_good_rows(messy_warehouse):
    truth = messy_warehouse.ground_truth()
    obs = messy_warehouse.query("SELECT kpi_id, period_year, geo_code, numerator, denominator, value, new_in_year, reporting_status"
                                " FROM kpi_observations")
    merged = truth.merge(obs, on=KEY, how="outer", suffixes=("_truth", "_mart"), indicator=True)
    assert merged[merged._merge != "both"].empty, merged[merged._merge != "both"].head(10)
    # every KPI at every geography (issue 16: persons once, stock and new_in_year, NULL where a town sent no return)
    for col in ("numerator", "denominator", "new_in_year"):
        t, m = merged[f"{col}_truth"].astype(float), merged[f"{col}_mart"].astype(float)
        assert ((t == m) | (t.isna() & m.isna())).all(), merged[~((t == m) | (t.isna() & m.isna()))].head(10)
    np.testing.assert_allclose(merged.value_mart.astype(float), merged.value_truth.astype(float), rtol=0, atol=1e-9)
    assert (merged.reporting_status_truth.fillna("") == merged.reporting_status_mart.fillna("")).all()
    # records whose town/street could not be read count in 未落地到镇街 (110115999) and in the district (issue 15.3);
    # needs the counting side (staging maps a NULL town to 110115999, ground_truth counts '' there)
    unassigned = obs[obs.geo_code == "110115999"]
    assert set(unassigned.kpi_id) >= {"eldercare.care_workers_per_10k_elderly", "funeral.eco_burial_rate",
                                      "volunteer.registered_share_of_residents"}
    assert (unassigned.numerator > 0).any()
    # the faults did change the KPIs: the clean sample's truth differs for the care-worker ratio
    clean = SampleGenerator(scale=0.05)
    from daxing_kpi.sample.generator import ground_truth

    clean_truth = ground_truth(clean.build(), clean.towns)
    kpi = "eldercare.care_workers_per_10k_elderly"
    diff = clean_truth[clean_truth.kpi_id == kpi].merge(truth[truth.kpi_id == kpi], on=KEY)
    assert (diff.numerator_x != diff.numerator_y).any()


def test_published_ingest_audit_accounts_for_every_row_of_every_file(messy_warehouse):
    audit = messy_warehouse.query("SELECT * FROM ingest_audit")
    files = pd.read_csv(messy_warehouse.root / "sample_truth" / "messy_files.csv").groupby("file")[["rows", "faulty"]].sum()
    core = audit.set_index("file_name").loc[files.index]
    assert (core.rows_read == files.rows).all() and (core.rows_quarantined == files.faulty).all()
    assert (audit.rows_read == audit.rows_loaded + audit.rows_quarantined + audit.rows_superseded).all()
    assert set(audit.status) == {"loaded", "rejected"} and audit.sha256.str.fullmatch(r"[0-9a-f]{64}").all()
    rejected = audit[audit.status == "rejected"].set_index("file_name")
    assert sorted(rejected.index) == ["care_workers/养老护理员花名册_上月.xlsx", "volunteers/志愿者名册_补报.csv"]
    assert rejected.rejected_reason_zh.str.contains("文件是空的|已损坏").all() and rejected.rejected_reason_en.notna().all()
    assert (core.rows_loaded_with_field_faults == files.join(pd.read_csv(messy_warehouse.root / "sample_truth" / "messy_files.csv")
                                                             .groupby("file")[["field_faults"]].sum()).field_faults).all()
    reasons = json.loads(core.loc["population/大兴区常住人口分镇街分年龄组统计.xlsx", "quarantine_reasons"])
    assert reasons[Reason.TOTALS_ROW] == 7  # one totals row under each year's sheet
    assert set(audit.columns) >= {"source_id", "file_name", "sha256", "rows_read", "rows_loaded", "rows_quarantined",
                                  "quarantine_reasons", "loaded_at"}


def _personal_values() -> set[str]:
    """Names of the generated records (what a leak would show), the scan's known names."""
    frames = SampleGenerator(scale=0.05).build()
    return set(frames["care_workers"]["姓名"]) | set(frames["volunteers"]["姓名"]) | set(frames["burials"]["逝者姓名"])


def test_pii_scan_finds_nothing_in_the_published_database_raw_layer_or_quarantine(messy_warehouse):
    names = _personal_values()
    published = privacy.scan_database(messy_warehouse.analytics, known_names=names)
    assert published.empty, published
    assert len(duckdb.connect(str(messy_warehouse.analytics), read_only=True).execute(
        "SELECT * FROM information_schema.columns WHERE data_type = 'VARCHAR'").fetchall()) > 10  # it did scan text columns
    work = privacy.scan_database(messy_warehouse.root / "work" / "work.duckdb", ("raw", "audit"), known_names=names)
    assert work.empty, work
    with duckdb.connect(str(messy_warehouse.root / "work" / "work.duckdb"), read_only=True) as con:
        (ids,) = con.execute("SELECT count(*) FROM audit.quarantine WHERE reason = ?", [Reason.BAD_ID]).fetchone()
    assert ids > 0  # bad ID numbers were quarantined, masked


@pytest.mark.parametrize("column, pii, kind", [("volunteer_name", "name", "personal_name"), ("phone", "phone", "phone")])
def test_pii_scan_fails_when_a_contract_loses_its_pii_class(messy_warehouse, tmp_path, monkeypatch, column, pii, kind):
    contracts = tmp_path / "contracts"
    shutil.copytree(ingest.contracts_dir(), contracts)
    path = contracts / "volunteer_volunteers.yaml"
    text = path.read_text(encoding="utf-8")
    changed = re.sub(rf"(name: {column}, [^}}]*?), pii: {pii}", r"\1", text)
    assert changed != text
    path.write_text(changed, encoding="utf-8")
    monkeypatch.setenv("KPI_CONTRACTS_DIR", str(contracts))
    monkeypatch.setenv("KPI_WAREHOUSE_DIR", str(tmp_path / "wh"))
    contract = load_contracts()["volunteer_volunteers"]
    assert column in [c.name for c in contract.kept_columns]
    warehouse.write_raw(contract, ingest.ingest_source(contract, messy_warehouse.root / "landing"), "pii-test")
    found = privacy.scan_database(tmp_path / "wh" / "work" / "work.duckdb", ("raw", "audit"), known_names=_personal_values())
    hits = found[(found.table == "volunteer_volunteers") & (found.column == column)]
    assert kind in set(hits.kind), found
    assert set(found.table) == {"volunteer_volunteers"}  # nothing else leaks
