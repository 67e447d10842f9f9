"""Build the review report of one plan: .docx, PDF, charts and the explanations workbook, in one folder.

:func:`build_report` reads the published database only (:mod:`daxing_kpi.report.data`), draws one chart
per KPI (:mod:`daxing_kpi.report.charts`), lays the report out once (:mod:`daxing_kpi.report.content`) and
writes it as Word (:mod:`daxing_kpi.report.render_docx`) and PDF (:mod:`daxing_kpi.report.render_pdf`),
plus the explanations workbook for the planners (:mod:`daxing_kpi.report.explanations`). Output folder
(default): ``$KPI_WAREHOUSE_DIR/reports/<plan_id>/``::

    <plan name><review>报告.docx / .pdf       the report
    <plan name><review>情况说明填报表.xlsx     the workbook to fill in (one row per target)
    charts/<kpi_id>.png                       the charts (copied from the last build when unchanged)
    .report-digest                            what the files were written from (see below)

Files are written beside the old ones and moved into place one by one (a reader never opens a
half-written file). A report whose words, tables, charts, workbook rows, fonts and code are those the folder's
files were written from (:func:`report_digest`, the date of the report included) is not written again: a second
run on the same day with the same figures keeps the files (``ReportResult.kept``). Without a Chinese font
(:mod:`daxing_kpi.report.fonts`) the .docx and the workbook are written without charts, no PDF is, and
:class:`ReportIncomplete` is raised after writing them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from daxing_kpi.analyst import connect_published  # the analysts' locked-down read-only connection
from daxing_kpi.paths import analytics_db_path, reports_dir
from daxing_kpi.report import charts as charts_mod
from daxing_kpi.report import content, explanations
from daxing_kpi.report.data import ReportData, load_report_data
from daxing_kpi.report.fonts import MISSING_MESSAGE, find_fonts
from daxing_kpi.report.render_docx import write_docx


class ReportIncomplete(RuntimeError):
    """The .docx was written, but not the PDF or the charts (no Chinese font on the machine)."""

    def __init__(self, result: "ReportResult", message: str):
        super().__init__(message)
        self.result = result


@dataclass
class ReportResult:
    data: ReportData
    folder: Path
    docx: Path
    pdf: Path | None
    template: Path
    charts: list[Path] = field(default_factory=list)
    fonts: str | None = None
    kept: bool = False  # the folder's files were written from the same content: not written again

    def summary(self) -> str:
        counts = content.verdict_counts(self.data.targets)
        from daxing_kpi.report import fmt

        parts = [f"{fmt.verdict_label(v)} {counts[v]}" for v in ("achieved", "not_achieved", "deterioration") if counts[v]]
        pending = sum(t.needs_explanation and not t.explanation for t in self.data.targets)
        return (f"{content.report_title(self.data)}: {len(self.data.targets)} targets ({', '.join(parts) or 'no verdicts'});"
                f" explanations missing for {pending}" + ("; unchanged since the last build, files kept" if self.kept else ""))


DIGEST_FILE = ".report-digest"


def report_digest(doc, template_title: str, template_rows, fonts) -> str:
    """What a report's files are written from, as a SHA-256 hex digest: the document's blocks (words, tables, the
    date line) with each chart's PNG bytes in place of its path, the explanations workbook's title and rows, the
    fonts, and the code (:func:`daxing_kpi.nightplan.code_fingerprint`, so a new renderer writes the files again)."""
    from daxing_kpi.nightplan import code_fingerprint

    def plain(obj):
        if isinstance(obj, Path):
            return hashlib.sha256(obj.read_bytes()).hexdigest() if obj.is_file() else str(obj)
        if isinstance(obj, (set, frozenset)):
            return sorted(obj)
        return str(obj)

    facts = {"doc": dataclasses.asdict(doc), "blocks": [type(b).__name__ for b in doc.blocks],
             "template": [template_title, template_rows], "fonts": fonts.describe() if fonts else None,
             "code": code_fingerprint()}
    return hashlib.sha256(json.dumps(facts, sort_keys=True, ensure_ascii=False, default=plain).encode("utf-8")).hexdigest()


def _safe(name: str) -> str:
    return re.sub(r'[\\/:*?"<>|\s]+', "_", name).strip("_")


def _move_into_place(tmp: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for src in sorted(tmp.rglob("*")):
        if src.is_file():
            dst = folder / src.relative_to(tmp)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)


def build_report(database: Path | str | None = None, plan_id: str | None = None, review: str = "final",
                 out_dir: Path | None = None, today: dt.date | None = None) -> ReportResult:
    """Write the report of ``plan_id`` (default: the plan whose ``review`` is the latest) from the published
    ``database``; returns what was written. Raises :class:`daxing_kpi.report.data.ReportError` for an
    unknown plan or review and :class:`ReportIncomplete` when the PDF could not be drawn."""
    db = Path(database) if database else analytics_db_path()
    if not db.exists():
        raise FileNotFoundError(f"the published database {db} does not exist yet: run `kpi run` first")
    with connect_published(db) as con:
        data = load_report_data(con, plan_id, review)
    folder = Path(out_dir) if out_dir else reports_dir() / _safe(data.plan.plan_id)
    folder.mkdir(parents=True, exist_ok=True)
    stem = _safe(content.report_title(data))
    fonts = find_fonts()
    with tempfile.TemporaryDirectory(dir=folder, prefix=".building-") as tmp_name:
        tmp = Path(tmp_name)
        chart_paths: dict[str, Path] | None = None
        if fonts is not None:
            chart_paths = {}
            for t in data.targets:
                series = data.series[data.series.kpi_id == t.kpi_id]
                if series.value.notna().any():
                    name = f"{_safe(t.kpi_id)}.png"  # last night's chart reused when it shows the same
                    chart_paths[t.kpi_id] = charts_mod.kpi_chart(t, series, fonts, tmp / "charts" / name, folder / "charts" / name)
        doc = content.build_document(data, chart_paths, today=today,
                                     chart_note=None if fonts else "本机未安装中文字体，图表未生成（安装 fonts-noto-cjk 后重新生成）。")
        template_title, template_rows = explanations.template_title(data), explanations.template_rows(data)
        template_name = f"{_safe(template_title)}.xlsx"
        digest = report_digest(doc, template_title, template_rows, fonts)
        digest_file = folder / DIGEST_FILE
        written = [folder / f"{stem}.docx", folder / template_name] + ([folder / f"{stem}.pdf"] if fonts else [])
        kept = (digest_file.is_file() and digest_file.read_text(encoding="utf-8").strip() == digest
                and all(f.is_file() for f in written))
        if not kept:
            write_docx(doc, tmp / f"{stem}.docx")
            explanations.write_template(tmp / template_name, template_title, template_rows)
            if fonts is not None:
                from daxing_kpi.report.render_pdf import write_pdf

                write_pdf(doc, tmp / f"{stem}.pdf", fonts)
            digest_file.unlink(missing_ok=True)  # until the new files are all in place
            old_charts = folder / "charts"
            if old_charts.exists():
                shutil.rmtree(old_charts)
            _move_into_place(tmp, folder)
            digest_file.write_text(digest + "\n", encoding="utf-8")
    result = ReportResult(
        data=data, folder=folder, docx=folder / f"{stem}.docx", pdf=folder / f"{stem}.pdf" if fonts else None,
        template=folder / template_name, charts=sorted((folder / "charts").glob("*.png")) if chart_paths else [],
        fonts=fonts.describe() if fonts else None, kept=kept)
    if fonts is None:
        raise ReportIncomplete(result, f"{result.docx} written without charts; no PDF: {MISSING_MESSAGE}")
    return result


def reports_due(database: Path | str | None = None) -> list[tuple[str, str]]:
    """(plan, review) pairs the nightly job writes: the final review of every plan whose final review has come."""
    db = Path(database) if database else analytics_db_path()
    from daxing_kpi.report.data import cutoff_date_sql

    with connect_published(db) as con:  # final reviews that have come: dated on or before the data cut-off
        return [(r[0], "final") for r in con.execute(
            f"SELECT DISTINCT plan_id FROM kpi_scorecard WHERE review = 'final' AND as_of_date <= {cutoff_date_sql(con)}"
            " ORDER BY plan_id").fetchall()]
