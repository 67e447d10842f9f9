"""A night does only what changed (issue 20.2): real ``kpi run`` nights on copies of the session's warehouse.

* a night with no new file records ``no_new_data`` in the run history without starting Dagster, and the
  published database and dashboard stay byte for byte as they were;
* a night with one more day of one source runs that source's raw asset and what is downstream of it, reads
  only the new file (the source's earlier file is taken as staged at the first night; the other sources are
  not touched), and publishes the same marts as ``kpi run --full`` on the same files, which reads every file
  again (with the person-key secret rotated as well: the working database made with the old key is moved aside
  and every person key made again, issue 19.2, and the figures do not move);
* a changed setting, code or person-key secret makes the whole job (the plan alone, no run).

No timing is asserted: ``benchmarks/run_benchmarks.py`` measures the nights against their targets.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from conftest import TEST_PII_KEY, Warehouse
from conftest import clone_warehouse as clone

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

SOURCE = "funeral_burials"  # a year-scoped source: its new file replaces part of the earlier one
ROTATED_KEY = TEST_PII_KEY + "-rotated"  # the full rebuild's person-key secret: a rotation in the same night


# -- helpers ------------------------------------------------------------------------------------------------


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def dashboard_digest(wh: Warehouse) -> str:
    """Digest of the published dashboard: the version the link points to and every file in it."""
    h = hashlib.sha256(os.readlink(wh.dashboard).encode())
    for p in sorted(wh.dashboard.resolve().rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(wh.dashboard.resolve())).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def history(wh: Warehouse) -> list[dict]:
    path = wh.root / "history" / "pipeline_runs.jsonl"
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def run_id_of(stdout: str) -> str:
    (line,) = [x for x in stdout.splitlines() if x.startswith("kpi run ")]
    return line.split()[2]


def dagster_instance(wh: Warehouse) -> dg.DagsterInstance:
    """The warehouse's Dagster instance (its dagster.yaml reads DAGSTER_HOME while loading)."""
    from dagster._core.instance.ref import InstanceRef

    home = str(wh.root / "dagster_home")
    saved = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = home
    try:
        return dg.DagsterInstance.from_ref(InstanceRef.from_dir(home))
    finally:
        if saved is None:
            del os.environ["DAGSTER_HOME"]
        else:
            os.environ["DAGSTER_HOME"] = saved


def materializations(wh: Warehouse, run_id: str) -> dict[str, dict]:
    """``asset key -> metadata`` of the assets a run materialized."""
    with dagster_instance(wh) as instance:
        events = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    out = {}
    for e in events:
        m = e.dagster_event.event_specific_data.materialization
        out[m.asset_key.to_user_string()] = {k: v.value for k, v in m.metadata.items()}
    return out


def source_materializations(wh: Warehouse, run_id: str) -> dict[str, dict]:
    """``source_id -> metadata`` of the raw assets of landing sources (data contracts) a run materialized."""
    from daxing_kpi.ingest import load_contracts

    sources = set(load_contracts())
    return {k.split("/", 1)[1]: v for k, v in materializations(wh, run_id).items()
            if k.startswith("raw/") and k.split("/", 1)[1] in sources}


def audit_of_run(wh: Warehouse, run_id: str) -> list[tuple[str, str, str]]:
    """``(source_id, file_name, status)`` of a run's rows in the working database's ingest audit."""
    with duckdb.connect(str(wh.root / "work" / "work.duckdb"), read_only=True) as con:
        return con.execute("SELECT source_id, file_name, status FROM audit.ingest_audit WHERE run_id = ? ORDER BY ALL",
                           [run_id]).fetchall()


@pytest.fixture
def at_warehouse(monkeypatch):
    """Point this process at a warehouse (``kpi``'s settings), for planning in process."""

    def point(wh: Warehouse) -> Warehouse:
        for k in ("KPI_WAREHOUSE_DIR", "KPI_DASHBOARD_DIR", "KPI_PII_KEY"):
            monkeypatch.setenv(k, wh.env[k])
        for k in ("KPI_STRICT_FILES", "KPI_ACCEPT_ROW_COUNT_CHANGE", "KPI_REPORT_FONT", "KPI_REPORT_FONT_BOLD"):
            if k in wh.env:
                monkeypatch.setenv(k, wh.env[k])
            else:
                monkeypatch.delenv(k, raising=False)
        return wh

    return point


# -- a. nothing new -----------------------------------------------------------------------------------------


def test_a_night_without_new_files_records_no_new_data_and_touches_nothing(warehouse, tmp_path):
    wh = clone(warehouse, tmp_path / "quiet")
    with dagster_instance(wh) as instance:
        runs_before = instance.get_runs_count()
    published, dashboard = file_digest(wh.analytics), dashboard_digest(wh)
    state = file_digest(wh.root / "state" / "published_inputs.json")
    logs_before = set((wh.root / "logs").glob("*"))
    (published_run,) = wh.query("SELECT run_id FROM publish_metadata").run_id

    proc = wh.run("run")

    assert proc.returncode == 0
    run_id = proc.stdout.split("kpi run ", 1)[1].split()[0]
    assert f"kpi run {run_id} (trigger manual): no new data." in proc.stdout
    assert "loading the job" not in proc.stdout  # Dagster, dbt and the definitions were never loaded
    with dagster_instance(wh) as instance:
        assert instance.get_runs_count() == runs_before  # no Dagster run
        assert instance.get_run_by_id(run_id) is None
    assert set((wh.root / "logs").glob("*")) == logs_before  # no run log either
    # the run history: one row, status no_new_data, nothing loaded, the reason in notes
    row = history(wh)[-1]
    assert row["run_id"] == run_id and row["status"] == "no_new_data" and row["trigger"] == "manual"
    assert (row["files_loaded"], row["rows_loaded"], row["checks_failed"], row["sources"]) == (0, 0, 0, "none")
    assert row["notes"].startswith("no new data: no landing file is new, changed or removed since the publication of run "
                                   f"{published_run}")
    assert row["duration_seconds"] < 60 and row["dbt_seconds"] == 0.0
    # the published files and the recorded inputs are untouched: byte for byte
    assert file_digest(wh.analytics) == published
    assert dashboard_digest(wh) == dashboard
    assert file_digest(wh.root / "state" / "published_inputs.json") == state
    assert not list((wh.root / "state").glob("run-*.inputs.json"))
    # the row reaches the published pipeline_runs with the next publication (the history is the source of it)
    assert run_id not in set(wh.query("SELECT run_id FROM pipeline_runs").run_id)


# -- b. one more day of one source; the same files rebuilt in full --------------------------------------------


@pytest.fixture(scope="module")
def one_source_night(warehouse, tmp_path_factory):
    """One more day of :data:`SOURCE` (``benchmarks/new_day.py``) on a copy of the session's warehouse, then
    ``kpi run`` there, and ``kpi run --full`` on a copy of the same state (files, times, working database) with
    the person-key secret rotated (:data:`ROTATED_KEY`)."""
    from new_day import write_new_day

    base = tmp_path_factory.mktemp("night")
    inc = clone(warehouse, base / "incremental")
    written = write_new_day(inc.root / "landing", {SOURCE})
    full = clone(inc, base / "full")
    full.env["KPI_PII_KEY"] = ROTATED_KEY
    proc_inc = inc.run("run")
    proc_full = full.run("run", "--full")
    return inc, full, written, proc_inc, proc_full


def test_one_more_day_of_one_source_runs_that_source_and_what_is_downstream(one_source_night):
    inc, _, written, proc, _ = one_source_night
    (new,) = written
    new_file = new["file"]
    run_id = run_id_of(proc.stdout)
    assert "Only what changed: 1 input changed since the publication of run" in proc.stdout
    assert f"{SOURCE}: 1 new ({new_file.split('/')[1]})" in proc.stdout
    with dagster_instance(inc) as instance:
        run = instance.get_run_by_id(run_id)
        assert run.tags.get("kpi/full") is None and run.tags["kpi/plan"].startswith("1 input changed")
        selection = {k.to_user_string() for k in run.asset_selection}
    # the selection: the source's raw asset and what is downstream of it, no other raw asset
    raw = {k for k in selection if k.startswith("raw/")}
    assert raw == {f"raw/{SOURCE}"}
    assert "landing_files" not in selection
    assert {"audit/ingest_audit", "analytics_database", "kpi_dashboard"} <= selection
    # dbt: the source's staging model and the models fed by it, never another source's staging model
    assert {k for k in selection if k.startswith("staging/")} == {"staging/stg_funeral__burials", "staging/stg_ingest__file_loads"}
    assert {"intermediate/int_kpi_funeral__eco_burial_rate", "marts/kpi_observations", "marts/kpi_scorecard"} <= selection
    materialized = materializations(inc, run_id)
    assert set(materialized) == selection  # every selected asset was made, nothing else
    # the source read its new file only: the earlier one was taken as staged at the first night
    assert set(source_materializations(inc, run_id)) == {SOURCE}
    assert materialized[f"raw/{SOURCE}"]["files_read"] == 1 and materialized[f"raw/{SOURCE}"]["files_reused"] == 1
    # the audit of the run: the source's files only (nothing of the other sources was read)
    audit = audit_of_run(inc, run_id)
    assert {f: (s, st) for s, f, st in audit} == {"burials/burials_20261101.csv": (SOURCE, "partly_superseded"),
                                                 new_file: (SOURCE, "loaded")}
    # the docs site describes the code, not the data: kept, not built again
    assert materialized["dbt_docs_site"]["rebuilt"] is False
    # published by this run, and the new records are in it
    assert inc.query("SELECT run_id FROM publish_metadata").run_id[0] == run_id
    assert int(inc.query("SELECT sum(rows_loaded) AS n FROM ingest_audit WHERE file_name = ?", [new_file]).n[0]) == new["rows"]


def test_the_kept_rows_hold_no_personal_data(one_source_night):
    """The checked rows kept between nights are those of the raw layer: the PII scan finds no ID number or name
    of the landing files in them, nothing the raw layer does not hold."""
    import pandas as pd

    from daxing_kpi import privacy

    inc = one_source_night[0]
    names = set()
    for folder, column in (("volunteers", "姓名"), ("burials", "逝者姓名"), ("care_workers", "姓名")):
        for path in (inc.root / "landing" / folder).glob("*.csv"):
            names |= set(pd.read_csv(path, dtype=str, usecols=[column])[column].dropna())
    assert len(names) > 1000
    work = inc.root / "work" / "work.duckdb"
    with duckdb.connect(str(work), read_only=True) as con:
        kept_tables = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'stage_cache' AND table_name <> 'files'").fetchone()[0]
    assert kept_tables > 20  # every source's files, the new burials file included
    found = privacy.scan_database(work, ("stage_cache",), known_names=names)
    found = found[found.table != "files"]  # the index of the kept files: names, sizes, facts
    raw = privacy.scan_database(work, ("raw",), known_names=names)
    # nothing the raw layer does not hold (the planners' free text has a number the phone pattern matches, in both)
    source_of = lambda table: table.rsplit("__", 1)[0]  # noqa: E731 - stage_cache.<source>__<sha256 prefix>
    assert {(source_of(r.table), r.column, r.kind) for r in found.itertuples()} <= {(r.table, r.column, r.kind) for r in raw.itertuples()}
    assert not set(found.kind) & {"id_number", "personal_name"}, found


def test_a_full_rebuild_of_the_same_files_reads_every_file_and_publishes_the_same_marts(one_source_night):
    from daxing_kpi import pubcompare
    from daxing_kpi.ingest import landing_files, load_contracts

    inc, full, _, _, proc = one_source_night
    run_id = run_id_of(proc.stdout)
    assert "Whole job: a full rebuild was asked for (kpi run --full)" in proc.stdout
    # the secret was rotated: the working database made with the old key was moved aside, every key made again
    from daxing_kpi import personkey

    assert "The person-key secret changed (fingerprint" in proc.stdout + proc.stderr
    assert (full.root / "work" / "person_key.fingerprint").read_text().strip() == personkey.key_fingerprint(ROTATED_KEY.encode())
    assert list((full.root / "work").rglob("work-*-key-changed.duckdb"))
    with dagster_instance(full) as instance:
        run = instance.get_run_by_id(run_id)
        assert run.tags["kpi/full"] == "1" and not run.asset_selection  # the whole job
    # every source with files was read again: audit rows of every source, nothing taken from an earlier night
    with_files = {c.source_id for c in load_contracts().values() if landing_files(full.root / "landing" / c.landing_dir)}
    assert len(with_files) == len(load_contracts())
    assert with_files <= {s for s, _, _ in audit_of_run(full, run_id)}
    materialized = source_materializations(full, run_id)
    assert set(materialized) == with_files
    assert all(m["files_reused"] == 0 and m["files_read"] == m["files"] - m["files_rejected"] for m in materialized.values()), materialized
    assert materialized[SOURCE]["files_read"] == 2
    assert materializations(full, run_id)["dbt_docs_site"]["rebuilt"] is True
    # the incremental night and the full rebuild with the new key publish the same marts (run ids and times aside)
    diffs = pubcompare.compare_published(inc.analytics, full.analytics)
    assert pubcompare.describe(diffs).startswith("identical"), pubcompare.describe(diffs)
    assert {d.table for d in diffs} >= {"kpi_observations", "kpi_scorecard", "ingest_audit", "dq_kpi_status", "source_freshness"}
    assert all(d.rows_a > 0 for d in diffs if d.table in ("kpi_observations", "kpi_scorecard", "ingest_audit"))


def test_after_a_night_its_inputs_are_those_of_the_publication(one_source_night, at_warehouse):
    """The partial night moved the recorded state of the units it refreshed: the next night has nothing new."""
    from daxing_kpi import nightplan

    inc, _, _, _, _ = one_source_night
    at_warehouse(inc)
    plan = nightplan.plan_night()
    assert plan.nothing_new, plan.describe()
    assert plan.published_run == inc.query("SELECT run_id FROM publish_metadata").run_id[0]


def test_pubcompare_names_the_tables_that_differ(one_source_night, warehouse):
    """The comparison is not blind: the session's warehouse (one day less of the source) differs."""
    from daxing_kpi import pubcompare

    inc, _, _, _, _ = one_source_night
    diffs = pubcompare.compare_published(warehouse.analytics, inc.analytics)
    text = pubcompare.describe(diffs)
    assert text.startswith("DIFFERENT: ") and "ingest_audit" in text and "source_freshness" in text
    assert "kpi_catalog" not in text


# -- c. what makes the whole job ----------------------------------------------------------------------------


def test_a_changed_setting_code_or_secret_makes_the_whole_job(warehouse, tmp_path, at_warehouse, monkeypatch):
    from daxing_kpi import nightplan

    wh = at_warehouse(clone(warehouse, tmp_path / "plan"))
    plan = nightplan.plan_night()
    assert plan.nothing_new and not plan.full, plan.describe()

    monkeypatch.setenv("KPI_STRICT_FILES", "1")
    plan = nightplan.plan_night()
    assert plan.full and not plan.roots and "a setting that changes the published data changed" in plan.why
    assert "KPI_STRICT_FILES" in plan.why
    monkeypatch.delenv("KPI_STRICT_FILES")
    assert nightplan.plan_night().nothing_new

    monkeypatch.setenv("KPI_PII_KEY", TEST_PII_KEY + "-another")
    plan = nightplan.plan_night()
    assert plan.full and "setting" in plan.why
    monkeypatch.setenv("KPI_PII_KEY", TEST_PII_KEY)

    code_fingerprint = nightplan.code_fingerprint
    published_code = json.loads((wh.root / "state" / "published_inputs.json").read_text())["units"]["code"]["digest"]
    assert nightplan.code_fingerprint() == published_code
    monkeypatch.setattr(nightplan, "code_fingerprint", lambda: "another version of the product")
    plan = nightplan.plan_night()
    assert plan.full and "the product changed since the last publication" in plan.why
    monkeypatch.setattr(nightplan, "code_fingerprint", code_fingerprint)
    assert nightplan.plan_night().nothing_new

    assert nightplan.plan_night(full=True).full  # kpi run --full
    (wh.root / "state" / "published_inputs.json").unlink()  # no state recorded (a warehouse of an earlier version)
    plan = nightplan.plan_night()
    assert plan.full and "not recorded yet" in plan.why


def test_a_touched_file_or_plan_workbook_plans_only_its_sources(warehouse, tmp_path, at_warehouse):
    from daxing_kpi import nightplan
    from daxing_kpi.plans.load import RAW_TABLES

    wh = at_warehouse(clone(warehouse, tmp_path / "touched"))
    (burials,) = (wh.root / "landing" / "burials").glob("*.csv")
    st = burials.stat()
    os.utime(burials, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # same bytes, another time: read again
    plan = nightplan.plan_night()
    assert not plan.full and plan.roots == [f"raw/{SOURCE}"]
    assert plan.changes == [f"{SOURCE}: 1 changed ({burials.name})"]
    (book,) = [p for p in (wh.root / "landing" / "plans").iterdir() if p.suffix == ".xlsx"]
    book.unlink()
    plan = nightplan.plan_night()
    assert sorted(plan.roots) == sorted({f"raw/{SOURCE}"} | {f"raw/{s}" for s, _ in RAW_TABLES.values()})
    assert any(c.startswith(f"plan workbooks: 1 removed ({book.name})") for c in plan.changes)
    # a published dashboard missing makes the whole job
    os.remove(wh.dashboard)
    plan = nightplan.plan_night()
    assert plan.full and plan.why == "The dashboard is missing."
