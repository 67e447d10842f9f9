"""Ingestion rules: dates, numbers, towns/streets, ID numbers, encodings, headers, quarantine."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pandas as pd
import pytest

from daxing_kpi import ingest
from daxing_kpi.ingest import ContractError, load_contracts


def test_every_date_format():
    raw = pd.Series(["2023-05-06", "2023/5/6", "2023.5.6", "2023年5月6日", "20230506", "45052", "２０２３－０５－０６", "", "2023-13-01", "n/a"])
    out = ingest.parse_dates(raw)
    assert [d.date() if not pd.isna(d) else None for d in out] == [dt.date(2023, 5, 6)] * 7 + [None, None, None]


def test_numbers_with_full_width_digits_separators_and_percent():
    out = ingest.parse_numbers(pd.Series(["1,234", "１２３", "56.5%", " 7 ", "", "x"]))
    assert out.tolist()[:4] == [1234, 123, 56.5, 7]
    assert out.iloc[4:].isna().all()


@pytest.mark.parametrize(
    "spelling, code",
    [
        ("黄村", "110115005"), ("黄村镇", "110115005"), ("黄村地区", "110115005"),
        ("亦庄地区（亦庄镇）", "110115004"), ("清源街道办事处", "110115003"),
        ("瀛海镇", "110115008"), ("瀛海地区", "110115008"), ("110115112", "110115008"),
        ("110115005", "110115005"), ("110115005000", "110115005"), ("１１０１１５００５", "110115005"),
        (" 110115 005 ", "110115005"), ("青云店镇人民政府", "110115103"), ("青云店", "110115103"),
        # every spelling ../shared/README.md lists, and a few more seen in exports
        ("亦庄地区(亦庄镇)", "110115004"), ("110115112000", "110115008"), ("瀛海镇人民政府", "110115008"),
        ("大兴区黄村镇", "110115005"), ("北京市大兴区清源街道", "110115003"), ("黄村镇政府", "110115005"),
        ("清源街道办", "110115003"), ("亦庄开发区", "110115403"),
    ],
)
def test_town_spellings_map_to_2023_codes(spelling, code):
    assert ingest.resolve_towns(pd.Series([spelling])).iloc[0] == code


def test_unknown_town_is_not_guessed():
    assert ingest.resolve_towns(pd.Series(["黄村村", "大兴", "110115999", "大兴区", "黄村镇镇", "110115005001"])).isna().all()


def test_id_number_check_digit():
    good = "11010519491231002X"  # GB 11643 example
    ok = ingest.valid_id_numbers(pd.Series([good, good.lower(), good[:-1] + "1", "12345", ""]))
    assert ok.tolist() == [True, True, False, False, False]
    keys = ingest.person_keys(pd.Series([good, good.lower()]))
    assert keys.iloc[0] == keys.iloc[1] and len(keys.iloc[0]) == 32 and good not in keys.iloc[0]


def test_encodings_utf8_bom_and_gb18030():
    text = "镇街,常住人口\n黄村地区,100\n"
    for raw in (text.encode("utf-8"), b"\xef\xbb\xbf" + text.encode("utf-8"), text.encode("gb18030")):
        assert ingest.decode_bytes(raw) == text


def _write(folder, name, frame, encoding="utf-8"):
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / name, index=False, encoding=encoding)


def test_bad_rows_are_quarantined_with_reason_and_counted(tmp_path):
    contract = load_contracts()["volunteer_volunteers"]
    good_id = "11010519491231002X"
    df = pd.DataFrame(
        {
            "志愿者编号": ["A1", "A2", "A3", "A4"],
            "姓名": ["张三", "李四", "王五", "赵六"],
            "身份证号码": [good_id, good_id[:-1] + "1", good_id, good_id],
            "手机号码": ["13800000000"] * 4,
            "注册日期": ["2021-01-02", "2021-01-02", "2021-02-30", "2021-01-02"],
            "所在镇街": ["黄村镇", "黄村镇", "黄村镇", "火星镇"],
            "状态": ["正常"] * 4,
            "注销日期": [""] * 4,
        }
    )
    _write(tmp_path / "volunteers", "v.csv", df, encoding="gb18030")
    strict = ingest.ingest_source(contract, tmp_path)
    (a,) = strict.audit  # 1 of 4 records unusable: more than the 5 % limit, the file is set aside
    assert (a["status"], a["rows_read"], a["rows_loaded"], a["rows_quarantined"]) == ("rejected", 4, 0, 4)
    assert "v.csv" in a["rejected_reason_en"] and "1 of 4 records" in a["rejected_reason_en"] and "unreadable date" in a["rejected_reason_en"]
    assert "4 条记录中有 1 条" in a["rejected_reason_zh"] and "日期无法识别" in a["rejected_reason_zh"]
    assert strict.accepted.empty and set(strict.quarantine.disposition) == {"quarantined"}
    lenient = dataclasses.replace(contract, extra={**contract.extra, "quality": {"max_rejected_share": 0.5}})
    res = ingest.ingest_source(lenient, tmp_path)
    (a,) = res.audit
    assert (a["status"], a["rows_read"], a["rows_loaded"], a["rows_quarantined"], a["rows_loaded_with_field_faults"]) == ("loaded", 4, 3, 1, 2)
    assert json.loads(a["reasons"]) == {"unreadable date": 1}
    assert json.loads(a["field_fault_reasons"]) == {"invalid ID number (length or check digit)": 1, "unknown town/street": 1}
    q = res.quarantine.sort_values("row_number")
    assert q.row_number.tolist() == [3, 4, 5]
    assert q.reason.tolist() == ["invalid ID number (length or check digit)", "unreadable date", "unknown town/street"]
    assert q.disposition.tolist() == ["field_fault", "quarantined", "field_fault"]
    assert q.value.tolist()[2] == "火星镇"
    assert good_id not in " ".join(q.value)  # the ID number is masked
    acc = res.accepted.sort_values("_row_number")
    assert acc.volunteer_id.tolist() == ["A1", "A2", "A4"] and "volunteer_name" not in acc and "phone" not in acc
    assert acc.geo_code.tolist() == ["110115005", "110115005", None]  # an unknown town counts in the district only
    assert acc.person_key.isna().tolist() == [False, True, False] and acc.person_key.str.len().dropna().tolist() == [32, 32]


def test_header_mismatch_names_file_missing_and_closest_columns(tmp_path):
    contract = load_contracts()["funeral_burials"]
    df = pd.DataFrame({"逝者编号": ["1"], "安葬时间": ["2021-01-01"], "户籍所在镇街": ["黄村"], "安葬方式": ["树葬"]})
    _write(tmp_path / "burials", "b.csv", df)
    res = ingest.ingest_source(contract, tmp_path)  # set aside, not raised: the night goes on
    (a,) = res.audit
    assert a["status"] == "rejected" and res.accepted.empty
    msg = a["rejected_reason_en"]
    assert "缺少必填列：安葬日期" in a["rejected_reason_zh"] and "“安葬时间”（最接近的契约列：安葬日期）" in a["rejected_reason_zh"]
    with pytest.raises(ContractError):  # reading the file itself raises the file-level error
        ingest.read_file(tmp_path / "burials" / "b.csv", contract, "burials/b.csv", "x")
    assert "burials/b.csv" in msg and "安葬日期 (burial_date)" in msg and "'安葬时间'" in msg and "closest contract column: 安葬日期" in msg


def test_headers_match_after_trimming_spaces_full_width_and_line_breaks(tmp_path):
    contract = load_contracts()["govservice_service_items"]
    df = pd.DataFrame({" 事项编码 ": ["A"], "事项\n名称": ["x"], "年度": ["２０２１"], "是否全程网办": ["是"]})
    _write(tmp_path / "service_items", "i.csv", df)
    res = ingest.ingest_source(contract, tmp_path)
    assert res.accepted.catalog_year.tolist() == [2021] and res.accepted.is_fully_online.tolist() == [True]


def test_same_file_twice_is_loaded_once(tmp_path):
    contract = load_contracts()["govservice_service_items"]
    df = pd.DataFrame({"事项编码": ["A"], "事项名称": ["x"], "年度": ["2021"], "是否全程网办": ["否"]})
    _write(tmp_path / "service_items", "a.csv", df)
    _write(tmp_path / "service_items", "b.csv", df)
    res = ingest.ingest_source(contract, tmp_path)
    assert len(res.accepted) == 1
    assert [a["status"] for a in res.audit] == ["loaded", "skipped_duplicate_file"]


# -- Excel, CSV shapes, re-delivery, duplicates, personal data (issue 5) ------------------------------------

import os  # noqa: E402
import shutil  # noqa: E402

import duckdb  # noqa: E402
import openpyxl  # noqa: E402

from daxing_kpi import warehouse  # noqa: E402
from daxing_kpi.ingest import Reason  # noqa: E402

GOOD_ID = "11010519491231002X"  # GB 11643 example


def _population_sheet(ws, year, rows, total):
    """A statistics-bureau sheet: 2 title rows, a two-row merged header (rows 3-4), data from row 5, a blank row, 合计."""
    ws["A1"] = f"大兴区常住人口分镇街分年龄组统计（{year}年）"
    ws.merge_cells("A1:E1")
    ws["A2"] = "单位：人"
    for col, label in zip("ABC", ["序号", "统计年度", "镇街"]):
        ws[f"{col}3"] = label
        ws.merge_cells(f"{col}3:{col}4")
    ws["D3"] = "人口情况"
    ws.merge_cells("D3:E3")
    ws["D4"], ws["E4"] = "年龄组", "常住\n人口"
    for i, (town, band, count) in enumerate(rows, start=1):
        ws.append([i, year, town, band, count])
    ws.append([])
    ws.append(["合计", None, None, None, total])


def test_xlsx_with_title_rows_merged_header_totals_row_and_several_sheets(tmp_path):
    contract = load_contracts()["statbureau_population"]
    wb = openpyxl.Workbook()
    _population_sheet(wb.active, 2022, [("黄村镇", "60-79", "1,234"), ("１１０１１５００３", "80+", 56)], 1290)
    wb.active.title = "2022年"
    _population_sheet(wb.create_sheet("2023年"), 2023, [("亦庄地区（亦庄镇）", "0-17", 700)], 700)
    wb.create_sheet("填表说明")["A1"] = "1. 镇街按2023年统计用区划代码填写。"
    (tmp_path / "population").mkdir()
    wb.save(tmp_path / "population" / "人口.xlsx")
    res = ingest.ingest_source(contract, tmp_path)
    acc = res.accepted
    assert acc[["_sheet", "_row_number", "period_year", "geo_code", "age_band", "residents_count"]].values.tolist() == [
        ["2022年", 5, 2022, "110115005", "60-79", 1234],
        ["2022年", 6, 2022, "110115003", "80+", 56],
        ["2023年", 5, 2023, "110115004", "0-17", 700],
    ]
    q = res.quarantine
    assert q[["sheet", "row_number", "reason", "value"]].values.tolist() == [
        ["2022年", 8, Reason.TOTALS_ROW, "合计"], ["2023年", 7, Reason.TOTALS_ROW, "合计"]]
    (a,) = res.audit
    assert (a["rows_read"], a["rows_loaded"], a["rows_quarantined"], a["status"]) == (5, 3, 2, "loaded")
    assert json.loads(a["sheets"]) == {"2022年": 3, "2023年": 2, "填表说明": "skipped: no header naming the contract's columns"}


def test_xls_roster_with_header_variant_date_cells_serials_and_signature_row(tmp_path):
    import xlwt

    contract = load_contracts()["eldercare_care_workers"]
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("花名册")
    ws.write_merge(0, 0, 0, 6, "大兴区养老护理员花名册")
    for c, label in enumerate(["序号", "姓名", "公民身份号码", "工作单位", "所属镇街", "入职\n日期", "离职日期"]):
        ws.write(1, c, label)
    date = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    ws.write(2, 0, 1.0), ws.write(2, 1, "张三"), ws.write(2, 2, GOOD_ID.lower()), ws.write(2, 3, "颐养院")
    ws.write(2, 4, "清源街道办事处"), ws.write(2, 5, dt.date(2023, 5, 6), date)
    ws.write(3, 0, 2.0), ws.write(3, 1, "李四"), ws.write(3, 2, GOOD_ID), ws.write(3, 3, "驿站")
    ws.write(3, 4, "110115112"), ws.write(3, 5, 45052.0), ws.write(3, 6, "2024年1月2日")
    ws.write_merge(4, 4, 0, 6, "填表人：王芳 联系电话：13812345678")
    (tmp_path / "care_workers").mkdir()
    wb.save(str(tmp_path / "care_workers" / "roster.xls"))
    res = ingest.ingest_source(contract, tmp_path)
    acc = res.accepted
    assert acc._row_number.tolist() == [3, 4] and acc._sheet.tolist() == ["花名册"] * 2
    assert acc.geo_code.tolist() == ["110115003", "110115008"]
    assert acc.hire_date.tolist() == [dt.date(2023, 5, 6)] * 2
    assert acc.leave_date.tolist()[1] == dt.date(2024, 1, 2)
    assert acc.person_key.nunique() == 1  # lower-case x: the same person
    assert "worker_name" not in acc and "phone" not in acc
    q = res.quarantine
    assert q[["row_number", "reason", "value"]].values.tolist() == [[5, Reason.NOTE_ROW, "填表人"]]


def test_header_mismatch_in_a_workbook_names_file_sheet_and_closest_column(tmp_path):
    contract = load_contracts()["funeral_burials"]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "安葬"
    ws.append(["大兴区安葬记录"])
    ws.append(["逝者编号", "安葬时间", "户籍所在镇街", "安葬方式"])
    ws.append(["B1", "2021-01-01", "黄村", "树葬"])
    (tmp_path / "burials").mkdir()
    wb.save(tmp_path / "burials" / "b.xlsx")
    (a,) = ingest.ingest_source(contract, tmp_path).audit
    assert a["status"] == "rejected"
    msg = a["rejected_reason_en"]
    assert "burials/b.xlsx [sheet '安葬'], header row 2" in msg
    assert "missing required columns: 安葬日期 (burial_date)" in msg
    assert "'安葬时间' (closest contract column: 安葬日期)" in msg


def test_csv_title_line_quoted_line_break_and_extra_cells_keep_line_numbers(tmp_path):
    contract = load_contracts()["govservice_service_items"]
    text = "大兴区民政政务服务事项目录\n事项编码,事项名称,年度,是否全程网办\nA1,\"两行\n名称\",2021,是\n\nA2,x,2021,否,多余\nA3,y,2021,Y\n"
    (tmp_path / "service_items").mkdir()
    (tmp_path / "service_items" / "i.csv").write_bytes(text.encode("gb18030"))
    contract = dataclasses.replace(contract, extra={**contract.extra, "quality": {"max_rejected_share": 0.5}})  # 1 of 3 is broken
    res = ingest.ingest_source(contract, tmp_path)
    assert res.accepted.item_code.tolist() == ["A1", "A3"] and res.accepted._row_number.tolist() == [3, 7]
    assert res.quarantine[["row_number", "reason"]].values.tolist() == [[6, Reason.EXTRA_CELLS]]
    assert res.audit[0]["rows_read"] == 3  # the blank line is not a record


def _burials(folder, name, rows, mtime):
    """A burials CSV (rows: burial_id, burial date, town) with a given modification time (delivery order)."""
    df = pd.DataFrame(rows, columns=["逝者编号", "安葬日期", "户籍所在镇街"]).assign(安葬方式="树葬")
    folder.mkdir(parents=True, exist_ok=True)
    df.to_csv(folder / name, index=False)
    os.utime(folder / name, (mtime, mtime))
    return folder / name


def test_corrected_redelivery_replaces_only_the_year_it_covers(tmp_path):
    contract = load_contracts()["funeral_burials"]  # delivery_scope: [burial_date.year]
    folder = tmp_path / "burials"
    _burials(folder, "2021-2022.csv", [("B1", "2021-03-01", "黄村"), ("B2", "2022-03-01", "火星镇"), ("B3", "2022-04-01", "清源")], 1_000)
    _burials(folder, "2022_更正.csv", [("B2", "2022-03-01", "黄村"), ("B3", "2022-04-01", "清源")], 2_000)
    shutil.copy(folder / "2021-2022.csv", folder / "2021-2022_重发.csv")  # the old file sent again
    os.utime(folder / "2021-2022_重发.csv", (3_000, 3_000))
    res = ingest.ingest_source(contract, tmp_path)
    acc = res.accepted.sort_values("burial_id")
    assert acc[["burial_id", "_source_file", "geo_code"]].values.tolist() == [
        ["B1", "burials/2021-2022.csv", "110115005"],
        ["B2", "burials/2022_更正.csv", "110115005"],
        ["B3", "burials/2022_更正.csv", "110115003"],
    ]
    assert res.quarantine.empty  # the unknown town of the first delivery was corrected
    audit = {a["file_name"]: a for a in res.audit}
    first = audit["burials/2021-2022.csv"]
    assert (first["status"], first["rows_read"], first["rows_loaded"], first["rows_superseded"]) == ("partly_superseded", 3, 1, 2)
    assert first["superseded_by"] == "burials/2022_更正.csv" and first["delivery_scope"] == "2021,2022"
    assert audit["burials/2022_更正.csv"]["status"] == "loaded"
    resent = audit["burials/2021-2022_重发.csv"]
    assert resent["status"] == "skipped_duplicate_file" and resent["duplicate_of"] == "burials/2021-2022.csv"
    for a in res.audit:
        assert a["rows_read"] == a["rows_loaded"] + a["rows_quarantined"] + a["rows_superseded"]


def test_complete_export_replaces_every_earlier_roster(tmp_path):
    contract = load_contracts()["volunteer_volunteers"]  # delivery_scope: [] (complete export)
    folder = tmp_path / "volunteers"
    folder.mkdir()
    cols = ["志愿者编号", "身份证号码", "注册日期", "所在镇街", "状态"]
    for name, rows, mtime in [
        ("v1.csv", [("Z1", GOOD_ID, "2021-01-01", "黄村", "正常"), ("Z2", GOOD_ID, "2021-01-01", "黄村", "正常")], 1_000),
        ("v2.csv", [("Z1", GOOD_ID, "2021-01-01", "黄村", "已注销")], 2_000),
    ]:
        pd.DataFrame(rows, columns=cols).to_csv(folder / name, index=False)
        os.utime(folder / name, (mtime, mtime))
    res = ingest.ingest_source(contract, tmp_path)
    assert res.accepted[["volunteer_id", "status_zh", "_source_file"]].values.tolist() == [["Z1", "已注销", "volunteers/v2.csv"]]
    assert [(a["file_name"], a["status"], a["rows_superseded"]) for a in res.audit] == [
        ("volunteers/v1.csv", "superseded", 2), ("volunteers/v2.csv", "loaded", 0)]


def test_duplicate_record_within_a_file_is_quarantined_once_kept_once(tmp_path):
    contract = load_contracts()["funeral_burials"]
    _burials(tmp_path / "burials", "b.csv", [("B1", "2021-03-01", "黄村"), ("B1", "2021-03-01", "黄村"), ("B2", "2021-03-02", "黄村")], 1_000)
    res = ingest.ingest_source(contract, tmp_path)
    assert res.accepted.burial_id.tolist() == ["B1", "B2"] and res.accepted._row_number.tolist() == [2, 4]
    assert res.quarantine[["row_number", "column", "reason", "value"]].values.tolist() == [
        [3, "逝者编号", Reason.DUPLICATE, "same as burials/b.csv row 2"]]


def test_redelivery_through_the_raw_layer_leaves_no_duplicates_and_keeps_the_audit_trail(tmp_path, monkeypatch):
    monkeypatch.setenv("KPI_WAREHOUSE_DIR", str(tmp_path / "wh"))
    contract = load_contracts()["funeral_burials"]
    landing = tmp_path / "landing"
    _burials(landing / "burials", "a.csv", [("B1", "2021-03-01", "黄村"), ("B2", "2022-03-01", "黄村")], 1_000)
    warehouse.write_raw(contract, ingest.ingest_source(contract, landing), "run-1")
    warehouse.write_raw(contract, ingest.ingest_source(contract, landing), "run-2")  # the same file again
    _burials(landing / "burials", "a_更正.csv", [("B2", "2022-03-01", "清源")], 2_000)
    totals = warehouse.write_raw(contract, ingest.ingest_source(contract, landing), "run-3")
    assert totals == {"rows_read": 3, "rows_loaded": 2, "rows_quarantined": 0, "rows_superseded": 1}
    with duckdb.connect(str(tmp_path / "wh" / "work" / "work.duckdb"), read_only=True) as con:
        raw = con.execute("SELECT burial_id, geo_code FROM raw.funeral_burials ORDER BY 1").fetchall()
        trail = con.execute("SELECT run_id, file_name, status, rows_loaded, rows_superseded FROM audit.ingest_audit ORDER BY run_id, file_name").fetchall()
    assert raw == [("B1", "110115005"), ("B2", "110115003")]
    assert trail == [
        ("run-1", "burials/a.csv", "loaded", 2, 0),
        ("run-2", "burials/a.csv", "loaded", 2, 0),
        ("run-3", "burials/a.csv", "partly_superseded", 1, 1),
        ("run-3", "burials/a_更正.csv", "loaded", 1, 0),
    ]


def test_contract_refuses_an_id_number_column_without_its_pii_class(tmp_path):
    src = (ingest.contracts_dir() / "volunteer_volunteers.yaml").read_text(encoding="utf-8")
    bad = src.replace("type: id_number, required: true, pii: id_number", "type: id_number, required: true")
    assert bad != src
    (tmp_path / "v.yaml").write_text(bad, encoding="utf-8")
    with pytest.raises(ValueError, match="needs both type id_number and pii id_number"):
        ingest.load_contract(tmp_path / "v.yaml")


def test_contracts_folder_can_be_overridden(tmp_path, monkeypatch):
    shutil.copy(ingest.contracts_dir() / "funeral_burials.yaml", tmp_path / "funeral_burials.yaml")
    monkeypatch.setenv("KPI_CONTRACTS_DIR", str(tmp_path))
    assert list(load_contracts()) == ["funeral_burials"]


def test_quarantine_never_keeps_an_id_number_or_phone_written_in_a_plain_column(tmp_path):
    contract = load_contracts()["govservice_service_items"]
    df = pd.DataFrame({"事项编码": ["A1"], "事项名称": ["x"], "年度": [f"身份证{GOOD_ID}电话13812345678"], "是否全程网办": ["是"]})
    _write(tmp_path / "service_items", "i.csv", df)
    (q,) = ingest.ingest_source(contract, tmp_path).quarantine.to_dict("records")
    assert q["reason"] == Reason.NOT_NUMBER
    assert q["value"] == "身份证110105************电话138********"
