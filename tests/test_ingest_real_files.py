"""Issue 15: files shaped like real department exports, written the way the exporting systems write them
(openpyxl, xlwt, hand-written HTML and SpreadsheetML as web systems emit them, GBK/UTF-16 text), one test per
shape and per fault kind: rows loaded, fields nulled, reasons, and what each record counts for."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os

import openpyxl
import pandas as pd
import pytest

from daxing_kpi import ingest, warehouse
from daxing_kpi.ingest import FileRejected, Reason, load_contracts, normalize_text

GOOD_ID = "11010519491231002X"  # GB 11643 example
ID2 = "110115199001011235"  # a valid number ending in a digit (Excel can turn it into a number)
assert ingest.valid_id_numbers(pd.Series([GOOD_ID, ID2])).all()


def contract(source_id: str, limit: float | None = None):
    c = load_contracts()[source_id]
    if limit is not None:
        c = dataclasses.replace(c, extra={**c.extra, "quality": {**(c.extra.get("quality") or {}), "max_rejected_share": limit}})
    return c


def only(res) -> dict:
    (a,) = [a for a in res.audit if a["status"] != "skipped_duplicate_file"]
    return a


BURIAL_HEADER = ["逝者编号", "逝者姓名", "死亡日期", "安葬日期", "户籍所在镇街", "安葬方式", "安葬地点"]


def _html_page(rows: list[list[str]], charset: str | None, title: str = "大兴区安葬记录") -> str:
    """An HTML table as web systems' "导出Excel" writes it: Excel's HTML dialect, a title cell spanning the
    table, a town cell spanning two rows, text cells formatted as text."""
    meta = f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">' if charset else ""
    body = [f'<tr><td colspan="{len(BURIAL_HEADER)}" align="center"><b>{title}</b></td></tr>',
            "<tr>" + "".join(f"<th>{h}</th>" for h in BURIAL_HEADER) + "</tr>"]
    for i, r in enumerate(rows):
        cells = []
        for j, v in enumerate(r):
            if j == 4 and i == 0:
                cells.append(f'<td rowspan="2" style="mso-number-format:\'\\@\'">{v}</td>')  # a town merged over two records
            elif j == 4 and i == 1:
                continue
            else:
                cells.append(f"<td>{v}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<html xmlns:x="urn:schemas-microsoft-com:office:excel"><head>{meta}<title>导出</title></head>'
            f'<body><table border="1">{"".join(body)}</table></body></html>')


@pytest.mark.parametrize("charset, encoding", [("gb2312", "gb18030"), ("GBK", "gbk"), ("utf-8", "utf-8"), (None, "utf-8"), (None, "gb18030")])
def test_an_html_table_saved_as_xls_is_read_in_any_charset(tmp_path, charset, encoding):
    rows = [["B1", "张三", "2024-01-02", "2024年1月5日 10时30分", "清源街", "树葬", "天堂公墓"],
            ["B2", "李四", "2024-02-02", "2024/2/6 9:05", "", "格位存放", ""],
            ["B3", "王五", "2024-03-02", "2024-03-07 14:00:00", "110115104.0", "传统墓穴", ""]]
    (tmp_path / "burials").mkdir()
    (tmp_path / "burials" / "安葬记录导出.xls").write_bytes(_html_page(rows, charset).encode(encoding))
    res = ingest.ingest_source(contract("funeral_burials"), tmp_path)
    a = only(res)
    assert (a["status"], a["rows_read"], a["rows_loaded"], a["rows_quarantined"]) == ("loaded", 3, 3, 0)
    acc = res.accepted.set_index("burial_id")
    assert acc.burial_date.tolist() == [dt.date(2024, 1, 5), dt.date(2024, 2, 6), dt.date(2024, 3, 7)]  # the time is dropped
    assert acc.geo_code.tolist() == ["110115003", "110115003", "110115104"]  # 清源街 by rule, merged down, a float code
    assert acc._row_number.tolist() == [3, 4, 5] and acc._sheet.isna().all()
    assert ingest.sniff(tmp_path / "burials" / "安葬记录导出.xls") == "html"


def test_spreadsheetml_2003_with_merged_title_skipped_cells_and_date_time_cells(tmp_path):
    xml = """<?xml version="1.0"?>
<?mso-application progid="Excel.Sheet"?>
<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet">
 <Worksheet ss:Name="花名册">
  <Table>
   <Row><Cell ss:MergeAcross="6"><Data ss:Type="String">大兴区养老护理员花名册　截至日期：2026年10月31日</Data></Cell></Row>
   <Row><Cell><Data ss:Type="String">序号</Data></Cell><Cell><Data ss:Type="String">姓名</Data></Cell>
    <Cell><Data ss:Type="String">身份证号码</Data></Cell><Cell><Data ss:Type="String">工作单位</Data></Cell>
    <Cell><Data ss:Type="String">所属镇街</Data></Cell><Cell><Data ss:Type="String">入职日期</Data></Cell>
    <Cell><Data ss:Type="String">离职日期</Data></Cell></Row>
   <Row><Cell><Data ss:Type="Number">1</Data></Cell><Cell><Data ss:Type="String">张三</Data></Cell>
    <Cell><Data ss:Type="String">11010519491231002X</Data></Cell><Cell><Data ss:Type="String">颐养院</Data></Cell>
    <Cell><Data ss:Type="String">黄村镇</Data></Cell><Cell><Data ss:Type="DateTime">2023-05-06T09:31:12.000</Data></Cell></Row>
   <Row ss:Index="5"><Cell ss:Index="2"><Data ss:Type="String">李四</Data></Cell>
    <Cell><Data ss:Type="Number">1.10115199001011E+17</Data></Cell><Cell><Data ss:Type="String">驿站</Data></Cell>
    <Cell><Data ss:Type="Number">110115112</Data></Cell><Cell><Data ss:Type="DateTime">2022-01-03T00:00:00.000</Data></Cell>
    <Cell><Data ss:Type="DateTime">2024-01-02T17:00:00.000</Data></Cell></Row>
  </Table>
 </Worksheet>
</Workbook>"""
    (tmp_path / "care_workers").mkdir()
    (tmp_path / "care_workers" / "roster.xml").write_text(xml, encoding="utf-8")
    res = ingest.ingest_source(contract("eldercare_care_workers"), tmp_path)
    a = only(res)
    assert (a["rows_read"], a["rows_loaded"], a["rows_loaded_with_field_faults"], a["rows_quarantined"]) == (2, 2, 1, 0)
    assert (str(a["delivery_cutoff_date"]), a["delivery_cutoff_source"]) == ("2026-10-31", "statement")
    acc = res.accepted
    assert acc._row_number.tolist() == [3, 5] and acc._sheet.tolist() == ["花名册", "花名册"]
    assert acc.hire_date.tolist() == [dt.date(2023, 5, 6), dt.date(2022, 1, 3)] and acc.leave_date.tolist()[1] == dt.date(2024, 1, 2)
    assert acc.geo_code.tolist() == ["110115005", "110115008"]  # 110115112: 瀛海's code before 2023
    assert acc.person_key.isna().tolist() == [False, True]  # the number Excel rounded: loaded, counted as one person
    (q,) = res.quarantine.itertuples()
    assert (q.row_number, q.column, q.reason, q.disposition, q.value) == (5, "身份证号码", Reason.ID_CHANGED_BY_EXCEL, "field_fault", "1.1011" + "*" * 5)


SERVICE_CASE_LINES = [
    ["办件编号", "事项编码", "申请渠道", "受理日期", "申请人姓名", "受理镇街"],
    ["C1", "MZ01", "网上办理", "20240506 09:31:12", "张三", "110115 104"],
    ["C2", "MZ01", "窗口办理", "2024/5/6 9:31", "李四", "垃圾数据XYZ"],
    ["C3", "MZ02", "移动端", "2024年5月7日", "王五", ""],
]


@pytest.mark.parametrize("encoding, bom", [("gbk", b""), ("utf-16-le", b"\xff\xfe"), ("utf-16-be", b""), ("gb18030", b"")])
def test_tab_separated_text_saved_as_xls_in_gbk_or_utf16(tmp_path, encoding, bom):
    text = "\r\n".join("\t".join(r) for r in SERVICE_CASE_LINES) + "\r\n"
    (tmp_path / "service_cases").mkdir()
    (tmp_path / "service_cases" / "办件导出.xls").write_bytes(bom + text.encode(encoding))
    res = ingest.ingest_source(contract("govservice_service_cases"), tmp_path)
    a = only(res)
    # the optional 受理镇街 is garbage in C2: loaded without it (the KPI is district-only), the fault logged
    assert (a["rows_read"], a["rows_loaded"], a["rows_quarantined"], a["rows_loaded_with_field_faults"]) == (3, 3, 0, 1)
    assert json.loads(a["field_fault_reasons"]) == {Reason.UNKNOWN_TOWN: 1}
    acc = res.accepted
    assert acc.case_id.tolist() == ["C1", "C2", "C3"] and acc.channel_zh.tolist() == ["网上办理", "窗口办理", "移动端"]
    assert acc.accepted_date.tolist() == [dt.date(2024, 5, 6), dt.date(2024, 5, 6), dt.date(2024, 5, 7)]
    assert acc.geo_code.tolist() == ["110115104", None, None]
    (q,) = res.quarantine.itertuples()
    assert (q.row_number, q.column, q.value, q.disposition) == (3, "受理镇街", "垃圾数据XYZ", "field_fault")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "utf-16"])
def test_csv_in_every_common_encoding(tmp_path, encoding):
    text = "\n".join(",".join(r) for r in SERVICE_CASE_LINES) + "\n"
    (tmp_path / "service_cases").mkdir()
    (tmp_path / "service_cases" / "cases.csv").write_bytes(text.encode(encoding))
    res = ingest.ingest_source(contract("govservice_service_cases"), tmp_path)
    assert only(res)["rows_loaded"] == 3 and res.accepted.item_code.tolist() == ["MZ01", "MZ01", "MZ02"]


def test_a_workbook_named_csv_is_read_as_a_workbook(tmp_path):
    wb = openpyxl.Workbook()
    for r in SERVICE_CASE_LINES:
        wb.active.append(r)
    (tmp_path / "service_cases").mkdir()
    wb.save(tmp_path / "service_cases" / "cases.csv")  # saved by a clerk under the wrong name
    res = ingest.ingest_source(contract("govservice_service_cases"), tmp_path)
    assert only(res)["rows_loaded"] == 3 and res.accepted._sheet.tolist() == ["Sheet"] * 3


def test_xls_roster_with_blank_first_cells_totals_in_column_b_signature_and_timestamps(tmp_path):
    """The shape that crashed with 'output array is read-only': a blank 序号, 合计 in column B, a signature row."""
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("花名册")
    ws.write_merge(0, 0, 0, 6, "大兴区养老护理员花名册")
    for c, label in enumerate(["序号", "姓名", "身份证号码", "工作单位", "所属镇街", "入职日期", "离职日期"]):
        ws.write(1, c, label)
    stamp = xlwt.easyxf(num_format_str="YYYY-MM-DD HH:MM:SS")
    rows = [
        (1.0, "张三", GOOD_ID, "颐养院", "清源街", dt.datetime(2023, 5, 6, 9, 31, 12), None),
        (None, "李四", ID2, "驿站", "采育镇人民政府", dt.datetime(2022, 1, 3, 8, 0), dt.datetime(2024, 1, 2, 17, 30)),
        (3.0, "王五", float(ID2), "驿站", "北京市大兴区观音寺街道办事处", dt.datetime(2022, 2, 3, 0, 0), None),  # an ID typed as a number
    ]
    for r, row in enumerate(rows, start=2):
        for c, v in enumerate(row):
            if v is not None:
                ws.write(r, c, v, stamp) if isinstance(v, dt.datetime) else ws.write(r, c, v)
    ws.write(5, 1, "合计")
    ws.write(5, 3, "3人")
    ws.write(6, 0, "")
    ws.write(6, 2, "审核人：李强")
    (tmp_path / "care_workers").mkdir()
    wb.save(str(tmp_path / "care_workers" / "roster.xls"))
    res = ingest.ingest_source(contract("eldercare_care_workers"), tmp_path)
    a = only(res)
    assert (a["rows_read"], a["rows_loaded"], a["rows_quarantined"], a["rows_loaded_with_field_faults"]) == (5, 3, 2, 1)
    acc = res.accepted
    assert acc._row_number.tolist() == [3, 4, 5] and acc.row_no.isna().tolist() == [False, True, False]
    assert acc.geo_code.tolist() == ["110115003", "110115104", "110115009"]
    assert acc.hire_date.tolist() == [dt.date(2023, 5, 6), dt.date(2022, 1, 3), dt.date(2022, 2, 3)]
    assert acc.leave_date.tolist()[1] == dt.date(2024, 1, 2)
    assert acc.person_key.isna().tolist() == [False, False, True]
    q = res.quarantine.sort_values("row_number")
    assert q[["row_number", "reason", "value", "disposition"]].values.tolist() == [
        [5, Reason.ID_CHANGED_BY_EXCEL, "1.1011" + "*" * 5, "field_fault"],
        [6, Reason.TOTALS_ROW, "合计", "quarantined"],
        [7, Reason.NOTE_ROW, "审核人", "quarantined"],
    ]


def test_marker_rows_no_longer_crash_on_read_only_arrays():
    df = pd.DataFrame({"序号": ["", "1", ""], "姓名": ["合计", "张三", ""], "单位": ["", "x", "填表人：王芳"]})
    reason, value = ingest.marker_rows(df)
    assert reason.tolist() == [Reason.TOTALS_ROW, None, Reason.NOTE_ROW] and value.tolist() == ["合计", None, "填表人"]


def test_dates_with_a_time_of_day_in_every_common_form():
    raw = pd.Series(["2024-05-06 09:31:12", "2024/5/6 9:31", "2024-05-06T09:31:12", "2024.5.6 09:31", "2024年5月6日 9时31分",
                     "2024年5月6日9:31", "20240506 093112", "2024-05-06 09:31:12.000", "45418.396666", "２０２４－０５－０６　０９：３１",
                     "2024-05-06 25:00", "2024-02-30 09:00", "2024-05-06 9:31 上午班"])
    ts = ingest.parse_timestamps(raw)
    assert ts.dt.date.tolist()[:10] == [dt.date(2024, 5, 6)] * 10
    assert ts.iloc[0] == pd.Timestamp("2024-05-06 09:31:12") and ts.iloc[1] == pd.Timestamp("2024-05-06 09:31")
    assert ts.iloc[8] == pd.Timestamp("2024-05-06 09:31:12")  # an Excel date-time serial
    assert ts.iloc[10:].isna().all()
    assert ingest.parse_dates(raw).iloc[0] == pd.Timestamp("2024-05-06")


def test_a_timestamp_column_keeps_the_time(tmp_path):
    c = contract("govservice_service_cases")
    cols = tuple(dataclasses.replace(col, type="timestamp") if col.name == "accepted_date" else col for col in c.columns)
    c = dataclasses.replace(c, columns=cols)
    (tmp_path / "service_cases").mkdir()
    (tmp_path / "service_cases" / "c.csv").write_text("办件编号,事项编码,申请渠道,受理日期\nC1,M,网上办理,2024/5/6 9:31\n", encoding="utf-8")
    res = ingest.ingest_source(c, tmp_path)
    assert res.accepted.accepted_date.tolist() == [pd.Timestamp("2024-05-06 09:31")]
    assert "TIMESTAMP" in ingest.raw_table_ddl(c)


@pytest.mark.parametrize("spelling, code", [
    ("清源街", "110115003"), ("兴丰街道办事处", "110115001"), ("采育镇人民政府", "110115104"), ("采育乡", "110115104"),
    ("北京市大兴区观音寺街道", "110115009"), ("大兴区魏善庄", "110115110"), ("110115104.0", "110115104"),
    ("１１０１１５１０４", "110115104"), ("110115 104", "110115104"), ("110115104000.0", "110115104"), ("瀛海镇政府", "110115008"),
    ("黄村地区（黄村镇）", "110115005"), ("旧宫街道", "110115006"),
])
def test_town_spellings_resolved_by_rule(spelling, code):
    assert ingest.classify_town(normalize_text(spelling)) == (code, None)


@pytest.mark.parametrize("spelling, reason", [
    ("朝阳区望京街道", Reason.OUTSIDE_DISTRICT), ("望京街道", Reason.OUTSIDE_DISTRICT), ("望京", Reason.OUTSIDE_DISTRICT),
    ("110105026", Reason.OUTSIDE_DISTRICT), ("北京市海淀区", Reason.OUTSIDE_DISTRICT), ("宋庄镇人民政府", Reason.OUTSIDE_DISTRICT),
    ("黄村村", Reason.UNKNOWN_TOWN), ("火星镇", Reason.UNKNOWN_TOWN), ("110115999", Reason.UNKNOWN_TOWN),
    ("110115005001", Reason.UNKNOWN_TOWN), ("大兴区", Reason.UNKNOWN_TOWN), ("黄村镇镇", Reason.UNKNOWN_TOWN),
    ("清源地区（黄村镇）", Reason.UNKNOWN_TOWN),
])
def test_towns_outside_the_district_and_unknown_ones_are_never_guessed(spelling, reason):
    assert ingest.classify_town(normalize_text(spelling)) == (None, reason)


def test_no_stem_of_a_daxing_unit_is_shared_with_another_beijing_township():
    """The rule resolves a stem only when it is unique; in the 2023 codes no Daxing stem is another district's."""
    from daxing_kpi.ingest import towns

    t = towns._tables()
    assert not set(t["daxing_stems"]) & t["other_stems"]
    assert len(t["other_codes"]) == 349 - 26 and all(c.startswith("1101") for c in t["other_codes"])


def test_ambiguous_stems_are_not_guessed(monkeypatch):
    from daxing_kpi.ingest import towns

    t = dict(towns._tables())
    t["other_stems"] = t["other_stems"] | {"清源"}  # as if another district had a 清源镇
    monkeypatch.setattr(towns, "_tables", lambda: t)
    towns.classify_town.cache_clear()
    try:
        assert towns.classify_town("清源街") == (None, Reason.AMBIGUOUS_TOWN)
        assert towns.classify_town("清源街道") == ("110115003", None)  # the official name itself stays exact
    finally:
        towns.classify_town.cache_clear()


def _burials_csv(folder, name, rows, mtime=None):
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["逝者编号", "安葬日期", "户籍所在镇街", "安葬方式"]).to_csv(folder / name, index=False)
    if mtime:
        os.utime(folder / name, (mtime, mtime))
    return folder / name


def test_a_fault_costs_only_what_it_touches(tmp_path):
    rows = [("B1", "2024-01-05", "黄村", "树葬"), ("B2", "2024-01-06", "火星镇", "树葬"), ("B3", "2024-01-07", "朝阳区望京街道", "树葬"),
            ("B4", "去年", "黄村", "树葬"), ("B5", "2024-01-08", "", "传统墓穴")] + [(f"G{i}", "2024-02-01", "清源", "树葬") for i in range(60)]
    _burials_csv(tmp_path / "burials", "b.csv", rows)
    res = ingest.ingest_source(contract("funeral_burials"), tmp_path)
    a = only(res)
    assert (a["rows_read"], a["rows_loaded"], a["rows_quarantined"], a["rows_loaded_with_field_faults"]) == (65, 63, 2, 2)
    assert json.loads(a["reasons"]) == {Reason.OUTSIDE_DISTRICT: 1, Reason.BAD_DATE: 1}
    assert json.loads(a["field_fault_reasons"]) == {Reason.MISSING: 1, Reason.UNKNOWN_TOWN: 1}
    acc = res.accepted.set_index("burial_id")
    # B2 (unknown town) and B5 (no town) count for the district, not for any town/street; B3 (another district) and
    # B4 (no burial date) count nowhere
    assert acc.loc[["B1", "B2", "B5"], "geo_code"].tolist() == ["110115005", None, None] and "B3" not in acc.index and "B4" not in acc.index
    burials_2024 = acc[pd.to_datetime(acc.burial_date).dt.year == 2024]
    assert len(burials_2024) == 63 and burials_2024.geo_code.isna().sum() == 2 and (burials_2024.geo_code == "110115003").sum() == 60
    q = res.quarantine.set_index("row_number")
    assert q.loc[[3, 4, 5, 6], "disposition"].tolist() == ["field_fault", "quarantined", "quarantined", "field_fault"]


def test_a_duplicate_key_with_an_empty_field_is_not_a_duplicate(tmp_path):
    c = contract("eldercare_care_workers")  # key: person_key, employer_name, hire_date
    text = ("姓名,身份证号码,工作单位,所属镇街,入职日期\n"
            f"甲,1.10115E+17,驿站,黄村,2022-01-01\n乙,1.10115E+17,驿站,黄村,2022-01-01\n丙,{GOOD_ID},驿站,黄村,2022-01-01\n"
            f"丙,{GOOD_ID},驿站,黄村,2022-01-01\n")
    (tmp_path / "care_workers").mkdir()
    (tmp_path / "care_workers" / "r.csv").write_text(text, encoding="utf-8")
    res = ingest.ingest_source(dataclasses.replace(c, extra={**c.extra, "quality": {"max_rejected_share": 0.5}}), tmp_path)
    # two workers whose ID Excel mangled are two people as far as anyone can tell; the repeated valid record is a duplicate
    assert res.accepted._row_number.tolist() == [2, 3, 4]
    assert res.quarantine[res.quarantine.reason == Reason.DUPLICATE].row_number.tolist() == [5]


@pytest.mark.parametrize("value", ["1.10115E+17", "1.10115199001011E+17", "110115199001011000", "110115199001011000.0"])
def test_id_numbers_changed_by_excel_have_their_own_reason(tmp_path, value):
    text = f"志愿者编号,身份证号码,注册日期,所在镇街,状态\nZ1,{value},2021-01-02,黄村,正常\n" + "".join(
        f"Z{i},{GOOD_ID},2021-01-02,黄村,正常\n" for i in range(2, 30))
    (tmp_path / "volunteers").mkdir()
    (tmp_path / "volunteers" / "v.csv").write_text(text, encoding="utf-8")
    res = ingest.ingest_source(contract("volunteer_volunteers"), tmp_path)
    assert len(res.accepted) == 29 and res.accepted.set_index("volunteer_id").person_key.isna().loc["Z1"]
    (q,) = res.quarantine.itertuples()
    assert (q.reason, q.disposition) == (Reason.ID_CHANGED_BY_EXCEL, "field_fault") and "199001011" not in q.value


# -- files set aside ---------------------------------------------------------------------------------------------


def _good_burials(tmp_path, mtime=1_000):
    return _burials_csv(tmp_path / "burials", "good.csv", [("B1", "2021-01-05", "黄村", "树葬"), ("B2", "2022-01-05", "清源", "树葬")], mtime)


@pytest.mark.parametrize("name, content, zh, en", [
    ("empty.csv", b"", "文件是空的", "the file is empty"),
    ("blank.xls", b"\r\n  \r\n", "文件是空的", "the file is empty"),
    ("binary.csv", bytes(range(256)) * 8, "不是表格文件", "not a table"),
    ("photo.csv", b"\x89PNG\r\n\x1a\n" + b"\x00\x01\x02IHDR" * 50, "不是表格文件", "not a table"),
    ("damaged.xlsx", b"PK\x03\x04" + b"\x00" * 200, "Excel 文件已损坏", "the Excel workbook is damaged"),
    ("damaged.xls", bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 600, "Excel 文件已损坏", "the Excel workbook is damaged"),
    ("report.csv", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF", "PDF"),
    ("notes.csv", "说明：本月无新增记录。\n".encode("utf-8"), "表头与数据契约", "header does not match contract"),
])
def test_a_file_that_cannot_be_read_is_set_aside_and_the_others_load(tmp_path, name, content, zh, en):
    _good_burials(tmp_path)
    (tmp_path / "burials" / name).write_bytes(content)
    os.utime(tmp_path / "burials" / name, (2_000, 2_000))  # the newest delivery
    res = ingest.ingest_source(contract("funeral_burials"), tmp_path)
    assert res.accepted.burial_id.tolist() == ["B1", "B2"]
    (bad,) = res.rejected
    assert bad["file_name"] == f"burials/{name}" and bad["status"] == "rejected" and bad["rows_loaded"] == 0
    assert zh in bad["rejected_reason_zh"] and en in bad["rejected_reason_en"] and name in bad["rejected_reason_en"]
    assert "Traceback" not in bad["rejected_reason_en"] and bad["rows_read"] == bad["rows_loaded"] + bad["rows_quarantined"]
    with pytest.raises(FileRejected):
        ingest.read_file(tmp_path / "burials" / name, contract("funeral_burials"), f"burials/{name}", "x")


def test_a_file_past_its_quarantine_limit_is_set_aside_its_faults_listed(tmp_path):
    _good_burials(tmp_path)
    _burials_csv(tmp_path / "burials", "bad.csv", [(f"X{i}", "去年" if i < 3 else "2023-03-01", "黄村", "树葬") for i in range(20)], 2_000)
    res = ingest.ingest_source(contract("funeral_burials"), tmp_path)
    (bad,) = res.rejected
    assert (bad["rows_read"], bad["rows_quarantined"], json.loads(bad["reasons"])) == (20, 20, {Reason.BAD_DATE: 3})
    assert "3 of 20 records (15.0%)" in bad["rejected_reason_en"] and "row 2, column 安葬日期" in bad["rejected_reason_en"]
    assert "20 条记录中有 3 条" in bad["rejected_reason_zh"] and "第 2 行“安葬日期”列" in bad["rejected_reason_zh"]
    assert res.accepted.burial_id.tolist() == ["B1", "B2"]  # the 2023 burials of the bad file are not loaded either
    assert res.quarantine[res.quarantine.file_name == "burials/bad.csv"].row_number.tolist() == [2, 3, 4]


def test_a_rejected_file_is_not_read_again_until_it_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("KPI_WAREHOUSE_DIR", str(tmp_path / "wh"))
    c = contract("funeral_burials")
    landing = tmp_path / "landing"
    _good_burials(landing)
    bad = landing / "burials" / "bad.xlsx"
    bad.write_bytes(b"PK\x03\x04broken")
    warehouse.write_raw(c, ingest.ingest_source(c, landing), "run-1")
    facts = warehouse.rejected_file_facts(c.source_id)
    assert list(facts) == [ingest.sha256_file(bad)]
    from daxing_kpi.ingest import source

    seen = []
    real, real_together = source.read_file, source.read_together
    monkeypatch.setattr(source, "read_file", lambda path, *a: (seen.append(path.name), real(path, *a))[1])
    # workbooks are read together, in one pass (issue 20.3)
    monkeypatch.setattr(source, "read_together", lambda stage, items: (seen.extend(p.name for p, *_ in items), real_together(stage, items))[1])
    again = ingest.ingest_source(c, landing, known_rejections=facts)
    assert seen == ["good.csv"] and again.rejected[0]["rejected_reason_en"].endswith("read again once the file changes)")
    wb = openpyxl.Workbook()  # the clerk sends the file again, now readable
    wb.active.append(["逝者编号", "安葬日期", "户籍所在镇街", "安葬方式"])
    wb.active.append(["B9", "2023-04-01", "礼贤", "树葬"])
    wb.save(bad)
    fixed = ingest.ingest_source(c, landing, known_rejections=facts)
    assert not fixed.rejected and sorted(fixed.accepted.burial_id) == ["B1", "B2", "B9"]
    # a new contract or new rules read a set-aside file again too
    changed = dataclasses.replace(c, digest="other")
    bad.write_bytes(b"PK\x03\x04broken")
    seen.clear()
    ingest.ingest_source(changed, landing, known_rejections=facts)
    assert sorted(seen) == ["bad.xlsx", "good.csv"]


def test_strict_files_is_read_from_the_environment(monkeypatch):
    monkeypatch.delenv("KPI_STRICT_FILES", raising=False)
    assert not ingest.strict_files()
    monkeypatch.setenv("KPI_STRICT_FILES", "1")
    assert ingest.strict_files()


def test_delivery_cutoff_from_statement_file_name_or_modification_time(tmp_path):
    from daxing_kpi.ingest.cutoff import delivery_cutoff

    m = dt.datetime(2026, 11, 3, 8, 0)
    assert delivery_cutoff(["大兴区安葬记录", "填报单位：民政局　截至日期：2026年10月31日"], "x.csv", m) == (dt.date(2026, 10, 31), "statement")
    assert delivery_cutoff(["数据截止时间 2026-09-30"], "x.csv", m) == (dt.date(2026, 9, 30), "statement")
    assert delivery_cutoff([], "安葬记录_20261101.csv", m) == (dt.date(2026, 10, 31), "file_name")
    assert delivery_cutoff([], "名册2026-11-01(1).xlsx", m) == (dt.date(2026, 10, 31), "file_name")
    assert delivery_cutoff([], "安葬记录_2020-2023.csv", m) == (dt.date(2026, 11, 2), "modified_time")


def test_records_of_other_districts_never_push_a_file_past_its_limit(tmp_path):
    rows = [(f"B{i}", "2024-01-05", "朝阳区望京街道" if i < 10 else "黄村", "树葬") for i in range(40)]  # 25 % elsewhere
    _burials_csv(tmp_path / "burials", "b.csv", rows)
    res = ingest.ingest_source(contract("funeral_burials"), tmp_path)
    a = only(res)
    assert (a["status"], a["rows_loaded"], a["rows_quarantined"]) == ("loaded", 30, 10)
    assert json.loads(a["reasons"]) == {Reason.OUTSIDE_DISTRICT: 10}


def test_the_report_and_the_quality_page_name_files_rows_and_columns_in_both_languages(tmp_path, monkeypatch):
    from daxing_kpi.ingest import report

    monkeypatch.setenv("KPI_WAREHOUSE_DIR", str(tmp_path / "wh"))
    c = contract("funeral_burials")
    landing = tmp_path / "landing"
    _burials_csv(landing / "burials", "b.csv", [("B1", "2024-01-05", "火星镇", "树葬")] + [(f"G{i}", "2024-02-01", "清源", "树葬") for i in range(30)])
    (landing / "burials" / "空.csv").write_bytes(b"")
    warehouse.write_raw(c, ingest.ingest_source(c, landing), "run-1")
    lines = "\n".join(report.report_lines())
    assert "Files set aside (1" in lines and "burials/空.csv" in lines and "文件是空的" in lines and "the file is empty" in lines
    page = report.quality_page_section()
    assert "burials/空.csv" in page and "文件是空的" in page and "the file is empty" in page
    assert "burials/b.csv" in page and "镇街无法识别" in page and "unknown town/street" in page and "第 2 行 row 2, 列 column 户籍所在镇街" in page
