"""The benchmark script (issue 10) runs and writes its results; its baseline and its next-day files are right.

No timing is asserted: the benchmark measures, it does not judge. These tests check that the script's
parts work at a tiny scale: the bare-DuckDB baseline (same ingestion and dbt-compiled SQL, no
orchestration) reproduces the generator's ground truth, and the incremental run's new-day files follow
each contract's re-delivery rule.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

KEY = ["kpi_id", "period_year", "geo_code"]


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    """The script at scale 0.02: generate + bare DuckDB only (the nightly job is covered by the e2e tests)."""
    tmp = tmp_path_factory.mktemp("bench")
    out, work = tmp / "results", tmp / "work"
    env = {k: v for k, v in os.environ.items() if k not in ("KPI_WAREHOUSE_DIR", "KPI_DASHBOARD_DIR")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run_benchmarks.py"), "--scales", "0.02", "--skip", "pipeline,extras",
         "--out", str(out), "--work", str(work), "--keep", "--no-latest", "--note", "test run"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout, out, work


def test_script_writes_json_and_markdown(bench_run):
    stdout, out, work = bench_run
    [json_file] = out.glob("benchmark-*.json")
    [md_file] = out.glob("benchmark-*.md")
    results = json.loads(json_file.read_text(encoding="utf-8"))
    [scale] = results["scales"]
    assert scale["scale"] == 0.02 and results["note"] == "test run"
    assert results["machine"]["cores_logical"] == os.cpu_count()
    assert results["machine"]["packages"]["duckdb"] == duckdb.__version__
    sample = json.loads((work / "scale_0.02" / "warehouse" / "sample_truth" / "sample.json").read_text())
    assert scale["generate"]["counts"] == sample["rows"]  # the record counts printed are the generator's
    assert f"volunteers {sample['rows']['volunteers']:,}" in stdout
    bare = scale["bare"]
    assert bare["succeeded"] and bare["returncode"] == 0
    # clean sample: every record of a CSV source is loaded, as the generator wrote it
    assert bare["rows_by_source"]["volunteer_volunteers"] == sample["rows"]["volunteers"]
    assert bare["rows_by_source"]["govservice_service_cases"] == sample["rows"]["service_cases"]
    assert bare["peak_rss_bytes"] > 0 and bare["cpu_seconds"] > 0
    md = md_file.read_text(encoding="utf-8")
    assert "| 0.02 |" in md and "bare DuckDB" in md and "Note: test run" in md


def test_bare_duckdb_reproduces_the_ground_truth(bench_run):
    """The baseline computes the same KPIs as the pipeline: every ground-truth value, from the same compiled SQL."""
    _, _, work = bench_run
    truth = pd.read_csv(work / "scale_0.02" / "warehouse" / "sample_truth" / "ground_truth.csv", dtype={"geo_code": str})
    with duckdb.connect(str(work / "scale_0.02" / "bare" / "work.duckdb"), read_only=True) as con:
        obs = con.execute("SELECT kpi_id, period_year, geo_code, numerator, denominator, value FROM marts.kpi_observations").df()
        # the ID number became the same keyed hash as in ingestion (HMAC-SHA256 in SQL)
        keys = con.execute("SELECT person_key FROM raw.volunteer_volunteers ORDER BY _row_number LIMIT 3").df().person_key
    merged = truth.merge(obs, on=KEY, how="outer", suffixes=("_truth", "_bare"), indicator=True)
    assert (merged._merge == "both").all(), merged[merged._merge != "both"].head()
    # a town/street that sent no return form has no value in both (reporting_status not_reported, issue 16)
    same = (merged.numerator_truth == merged.numerator_bare) | (merged.numerator_truth.isna() & merged.numerator_bare.isna())
    assert same.all() and merged.numerator_truth.notna().sum() > 3000
    np.testing.assert_allclose(merged.value_bare, merged.value_truth, rtol=0, atol=1e-9)
    from daxing_kpi.ingest import person_keys

    ids = pd.read_csv(next((work / "scale_0.02" / "warehouse" / "landing" / "volunteers").glob("*.csv")), dtype=str, nrows=3)["身份证号码"]
    assert list(keys) == list(person_keys(ids))


def test_new_day_files_follow_each_contracts_redelivery_rule(tmp_path):
    """Complete exports are sent whole again, year-scoped sources year-to-date, others only the new records;
    ingestion then loads the old records once plus the new ones."""
    from new_day import NEW_DAY, write_new_day

    from daxing_kpi.ingest import ingest_source, load_contracts
    from daxing_kpi.sample.generator import generate

    counts = generate(tmp_path, scale=0.05)
    written = {w["source_id"]: w for w in write_new_day(tmp_path / "landing")}
    contracts = load_contracts()
    vol = written["volunteer_volunteers"]  # delivery_scope [] (complete roster): roster + 11 new (27,6xx / 2,496 days)
    assert vol["new_records"] == round(counts["volunteers"] / 2496) and vol["rows"] == counts["volunteers"] + vol["new_records"]
    result = ingest_source(contracts["volunteer_volunteers"], tmp_path / "landing")
    assert len(result.accepted) == vol["rows"]
    statuses = {a["file_name"].split("/")[1]: (a["status"], a["rows_superseded"]) for a in result.audit}
    assert statuses["volunteers_20261101.csv"] == ("superseded", counts["volunteers"])
    burials = pd.read_csv(next((tmp_path / "landing" / "burials").glob("*_20261101.csv")), dtype=str)
    in_2026 = int((burials["安葬日期"].str[:4] == "2026").sum())
    bur = written["funeral_burials"]  # [burial_date.year]: the 2026 year-to-date export + the new day's burials
    assert bur["rows"] == in_2026 + bur["new_records"]
    result = ingest_source(contracts["funeral_burials"], tmp_path / "landing")
    assert len(result.accepted) == counts["burials"] + bur["new_records"]
    assert (pd.to_datetime(result.accepted.burial_date).dt.date == NEW_DAY).sum() == bur["new_records"]
    orgs = written["social_org_organisations"]  # delivery_scope [] (the whole register every time): register + 1 new
    assert (orgs["rows"], orgs["new_records"]) == (counts["social_orgs"] + 1, 1)
    result = ingest_source(contracts["social_org_organisations"], tmp_path / "landing")
    assert len(result.accepted) == counts["social_orgs"] + 1 and not len(result.quarantine)
    statuses = {a["file_name"].split("/")[1]: (a["status"], a["rows_loaded"], a["rows_superseded"]) for a in result.audit}
    assert statuses == {"social_orgs_20261101.csv": ("superseded", 0, counts["social_orgs"]),
                        "social_orgs_20261102.csv": ("loaded", counts["social_orgs"] + 1, 0)}
    pros = written["social_work_professionals"]  # keyed by person, employer and entry date: new by the new entry date
    result = ingest_source(contracts["social_work_professionals"], tmp_path / "landing")
    assert len(result.accepted) == pros["rows"] == counts["social_work_professionals"] + pros["new_records"]
    assert pros["new_records"] == 1 and not len(result.quarantine)
    # 8 records: a register that small gets nothing new on a day; re-sent unchanged, byte for byte: skipped
    assert (written["social_work_agencies"]["rows"], written["social_work_agencies"]["new_records"]) == (8, 0)
    result = ingest_source(contracts["social_work_agencies"], tmp_path / "landing")
    assert [a["status"] for a in result.audit] == ["loaded", "skipped_duplicate_file"] and len(result.accepted) == 8
    assert written["statbureau_population"]["rows"] == 88 and written["statbureau_population"]["new_records"] == 0


def test_nights_are_reported_beside_their_targets():
    """The nights after the full run (issue 20.2) are printed beside their targets: the night with no new file
    (< 8 s at scale 1), the night with one more day of every source (< 15 s), and whether the incremental night
    and a full night on the same inputs publish identical marts (or which tables differ)."""
    import run_benchmarks as rb

    def scale(s, no_new, inc, identical, summary):
        return {"scale": s, "generate": {"records": 1, "counts": {}, "landing_bytes": 0, "wall_seconds": 1, "cpu_seconds": 1,
                                         "peak_rss_bytes": 1},
                "no_new_data": {"wall_seconds": no_new, "succeeded": True, "no_new_data": True},
                "incremental": {"wall_seconds": inc, "succeeded": True, "new_records": 5, "rows_in_new_files": 50,
                                "reprocessed": "1 sources loaded"},
                "full_night": {"wall_seconds": 40.0, "succeeded": True, "reprocessed": "26 sources loaded"},
                "nights_compared": {"identical": identical, "summary": summary}}

    results = {"scales": [scale(0.05, 0.5, 9.0, True, "identical: 15 tables (11,707 rows)"),
                          scale(1.0, 9.5, 12.0, False, "DIFFERENT: kpi_observations (3 vs 3 rows, 1 only in the first, 1 only in the second)")],
               "machine": {"cores_logical": 2, "cpu_model": "", "memory_total_bytes": 2**30, "os": "", "python": "", "packages": {},
                           "commit": None, "load_average_at_start": []},
               "started_at": "2026-12-03T00:00:00", "command": "x", "interval": 0.2}
    rows = {a: (b, c, d) for a, b, c, d in rb.verdicts(results)}
    assert rows["night with no new file at scale 1"] == ("< 8 s", "9.5 s", "no")
    assert rows["night with one more day of every source at scale 1"] == ("< 15 s", "12.0 s", "yes")
    assert rows["incremental night and full night publish identical marts (scale 0.05)"] == (
        "identical", "identical: 15 tables (11,707 rows)", "yes")
    assert rows["incremental night and full night publish identical marts (scale 1)"][1].startswith("DIFFERENT: kpi_observations")
    assert rows["incremental night and full night publish identical marts (scale 1)"][2] == "no"
    md = rb.markdown(results)
    assert "| 1 | no new file | 0 | 0 | 9.5 s | nothing: no_new_data recorded, Dagster not started | untouched |" in md
    assert "| 0.05 | one more day (incremental) | 5 | 50 | 9.0 s | 1 sources loaded | identical: 15 tables (11,707 rows) |" in md
    assert "| 1 | same inputs, `kpi run --full` | – | – | 40.0 s | 26 sources loaded | (the reference) |" in md


def test_csv_only_figures_are_shown_beside_the_ingest_stage_figure():
    """Issue 20.1: the stage figure (all rows / CPU of every ingest step) keeps its verdict; beside it, labelled as
    views without one, the rows of the CSV files per CPU-second of reading them, and the CSV-only sources' whole
    loads, from the raw assets' metadata (:func:`daxing_kpi.defs.ingest.read_cost_metadata`)."""
    import run_benchmarks as rb

    raw = {"volunteer_volunteers": {"files_read": 1, "rows_parsed": 600, "load_cpu_seconds": 3.0, "files_read_text": 1,
                                    "rows_read_text": 600, "read_cpu_seconds_text": 1.0, "read_cpu_seconds_other": 0.0},
           "statbureau_population": {"files_read": 2, "rows_parsed": 50, "load_cpu_seconds": 1.0, "files_read_text": 1,
                                     "rows_read_text": 40, "read_cpu_seconds_text": 0.2, "read_cpu_seconds_other": 0.5},
           "townreturn_submissions": {"files_read": 3, "rows_parsed": 6, "load_cpu_seconds": 2.0, "files_read_text": 0,
                                      "rows_read_text": 0, "read_cpu_seconds_text": 0.0, "read_cpu_seconds_other": 1.5}}
    c = rb.csv_figures(raw, {"cpu_seconds": 10.0})
    assert (c["files_read"], c["rows_read"], c["read_cpu_seconds"]) == (2, 640, 1.2)
    assert c["rows_per_read_cpu_second"] == round(640 / 1.2)
    assert (c["sources"], c["source_rows"], c["source_load_cpu_seconds"], c["rows_per_load_cpu_second"]) == (1, 600, 3.0, 200)
    assert (c["other_read_cpu_seconds"], c["all_loads_cpu_seconds"], c["outside_loads_cpu_seconds"]) == (2.0, 6.0, 4.0)
    assert rb.csv_figures({"x": {"files_read": 1}}, {}) is None  # a run from before the metadata existed: no view

    pipeline = {"rows_read": 656, "ingest_rows_per_cpu_second": 66, "wall_seconds": 30.0, "cpu_seconds": 40.0, "peak_rss_bytes": 1,
                "stages": {"ingest": {"wall_seconds": 9.0, "cpu_seconds": 10.0, "peak_rss_bytes": 1}}, "csv": c}
    generate = {"records": 656, "counts": {}, "landing_bytes": 0, "wall_seconds": 1.0, "cpu_seconds": 1.0, "peak_rss_bytes": 1}
    results = {"scales": [{"scale": 4.0, "generate": generate, "pipeline": pipeline}],
               "machine": {"cores_logical": 2, "cpu_model": "", "memory_total_bytes": 2**30, "os": "", "python": "", "packages": {},
                           "commit": None, "load_average_at_start": []},
               "started_at": "2026-12-03T00:00:00", "command": "x", "interval": 0.2}
    rows = rb.verdicts(results)
    labels = [a for a, _, _, _ in rows]
    stage = labels.index("CSV ingestion, rows per CPU-second (scale 4)")
    assert rows[stage][1:] == ("> 600,000", "66", "no")
    assert labels[stage + 1].startswith("– CSV files only, reading and checking: 640 rows of 2 files / 1.2 CPU-s")
    assert rows[stage + 1][1:] == ("(view)", "533", "–")
    assert labels[stage + 2].startswith("– CSV-only sources, whole load") and rows[stage + 2][1:] == ("(view)", "200", "–")
    md = rb.markdown(results)
    assert "## Ingest stage: CSV parsing apart from the rest (CPU seconds)" in md
    assert "| 4 | 10.0 s | 66 | 6.0 s | 4.0 s | 2.0 s | 2 / 640 / 1.2 s | 533 | 600 / 3.0 s | 200 |" in md


def test_pytests_summary_line_is_read_with_its_counts():
    import run_benchmarks as rb

    out = ("collected 648 items\n...\n========== slowest 30 durations ==========\n"
           "327.74s call     tests/test_retention.py::test_nights[three_nights_keep_2]\n"
           "272.11s setup    tests/test_spark_parity.py::test_kpi_results_are_identical_on_spark_and_duckdb\n"
           "=========== 646 passed, 2 skipped, 8 warnings in 1844.21s (0:30:44) ============\n")
    assert rb.pytest_summary(out) == {"summary_line": "646 passed, 2 skipped, 8 warnings in 1844 s",
                                      "counts": {"passed": 646, "skipped": 2, "warnings": 8}, "pytest_seconds": 1844.21,
                                      "slowest": [{"seconds": 327.74, "phase": "call", "test": "tests/test_retention.py::test_nights[three_nights_keep_2]"},
                                                  {"seconds": 272.11, "phase": "setup",
                                                   "test": "tests/test_spark_parity.py::test_kpi_results_are_identical_on_spark_and_duckdb"}],
                                      "failures": []}
    failed = rb.pytest_summary("----- Captured log call -----\nERROR daxing_kpi.cli:cli.py:12 a line the test logged\n"
                               "=== short test summary info ===\nFAILED tests/test_a.py::test_x - assert 1 == 2\n"
                               "ERROR tests/test_b.py::test_y - TimeoutError: no answer\n==== 1 failed, 3 passed, 1 error in 3.50s ====")
    assert failed["counts"] == {"failed": 1, "passed": 3, "errors": 1}
    assert failed["failures"] == ["FAILED tests/test_a.py::test_x - assert 1 == 2", "ERROR tests/test_b.py::test_y - TimeoutError: no answer"]
    assert rb.pytest_summary("Killed\n") == {"summary_line": None, "counts": {}, "pytest_seconds": None, "slowest": [], "failures": []}


@pytest.mark.parametrize("failing", [False, True], ids=["all_pass", "one_fails"])
def test_the_default_test_run_is_timed_and_reported_beside_its_target(tmp_path, failing):
    """``--test-suite`` (issue 20.5) times a real pytest run as one process tree and reports it beside the target
    (< 15 min); a run with a failing test is never "met", whatever its time. Here pytest runs a tiny test file."""
    import run_benchmarks as rb

    project = tmp_path / "project"
    project.mkdir()
    (project / "test_tiny.py").write_text(
        "import pytest\n\ndef test_one():\n    assert 1 + 1 == 2\n\ndef test_two():\n    assert sum(range(4)) == 6\n\n"
        "@pytest.mark.skip(reason='shown as skipped')\ndef test_three():\n    pass\n"
        + ("\ndef test_four():\n    assert 2 + 2 == 5\n" if failing else ""), encoding="utf-8")
    t = rb.time_test_suite(tmp_path, 0.05, cmd=[sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "--durations=2",
                                                "--durations-min=0", "test_tiny.py"], cwd=project)
    assert t["counts"] == ({"failed": 1, "passed": 2, "skipped": 1} if failing else {"passed": 2, "skipped": 1})
    assert t["passed"] is (not failing) and t["returncode"] == (1 if failing else 0)
    assert 0 < t["pytest_seconds"] <= t["wall_seconds"] and t["cpu_seconds"] > 0
    assert (tmp_path / "test_suite.log").read_text().rstrip().endswith("=")  # pytest's own output kept as the log
    results = {"scales": [], "test_suite": t, "machine": {"cores_logical": 2, "cpu_model": "", "memory_total_bytes": 2**30, "os": "",
                                                          "python": "", "packages": {}, "commit": None, "load_average_at_start": []},
               "started_at": "2026-12-03T00:00:00", "command": "x", "interval": 0.2}
    aim, measured, met = {a: (b, c, d) for a, b, c, d in rb.verdicts(results)}["default test run (2 cores)"]
    assert aim == "< 15 min" and met == ("no" if failing else "yes")
    assert measured.startswith(f"0 min {t['wall_seconds']:.0f} s") and measured.endswith(f"({t['summary_line']})")
    assert 0 < t["cores_busy_share"] <= 1 and f"cores busy {t['cores_busy_share']:.0%} of the time" in measured
    md = rb.markdown(results)
    assert f"| default test run (2 cores) | < 15 min | {measured} | {met} |" in md
    assert len(t["slowest"]) == 2 and {x["test"].split("::")[0] for x in t["slowest"]} == {"test_tiny.py"}
    assert f"| {t['slowest'][0]['seconds']:.1f} | {t['slowest'][0]['phase']} | `{t['slowest'][0]['test']}` |" in md
    assert "## Full nightly run per scale" not in md  # the test run alone: no empty tables of scales
    if failing:  # which test failed, in the results too (the scratch folder with the log may be gone)
        assert t["failures"] == ["FAILED test_tiny.py::test_four - assert (2 + 2) == 5"]
        assert "- `FAILED test_tiny.py::test_four - assert (2 + 2) == 5`" in md
    else:
        assert t["failures"] == [] and "Tests that failed" not in md


def test_cpu_of_a_process_nobody_waits_for_is_seen_in_the_machines_busy_time(tmp_path):
    """A process the measured command starts and never waits for (as a browser, a JVM or a daemon's run can be) is in
    nobody's kernel CPU count: ``cpu_seconds`` misses it, the machine's busy time (``/proc/stat``) does not."""
    from procmon import run_measured

    done = tmp_path / "grandchild_cpu"
    script = (
        "import os, time\n"
        "if os.fork() == 0:\n"  # the child starts the grandchild and leaves at once: the grandchild goes to init
        "    if os.fork() == 0:\n"
        "        t = time.process_time()\n"
        "        while time.process_time() - t < 0.8: pass\n"
        f"        open({str(done)!r} + '.tmp', 'w').write(str(time.process_time()))\n"
        f"        os.replace({str(done)!r} + '.tmp', {str(done)!r})\n"
        "    os._exit(0)\n"
        "os.wait()\n"
        f"while not os.path.exists({str(done)!r}): time.sleep(0.02)\n"
    )
    m = run_measured([sys.executable, "-c", script], interval=0.05)
    grandchild = float(done.read_text())
    assert m.returncode == 0 and grandchild >= 0.8
    assert m.cpu_seconds < grandchild  # the kernel counts the grandchild's CPU to no one here
    assert m.machine_busy_seconds >= grandchild  # the machine saw it (and whatever else ran)
    assert 0 < m.cores_busy_share <= 1.0


def test_no_scale_and_no_test_run_writes_an_empty_result(tmp_path):
    import run_benchmarks as rb

    assert rb.main(["--scales", "none", "--out", str(tmp_path / "out"), "--work", str(tmp_path / "work"), "--no-latest"]) == 0
    [result] = (tmp_path / "out").glob("benchmark-*.json")
    data = json.loads(result.read_text(encoding="utf-8"))
    assert data["scales"] == [] and "test_suite" not in data and data["targets"]["default_test_run_seconds"] == 900
