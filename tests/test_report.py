"""The review report (issue 17.5, 18.4): ``kpi report`` and the nightly ``review_reports`` asset.

Built from the session's one published warehouse (``conftest.warehouse``): its landing folder holds the
generated sample and a filled explanations workbook (``report_sample``), so its nightly run already wrote the
final review report with the planners' explanations; these tests read that report, and make others from the
same published database (no second run of the job).

Figures are compared with the published ``kpi_scorecard`` through this module's own formatting (counts whole,
others to one decimal), two rows by hand from the sample generator's ground truth, explanations with what the
workbook says, and the PDF's text (PDFium) with the .docx's table rows.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
from pathlib import Path

import docx
import duckdb
import pandas as pd
import pypdfium2
import pytest
from report_sample import FILLER_NAME, FILLER_PHONE, PHONE_IN_TEXT, filled_values

from daxing_kpi.report import explanations

HEADER = ["序号", "指标（规划条目）", "单位", "基期值", "评估值", "目标值", "差距", "完成程度", "评估结论"]
VERDICT_ZH = {"achieved": "已实现目标", "not_achieved": "未实现目标", "deterioration": "退步"}


def kpi(warehouse, *args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "daxing_kpi.cli", *args], env=env or warehouse.env,
                          capture_output=True, text=True, timeout=600)


def number(v, unit: str) -> str:
    if v is None or pd.isna(v):
        return "—"
    return f"{round(v):,}" if unit == "count" else f"{v:,.1f}"


@pytest.fixture(scope="module")
def final(warehouse) -> pd.DataFrame:
    """District rows of the final review, with the catalog's names, units and plan sections."""
    df = warehouse.query("""
        SELECT s.*, c.name_zh, c.unit_zh, c.plan_section
        FROM kpi_scorecard s JOIN kpi_catalog c USING (plan_id, kpi_id)
        WHERE s.review = 'final' AND s.geo_level = 'district'""")
    # the value a target is judged on (count_basis new_in_period: the additions within the plan period)
    df["latest_value"] = df.assessed_value.where(df.assessed_value.notna(), df.latest_value)
    df["baseline_value"] = df.assessed_baseline_value.where(df.assessed_baseline_value.notna(), df.baseline_value)
    return df


@pytest.fixture(scope="module")
def nightly(warehouse, final) -> dict:
    """The report the nightly job wrote for the plan whose final review is the latest."""
    plan = final.sort_values("as_of_date").plan_id.iloc[-1]
    folder = warehouse.root / "reports" / plan
    docs = sorted(folder.glob("*报告.docx"))
    assert len(docs) == 1, sorted(p.name for p in folder.iterdir())
    return {"plan": plan, "folder": folder, "docx": docs[0], "pdf": docs[0].with_suffix(".pdf"),
            "doc": docx.Document(str(docs[0]))}


def target_table(doc) -> list[list[str]]:
    tables = [t for t in doc.tables if [c.text for c in t.rows[0].cells] == HEADER]
    assert len(tables) == 1
    return [[c.text for c in row.cells] for row in tables[0].rows[1:]]


def pdf_text(path: Path) -> tuple[int, str]:
    pdf = pypdfium2.PdfDocument(str(path))
    try:
        return len(pdf), "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()


def squash(text: str) -> str:
    return re.sub(r"\s", "", text)


# -- the nightly report ------------------------------------------------------------------------------------


def test_nightly_job_writes_the_report_docx_pdf_and_workbook(warehouse, nightly):
    assert "review_reports" in warehouse.first_run_output
    assert nightly["pdf"].is_file() and nightly["pdf"].stat().st_size > 50_000
    assert len(list((nightly["folder"] / "charts").glob("*.png"))) >= 20
    assert len(list(nightly["folder"].glob("*情况说明填报表.xlsx"))) == 1


def warehouse_unmeasurable(nightly) -> list:
    """Targets of the plan no KPI measures yet (plan_targets, 待建指标), when plans are published as data."""
    with duckdb.connect(str(nightly["folder"].parents[1] / "analytics.duckdb"), read_only=True) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "plan_targets" not in tables:
            return []
        return con.execute("SELECT * FROM plan_targets WHERE plan_id = ? AND measurement_status = 'not_yet_measurable'",
                           [nightly["plan"]]).fetchall()


def test_docx_has_one_row_per_target_with_the_scorecards_values(nightly, final):
    rows = target_table(nightly["doc"])
    mine = final[final.plan_id == nightly["plan"]].set_index("name_zh")
    assert len(rows) == len(mine) + len(warehouse_unmeasurable(nightly))
    seen = set()
    for row in rows[:len(mine)]:  # the measured targets first, in the plan's order
        name = re.sub(r"（[^（）]*(\([^()]*\)[^（）]*)*）$", "", row[1])
        s = mine.loc[name]
        seen.add(name)
        assert row[2] == s.unit_zh, name
        assert row[3].split("（")[0] == number(s.baseline_value, s.unit), name
        assert row[4] == number(s.latest_value, s.unit), name
        if pd.notna(s.target_value):  # every bundled target is "at least": gap = target - value, completion = value / target
            assert row[5] == "≥" + number(s.target_value, s.unit), name
            gap = s.target_value - s.latest_value
            assert row[6] == ("持平" if number(abs(gap), s.unit) in ("0", "0.0") else
                              f"差{number(gap, s.unit)}" if gap > 0 else f"超{number(-gap, s.unit)}"), name
            assert row[7] == f"{s.latest_value / s.target_value * 100:.1f}%", name
        assert row[8] == VERDICT_ZH[s.verdict], name
    assert seen == set(mine.index)
    unmeasurable = warehouse_unmeasurable(nightly)
    assert [r[8] for r in rows[len(mine):]] == ["待建指标"] * len(unmeasurable)


def test_two_rows_checked_by_hand_against_the_samples_ground_truth(warehouse, nightly):
    """Eco-burial rate and care centres in 2025, from the generator's truth: the docx says the same."""
    truth = warehouse.ground_truth()
    d = truth[(truth.geo_code == "110115") & (truth.period_year == 2025)].set_index("kpi_id").value
    rows = {r[1].split("（")[0]: r for r in target_table(nightly["doc"])}
    eco = d["funeral.eco_burial_rate"]  # burials: eco ÷ all × 100, target 65 %
    r = rows["节地生态安葬率"]
    assert r[2:6] == ["%", r[3], f"{eco:.1f}", "≥65.0"]
    assert r[6] == (f"差{65 - eco:.1f}" if eco < 65 else f"超{eco - 65:.1f}")
    assert r[7] == f"{eco / 65 * 100:.1f}%" and r[8] == ("未实现目标" if eco < 65 else "已实现目标")
    centres = int(d["eldercare.care_centers_operating"])  # centres operating, target 20
    r = rows["镇(街)养老照料中心建成运营数"]
    assert r[4:7] == [str(centres), "≥20", "持平" if centres == 20 else (f"差{20 - centres}" if centres < 20 else f"超{centres - 20}")]
    assert r[8] == ("已实现目标" if centres >= 20 else "未实现目标")


def explanation_paragraphs(doc) -> dict[str, dict[str, str]]:
    """Section 三: heading name -> {情况说明: ..., 下一步工作: ...}."""
    out, current, in_section = {}, None, False
    for p in doc.paragraphs:
        text = p.text.strip()
        if re.match(r"^[一二三四五六七八九十]+、", text):
            in_section = "情况说明" in text
            continue
        if not in_section:
            continue
        m = re.match(r"^（[一二三四五六七八九十]+）(.+)（(未实现目标|退步)）$", text)
        if m:
            current = out.setdefault(m.group(1), {})
        elif current is not None and "：" in text and text.split("：", 1)[0] in ("情况说明", "下一步工作", "责任单位"):
            key, value = text.split("：", 1)
            current[key] = value
    return out


def test_filled_explanations_appear_and_missing_ones_read_pending(nightly, final):
    mine = final[final.plan_id == nightly["plan"]]
    missed = mine[mine.verdict.isin(["not_achieved", "deterioration"])]
    got = explanation_paragraphs(nightly["doc"])
    assert set(got) == set(missed.name_zh)
    filled = filled_values()
    with_text, pending = [], []
    for r in missed.itertuples(index=False):
        expected = filled.get((r.plan_id, r.kpi_id))
        if expected:
            assert got[r.name_zh]["情况说明"] == expected["情况说明"].replace(PHONE_IN_TEXT, "***"), r.kpi_id
            assert got[r.name_zh]["下一步工作"] == expected["下一步工作"]
            assert got[r.name_zh]["责任单位"] == "规划发展科"
            with_text.append(r.kpi_id)
        else:
            assert got[r.name_zh] == {"情况说明": "待填写", "下一步工作": "待填写"}, r.kpi_id
            pending.append(r.kpi_id)
    assert with_text and pending  # the sample explains every other target: both cases occur


def test_pdf_has_a_reasonable_page_count_and_the_same_figures(nightly):
    pages, text = pdf_text(nightly["pdf"])
    assert 10 <= pages <= 80, pages
    flat = squash(re.sub(r"—\s*\d+\s*—", "", text))  # page footers sit between a page's last line and the next page's first
    rows = target_table(nightly["doc"])
    for row in rows:  # every row of 表2, cell after cell, as in the .docx
        assert squash("".join(row)) in flat, row
    got = explanation_paragraphs(nightly["doc"])
    for name, parts in got.items():
        assert squash(f"情况说明：{parts['情况说明']}") in flat, name
    assert "待填写" in flat and "附件1" in flat and "附件2" in flat
    assert re.search(r"—\s*\d+\s*—", text)  # page numbers — N —


def test_no_personal_data_of_the_workbook_is_published_or_reported(warehouse, nightly):
    needles = (FILLER_NAME, FILLER_PHONE, PHONE_IN_TEXT)
    with duckdb.connect(str(warehouse.analytics), read_only=True) as con:
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall():
            cols = [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()]
            cond = " OR ".join(f'CAST("{c}" AS VARCHAR) LIKE ?' for c in cols for _ in needles)
            n = con.execute(f'SELECT count(*) FROM "{table}" WHERE {cond}', [f"%{x}%" for _ in cols for x in needles]).fetchone()[0]
            assert n == 0, table
        assert con.execute("SELECT count(*) FROM review_explanations").fetchone()[0] == len(filled_values())
    text = "\n".join(p.text for p in nightly["doc"].paragraphs) + pdf_text(nightly["pdf"])[1]
    assert not any(x in text for x in needles)


# -- kpi report ------------------------------------------------------------------------------------------


def test_kpi_report_for_a_plan_and_review_into_a_folder(warehouse, nightly, final, tmp_path):
    proc = kpi(warehouse, "report", "--plan", nightly["plan"], "--review", "mid_term", "--output", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    doc = docx.Document(str(next(tmp_path.glob("*中期评估报告.docx"))))
    assert next(tmp_path.glob("*中期评估报告.pdf")).is_file()
    mid = warehouse.query("SELECT c.name_zh, coalesce(s.assessed_value, s.latest_value) AS latest_value, s.unit"
                          " FROM kpi_scorecard s JOIN kpi_catalog c USING (plan_id, kpi_id)"
                          " WHERE s.review = 'mid_term' AND s.geo_level = 'district' AND s.plan_id = ?", [nightly["plan"]])
    rows = {r[1].split("（")[0]: r for r in target_table(doc)}
    for r in mid.itertuples(index=False):
        assert rows[r.name_zh][4] == number(r.latest_value, r.unit)
    assert "评估基准日：2023年12月31日" in "\n".join(p.text for p in doc.paragraphs)

    default = kpi(warehouse, "report", "--output", str(tmp_path / "default"))
    assert default.returncode == 0, default.stderr
    assert f"{len(final[final.plan_id == nightly['plan']])} targets" in default.stdout

    unknown = kpi(warehouse, "report", "--plan", "no_such_plan", "--output", str(tmp_path / "x"))
    assert unknown.returncode == 1 and "unknown plan 'no_such_plan'" in unknown.stderr
    missing = kpi(warehouse, "report", env={**warehouse.env, "KPI_WAREHOUSE_DIR": str(tmp_path / "empty")})
    assert missing.returncode == 4 and "does not exist yet" in missing.stderr


def test_without_a_chinese_font_the_docx_is_written_and_the_report_says_why(warehouse, nightly, tmp_path, monkeypatch):
    from daxing_kpi.report import build

    monkeypatch.setattr(build, "find_fonts", lambda: None)
    with pytest.raises(build.ReportIncomplete, match="fonts-noto-cjk") as err:
        build.build_report(warehouse.analytics, nightly["plan"], "final", tmp_path)
    result = err.value.result
    assert result.docx.is_file() and result.pdf is None and not list(tmp_path.glob("*.pdf"))
    doc = docx.Document(str(result.docx))
    assert len(target_table(doc)) == len(target_table(nightly["doc"]))
    assert any("本机未安装中文字体" in p.text for p in doc.paragraphs) and not doc.inline_shapes


# -- the explanations workbook --------------------------------------------------------------------------


def test_template_has_one_row_per_target_and_a_filled_copy_checks_clean(warehouse, nightly, final, tmp_path):
    out = tmp_path / "template.xlsx"
    proc = kpi(warehouse, "report", "--plan", nightly["plan"], "--template", str(out))
    assert proc.returncode == 0, proc.stderr
    sheet = pd.read_excel(out, sheet_name="情况说明", header=2, dtype=str)
    assert list(sheet.columns) == [c[0] for c in explanations.COLUMNS]
    mine = final[final.plan_id == nightly["plan"]]
    assert sorted(sheet["指标编码"]) == sorted(mine.kpi_id) and set(sheet["规划编码"]) == {nightly["plan"]}
    missed = set(mine[mine.verdict.isin(["not_achieved", "deterioration"])].kpi_id)
    from openpyxl import load_workbook

    ws = load_workbook(out)["情况说明"]
    col = [c.value for c in ws[3]].index("情况说明") + 1
    shaded = {ws.cell(row=r, column=3).value for r in range(4, ws.max_row + 1)
              if ws.cell(row=r, column=col).fill.fgColor.rgb.endswith(explanations.NEEDS_FILL)}
    assert shaded == missed
    kpi_id = sorted(missed)[0]
    filled = explanations.write_filled_copy(out, tmp_path / "filled.xlsx", {kpi_id: {"情况说明": "已说明", "填报日期": "2026-11-30"}})
    check = kpi(warehouse, "report", "--check-explanations", str(filled))
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"{len(mine)} 行，可采用 {len(mine)} 行" in check.stdout and "校验通过" in check.stdout
    assert "尚待填写情况说明的指标" in check.stdout


def test_a_workbook_with_mistakes_is_checked_with_the_sheet_row_and_column(warehouse, nightly, tmp_path):
    out = tmp_path / "template.xlsx"
    assert kpi(warehouse, "report", "--plan", nightly["plan"], "--template", str(out)).returncode == 0
    from openpyxl import load_workbook

    wb = load_workbook(out)
    ws = wb["情况说明"]
    ws.cell(row=4, column=3, value="eldercare.no_such_kpi")  # 指标编码 changed
    ws.cell(row=5, column=17, value="去年年底")  # 填报日期 unreadable
    ws.cell(row=6, column=2, value="no_such_plan")  # a plan that does not exist
    ws.cell(row=7, column=3, value=ws.cell(row=8, column=3).value)  # a target listed twice
    wb.save(tmp_path / "bad.xlsx")
    proc = kpi(warehouse, "report", "--check-explanations", str(tmp_path / "bad.xlsx"))
    assert proc.returncode == 1
    out_text = proc.stdout
    assert f"{len(target_table(nightly['doc']))} 行，可采用 {len(target_table(nightly['doc'])) - 2} 行" in out_text
    assert "工作表“情况说明”第4行“指标编码”列：不是可选的值" in out_text and "eldercare.no_such_kpi" in out_text
    assert "第4行" in out_text.split("eldercare.no_such_kpi")[0] and "该行未采用" in out_text
    assert "第5行“填报日期”列：日期无法识别" in out_text and "去年年底" in out_text
    assert "去年年底”），该格按空白处理，该行其余内容照常采用" in out_text  # a field fault: the explanation is still used
    assert "第6行" in out_text and "规划编码不存在" in out_text
    assert "第8行“规划编码+指标编码”列：同一指标在表中出现了两次（与第7行重复），该行未采用" in out_text


def test_the_nightly_asset_runs_after_publication_and_holds_nothing_back():
    from daxing_kpi.definitions import defs

    graph = defs.resolve_asset_graph()
    node = graph.get(defs.resolve_assets_def("review_reports").key)
    assert {k.to_user_string() for k in node.parent_keys} == {"kpi_dashboard"}  # the publication's last step
    assert not node.child_keys  # neither the dashboard nor anything else waits for the reports
    assert node.group_name == "publish"


def test_the_nightly_asset_fails_visibly_without_a_chinese_font(warehouse, tmp_path, monkeypatch):
    import dagster as dg

    from daxing_kpi.defs import report as report_defs

    root = tmp_path / "wh"
    root.mkdir()
    shutil.copy(warehouse.analytics, root / "analytics.duckdb")
    monkeypatch.setenv("KPI_WAREHOUSE_DIR", str(root))
    monkeypatch.setattr("daxing_kpi.report.build.find_fonts", lambda: None)
    result = dg.materialize([report_defs.review_reports], raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "fonts-noto-cjk" in str(failure.event_specific_data.error)
    assert list((root / "reports").rglob("*.docx")) and not list((root / "reports").rglob("*.pdf"))


def test_latest_review_reports_progress_statuses_at_the_data_cut_off(warehouse, nightly, tmp_path):
    """`--review latest`: the scorecard at the data cut-off (is_data_cutoff), status words, no explanations section."""
    from daxing_kpi.report import build

    result = build.build_report(warehouse.analytics, nightly["plan"], "latest", tmp_path)
    latest = warehouse.query(
        "SELECT c.name_zh, s.* FROM kpi_scorecard s JOIN kpi_catalog c USING (plan_id, kpi_id)"
        " WHERE s.plan_id = ? AND s.geo_level = 'district' AND s.is_data_cutoff", [nightly["plan"]]).set_index("name_zh")
    doc = docx.Document(str(result.docx))
    rows = {r[1].split("（")[0]: r for r in target_table(doc)}
    assert set(latest.index) <= set(rows)
    status_zh = {"target_achieved": "已实现目标", "target_not_achieved": "未实现目标", "deterioration": "退步",
                 "on_track": "进展顺利", "needs_acceleration": "需加快进度", "limited_progress": "进展有限"}
    for name, s in latest.iterrows():
        value = s.assessed_value if pd.notna(s.assessed_value) else s.latest_value
        assert rows[name][4].split("（")[0] == number(value, s.unit), name
        assert rows[name][8] == (VERDICT_ZH[s.verdict] if pd.notna(s.verdict) else status_zh[s.status]), name
    text = "\n".join(p.text for p in doc.paragraphs)
    cutoff = latest.as_of_date.iloc[0]
    assert f"评估基准日：{cutoff.year}年{cutoff.month}月{cutoff.day}日" in text and "情况说明及下一步工作" not in text

    # the same report again the same day: its files are kept as they are (not written again) ...
    files = {p: p.stat().st_mtime_ns for p in (result.docx, result.pdf, result.template)}
    again = build.build_report(warehouse.analytics, nightly["plan"], "latest", tmp_path)
    assert not result.kept and again.kept and "files kept" in again.summary()
    assert {p: p.stat().st_mtime_ns for p in (again.docx, again.pdf, again.template)} == files
    # ... and written again when a word of it changes: here its date, on another day
    later = build.build_report(warehouse.analytics, nightly["plan"], "latest", tmp_path, today=dt.date(2031, 1, 2))
    assert not later.kept and later.docx.stat().st_mtime_ns > files[result.docx]
    assert "2031年1月2日" in "\n".join(p.text for p in docx.Document(str(later.docx)).paragraphs)
    assert "2031年1月2日" in squash(pdf_text(later.pdf)[1])


def test_the_report_states_the_data_cut_off_of_its_figures(warehouse, nightly):
    """数据截至 (issue 17.8): the delivery cut-off of the plan's KPIs (dq_kpi_status), not of the planners' workbooks."""
    lo, hi = warehouse.query(
        "SELECT min(delivery_cutoff_date), max(delivery_cutoff_date) FROM dq_kpi_status"
        " WHERE kpi_id IN (SELECT kpi_id FROM kpi_catalog WHERE plan_id = ?)", [nightly["plan"]]).iloc[0]
    cn = lambda d: f"{d.year}年{d.month}月{d.day}日"  # noqa: E731
    expected = cn(hi) if lo == hi else f"{cn(lo)}至{cn(hi)}"
    assert any(p.text.startswith(f"数据截至：{expected}") for p in nightly["doc"].paragraphs[:6])
