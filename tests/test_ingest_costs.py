"""What reading each file cost (issue 20.1): per file read now, its kind, rows and CPU seconds; by kind; as the raw
asset's metadata; and the person key equal to the standard library's HMAC-SHA256.

No timing is asserted: these tests check which files are counted, under which kind, with which rows.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import openpyxl
import pandas as pd
import pytest

from daxing_kpi import ingest
from daxing_kpi.defs.ingest import read_cost_metadata
from daxing_kpi.ingest import fields, load_contracts
from daxing_kpi.ingest.source import READ


def _items(n: int) -> pd.DataFrame:
    return pd.DataFrame({"事项编码": [f"A{i}" for i in range(n)], "事项名称": ["x"] * n, "年度": ["2021"] * n, "是否全程网办": ["否"] * n})


def test_read_costs_name_each_file_read_its_kind_and_rows(tmp_path):
    contract = load_contracts()["govservice_service_items"]
    folder = tmp_path / "service_items"
    folder.mkdir()
    _items(3).to_csv(folder / "a_20240101.csv", index=False)
    _items(3).to_csv(folder / "copy_of_a.csv", index=False)  # same bytes: skipped, not read
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(_items(0).columns))
    for row in _items(2).itertuples(index=False):
        ws.append(list(row))
    wb.save(folder / "b_20240102.xlsx")
    (folder / "c_20240103.csv").write_text("nothing,like,the,header\n1,2,3,4\n", encoding="utf-8")  # set aside while read

    res = ingest.ingest_source(contract, tmp_path)
    read = {label for label, mode in res.read_modes.items() if mode == READ}
    [csv_read] = read & {"service_items/a_20240101.csv", "service_items/copy_of_a.csv"}  # the other copy is not read
    assert set(res.read_costs) == read == {csv_read, "service_items/b_20240102.xlsx", "service_items/c_20240103.csv"}
    costs = res.read_costs
    assert (costs[csv_read]["kind"], costs[csv_read]["rows"]) == ("text", 3)
    assert (costs["service_items/b_20240102.xlsx"]["kind"], costs["service_items/b_20240102.xlsx"]["rows"]) == ("xlsx", 2)
    assert (costs["service_items/c_20240103.csv"]["kind"], costs["service_items/c_20240103.csv"]["rows"]) == ("text", 0)
    assert [a["status"] for a in res.audit if a["file_name"] == "service_items/c_20240103.csv"] == ["rejected"]
    assert all(c["cpu_seconds"] >= 0 and c["wall_seconds"] >= 0 for c in costs.values())

    by_kind = res.read_costs_by_kind()
    assert set(by_kind) == {"text", "xlsx"}
    assert (by_kind["text"]["files"], by_kind["text"]["rows"]) == (2, 3)
    assert (by_kind["xlsx"]["files"], by_kind["xlsx"]["rows"]) == (1, 2)
    assert by_kind["text"]["cpu_seconds"] == pytest.approx(sum(costs[k]["cpu_seconds"] for k in costs if costs[k]["kind"] == "text"))

    meta = read_cost_metadata(res, 1.25)
    assert meta["load_cpu_seconds"] == 1.25
    assert (meta["files_read_text"], meta["rows_read_text"]) == (2, 3)
    assert meta["read_cpu_seconds_text"] == pytest.approx(by_kind["text"]["cpu_seconds"], abs=1e-4)
    assert meta["read_cpu_seconds_other"] == pytest.approx(by_kind["xlsx"]["cpu_seconds"], abs=1e-4)


def test_files_taken_from_the_stage_cache_cost_no_reading(tmp_path):
    """A file staged at an earlier night is not read: no cost is recorded for it."""
    contract = load_contracts()["govservice_service_items"]
    folder = tmp_path / "service_items"
    folder.mkdir()
    _items(4).to_csv(folder / "a.csv", index=False)
    first = ingest.ingest_source(contract, tmp_path)
    (f,) = first.files
    again = ingest.ingest_source(contract, tmp_path, con=first.stage.con, staged={f.digest: f})
    assert first.read_costs["service_items/a.csv"]["rows"] == 4
    assert again.read_costs == {} and again.read_costs_by_kind() == {}
    assert read_cost_metadata(again, 0.0) == {"load_cpu_seconds": 0.0, "files_read_text": 0, "rows_read_text": 0,
                                              "read_cpu_seconds_text": 0.0, "read_cpu_seconds_other": 0.0}


def test_person_key_hash_is_hmac_sha256(monkeypatch):
    """:func:`fields.hmac_hex32` (hash states of the key copied per value, no :mod:`hmac` call per value): the
    same keys, for both shapes of input, as the standard library's HMAC."""
    monkeypatch.setenv("KPI_PII_KEY", "a-test-key-for-the-person-hash-0123456789")
    rng = np.random.default_rng(3)
    m = rng.integers(48, 58, size=(257, 18)).astype(np.uint8)
    m[::7, 17] = ord("X")
    expected = [hmac.new(b"a-test-key-for-the-person-hash-0123456789", bytes(r), hashlib.sha256).hexdigest()[:32] for r in m]
    assert fields.hmac_hex32(m).to_pylist() == expected
    assert fields.hmac_hex32([bytes(r) for r in m]).to_pylist() == expected
    assert fields.hmac_hex32(m[:0]).to_pylist() == [] and fields.hmac_hex32([]).to_pylist() == []
