"""Issue 15 acceptance: one bad file never stops the night.

A real run of the nightly job (``kpi run``) on a copy of the session's warehouse (the clean sample, published
once) when three bad deliveries arrive among the good files: a damaged workbook, an empty file and a binary
file named ``.csv``, each the newest delivery of its source. The night publishes every source, lists the three
files with their reasons (run output, published ``ingest_audit``, quality page), and flags the KPIs of their
sources in ``dq_kpi_status``. With ``KPI_STRICT_FILES=1`` the same files fail the night, and the failure
report names all three.
"""

from __future__ import annotations

import os

import pytest
from conftest import clone_warehouse

BAD = {
    "care_workers/养老护理员花名册_损坏.xlsx": ("eldercare_care_workers", b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 300, "已损坏"),
    "volunteers/志愿者名册_补报.csv": ("volunteer_volunteers", b"", "文件是空的"),
    "burials/安葬照片.csv": ("funeral_burials", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "不是表格文件"),
}
AFFECTED_KPIS = {"eldercare.care_workers_per_10k_elderly": "eldercare_care_workers",
                 "volunteer.registered_share_of_residents": "volunteer_volunteers",
                 "funeral.eco_burial_rate": "funeral_burials"}


@pytest.fixture(scope="module")
def night(warehouse, tmp_path_factory):
    wh = clone_warehouse(warehouse, tmp_path_factory.mktemp("bad_files") / "wh")
    for name, (_, content, _) in BAD.items():
        path = wh.root / "landing" / name
        newest = max(p.stat().st_mtime for p in path.parent.iterdir())
        path.write_bytes(content)
        os.utime(path, (newest + 86_400,) * 2)  # the newest delivery of its source
    wh.proc = wh.run("run")
    return wh


def test_the_night_publishes_every_source_and_names_the_three_files(night):
    out = night.proc.stdout
    assert "succeeded" in out and "Files set aside (3" in out
    for name, (_, _, zh) in BAD.items():
        assert name in out and zh in out
    assert "Traceback" not in out + night.proc.stderr
    audit = night.query("SELECT * FROM ingest_audit")
    rejected = audit[audit.status == "rejected"].set_index("file_name")
    assert sorted(rejected.index) == sorted(BAD)
    for name, (source, _, zh) in BAD.items():
        r = rejected.loc[name]
        assert r.source_id == source and zh in r.rejected_reason_zh and name.split("/")[1] in r.rejected_reason_en
        assert (r.rows_loaded, r.rows_loaded_with_field_faults) == (0, 0)
    loaded = audit[audit.status == "loaded"]
    assert set(loaded.source_id) == set(audit.source_id)  # every source loaded its good files, these three included
    assert (audit.rows_read == audit.rows_loaded + audit.rows_quarantined + audit.rows_superseded).all()
    # every source published: the KPIs of the affected sources equal the sample's truth
    truth = night.ground_truth()
    obs = night.query("SELECT kpi_id, period_year, geo_code, numerator, denominator FROM kpi_observations")
    merged = truth.merge(obs, on=["kpi_id", "period_year", "geo_code"], suffixes=("_truth", "_mart"))
    mine = merged[merged.kpi_id.isin(AFFECTED_KPIS)]
    assert len(mine) > 100 and (mine.numerator_truth == mine.numerator_mart).all()
    # a special zone has volunteers and care workers but no residents of its own: no denominator (issue 16.6)
    assert ((mine.denominator_truth == mine.denominator_mart) | (mine.denominator_truth.isna() & mine.denominator_mart.isna())).all()


def test_the_kpis_of_the_affected_sources_are_flagged(night):
    status = night.query("SELECT kpi_id, status, files_rejected, failed_checks, sources FROM dq_kpi_status").set_index("kpi_id")
    for kpi, source in AFFECTED_KPIS.items():
        row = status.loc[kpi]
        assert row.files_rejected >= 1 and row.status == "warned", row
        assert "file(s) set aside" in row.failed_checks and "文件被搁置" in row.failed_checks
        assert any(name in row.failed_checks for name, (src, _, _) in BAD.items() if src == source)
    others = status[[not ({s for _, (s, _, _) in BAD.items()} & set(str(x).split(";"))) for x in status.sources]]
    assert len(others) > 5 and (others.files_rejected == 0).all() and set(others.status) <= {"passed", "warned"}
    assert not others.failed_checks.fillna("").str.contains("set aside").any()


def test_the_quality_page_lists_the_files_in_both_languages(night):
    page = (night.dashboard / "quality" / "index.html").read_text(encoding="utf-8")
    section = page[page.index('id="files-set-aside"'):]
    assert "搁置的文件 Files set aside (3)" in section
    for name, (_, _, zh) in BAD.items():
        assert name in section and zh in section


def test_strict_files_fails_the_night_and_the_report_names_every_file(night):
    import subprocess
    import sys

    proc = night.run("run", check=False)
    assert proc.returncode == 0  # a second ordinary night: the same files are still set aside, the night goes on
    published = night.query("SELECT run_id FROM publish_metadata").run_id.item()
    strict = {**night.env, "KPI_STRICT_FILES": "1"}
    proc = subprocess.run([sys.executable, "-m", "daxing_kpi.cli", "run"], env=strict, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 1
    reports = sorted((night.root / "failures").glob("*.txt"), key=lambda p: p.stat().st_mtime)
    text = reports[-1].read_text(encoding="utf-8")
    assert "KPI_STRICT_FILES=1" in text and "Files set aside (3" in text
    for name, (_, _, zh) in BAD.items():
        assert name in text and zh in text
    assert "Traceback" not in text
    assert night.query("SELECT run_id FROM publish_metadata").run_id.item() == published  # nothing published by the strict night
