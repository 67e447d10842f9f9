"""The files set aside, for people: the operator's failure report, ``kpi run``'s summary, the quality page.

Every function reads the ingest audit of the working database (the latest load of each source) and
names each file with its reason in Chinese and English; none raises for a missing table (a new
warehouse has set nothing aside).
"""

from __future__ import annotations

import html

import duckdb
import pandas as pd

COLUMNS = ["source_id", "file_name", "rows_read", "rejected_reason_zh", "rejected_reason_en", "loaded_at", "run_id"]


def rejected_files(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Files set aside (status ``rejected``) at the latest load of their source: columns :data:`COLUMNS`."""
    try:
        return con.execute(
            f"""SELECT {', '.join(COLUMNS)} FROM audit.ingest_audit a
                WHERE status = 'rejected'
                  AND run_id = (SELECT max_by(run_id, loaded_at) FROM audit.ingest_audit b WHERE b.source_id = a.source_id)
                ORDER BY source_id, file_name"""
        ).df()
    except duckdb.Error:  # no audit yet, or one from before issue 15
        return pd.DataFrame(columns=COLUMNS)


def _open():
    from daxing_kpi.paths import work_db_path
    from daxing_kpi.warehouse import connect_work

    return connect_work(read_only=True) if work_db_path().exists() else None


def rejected_files_now() -> pd.DataFrame:
    """:func:`rejected_files` of the working database (empty when it does not exist or is busy)."""
    try:
        con = _open()
    except duckdb.Error:
        return pd.DataFrame(columns=COLUMNS)
    if con is None:
        return pd.DataFrame(columns=COLUMNS)
    with con:
        return rejected_files(con)


def report_lines(frame: pd.DataFrame | None = None) -> list[str]:
    """Lines for the operator's report listing every file set aside with its reasons; [] when none."""
    frame = rejected_files_now() if frame is None else frame
    if not len(frame):
        return []
    lines = [f"搁置的文件 Files set aside ({len(frame)}; not loaded, not read again until they change; every other file was loaded):"]
    for r in frame.itertuples():
        lines.append(f"  - {r.file_name} ({r.source_id})")
        lines.append(f"    {r.rejected_reason_zh}")
        lines.append(f"    {r.rejected_reason_en}")
    return lines


def quality_page_section(frame: pd.DataFrame | None = None) -> str:
    """An HTML section of the quality page: the files set aside, with their reasons in both languages."""
    frame = rejected_files_now() if frame is None else frame
    if not len(frame):
        return ('<h2 id="files-set-aside">搁置的文件 Files set aside</h2>'
                "<p>没有文件被搁置。No file was set aside at the latest load.</p>")
    rows = "\n".join(
        f"<tr><td>{html.escape(r.file_name)}</td><td>{html.escape(r.source_id)}</td>"
        f"<td>{html.escape(str(r.rejected_reason_zh))}</td><td>{html.escape(str(r.rejected_reason_en))}</td></tr>"
        for r in frame.itertuples()
    )
    return f"""<h2 id="files-set-aside">搁置的文件 Files set aside ({len(frame)})</h2>
<p class="daxing-kpi-note">这些文件未加载，其余文件照常加载和发布；文件更正后（内容变化）会在下次运行时重新读取。
These files were not loaded; every other file was loaded and published. A corrected file (new content) is read at the next run.</p>
<table id="files-set-aside-table"><thead><tr><th>文件 File</th><th>数据来源 Source</th><th>原因</th><th>Reason</th></tr></thead>
<tbody>
{rows}
</tbody></table>"""
