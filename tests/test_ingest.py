"""Ingestion rules: dates, numbers, towns/streets, ID numbers, encodings, headers, quarantine."""

from __future__ import annotations

import datetime as dt

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
    ],
)
def test_town_spellings_map_to_2023_codes(spelling, code):
    assert ingest.resolve_towns(pd.Series([spelling])).iloc[0] == code


def test_unknown_town_is_not_guessed():
    assert ingest.resolve_towns(pd.Series(["黄村村", "大兴", "110115999"])).isna().all()


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
    res = ingest.ingest_source(contract, tmp_path)
    assert res.audit[0]["rows_read"] == 4 and res.audit[0]["rows_loaded"] == 1 and res.audit[0]["rows_quarantined"] == 3
    q = res.quarantine.sort_values("row_number")
    assert q.row_number.tolist() == [3, 4, 5]
    assert q.reason.tolist() == ["invalid ID number (length or check digit)", "unreadable date", "unknown town/street"]
    assert q.value.tolist()[2] == "火星镇"
    assert good_id not in " ".join(q.value)  # the ID number is masked
    acc = res.accepted
    assert acc.geo_code.tolist() == ["110115005"] and "volunteer_name" not in acc and "phone" not in acc
    assert acc.person_key.str.len().tolist() == [32]


def test_header_mismatch_names_file_missing_and_closest_columns(tmp_path):
    contract = load_contracts()["funeral_burials"]
    df = pd.DataFrame({"逝者编号": ["1"], "安葬时间": ["2021-01-01"], "户籍所在镇街": ["黄村"], "安葬方式": ["树葬"]})
    _write(tmp_path / "burials", "b.csv", df)
    with pytest.raises(ContractError) as err:
        ingest.ingest_source(contract, tmp_path)
    msg = str(err.value)
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
