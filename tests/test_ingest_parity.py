"""Ingestion typed and checked inside DuckDB (issue 20.1) gives exactly what the row-by-row path gave.

The reference is the pandas path of issue 15, frozen in :mod:`ingest_reference`: every source of the messy
sample and CSV files of every awkward shape must give the same rows loaded (same typed values, in the same
order), the same faults (file, sheet, row, column, reason, masked value, disposition, in the same order)
and the same audit. Then the parts of the pass that are not the Python rules themselves: the spellings the
query types on its own agree with the rule (:func:`daxing_kpi.ingest.cell_rule`), and the person keys are
HMAC-SHA256 of the number as the standard library computes it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import os

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import ingest_reference
from daxing_kpi import ingest
from daxing_kpi.ingest import Column, load_contracts, sqlpass, town_lookup
from daxing_kpi.ingest.fields import cell_rule, person_cells, person_keys
from daxing_kpi.sample import messy


def _plain(df: pd.DataFrame) -> list[list]:
    """Rows with every missing value as None (NaN, NaT, pd.NA and None compare equal)."""
    out = []
    for row in df.astype(object).itertuples(index=False):
        out.append([None if (v is None or (not isinstance(v, (str, list)) and pd.isna(v))) else v for v in row])
    return out


def assert_same(new, old) -> None:
    assert list(new.accepted.columns) == list(old.accepted.columns)
    assert _plain(new.accepted) == _plain(old.accepted)
    assert list(new.quarantine.columns) == list(old.quarantine.columns)
    assert _plain(new.quarantine) == _plain(old.quarantine)
    assert new.audit == old.audit


@pytest.fixture(scope="module")
def messy_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("messy_parity")
    messy.MessySample(scale=0.05, fault_rate=0.03).write(root)
    return root / "landing"


SOURCES = sorted(load_contracts())


@pytest.mark.parametrize("source_id", SOURCES)
def test_every_source_of_the_messy_sample_is_ingested_as_before(messy_root, source_id):
    contract = load_contracts()[source_id]
    if not ingest.landing_files(messy_root / contract.landing_dir):
        pytest.skip("no files for this source in the sample")
    new = ingest.ingest_source(contract, messy_root)
    old = ingest_reference.ingest_source(contract, messy_root)
    assert_same(new, old)
    if source_id == "volunteer_volunteers":  # the sample's faults are there, not only clean rows
        q = new.quarantine
        assert {"field_fault", "quarantined"} == set(q.disposition)
        assert {ingest.Reason.ID_CHANGED_BY_EXCEL, ingest.Reason.DUPLICATE, ingest.Reason.OUTSIDE_DISTRICT} <= set(q.reason)
        assert any(a["status"] == "rejected" for a in new.audit)  # the empty 补报 file is set aside


# -- CSV files of every shape -----------------------------------------------------------------------------------

H = "逝者编号,逝者姓名,死亡日期,安葬日期,户籍所在镇街,安葬方式,安葬地点"
ROWS = ["B1,张三,2023-01-02,2023-01-05,黄村地区,树葬,天堂公墓", "B2,李四,2023-02-02,2023-02-05,清源街,骨灰撒海,渤海",
        "B3,王五,2023-03-02,2023/3/5,110115104.0,格位存放,长青园公墓"]
SHAPES = {
    "plain": [H] + ROWS,
    "empty lines": [H, "", ROWS[0], "", "", ROWS[1], ROWS[2], ""],
    "lines of commas only": [H, ROWS[0], ",,,,,,", ROWS[1], ",,,,,,", ROWS[2]],
    "a line of spaces": [H, ROWS[0], "   ", ROWS[1], ROWS[2]],
    "title rows": ["大兴区安葬记录", "截至日期：2026年10月31日", "", H] + ROWS,
    "quoted commas and quotes": [H, 'B1,"张,三",2023-01-02,2023-01-05,黄村地区,树葬,"天堂""公墓"'] + ROWS[1:],
    "a quoted line break": [H, 'B1,"张\n三",2023-01-02,2023-01-05,黄村地区,树葬,天堂公墓'] + ROWS[1:],
    "a space before a quote": [H, 'B1, "张三",2023-01-02,2023-01-05,黄村地区,树葬,天堂公墓'] + ROWS[1:],
    "cells beyond the header": [H, ROWS[0] + ",多余", ROWS[1], ROWS[2]],
    "a comma at the end of each line": [H, ROWS[0] + ",", ROWS[1] + ",", ROWS[2] + ","],
    "short rows": [H, "B1,张三,2023-01-02,2023-01-05", ROWS[1], ROWS[2]],
    "totals and signature rows": [H] + ROWS + [",合计,,,,,", "填表人：王芳,,,,,,"],
    "a blank first cell": [H.replace("逝者编号", "序号,逝者编号")] + [f",B{i},x,2023-01-0{i},2023-01-0{i},黄村,树葬,园" for i in range(1, 4)],
    "header only": [H],
    "faults": [H, "B1,张三,2023-02-30,2023-01-05,火星镇,树葬,天堂公墓", "B1,张三,2023-01-02,2023-01-05,朝阳区望京街道,树葬,x",
               "B4,,,去年,黄村,飞葬,y"] + ROWS,
    "times of day and serials": [H, "B1,张三,2023-01-02 09:31:00,2023-01-05 10:00,黄村,树葬,x", "B2,李四,45000.5,20230105,黄村,树葬,x",
                                 "B3,王,2023.1.2,2023年1月5日,黄村,树葬,x"],
    "spaces and full-width characters": [H, " B1 ,张三, 2023-01-02 , 2023-01-05 ,　黄村　,树葬 ,x",
                                         "Ｂ２,李四,２０２３－０１－０２,2023-01-05,黄 村,树葬,x"],
}
VARIANTS = [(shape, "utf-8", "\n", ",") for shape in SHAPES] + [
    ("plain", enc, "\n", ",") for enc in ("utf-8-sig", "gb18030", "utf-16", "utf-16-le")] + [
    ("plain", "utf-8", "\r\n", ","), ("plain", "utf-8", "\n", "\t"), ("empty lines", "utf-16", "\r\n", ","),
    ("a quoted line break", "utf-8", "\r\n", ","), ("title rows", "gb18030", "\n", ",")]


@pytest.mark.parametrize("shape, encoding, newline, sep", VARIANTS)
def test_csv_files_of_every_shape_are_read_as_before(tmp_path, shape, encoding, newline, sep):
    folder = tmp_path / "burials"
    folder.mkdir()
    text = newline.join(line.replace(",", sep) for line in SHAPES[shape]) + newline
    (folder / "b.csv").write_bytes(text.encode(encoding))
    contract = load_contracts()["funeral_burials"]
    assert_same(ingest.ingest_source(contract, tmp_path), ingest_reference.ingest_source(contract, tmp_path))


def test_several_deliveries_superseded_duplicated_and_set_aside_as_before(tmp_path):
    """Re-deliveries by year, a duplicate across files, a file past its quarantine limit and one that cannot be read."""
    folder = tmp_path / "burials"
    folder.mkdir()
    files = {
        "a.csv": [H, "B1,x,,2022-01-05,黄村,树葬,p", "B2,x,,2023-01-05,黄村,树葬,p", "B3,x,,2023-02-05,火星镇,树葬,p"],
        "b.csv": [H, "B4,x,,2023-03-05,黄村,树葬,p", "B1,x,,2024-01-05,黄村,树葬,p", "B5,x,,2024-01-06,朝阳区望京街道,树葬,p"],
        "c.csv": [H] + [f"X{i},x,,{'去年' if i < 4 else '2021-03-01'},黄村,树葬,p" for i in range(20)],
        "d.csv": None,
    }
    for i, (name, lines) in enumerate(files.items()):
        (folder / name).write_bytes(b"%PDF-1.4 binary" if lines is None else ("\n".join(lines) + "\n").encode())
        os.utime(folder / name, (1_000 + i, 1_000 + i))
    contract = load_contracts()["funeral_burials"]
    new, old = ingest.ingest_source(contract, tmp_path), ingest_reference.ingest_source(contract, tmp_path)
    assert_same(new, old)
    assert [a["status"] for a in new.audit] == ["partly_superseded", "loaded", "rejected", "rejected"]


# -- what the query types itself ---------------------------------------------------------------------------------


def _through_the_pass(column: Column, values: list[str]) -> tuple[list, list]:
    """``(typed values, faults)`` of cells of one contract column typed by the set-based pass."""
    contract = dataclasses.replace(load_contracts()["funeral_burials"], columns=(column,), record_needs=(), key=(), delivery_scope=None)
    con = duckdb.connect()
    sqlpass.prepare(con)
    con.register("cells", pa.table({"_t": pa.array([0] * len(values), pa.int32()), "_row_number": pa.array(range(len(values)), pa.int64()),
                                    "_extra": pa.array([False] * len(values)), "c0": pa.array(values, pa.string())}))
    plan = sqlpass.PassPlan(contract, {column.name: "c0"}, ["c0"])
    try:
        rows = con.execute(f"SELECT {sqlpass.q(column.name)}, [x.r FOR x IN coalesce(_f, [])] FROM ({sqlpass.pass_sql(plan, 'cells')})"
                           " ORDER BY _row_number").fetchall()
    finally:
        sqlpass.drop_specs(plan.specs.values())
    return [r[0] for r in rows], [r[1] for r in rows]


def _by_the_rule(column: Column, values: list[str]) -> tuple[list, list]:
    out = cell_rule(column, pd.Series(values, dtype=object))
    typed = []
    for v in out["value"]:
        if v is not None and column.type == "integer":
            v = int(v)
        elif isinstance(v, pd.Timestamp):
            v = v.to_pydatetime()
        typed.append(v)
    faults = [[r for r in (a, b) if r is not None] for a, b in zip(out["reason"], out["reason2"])]
    return typed, faults


DATES = [d.isoformat() for d in pd.date_range("1899-12-25", "1900-01-05").date] + [
    d.isoformat() for d in pd.date_range("2019-12-25", "2026-01-10").date] + [
    "2199-12-31", "2200-01-01", "2023-02-29", "2024-02-29", "2023-02-30", "2023-13-01", "2023-00-10", "0000-01-01", "9999-12-31",
    "2023-1-05", "2023-01-5", " 2023-01-05", "2023-01-05 ", "+023-01-05", "2023/01/05", "20230105", "45052", "", " ", "去年"]


@pytest.mark.parametrize("kind", ["date", "timestamp"])
def test_dates_the_query_types_are_the_dates_the_rule_reads(kind):
    column = Column("安葬日期", "d", kind, required=True)
    assert _through_the_pass(column, DATES) == _by_the_rule(column, DATES)


NUMBERS = [str(i) for i in range(0, 1001)] + ["007", "000", "999999999999999", "9999999999999999", "-1", "-0", "+5", "1.0", "1.5",
                                              "1,234", "１２", "56%", " 7 ", "1e3", "inf", "nan", "", "x", "0x10"]


@pytest.mark.parametrize("kind, minimum", [("integer", 0), ("integer", None), ("number", 0), ("number", 1949)])
def test_numbers_the_query_types_are_the_numbers_the_rule_reads(kind, minimum):
    column = Column("数", "n", kind, required=True, min=minimum)
    assert _through_the_pass(column, NUMBERS) == _by_the_rule(column, NUMBERS)


def test_town_spellings_the_query_resolves_are_resolved_as_by_the_rule():
    spellings = sorted(town_lookup()) + ["黄村", "黄村镇", " 黄村地区", "１１０１１５００５", "110115005000", "朝阳区望京街道", "火星镇", "", "清源街"]
    for required in (True, False):
        column = Column("所属镇街", "geo_code", "town", required=required)
        assert _through_the_pass(column, spellings) == _by_the_rule(column, spellings)


def test_allowed_values_and_yes_no_are_typed_as_by_the_rule():
    for c in (col for contract in load_contracts().values() for col in contract.columns if col.allowed or col.allowed_from_seed):
        values = list(c.allowed or ()) + ["", " ", "其他", "正 常", "（社区）"]
        assert _through_the_pass(c, values) == _by_the_rule(c, values), c.name
    yes_no = Column("是否全程网办", "b", "boolean", required=True)
    values = ["是", "否", "Y", "n", "yes", "TRUE", "0", "1", "是的", "", "　是"]
    assert _through_the_pass(yes_no, values) == _by_the_rule(yes_no, values)


def test_text_is_stripped_and_blank_as_python_strips_it():
    values = ["a", " a ", "\u3000黄村\u3000", "\xa0x\u2028", "\u200bz", "", " ", "\u3000\t", "\x1c", "a b"]
    for required in (True, False):
        column = Column("备注", "t", "text", required=required)
        assert _through_the_pass(column, values) == _by_the_rule(column, values)


# -- person keys ---------------------------------------------------------------------------------------------------

GOOD = ["11010519491231002X", "801218850034642163"]  # valid check digits (GB 11643)


def _valid_ids(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    weights = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
    out = []
    for _ in range(n):
        body = "".join(map(str, rng.integers(0, 10, 17)))
        out.append(body + "10X98765432"[int((np.array(list(body), dtype=int) * weights).sum() % 11)])
    return out


@pytest.mark.parametrize("key", ["DEVELOPMENT-ONLY-KEY--set-KPI_PII_KEY-in-production", "k" * 64, "一个很长的密钥" * 20, "K" * 32])
def test_person_keys_are_hmac_sha256_of_the_number(monkeypatch, key):
    monkeypatch.setenv("KPI_PII_KEY", key)
    ids = _valid_ids(500, 7) + [GOOD[0].lower(), " " + GOOD[1], "８０１２１８８５００３４６４２１６３"]
    expected = [hmac.new(key.encode(), i.strip().upper().translate(str.maketrans("１２３４５６７８９０", "1234567890")).encode(),
                         hashlib.sha256).hexdigest()[:32] for i in ids]
    keys, reasons = person_cells(pa.array(ids))
    assert keys.to_pylist() == expected and reasons.null_count == len(ids)
    assert person_keys(pd.Series(ids)).tolist() == expected
    column = Column("身份证号码", "person_key", "id_number", required=True, pii="id_number")
    typed, faults = _through_the_pass(column, ids)
    assert typed == expected and faults == [[]] * len(ids)


def test_invalid_and_excel_changed_numbers_get_no_key_and_their_reason():
    column = Column("身份证号码", "person_key", "id_number", required=True, pii="id_number")
    values = [GOOD[0][:-1] + "1", "12345", "1.10115E+17", "110115199001011000", "110115199001011000.0", "", GOOD[0]]
    typed, faults = _through_the_pass(column, values)
    assert typed[:6] == [None] * 6 and len(typed[6]) == 32
    assert faults == [[ingest.Reason.BAD_ID], [ingest.Reason.BAD_ID], [ingest.Reason.ID_CHANGED_BY_EXCEL],
                      [ingest.Reason.ID_CHANGED_BY_EXCEL], [ingest.Reason.ID_CHANGED_BY_EXCEL], [ingest.Reason.MISSING], []]
    assert (typed, faults) == _by_the_rule(column, values)


def test_normal_spellings_never_wait_for_the_python_rule(monkeypatch):
    """The query types them itself (the rule is asked only about other spellings): what makes the pass fast."""
    asked = []
    real = sqlpass.cell_rule
    monkeypatch.setattr(sqlpass, "cell_rule", lambda column, raw: (asked.extend(raw), real(column, raw))[1])
    cases = [(Column("安葬日期", "d", "date", required=True), ["2023-05-06", "1900-01-01", "2199-12-31", ""]),
             (Column("数", "n", "integer", required=True, min=0), ["0", "42", "007", "999999999999999"]),
             (Column("所属镇街", "geo_code", "town"), ["黄村地区", "110115005", "清源街道", ""]),
             (Column("状态", "status_zh", "text", required=True, allowed=("正常", "已注销")), ["正常", "已注销"]),
             (Column("是否全程网办", "b", "boolean"), ["是", "否", ""])]
    for column, values in cases:
        _through_the_pass(column, values)
    assert asked == []
    _through_the_pass(Column("数", "n", "integer", required=True), ["1,234", "合计"])
    assert asked == ["1,234", "合计"]


def test_dates_as_the_rule_types_them_are_plain_dates():
    column = Column("安葬日期", "d", "date")
    typed, _ = _through_the_pass(column, ["2023-05-06", "2023/5/6 9:31"])
    assert typed == [dt.date(2023, 5, 6)] * 2
