"""Plans as data (issue 18): the plan workbook, its contract and template, loading it, the sample's example
plan, and adding a plan to a published warehouse by dropping a workbook into ``landing/plans/``.

Hand-computed cases of every target kind through the published SQL macros are in ``tests/test_progress.py``
(the rows of the dbt unit test ``kpi_scorecard_applies_every_target_kind``). Here the statuses of whole
plans are compared with :mod:`progress_reference`, an implementation written from the issues' text.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest

from conftest import Warehouse
from daxing_kpi.paths import DBT_PROJECT_DIR, PACKAGE_DIR, SEEDS_DIR
from daxing_kpi.plans import contract
from daxing_kpi.plans.load import REJECTED_ROW, ingest_plan_workbooks, write_plan_workbooks
from daxing_kpi.plans.template import LISTS_SHEET, write_workbook
from daxing_kpi.plans.workbook import read_workbook
from daxing_kpi.sample.example_plan import example_plan_rows
from daxing_kpi.sample.generator import CUTOFF, DISTRICT_CODE
from progress_reference import is_met, judged_series, kind_status, verdict_of

PLAN_14 = "daxing_civil_affairs_14th_fyp"
FIRST_DATA_ROW = 4  # title, hints, header: the first record of a sheet is on row 4


def kpi_names() -> list[str]:
    return pd.read_csv(SEEDS_DIR / "kpi_catalog.csv").name_zh.tolist()


# ------------------------------------------------------------------------------------------ the template


def test_the_template_has_the_sheets_headers_and_drop_down_lists(tmp_path):
    path = write_workbook(tmp_path / contract.TEMPLATE_NAME)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["填写说明", "规划", "指标目标", "阶段目标", "规划章节", LISTS_SHEET]
    assert wb[LISTS_SHEET].sheet_state == "hidden"
    roles = contract.sheets()
    for role, sheet in roles.items():
        ws = wb[sheet.name]
        assert [c.value for c in ws[3]] == [c.header_zh for c in sheet.columns], role
        assert ws.max_row == 3  # blank: no record
    # the KPI list is every definition of the catalog, by its Chinese name; the kinds and comparators too
    lists = wb[LISTS_SHEET]
    column = {lists.cell(1, j).value: [lists.cell(i, j).value for i in range(2, lists.max_row + 1) if lists.cell(i, j).value]
              for j in range(1, 5)}
    assert column["kpis"] == kpi_names() and len(column["kpis"]) == 29
    assert column["kinds"] == ["到目标年达到", "每年达到", "区间", "只有方向"]
    assert column["comparators"] == ["不少于（≥）", "不高于（≤）", "区间"]
    assert column["count_bases"] == ["年末存量", "规划期新增"]
    targets = wb["指标目标"]
    formulas = {str(dv.sqref): dv.formula1 for dv in targets.data_validations.dataValidation}
    assert formulas["B4:B303"] == f"'{LISTS_SHEET}'!$A$2:$A$30"  # 指标
    assert formulas["D4:D303"] == f"'{LISTS_SHEET}'!$B$2:$B$5"  # 目标类型
    assert formulas["E4:E303"] == f"'{LISTS_SHEET}'!$C$2:$C$4"  # 比较符
    assert "规划原文" in [c.value for c in targets[3]] and "必填" in targets.cell(2, 11).value
    # the instructions tell a planner where the workbook goes and what happens to a mistake
    text = "\n".join(str(c.value) for c in wb["填写说明"]["A"] if c.value)
    assert "landing/plans/" in text and "整个文件不被采用" in text and "待建指标" in text


def test_kpi_plan_template_writes_the_same_bytes_every_time(tmp_path):
    digests = []
    for name in ("t.xlsx", "again.xlsx"):
        out = tmp_path / name
        proc = subprocess.run([sys.executable, "-m", "daxing_kpi.cli", "plan-template", "--output", str(out)],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == str(out.resolve())
        digests.append(hashlib.sha256(out.read_bytes()).hexdigest())
    assert digests[0] == digests[1]  # a re-sent unchanged file is recognised by its SHA-256
    # the command writes what write_workbook writes
    mine = openpyxl.load_workbook(write_workbook(tmp_path / "mine.xlsx"))
    theirs = openpyxl.load_workbook(out)
    assert mine.sheetnames == theirs.sheetnames
    for name in mine.sheetnames:
        assert [[c.value for c in r] for r in mine[name].iter_rows()] == [[c.value for c in r] for r in theirs[name].iter_rows()]
    # a blank template is no plan: kpi plan-check says why and exits 1
    check = subprocess.run([sys.executable, "-m", "daxing_kpi.cli", "plan-check", str(out)], capture_output=True, text=True, timeout=120)
    assert check.returncode == 1
    assert "工作表“规划”：没有填写规划（应填写一行）。" in check.stdout and "工作表“指标目标”：没有填写任何目标。" in check.stdout


# ------------------------------------------------------------------------------------------ validation


def write(tmp_path, rows: dict, name="plan.xlsx") -> Path:
    return write_workbook(tmp_path / name, **rows)


def test_the_example_plan_is_valid_and_has_every_kind_of_target(tmp_path):
    rows = example_plan_rows()
    book = read_workbook(write(tmp_path, rows))
    assert book.ok, [p.text_zh for p in book.problems]
    assert book.plan["is_example"] is True and "示例" in book.plan["name_zh"] and "示例" in book.plan["short_name_zh"]
    assert (book.plan["period_start_year"], book.plan["baseline_year"]) == (CUTOFF.year, CUTOFF.year - 1)
    kinds = [t["target_kind"] for t in book.targets]
    assert 13 <= len(kinds) <= 17
    assert {"reach_by_year", "hold_every_year", "range", "direction_only"} <= set(kinds)
    assert len(book.milestones) >= 1 and all(m["kpi_id"] for m in book.milestones)
    missing = [t for t in book.targets if t["measurement_status"] == "not_yet_measurable"]
    assert len(missing) == 1 and missing[0]["kpi_id"] is None and missing[0]["indicator_name_zh"] == "居家养老服务满意度"
    assert {t["count_basis"] for t in book.targets if t["kpi_id"]} == {None, "stock", "new_in_period"}
    assert all(t["source_clause_zh"].startswith("（示例）") for t in book.targets)
    assert all("示例" in s["title_zh"] for s in book.sections)


def broken_example() -> dict:
    """The example plan with one mistake of each kind, each in its own cell (rows: see FIRST_DATA_ROW)."""
    rows = copy.deepcopy(example_plan_rows(2026))
    t = rows["targets"]
    t[6]["kpi_name"] = "养老床位数"  # unknown KPI: row 10
    t[1]["target_year"] = 2031  # outside the period 2026-2030: row 5
    t[2]["source_clause_zh"] = None  # empty clause: row 6
    t[4]["comparator"] = "不高于（≤）"  # disagrees with the KPI's direction (increase): row 8
    t[5]["target_value_upper"] = 40  # range upper bound below the lower one (50): row 9
    t[7]["target_value"] = 45  # a direction-only target with a value: row 11
    t[8]["target_value"] = "七十五"  # not a number: row 12
    t[9]["count_basis"] = "年末存量"  # a count basis for a rate KPI: row 13
    t[10]["kpi_name"] = t[11]["kpi_name"]  # the same KPI twice (rows 14 and 15): reported on row 15
    t[13]["target_kind"] = "逐年提高"  # not a kind of the list: row 17
    rows["milestones"][1]["milestone_year"] = 2031  # after the target year (2030): milestones row 5
    rows["milestones"].append({"kpi_name": "社区工作者本社区化率", "milestone_year": 2028, "milestone_value": 55})  # a range: row 6
    rows["plan"]["baseline_year"] = 2026  # not before the period: plan row 4
    return rows


def test_each_kind_of_mistake_is_named_by_sheet_row_and_column(tmp_path):
    book = read_workbook(write(tmp_path, broken_example()))
    texts = [p.text_zh for p in book.problems]
    expected = [
        "工作表“规划”第4行“基期年”列：基期年2026年应早于规划期起始年2026年（通常为前一年）。",
        "工作表“指标目标”第10行“指标”列：“养老床位数”不是产品能计算的指标，请从下拉列表中选择；产品尚不能计算的指标请将“指标”留空，并填写“待建指标名称”。",
        "工作表“指标目标”第5行“目标年份”列：2031年不在规划期2026—2030年内。",
        "工作表“指标目标”第6行“规划原文”列：必须填写。目标所依据的规划原句，原文照录。",
        "工作表“指标目标”第8行“比较符”列：比较符与指标的期望方向不一致：该指标越高越好，应为“不少于（≥）”。",
        "工作表“指标目标”第9行“区间上限”列：区间上限40应大于目标值（下限）50。",
        "工作表“指标目标”第11行“目标值”列：“只有方向”的目标不填目标值。",
        "工作表“指标目标”第12行“目标值”列：“七十五”不是数字。",
        "工作表“指标目标”第13行“计数口径”列：计数口径只用于计数类指标（如机构数、示范点数），比率类指标不填。",
        "工作表“指标目标”第15行“指标”列：该指标在第14行已有目标；同一规划中每个指标只填一行。",
        "工作表“指标目标”第17行“目标类型”列：“逐年提高”不是目标类型，请从下拉列表选择（到目标年达到、每年达到、区间、只有方向）。",
        "工作表“阶段目标”第5行“阶段目标年份”列：阶段目标年份2031年应在规划期内、早于该目标的目标年份2030年。",
        "工作表“阶段目标”第6行“指标”列：只有目标类型为“到目标年达到”的目标才有阶段目标（“社区工作者本社区化率”为“区间”）。",
    ]
    assert sorted(texts) == sorted(expected), "\n".join(sorted(set(texts) ^ set(expected)))
    assert all(p.sheet and p.row and p.column for p in book.problems)
    # the same problems in English, naming the same places
    assert "sheet 指标目标, row 5, column 目标年份: 2031 is outside the plan period 2026-2030." in [p.text_en for p in book.problems]


def test_a_workbook_that_is_no_plan_workbook_is_named(tmp_path):
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"not a zip file")
    problems = read_workbook(junk).problems
    assert len(problems) == 1 and problems[0].text_zh.startswith("文件无法打开，请用 Excel 另存为 .xlsx 后重新放入")
    other = openpyxl.Workbook()
    other.active.title = "Sheet1"
    other.save(tmp_path / "other.xlsx")
    texts = [p.text_zh for p in read_workbook(tmp_path / "other.xlsx").problems]
    assert texts == ["工作表“规划”：缺少工作表“规划”，请使用产品提供的计划指标模板。",
                     "工作表“指标目标”：缺少工作表“指标目标”，请使用产品提供的计划指标模板。"]
    # a bundled plan cannot be replaced by a workbook
    rows = example_plan_rows(2026)
    rows["plan"]["plan_id"] = PLAN_14
    book = read_workbook(write(tmp_path, rows))
    assert [p.text_zh for p in book.problems] == [
        f"工作表“规划”第4行“规划编号”列：规划编号“{PLAN_14}”已被产品自带的规划使用，请换一个编号。"]


# ------------------------------------------------------------------------------------------ loading


def test_the_newest_accepted_workbook_of_a_plan_is_in_force(tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    folder = landing / "plans"
    good = example_plan_rows(2026)
    v1 = write(folder.parent, good, "plans/v1.xlsx")
    corrected = copy.deepcopy(good)
    corrected["targets"][0]["target_value"] = 72
    v2 = write(folder.parent, corrected, "plans/v2.xlsx")
    v3 = write(folder.parent, broken_example(), "plans/v3.xlsx")
    dup = folder / "v2_copy.xlsx"
    shutil.copyfile(v2, dup)
    for i, p in enumerate([v1, v2, dup, v3]):  # delivery order: v1, v2, its copy, then the broken v3
        os.utime(p, (1_700_000_000 + i, 1_700_000_000 + i))
    ingest = ingest_plan_workbooks(landing)
    outcome = {f.label: (f.outcome, f.superseded_by, f.duplicate_of) for f in ingest.files}
    assert outcome == {"plans/v1.xlsx": ("superseded", "plans/v2.xlsx", None), "plans/v2.xlsx": ("loaded", None, None),
                       "plans/v2_copy.xlsx": ("skipped_duplicate_file", None, "plans/v2.xlsx"),
                       "plans/v3.xlsx": ("rejected", None, None)}
    targets = ingest.frame("targets")
    assert set(targets._source_file) == {"plans/v2.xlsx"} and len(targets) == 15
    assert targets.loc[targets.row_no == 1, "target_value"].item() == 72
    assert ingest.rejected[0].reason_zh().startswith("计划指标工作簿“plans/v3.xlsx”有13处错误，未被采用：工作表“规划”第4行")

    # written like any source: raw tables, audit and quarantine, the rejected workbook's every row quarantined
    monkeypatch.setenv("KPI_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    totals = write_plan_workbooks(ingest, "test-run")
    assert totals == {"workbooks": 4, "plans_loaded": 1, "workbooks_rejected": 1, "workbooks_superseded": 1, "problems": 13}
    with duckdb.connect(str(tmp_path / "warehouse" / "work" / "work.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT _file_sha256) FROM raw.plan_workbook_targets").fetchone() == (15, 1)
        audit = con.execute("""SELECT file_name, source_id, status, rows_read, rows_loaded, rows_quarantined, rows_superseded
                               FROM audit.ingest_audit ORDER BY file_name, source_id""").df()
        v3_targets = audit[(audit.file_name == "plans/v3.xlsx") & (audit.source_id == "plan_workbook_targets")].iloc[0]
        assert (v3_targets.rows_read, v3_targets.rows_loaded, v3_targets.rows_quarantined) == (15, 0, 15)
        assert (audit.rows_read == audit.rows_loaded + audit.rows_quarantined + audit.rows_superseded).all()
        q = con.execute("""SELECT sheet, row_number, "column", reason FROM audit.quarantine
                           WHERE file_name = 'plans/v3.xlsx' AND source_id = 'plan_workbook_targets' ORDER BY row_number""").df()
        assert len(q) == 15  # ten problems on ten rows, and the five other rows quarantined with the workbook
        assert q[q.reason != REJECTED_ROW].shape[0] == 10 and q[q.reason == REJECTED_ROW].row_number.tolist() == [4, 7, 14, 16, 18]
        assert "第5行“目标年份”列：2031年不在规划期2026—2030年内" in " ".join(q.reason)
    assert (tmp_path / "warehouse" / "raw_parquet" / "plan_workbook_targets").is_dir()

    # an audit that knows files set aside (issue 15) records the workbook as rejected, with its reasons
    with duckdb.connect(str(tmp_path / "warehouse" / "work" / "work.duckdb")) as con:
        for col in ("rejected_reason_zh", "rejected_reason_en"):
            con.execute(f"ALTER TABLE audit.ingest_audit ADD COLUMN IF NOT EXISTS {col} VARCHAR")
    write_plan_workbooks(ingest, "test-run-2")
    with duckdb.connect(str(tmp_path / "warehouse" / "work" / "work.duckdb"), read_only=True) as con:
        rows = con.execute("""SELECT status, rows_loaded, rejected_reason_zh FROM audit.ingest_audit
                              WHERE run_id = 'test-run-2' AND file_name = 'plans/v3.xlsx'""").fetchall()
    assert len(rows) == 4 and {r[0] for r in rows} == {"rejected"} and {r[1] for r in rows} == {0}
    assert all(r[2] == ingest.rejected[0].reason_zh() for r in rows)


# ------------------------------------------------------------------------------------------ the sample and the night


def reference_scorecard(truth: pd.DataFrame, plan: dict, targets: pd.DataFrame, milestones: pd.DataFrame,
                        as_of_dates: list[dt.date]) -> pd.DataFrame:
    """Every measurable target x geography x as-of date of one plan, assessed by :mod:`progress_reference`."""
    from daxing_kpi.sample.generator import towns

    definitions = pd.read_csv(SEEDS_DIR / "kpi_catalog.csv").set_index("kpi_id")
    # the scorecard assesses the district and the towns/streets (special zones, unassigned: the district only)
    truth = truth[truth.geo_code.isin({DISTRICT_CODE} | {t.code for t in towns()})].copy()
    truth["period_end"] = [min(dt.date(int(y), 12, 31), CUTOFF) for y in truth.period_year]
    rows = []
    for t in targets[targets.kpi_id.notna()].itertuples():
        kpi = definitions.loc[t.kpi_id]
        basis = t.count_basis if isinstance(t.count_basis, str) else None
        checkpoints = {int(t.target_year): float(t.target_value) if pd.notna(t.target_value) else None}
        for m in milestones[milestones.kpi_id == t.kpi_id].itertuples():
            checkpoints[int(m.milestone_year)] = float(m.milestone_value)
        series_all = {g: judged_series(s, basis, plan["period_start_year"], plan["baseline_year"])
                      for g, s in truth[truth.kpi_id == t.kpi_id].groupby("geo_code")}
        district = series_all[DISTRICT_CODE].set_index("period_year").value
        for geo, series in series_all.items():
            own_target = geo == DISTRICT_CODE or kpi.unit != "count"
            cps = dict(checkpoints) if own_target else {int(t.target_year): None}  # no target, so no milestones
            upper = float(t.target_value_upper) if own_target and pd.notna(t.target_value_upper) else None
            known = series.dropna(subset=["value"])
            for as_of in as_of_dates:
                usable = known[(known.period_end <= as_of) & (known.period_year >= plan["baseline_year"])]
                y0 = t0 = yi = ti = None
                if len(usable):
                    t0, y0 = int(usable.period_year.iloc[0]), float(usable.value.iloc[0])
                    ti, yi = int(usable.period_year.iloc[-1]), float(usable.value.iloc[-1])
                years = sorted(cps)
                nxt = next((y for y in years if y >= (ti if ti is not None else plan["baseline_year"])), years[-1])
                held = None
                if t.target_kind == "hold_every_year" and cps[years[-1]] is not None:
                    period = usable[(usable.period_year >= plan["period_start_year"]) & (usable.period_year <= years[-1])]
                    held = int(sum(not is_met(t.target_kind, float(v), cps[years[-1]], kpi.direction) for v in period.value))
                status, method = kind_status(t.target_kind, y0, t0, yi, ti, cps[nxt], nxt, kpi.direction, upper, held)
                passed = [y for y in years if ti is not None and y <= ti]
                verdict = None
                if passed and (own_target or t.target_kind == "direction_only"):
                    value_then = usable.loc[usable.period_year == passed[-1], "value"]
                    verdict = verdict_of(t.target_kind, y0, float(value_then.iloc[0]) if len(value_then) else None,
                                         cps[passed[-1]], kpi.direction, upper, held)
                rows.append({"kpi_id": t.kpi_id, "geo_code": geo, "as_of_date": as_of, "status": status, "method": method,
                             "target_year": nxt, "target_value": cps[nxt], "verdict": verdict, "years_not_held": held,
                             "assessed_value": yi,
                             "contribution_share": (yi / district[ti] if not own_target and yi is not None and district.get(ti) else None)})
    return pd.DataFrame(rows)


def compare(expected: pd.DataFrame, actual: pd.DataFrame) -> list:
    key = ["kpi_id", "geo_code", "as_of_date"]
    actual = actual.copy()
    actual["as_of_date"] = pd.to_datetime(actual.as_of_date).dt.date
    merged = expected.merge(actual, on=key, how="outer", suffixes=("", "_mart"), indicator="side")
    problems = [("one side only", r.kpi_id, r.geo_code, r.as_of_date, r.side) for r in merged.itertuples() if r.side != "both"]
    for r in merged[merged.side == "both"].itertuples():
        for col in ("status", "method", "verdict", "target_year", "target_value", "years_not_held", "assessed_value", "contribution_share"):
            a, b = getattr(r, col), getattr(r, f"{col}_mart")
            missing_a, missing_b = a is None or (isinstance(a, float) and math.isnan(a)), b is None or pd.isna(b)
            same = (missing_a and missing_b) or (not missing_a and not missing_b and (
                a == b if isinstance(a, str) else math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)))
            if not same:
                problems.append((col, r.kpi_id, r.geo_code, r.as_of_date, a, b))
    return problems


def test_the_sample_ships_an_example_next_plan_assessed_as_of_the_latest_data(warehouse):
    plans = warehouse.query("SELECT * FROM plans ORDER BY period_start_year")
    assert plans.plan_id.tolist()[0] == PLAN_14 and len(plans) == 2
    example = plans.iloc[1]
    assert bool(example.is_example) and example.plan_source == "workbook" and "示例" in example.short_name_zh
    assert (example.period_start_year, example.baseline_year, example.last_target_year) == (CUTOFF.year, CUTOFF.year - 1, CUTOFF.year + 4)
    targets = warehouse.query("SELECT * FROM plan_targets WHERE plan_id = ?", [example.plan_id])
    assert len(targets) == 15 and targets.measurement_status.value_counts().to_dict() == {"measurable": 14, "not_yet_measurable": 1}
    assert targets.loc[targets.kpi_id.isna(), "name_zh"].item() == "居家养老服务满意度"
    milestones = warehouse.query("SELECT * FROM plan_target_milestones WHERE plan_id = ?", [example.plan_id])
    sections = warehouse.query("SELECT * FROM plan_sections WHERE plan_id = ? ORDER BY sort_order", [example.plan_id])
    assert len(milestones) == 2 and sections.section_code.tolist() == ["一", "二", "三", "四"]
    assert set(targets.section_code) <= set(sections.section_code)
    # the next plan's status as of the latest data, with its baseline year as the baseline
    card = warehouse.query("SELECT * FROM kpi_scorecard WHERE plan_id = ?", [example.plan_id])
    assert set(pd.to_datetime(card.as_of_date).dt.date) == {CUTOFF}  # its year ends are still ahead
    district = card[card.geo_level == "district"]
    assert len(district) == 14 and (district.baseline_year == CUTOFF.year - 1).all() and (district.latest_year == CUTOFF.year).all()
    expected = reference_scorecard(warehouse.ground_truth(), example.to_dict(), targets, milestones, [CUTOFF])
    assert compare(expected, card) == []
    # both plans sit side by side in kpi_catalog; the first plan's rows stay as they were
    catalog = warehouse.query("SELECT plan_id, count(*) AS n FROM kpi_catalog GROUP BY plan_id ORDER BY plan_id").set_index("plan_id").n
    assert catalog.to_dict() == {PLAN_14: 29, example.plan_id: 14}


def tree_digest(*roots: Path) -> str:
    h = hashlib.sha256()
    for root in roots:
        for p in sorted(root.rglob("*")):
            if p.is_file() and "target" not in p.relative_to(root).parts[:1] and "__pycache__" not in p.parts:
                h.update(str(p.relative_to(root)).encode())
                h.update(p.read_bytes())
    return h.hexdigest()


def added_plan() -> dict:
    """A plan of the years the sample has data for (period 2024-2028, baseline 2023), one target of each kind."""
    def t(kpi, kind, comparator, value, year, clause, upper=None, basis=None, indicator=None):
        return {"kpi_name": kpi, "indicator_name_zh": indicator, "target_kind": kind, "comparator": comparator, "target_value": value,
                "target_value_upper": upper, "target_year": year, "count_basis": basis, "plan_section": "一(一)1", "source_clause_zh": clause}
    return {
        "plan": {"plan_id": "test_plan_2024_2028", "name_zh": "测试规划", "short_name_zh": "测试", "period_start_year": 2024,
                 "period_end_year": 2028, "baseline_year": 2023},
        "targets": [
            t("节地生态安葬率", "到目标年达到", "不少于（≥）", 60, 2027, "到2027年节地生态安葬率达到60%。"),
            t("政务服务事项网上办理率", "每年达到", "不少于（≥）", 89, 2028, "网上办理率每年不低于89%。"),
            t("社区工作者本社区化率", "区间", "区间", 45, 2028, "本社区化率保持在45%至50%之间。", upper=50),
            t("居委会直接选举和户代表选举比例", "只有方向", None, None, 2028, "直接选举比例稳步提高。"),
            t("撤村建居完成村数", "到目标年达到", "不少于（≥）", 60, 2028, "完成60个村的撤村建居。", basis="规划期新增"),
            t("社区社会组织数", "到目标年达到", "不少于（≥）", 400, 2028, "社区社会组织达到400家。", basis="年末存量"),
            t(None, "到目标年达到", "不少于（≥）", 90, 2028, "社区养老服务驿站覆盖率达到90%。", indicator="社区养老服务驿站覆盖率"),
        ],
        "milestones": [{"kpi_name": "节地生态安葬率", "milestone_year": 2025, "milestone_value": 50}],
        "sections": [{"section_code": "一", "title_zh": "测试章节"}],
    }


@pytest.fixture(scope="module")
def night_with_new_plans(warehouse, tmp_path_factory):
    """A copy of the published sample warehouse; a new plan's workbook and a workbook with every kind of
    mistake dropped into landing/plans/; the nightly job run again. Returns (warehouse, before, after digests)."""
    base = tmp_path_factory.mktemp("new_plan")
    shutil.copytree(warehouse.root, base / "warehouse", symlinks=True)
    env = {**warehouse.env, "KPI_WAREHOUSE_DIR": str(base / "warehouse"), "KPI_DASHBOARD_DIR": str(base / "dashboard")}
    wh = Warehouse(base / "warehouse", base / "dashboard", env)
    before = {t: wh.query(f"SELECT * FROM {t}") for t in ("plans", "plan_targets", "plan_sections", "plan_target_milestones",
                                                            "kpi_catalog", "kpi_scorecard", "kpi_long")}
    code_before = tree_digest(SEEDS_DIR, DBT_PROJECT_DIR / "models", DBT_PROJECT_DIR / "macros", PACKAGE_DIR)
    landing = wh.root / "landing" / "plans"
    write_workbook(landing / "测试规划.xlsx", **added_plan())
    write_workbook(landing / "有错误的规划.xlsx", **broken_example())
    wh.run("run")
    code_after = tree_digest(SEEDS_DIR, DBT_PROJECT_DIR / "models", DBT_PROJECT_DIR / "macros", PACKAGE_DIR)
    return wh, before, code_before, code_after


def test_a_plan_added_as_a_workbook_appears_with_the_right_statuses(night_with_new_plans):
    wh, before, code_before, code_after = night_with_new_plans
    assert code_before == code_after  # no file of the code or of seeds/ changed
    plans = wh.query("SELECT * FROM plans ORDER BY plan_id")
    assert "test_plan_2024_2028" in set(plans.plan_id) and len(plans) == 3
    new = plans.set_index("plan_id").loc["test_plan_2024_2028"]
    assert new.plan_source == "workbook" and not new.is_example and str(new.mid_term_review_date)[:10] == "2026-12-31"
    targets = wh.query("SELECT * FROM plan_targets WHERE plan_id = 'test_plan_2024_2028'")
    assert len(targets) == 7 and targets.loc[targets.kpi_id.isna(), "measurement_status"].item() == "not_yet_measurable"
    milestones = wh.query("SELECT * FROM plan_target_milestones WHERE plan_id = 'test_plan_2024_2028'")
    card = wh.query("SELECT * FROM kpi_scorecard WHERE plan_id = 'test_plan_2024_2028'")
    dates = sorted(set(pd.to_datetime(card.as_of_date).dt.date))
    assert dates == [dt.date(2024, 12, 31), dt.date(2025, 12, 31), CUTOFF]  # 2026-12-31 and later: no data yet
    expected = reference_scorecard(wh.ground_truth(), new.to_dict(), targets, milestones, dates)
    assert len(expected) == len(card) > 6 * 3
    assert compare(expected, card) == []
    # every kind is there, and the milestone of 2025 got its verdict at the end of 2025
    assert set(card.target_kind) == {"reach_by_year", "hold_every_year", "range", "direction_only"}
    eco = card[(card.kpi_id == "funeral.eco_burial_rate") & (card.geo_level == "district")].set_index("as_of_date")
    assert eco.loc[pd.Timestamp("2025-12-31"), "verdict_year"] == 2025 and eco.loc[pd.Timestamp("2025-12-31"), "is_milestone_target"]


def test_the_first_plans_published_rows_are_identical_after_adding_a_plan(night_with_new_plans):
    wh, before, _, _ = night_with_new_plans
    for table, frame in before.items():
        after = wh.query(f"SELECT * FROM {table}")
        if table == "kpi_long":  # the plan in force: the first plan's years stay the first plan's
            keep = lambda f: f[f.period_year <= 2023].reset_index(drop=True)  # noqa: E731 - the added plan starts in 2024
        else:
            keep = lambda f: f[f.plan_id == PLAN_14].reset_index(drop=True)  # noqa: E731
        cols = list(frame.columns)
        order = [c for c in ("plan_id", "kpi_id", "indicator_name_zh", "geo_code", "as_of_date", "period_year", "section_code",
                             "milestone_year") if c in cols]
        a = keep(frame).sort_values(order).reset_index(drop=True)
        b = keep(after[cols]).sort_values(order).reset_index(drop=True)
        assert len(a) > 0 or table == "plan_target_milestones", table
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=table)


def test_a_workbook_with_mistakes_is_rejected_and_the_night_publishes_everything_else(night_with_new_plans):
    wh, _, _, _ = night_with_new_plans
    audit = wh.query("SELECT * FROM ingest_audit WHERE file_name = 'plans/有错误的规划.xlsx'")
    assert len(audit) == 4 and (audit.rows_loaded == 0).all() and audit.rows_quarantined.sum() == audit.rows_read.sum() > 0
    assert set(audit.status) == {"rejected"}  # a file set aside (issue 15), its reason naming sheet, row and column
    assert audit.rejected_reason_zh.str.startswith("计划指标工作簿“plans/有错误的规划.xlsx”有13处错误，未被采用：工作表“规划”第4行“基期年”列").all()
    reasons = " ".join(audit.quarantine_reasons)
    assert "工作表“指标目标”第5行“目标年份”列：2031年不在规划期2026—2030年内。" in reasons
    assert "工作表“指标目标”第10行“指标”列：“养老床位数”不是产品能计算的指标" in reasons
    assert "工作表“指标目标”第6行“规划原文”列：必须填写" in reasons
    # nothing of it reached the plans; the run published (a newer publication than the sample's)
    assert wh.query("SELECT count(*) AS n FROM plan_targets WHERE source_clause_zh = '（示例）到2030年，节地生态安葬率提升至75%。'").n[0] == 1
    runs = wh.query("SELECT status FROM pipeline_runs ORDER BY started_at")
    assert runs.status.tolist()[-1] == "published"
