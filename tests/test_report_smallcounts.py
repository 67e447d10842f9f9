"""The review report's town/street annex hides small counts as the dashboard does (one rule:
:mod:`daxing_kpi.smallcounts`).

From the dashboard's tiny published database written by hand (``dashboard_tiny``), with ``t.rate`` made a
per-person KPI and 清源街道's 2025 value 3 persons of 100 (3.0 %): 3 is below the threshold of 5, so 清源 is
hidden; it is then the only hidden town/street of that KPI and year, so the next smallest, 林校路 (55 of 100),
is hidden too (the complementary rule); 兴丰 (62 of 100) is shown. The final review of 甲规划 (2025) is built
as .docx and PDF, and its annex is read back.
"""

from __future__ import annotations

import re

import dashboard_tiny as tiny
import docx
import duckdb
import pypdfium2
import pytest

from daxing_kpi import dashboard_data as dd
from daxing_kpi.dashboard import Site
from daxing_kpi.report.build import build_report
from daxing_kpi.report.data import load_report_data
from daxing_kpi.smallcounts import suppressed_mark

XINGFENG, LINXIAOLU, QINGYUAN = "110115001", "110115002", "110115003"
TOWN_HEADER = ["指标", "单位", "评估值", "目标值", "差距", "评估结论或进展"]
MARK = "已隐去（<5）"


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tiny.write(tmp_path_factory.mktemp("smallcounts") / "analytics.duckdb")
    with duckdb.connect(str(path)) as con:
        # columns the report reads that the dashboard's tiny database leaves out, as published
        con.execute("ALTER TABLE ingest_audit ADD COLUMN quarantine_reasons VARCHAR")
        con.execute("ALTER TABLE kpi_scorecard ADD COLUMN assessed_baseline_value DOUBLE")
        con.execute("UPDATE kpi_scorecard SET assessed_baseline_value = baseline_value")
        con.execute("UPDATE kpi_catalog SET is_per_person = true WHERE kpi_id = 't.rate'")
        con.execute("UPDATE kpi_observations SET numerator = 3, denominator = 100, value = 3.0"
                    f" WHERE kpi_id = 't.rate' AND geo_code = '{QINGYUAN}' AND period_year = 2025")
        con.execute("UPDATE kpi_scorecard SET latest_value = 3.0, assessed_value = 3.0, gap_to_target = 57.0, completion_rate = 0.05"
                    f" WHERE kpi_id = 't.rate' AND geo_code = '{QINGYUAN}' AND review = 'final'")
    return path


@pytest.fixture(scope="module")
def report(db, tmp_path_factory):
    return build_report(db, plan_id=tiny.PLAN_A, review="final", out_dir=tmp_path_factory.mktemp("report"))


def test_the_report_hides_the_towns_the_dashboard_hides(db):
    site = Site(dd.load_data(db), dd.load_labels())
    o = site.obs[(site.obs.kpi_id == "t.rate") & (site.obs.geo_level == "town_street") & (site.obs.period_year == 2025)]
    on_dashboard = set(o[o.is_suppressed.astype(bool)].geo_code)
    assert on_dashboard == {QINGYUAN, LINXIAOLU}
    with duckdb.connect(str(db), read_only=True) as con:
        towns = load_report_data(con, tiny.PLAN_A, "final").towns
    rate = towns[towns.kpi_id == "t.rate"]
    assert set(rate[rate.is_suppressed].geo_code) == on_dashboard
    assert not towns[towns.kpi_id == "t.count"].is_suppressed.any()  # not a per-person KPI: never hidden
    assert suppressed_mark() == dd.load_labels()["ui.suppressed"].format(threshold=5).zh == MARK


def _town_tables(document) -> dict[str, list[list[str]]]:
    """The annex's tables by town/street (in code order: 兴丰, 林校路, 清源), rows without the header."""
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in document.tables
              if [c.text for c in t.rows[0].cells] == TOWN_HEADER]
    assert len(tables) == 3
    return {code: t[1:] for code, t in zip((XINGFENG, LINXIAOLU, QINGYUAN), tables, strict=True)}


def test_docx_annex_shows_the_mark_instead_of_a_small_count(report):
    document = docx.Document(str(report.docx))
    towns = _town_tables(document)
    rate = {code: next(r for r in rows if r[0] == "测试覆盖率") for code, rows in towns.items()}
    assert rate[XINGFENG] == ["测试覆盖率", "%", "62.0", "60.0", "超2.0", "已实现目标"]
    # 3 persons in 清源: neither the value (3.0) nor its gap (57.0) nor its verdict; 林校路 hidden with it
    assert rate[QINGYUAN] == ["测试覆盖率", "%", MARK, "60.0", "—", MARK]
    assert rate[LINXIAOLU] == ["测试覆盖率", "%", MARK, "60.0", "—", MARK]
    assert not any("3.0" in cell or "57" in cell for cell in rate[QINGYUAN])
    assert not any("55" in cell for row in towns[LINXIAOLU] for cell in row)
    # the counts of 附件1 leave the hidden values out: 清源's missed target is not listed, 兴丰's achieved one is
    summary = next(t for t in document.tables if t.rows[0].cells[0].text == "镇（街）")
    rows = {r[0]: r for r in ([c.text for c in row.cells] for row in summary.rows[1:])}
    assert rows["兴丰街道"][:5] == ["兴丰街道", "1", "1", "0", "0"]
    assert rows["清源街道"] == ["清源街道", "0", "0", "0", "0", "1", "1", "无"]
    text = "\n".join(p.text for p in document.paragraphs)
    assert f"标注为“{MARK}”" in text and "小于5的数值不予显示" in text


def test_pdf_annex_shows_the_same_mark(report):
    pdf = pypdfium2.PdfDocument(str(report.pdf))
    try:
        text = re.sub(r"\s", "", "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf))))
    finally:
        pdf.close()
    annex = text[text.index("兴丰街道分指标评估情况"):]
    xingfeng = annex[:annex.index("林校路街道分指标评估情况")]
    linxiaolu = annex[annex.index("林校路街道分指标评估情况"):annex.index("清源街道分指标评估情况")]
    qingyuan = annex[annex.index("清源街道分指标评估情况"):]
    assert "测试覆盖率%62.060.0超2.0已实现目标" in xingfeng and MARK not in xingfeng
    assert f"测试覆盖率%{MARK}60.0—{MARK}" in qingyuan and "3.0" not in qingyuan and "57.0" not in qingyuan
    assert f"测试覆盖率%{MARK}60.0—{MARK}" in linxiaolu and "55.0" not in linxiaolu
