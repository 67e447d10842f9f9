"""Several workbooks of a source read and checked in one pass (issue 20.3, ``daxing_kpi.ingest.together``):
the 22 towns' return forms give the same rows, faults, messages and audit as when each file is read alone,
a bad form among them is set aside or quarantined with its own file, sheet, row and column, and the
re-delivery rules are unchanged. Also the write side's fewer statements (raw table, audit's Parquet copy)."""

from __future__ import annotations

import datetime as dt
import os

import duckdb
import pandas as pd
import pytest

from daxing_kpi import returnforms, warehouse
from daxing_kpi.ingest import ingest_source, load_contracts
from daxing_kpi.ingest import source as source_mod
from daxing_kpi.ingest.readers import read_excel_tables
from daxing_kpi.ingest.source import NOT_READ, READ

STUDIOS = "townreturn_secretary_studio_sites"
COVERS = "townreturn_submissions"
SHEET = "社区书记工作室示范点"


def _studios(k: int, town: str, n: int = 2) -> list[list]:
    return [[i, town, f"{town}{i}社区", f"1101150{k:02d}{i:03d}", f"{town}{i}号社区书记工作室", dt.date(2021 + i % 3, 1 + i % 12, 1 + k), ""]
            for i in range(1, n + 1)]


def _form(path, town: str, studios: list[list], mtime: int):
    rows = {STUDIOS: studios}
    rows[COVERS] = returnforms.cover_rows(town, rows, dt.date(2026, 10, 31))
    returnforms.write_workbook(path, rows, unit_name=town, filled_date=dt.date(2026, 11, 1))
    os.utime(path, (mtime, mtime))
    return path


def _broken_header_form(path, mtime: int):
    """The studios sheet of a town whose header lost the column 示范点名称 (required)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    ws.append(["大兴区社区书记工作室示范点情况表"])
    ws.append(["填报单位(盖章):青云店镇"])
    ws.append(["序号", "所属镇街", "社区名称", "社区编码", "命名日期", "备注"])
    ws.append([1, "青云店镇", "青云店一社区", "110115103001", "2021-01-01", ""])
    wb.save(path)
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture()
def towns_landing(tmp_path):
    """22 towns' forms of 2 sites each: town 3 lists 20 sites, one with 序号 'abc' (a field fault: loaded with 序号
    empty), and a 21st with an impossible date (quarantined: 1 of 21 records, under the limit of 5 %); town 7's
    studios sheet has a broken header (set aside)."""
    towns = returnforms.town_names()
    assert len(towns) == 22
    folder = tmp_path / "landing" / "town_returns"
    folder.mkdir(parents=True)
    for k, town in enumerate(towns):
        path = folder / f"t{k:02d}.xlsx"
        if k == 7:
            _broken_header_form(path, 1_700_000_000 + k)
            continue
        studios = _studios(k, town, 20 if k == 3 else 2)
        if k == 3:
            studios[1][0] = "abc"
            studios.append([21, town, f"{town}21社区", "110115003021", f"{town}21号社区书记工作室", "2023-13-45", ""])
        _form(path, town, studios, 1_700_000_000 + k)
    return tmp_path / "landing"


def _one_by_one(monkeypatch):
    """Read each file in a pass of its own (the path every file took before issue 20.3)."""
    monkeypatch.setattr(source_mod, "reads_together", lambda path: False)


def test_a_bad_form_among_22_gets_its_own_messages_and_the_others_load(towns_landing):
    res = ingest_source(load_contracts()[STUDIOS], towns_landing)
    audit = {a["file_name"]: a for a in res.audit}
    assert len(audit) == 22 and set(res.read_modes.values()) == {READ}
    # the broken header: set aside alone, its message naming the file, the sheet and the header row
    bad = audit["town_returns/t07.xlsx"]
    assert bad["status"] == "rejected" and bad["rows_loaded"] == 0
    assert "town_returns/t07.xlsx" in bad["rejected_reason_en"] and SHEET in bad["rejected_reason_en"]
    assert "header row 3" in bad["rejected_reason_en"] and "示范点名称" in bad["rejected_reason_en"]
    assert "示范点名称" in bad["rejected_reason_zh"]
    # the 21 others: 2 records each loaded (town 3's with 序号 'abc' too), the totals rows and the bad date quarantined
    loaded = [a for name, a in audit.items() if name != "town_returns/t07.xlsx"]
    assert all(a["status"] == "loaded" for a in loaded)
    assert sum(a["rows_loaded"] for a in loaded) == len(res.accepted) == 20 * 2 + 20
    assert sum(a["rows_quarantined"] for a in loaded) == 21 + 1  # 21 totals rows, 1 impossible date
    for a in loaded:  # every row read is accounted for
        assert a["rows_read"] == a["rows_loaded"] + a["rows_quarantined"] + a["rows_superseded"]
    t3 = audit["town_returns/t03.xlsx"]
    assert (t3["rows_read"], t3["rows_loaded"], t3["rows_quarantined"], t3["rows_loaded_with_field_faults"]) == (22, 20, 2, 1)
    q = res.quarantine
    t3q = q[q.file_name == "town_returns/t03.xlsx"].sort_values(["row_number", "column"])
    assert t3q[["sheet", "row_number", "column", "disposition"]].values.tolist() == [  # rows 1-3: title, unit, header
        [SHEET, 5, "序号", "field_fault"], [SHEET, 24, "命名日期", "quarantined"], [SHEET, 25, "", "quarantined"]]
    assert t3q.value.tolist()[:2] == ["abc", "2023-13-45"]
    assert sorted(res.accepted._source_file.unique()) == sorted(f"town_returns/t{k:02d}.xlsx" for k in range(22) if k != 7)
    row_no = res.accepted.loc[res.accepted._source_file == "town_returns/t03.xlsx", "row_no"].tolist()
    assert row_no[0] == 1 and pd.isna(row_no[1])


def test_read_together_gives_what_reading_each_file_alone_gives(towns_landing, monkeypatch):
    contract = load_contracts()[STUDIOS]
    together = ingest_source(contract, towns_landing)
    _one_by_one(monkeypatch)
    alone = ingest_source(contract, towns_landing)
    pd.testing.assert_frame_equal(together.accepted, alone.accepted)
    pd.testing.assert_frame_equal(together.quarantine, alone.quarantine)
    assert together.audit_rows() == alone.audit_rows()
    assert [(f.label, f.rows, f.sheets, f.scopes, f.titles, f.cutoff, f.sheet_names) for f in together.files] == \
           [(f.label, f.rows, f.sheets, f.scopes, f.titles, f.cutoff, f.sheet_names) for f in alone.files]
    # the staged tables (kept for later nights) hold the same rows, column for column
    for a, b in zip(together.files, alone.files):
        assert together.stage.con.execute(f"SELECT * FROM {a.table}").fetchall() == \
               alone.stage.con.execute(f"SELECT * FROM {b.table}").fetchall()
    # what reading cost is still told per file (a share of the pass they shared)
    assert set(together.read_costs) == {a["file_name"] for a in together.audit}
    assert all(c["kind"] == "xlsx" and c["cpu_seconds"] >= 0 for c in together.read_costs.values())


def test_a_file_past_its_quarantine_limit_is_set_aside_among_others_read_together(tmp_path, monkeypatch):
    towns = returnforms.town_names()
    folder = tmp_path / "landing" / "town_returns"
    folder.mkdir(parents=True)
    _form(folder / "a.xlsx", towns[0], _studios(0, towns[0]), 1_700_000_000)
    broken = [[k, towns[1], "", f"11011500{k}", f"站{k}", "不是日期", ""] for k in range(1, 5)]  # every date impossible
    _form(folder / "b.xlsx", towns[1], broken, 1_700_000_001)
    contract = load_contracts()[STUDIOS]
    res = ingest_source(contract, tmp_path / "landing")
    audit = {a["file_name"]: a for a in res.audit}
    assert audit["town_returns/a.xlsx"]["status"] == "loaded" and audit["town_returns/a.xlsx"]["rows_loaded"] == 2
    b = audit["town_returns/b.xlsx"]
    assert b["status"] == "rejected" and b["rows_read"] == b["rows_quarantined"] == 5  # 4 records and the totals row
    assert "4 of 4 records" in b["rejected_reason_en"] and f"[sheet '{SHEET}'] row 4, column 命名日期" in b["rejected_reason_en"]
    _one_by_one(monkeypatch)
    alone = ingest_source(contract, tmp_path / "landing")
    assert alone.audit_rows() == res.audit_rows()
    pd.testing.assert_frame_equal(alone.quarantine, res.quarantine)


def test_redelivered_form_supersedes_and_is_not_read_again_when_its_scopes_are_known(tmp_path):
    """A town's newer return replaces its earlier one; at the next load the earlier file, whose town the audit
    knows, is not read again (the forms read together are read before that is decided)."""
    towns = returnforms.town_names()
    folder = tmp_path / "landing" / "town_returns"
    folder.mkdir(parents=True)
    _form(folder / "t0_v1.xlsx", towns[0], _studios(0, towns[0])[:1], 1_700_000_000)
    for k in (1, 2):
        _form(folder / f"t{k}.xlsx", towns[k], _studios(k, towns[k]), 1_700_000_000 + k)
    _form(folder / "t0_v2.xlsx", towns[0], _studios(0, towns[0]), 1_700_000_010)
    contract = load_contracts()[STUDIOS]
    first = ingest_source(contract, tmp_path / "landing")
    audit = {a["file_name"]: a for a in first.audit}
    v1 = audit["town_returns/t0_v1.xlsx"]
    assert (v1["status"], v1["rows_superseded"], v1["superseded_by"]) == ("superseded", 2, "town_returns/t0_v2.xlsx")
    assert len(first.accepted) == 6 and first.rows_loaded == 6
    known = {a["sha256"]: {"rows_read": a["rows_read"], "delivery_scope": a["delivery_scope"], "sheets": a["sheets"]}
             for a in first.audit if a["status"] in ("loaded", "superseded", "partly_superseded")}
    second = ingest_source(contract, tmp_path / "landing", known_files=known)
    assert second.read_modes["town_returns/t0_v1.xlsx"] == NOT_READ
    assert {k: v for k, v in second.read_modes.items() if k != "town_returns/t0_v1.xlsx"} == {
        "town_returns/t0_v2.xlsx": READ, "town_returns/t1.xlsx": READ, "town_returns/t2.xlsx": READ}
    assert [{k: v for k, v in a.items() if k != "sheets"} for a in second.audit] == \
           [{k: v for k, v in a.items() if k != "sheets"} for a in first.audit]
    pd.testing.assert_frame_equal(second.accepted, first.accepted)


def test_only_the_contracts_sheets_of_a_workbook_are_read(tmp_path):
    path = _form(tmp_path / "f.xlsx", "黄村地区", _studios(5, "黄村地区"), 1_700_000_000)
    known = {"序号": 1}
    every = read_excel_tables(path, known)
    some = read_excel_tables(path, known, sheets={SHEET})
    assert [t.sheet for t, _ in every] == [t.sheet for t, _ in some] == ["报送情况", SHEET, "楼门院治理示范点"]
    assert [len(t.frame) for t, _ in some] == [0, 3, 0]  # the other sheets listed, not read
    assert [len(t.frame) for t, _ in every] == [1, 3, 1]
    pd.testing.assert_frame_equal(some[1][0].frame, every[1][0].frame)


def test_raw_table_in_delivery_order_and_audit_parquet_once(tmp_path, monkeypatch):
    """write_raw puts the parts of many files in one INSERT: the raw table holds the accepted rows in the
    raw layer's order (deliveries by SHA-256); without ``audit_parquet`` the audit's Parquet copy is left to
    the nightly job's ``audit/ingest_audit`` asset."""
    monkeypatch.setenv("KPI_WAREHOUSE_DIR", str(tmp_path / "wh"))
    towns = returnforms.town_names()
    folder = tmp_path / "landing" / "town_returns"
    folder.mkdir(parents=True)
    for k in range(5):
        _form(folder / f"t{k}.xlsx", towns[k], _studios(k, towns[k]), 1_700_000_000 + k)
    contract = load_contracts()[STUDIOS]
    res = ingest_source(contract, tmp_path / "landing")
    expected = pd.concat([res.stage.con.execute(sql).df() for _, sql in res.ordered_parts()], ignore_index=True)
    assert len(expected) == 10 and list(expected._file_sha256) == sorted(expected._file_sha256)
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as con:
        res2 = ingest_source(contract, tmp_path / "landing", con=con)
        monkeypatch.setattr(warehouse, "connect_work", lambda read_only=False: con)
        totals = warehouse.write_raw(contract, res2, "run-1", con=con, audit_parquet=False)
        assert totals["rows_loaded"] == 10
        raw = con.execute(f"SELECT * FROM raw.{STUDIOS}").df()
    assert raw[["unit_code", "_source_file", "_row_number"]].values.tolist() == \
           expected[["unit_code", "_source_file", "_row_number"]].values.tolist()
    parquet = tmp_path / "wh" / "raw_parquet"
    assert (parquet / STUDIOS).is_dir() and not (parquet / "_audit").exists()
