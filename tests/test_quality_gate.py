"""Acceptance of the quality gate (issue 6): corrupted deliveries stop publication, a WARN does not.

Each case copies the session warehouse (``conftest.warehouse``: one clean ``kpi run`` of the 0.05
sample, published as version v0), corrupts a landing file and runs ``kpi run`` on the copy (three
cases of three sources share one night, ``TOGETHER``): the
matching check fails, the run ends failed (exit 1) with a one-paragraph summary of the failed checks
(printed and in the failure report), and the published database is byte-identical and still
readable. A large but plausible year-over-year change is only advisory: that run publishes, and the
WARN result is in ``dq_results`` and ``dq_kpi_status``; the same publishing night carries a register re-sent
whole, which supersedes the earlier file (``publishing_night``: two cases of two sources, one night).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import Warehouse
from conftest import clone_warehouse as clone

from daxing_kpi.checks import LANDED_FILE_CHECKS
from daxing_kpi.ingest.report import rejected_files
from daxing_kpi.paths import CONTRACTS_DIR


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def landing_csv(wh: Warehouse, folder: str) -> Path:
    (path,) = (wh.root / "landing" / folder).glob("*.csv")
    return path


def rewrite(path: Path, df: pd.DataFrame) -> None:
    df.to_csv(path, index=False)


def run_results(wh: Warehouse, run_id: str) -> pd.DataFrame:
    with duckdb.connect(str(wh.root / "work" / "work.duckdb"), read_only=True) as con:
        return con.execute("SELECT * FROM audit.dq_results WHERE run_id = ?", [run_id]).df()


def run_id_of(stdout: str) -> str:
    (line,) = [x for x in stdout.splitlines() if x.startswith("kpi run ")]
    return line.split()[2]


# -- the corruptions ------------------------------------------------------------------------------------------

TOWN_GONE = ("110115106", "礼贤镇")


def drop_a_town_from_burials(wh):
    path = landing_csv(wh, "burials")
    df = pd.read_csv(path, dtype=str)
    assert (df["户籍所在镇街"] == TOWN_GONE[1]).sum() > 0
    rewrite(path, df[df["户籍所在镇街"] != TOWN_GONE[1]])


def zero_residents_of_a_town_year(wh):
    """The statistics bureau's population (denominator of the per-resident and per-10,000 KPIs) with
    0 residents in every age band of one town in 2023: a valid file, impossible denominators."""
    path = landing_csv(wh, "population")
    df = pd.read_csv(path, dtype=str)
    hit = (df["统计年度"] == "2023") & (df["镇街"] == TOWN_GONE[1])
    assert hit.sum() == 4
    df.loc[hit, "常住人口"] = "0"
    rewrite(path, df)


def deliver_social_orgs_twice(wh):
    """The organisation register under a site's own contract whose files add up (no key, no
    delivery_scope, in KPI_CONTRACTS_DIR) re-exported and sent again under another name."""
    contracts = wh.root.parent / "contracts"
    shutil.copytree(CONTRACTS_DIR, contracts)
    orgs = contracts / "social_org_organisations.yaml"
    text = orgs.read_text(encoding="utf-8")
    adding_up = text.replace("key: [org_id]\ndelivery_scope: []\n", "")
    assert adding_up != text
    orgs.write_text(adding_up, encoding="utf-8")
    wh.env["KPI_CONTRACTS_DIR"] = str(contracts)
    path = landing_csv(wh, "social_orgs")
    again = path.with_name(path.stem + "_重报.csv")
    again.write_bytes(path.read_bytes() + b"\n")  # not byte-identical: a re-export
    return again


def deliver_half_the_volunteers(wh):
    path = landing_csv(wh, "volunteers")
    df = pd.read_csv(path, dtype=str)
    rewrite(path, df.iloc[::2])  # every other row: every town/street still present


def a_negative_count_in_population(wh):
    path = landing_csv(wh, "population")
    df = pd.read_csv(path, dtype=str)
    df.loc[df.index[100], "常住人口"] = "-120"
    rewrite(path, df)


CASES = {
    "town_street_missing": (drop_a_town_from_burials, "raw/funeral_burials", "every_town_street_is_present_and_known",
                            f"towns/streets missing: {TOWN_GONE[0]} {TOWN_GONE[1]}"),
    "denominators_of_zero": (zero_residents_of_a_town_year, "marts/kpi_observations", "denominators_are_positive",
                             "rows with a denominator of 0 or none"),
    "duplicated_delivery": (deliver_social_orgs_twice, "raw/social_org_organisations", "no_record_is_delivered_twice",
                            "repeat an earlier file's records (worst: social_orgs/"),
    "half_the_rows": (deliver_half_the_volunteers, "raw/volunteer_volunteers", "row_count_is_plausible_against_the_last_delivery",
                      "at the last publication"),
    # the population file allows no quarantined row (limit 0 %): one negative count sets the whole file aside
    # (issue 15), the other sources load, and the source's empty night fails its row-count check
    "negative_count": (a_negative_count_in_population, "raw/statbureau_population", "row_count_is_plausible_against_the_last_delivery",
                       "0 rows loaded, 616 at the last publication"),
}


# The failures each case must cause on its own asset, beside the one of CASES (a second copy also moves the row
# count, +100 %; no population at all: no town/street present either).
ALSO_FAILED = {"duplicated_delivery": "row_count_is_plausible_against_the_last_delivery",
               "negative_count": "every_town_street_is_present_and_known"}
# Three sources corrupted in one night (a night is the cost of these tests): each fails its own checks and
# nothing else fails. The two other cases run alone: a town missing from burials is also the failure-notice case
# (issue 19.4), and a denominator of 0 fails a mart check, which runs only when every landed-file check passed.
TOGETHER = ("duplicated_delivery", "half_the_rows", "negative_count")


@dataclass
class CorruptedNight:
    wh: Warehouse
    proc: subprocess.CompletedProcess
    run_id: str
    before: str  # digest of the published database before the night
    v0: str  # the run id it was published by
    notified: Path | None = None  # where $KPI_ON_FAILURE_COMMAND copied the failure report


def corrupted_night(src: Warehouse, base: Path, cases: tuple[str, ...], **extra_env) -> CorruptedNight:
    wh = clone(src, base / "wh", **extra_env)
    before, v0 = digest(wh.analytics), wh.query("SELECT run_id FROM publish_metadata").run_id.item()
    for case in cases:
        CASES[case][0](wh)
    proc = wh.run("run", check=False)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    return CorruptedNight(wh, proc, run_id_of(proc.stdout), before, v0)


@pytest.fixture(scope="module")
def three_corrupted_sources(warehouse, tmp_path_factory) -> CorruptedNight:
    return corrupted_night(warehouse, tmp_path_factory.mktemp("three_corrupted"), TOGETHER)


def failure_notice_night(warehouse, base: Path) -> CorruptedNight:
    """Burials without one town/street, with $KPI_ON_FAILURE_COMMAND set (the operator's notice)."""
    notified = base / "notified.txt"
    base.mkdir(parents=True, exist_ok=True)
    command = f'cp "$1" {notified} && echo "$KPI_FAILURE_REPORT" > {base / "env.txt"}'
    night = corrupted_night(warehouse, base, ("town_street_missing",), KPI_ON_FAILURE_COMMAND=command)
    night.notified = notified
    return night


@pytest.mark.parametrize("case", list(CASES))
def test_a_corrupted_delivery_fails_its_check_and_publishes_nothing(warehouse, tmp_path, request, case):
    _corrupt, asset, check, observed = CASES[case]
    if case in TOGETHER:
        night = request.getfixturevalue("three_corrupted_sources")
    elif case == "town_street_missing":
        night = failure_notice_night(warehouse, tmp_path)
    else:
        night = corrupted_night(warehouse, tmp_path, (case,))
    wh, run_id = night.wh, night.run_id

    res = run_results(wh, run_id)
    failed = res[~res.passed.astype(bool) & (res.severity == "ERROR")]
    row = failed[(failed.asset == asset) & (failed.check_name == check)]
    assert len(row) == 1, f"{asset} {check} did not fail; failed: {failed[['asset', 'check_name', 'observed_value']].values.tolist()}"
    assert observed in row.observed_value.item()
    mine = failed[failed.asset == asset]
    assert set(mine.check_name) == {check} | ({ALSO_FAILED[case]} if case in ALSO_FAILED else set())
    expected_assets = {CASES[c][1] for c in TOGETHER} if case in TOGETHER else {asset}
    assert set(failed.asset) == expected_assets  # nothing else failed: the other sources' checks passed
    if case == "negative_count":  # the population file allows no quarantined row (limit 0 %): set aside whole
        with duckdb.connect(str(wh.root / "work" / "work.duckdb"), read_only=True) as con:
            (aside,) = rejected_files(con).itertuples()
        assert aside.source_id == "statbureau_population" and aside.rows_read == 616
        assert "常住人口" in aside.rejected_reason_zh and "row 102" in aside.rejected_reason_en  # header row 1, data from row 2

    # the one-paragraph summary: printed by `kpi run` and in the failure report
    (report,) = (wh.root / "failures").glob(f"*_{run_id}.txt")
    text = report.read_text(encoding="utf-8")
    assert "Quality gate: " in text and f"{asset} {check} [ERROR]" in " ".join(text.split())
    assert "so nothing was published." in " ".join(night.proc.stderr.split())
    assert "analytics_database" in text  # named among the steps not run

    # the published database: the same bytes, still readable, still v0
    assert digest(wh.analytics) == night.before
    assert wh.query("SELECT run_id FROM publish_metadata").run_id.item() == night.v0
    assert wh.query("SELECT count(*) AS n FROM kpi_observations").n.item() > 0

    if case == "town_street_missing":  # the operator's notice (issue 19.4): the report, its cause in one sentence
        assert "Nightly KPI run FAILED" in text and "stage checks, step raw__funeral_burials__landed_file_checks" in text
        (cause,) = [x for x in text.splitlines() if x.startswith("Cause:")]
        assert cause == ("Cause:     Blocking quality checks failed, so this delivery was not published: "
                         "raw/funeral_burials every_town_street_is_present_and_known.")
        assert f"unchanged, still the version of run {night.v0}" in text
        assert "daxing_dbt_models" in text  # listed among the steps not run
        # $KPI_ON_FAILURE_COMMAND received the report's path (argument and environment)
        assert night.notified.read_text() == text and (tmp_path / "env.txt").read_text().strip() == str(report)
        assert str(report) in night.proc.stderr
        runs = [json.loads(x) for x in (wh.root / "history" / "pipeline_runs.jsonl").read_text(encoding="utf-8").splitlines()]
        last = [r for r in runs if r["run_id"] == run_id][-1]
        assert (last["status"], last["failed_step"]) == ("failed", "raw__funeral_burials__landed_file_checks")


# -- a night that publishes: a re-sent register and a large but plausible change, both in one night -------------


@dataclass
class PublishingNight:
    wh: Warehouse
    proc: subprocess.CompletedProcess
    run_id: str
    v0: str  # the run id that published the warehouse copied
    register: dict  # the re-sent register: old and new file, rows of the old one, towns X and Y
    burials: Path  # the burials file changed


@pytest.fixture(scope="module")
def publishing_night(warehouse, tmp_path_factory) -> PublishingNight:
    """One night on a copy of the session warehouse with two deliveries that must publish: the social-organisation
    register re-sent whole (:func:`resend_the_register`) and the burials of 2024 changed far beyond the eco-burial
    rate's year-over-year bound (:func:`turn_graves_into_tree_burials`). The two touch different sources and
    different KPIs, so each test below checks its own case on the same night (one night instead of two)."""
    wh = clone(warehouse, tmp_path_factory.mktemp("publishing") / "wh")
    v0 = wh.query("SELECT run_id FROM publish_metadata").run_id.item()
    register = resend_the_register(wh)
    burials = turn_graves_into_tree_burials(wh)
    proc = wh.run("run", check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return PublishingNight(wh, proc, run_id_of(proc.stdout), v0, register, burials)


def resend_the_register(wh: Warehouse) -> dict:
    """The social-organisation register re-sent whole the next month (``social_orgs_20261201.csv``), with
    one community organisation of town/street X deregistered on 30 June 2026 and a new one founded in Y on 1 June 2026."""
    old = landing_csv(wh, "social_orgs")
    df = pd.read_csv(old, dtype=str, keep_default_na=False)
    community = (df["组织类别"] == "社区社会组织") & df["登记备案状态"].isin(["登记", "备案"])
    live = community & (df["状态"] == "正常") & (df["注销日期"] == "") & (df["成立日期"] < "2026-01-01")
    x = df.index[live][0]
    town_x = df.at[x, "所在镇街"]
    town_y = df.loc[live & (df["所在镇街"] != town_x), "所在镇街"].iloc[0]
    df.loc[x, ["状态", "注销日期"]] = ["已注销", "2026-06-30"]
    new = {**df.iloc[0].to_dict(), "组织编号": "DXBA99999999", "组织名称": f"{town_y}新成立读书会", "组织类别": "社区社会组织",
           "组织形式": "", "登记备案状态": "备案", "所在镇街": town_y, "成立日期": "2026-06-01", "状态": "正常", "注销日期": ""}
    resent = old.with_name("social_orgs_20261201.csv")
    rewrite(resent, pd.concat([df, pd.DataFrame([new])], ignore_index=True))
    assert resent.stat().st_mtime > old.stat().st_mtime  # the newest file: read last, supersedes the earlier one
    return {"old": old, "resent": resent, "rows": len(df), "town_x": town_x, "town_y": town_y}


def turn_graves_into_tree_burials(wh: Warehouse) -> Path:
    """Burials of 2024: most traditional graves (80 %) recorded as tree burials instead."""
    path = landing_csv(wh, "burials")
    df = pd.read_csv(path, dtype=str)
    hit = df["安葬日期"].str.startswith("2024") & (df["安葬方式"] == "传统墓穴")
    assert hit.sum() > 20
    df.loc[hit[hit].index[: int(hit.sum() * 0.8)], "安葬方式"] = "树葬"
    rewrite(path, df)
    return path


def test_a_resent_complete_register_supersedes_the_earlier_one_and_publishes(publishing_night):
    """The social-organisation register re-sent whole the next month, as the department exports it
    (contract: key org_id, delivery_scope []), with one change and one new organisation: a community
    organisation of town/street X deregistered on 30 June 2026, a new one founded in Y on 1 June 2026. The
    night publishes with no blocking check failed; the earlier file's rows are all superseded and the new file's
    all loaded; social_org.community_social_orgs counts the newest register once: the ground truth in
    every year before 2026 and in the district in 2026 (one out, one in), X one fewer and Y one more."""
    wh, run_id = publishing_night.wh, publishing_night.run_id
    old, resent, town_x, town_y = (publishing_night.register[k] for k in ("old", "resent", "town_x", "town_y"))
    res = run_results(wh, run_id)
    failed = res[~res.passed.astype(bool) & (res.severity == "ERROR")]
    assert failed.empty, failed[["asset", "check_name", "observed_value"]].values.tolist()
    orgs = res[res.asset == "raw/social_org_organisations"]
    assert set(orgs.check_name) == set(LANDED_FILE_CHECKS) and orgs.passed.astype(bool).all()
    n = publishing_night.register["rows"]
    dup = orgs[orgs.check_name == "no_record_is_delivered_twice"]
    assert dup.passed.astype(bool).item() and dup.observed_value.item().startswith(f"0 of {n + 1:,} records repeat")
    assert wh.query("SELECT run_id FROM publish_metadata").run_id.item() == run_id

    audit = wh.query("SELECT file_name, status, rows_read, rows_loaded, rows_quarantined, rows_superseded, coalesce(superseded_by, '') FROM ingest_audit"
                     " WHERE source_id = 'social_org_organisations' ORDER BY file_modified_at").values.tolist()
    assert audit == [[f"social_orgs/{old.name}", "superseded", n, 0, 0, n, f"social_orgs/{resent.name}"],
                     [f"social_orgs/{resent.name}", "loaded", n + 1, n + 1, 0, 0, ""]]

    code = wh.query("SELECT geo_code, geo_name_zh FROM geographies").set_index("geo_name_zh").geo_code
    truth = wh.ground_truth().query("kpi_id == 'social_org.community_social_orgs'").set_index(["period_year", "geo_code"]).numerator
    obs = wh.query("SELECT period_year, geo_code, numerator FROM kpi_observations WHERE kpi_id = 'social_org.community_social_orgs'"
                   ).set_index(["period_year", "geo_code"]).numerator
    assert len(obs) == len(truth)
    expected = truth.copy()
    expected[(2026, code[town_x])] -= 1
    expected[(2026, code[town_y])] += 1
    assert obs.sort_index().astype(float).to_dict() == expected.sort_index().astype(float).to_dict()
    assert obs[(2026, "110115")] == truth[(2026, "110115")]


def test_a_failing_dbt_test_also_blocks_publication(warehouse, tmp_path):
    """A code outside the code list reaches staging: the burial-type column of a (copied) contract no
    longer restricts its values, one burial of type 火葬 (not in seeds/burial_types.csv) is loaded, the
    landed-file checks pass, and dbt's relationships test on stg_funeral__burials fails. The dbt step
    fails (Dagster: blocking check of severity ERROR), so the publish step is skipped."""
    contracts = tmp_path / "contracts"
    shutil.copytree(CONTRACTS_DIR, contracts)
    burials = contracts / "funeral_burials.yaml"
    text = burials.read_text(encoding="utf-8")
    relaxed = text.replace(", allowed_from_seed: burial_types.burial_type_zh", "")
    assert relaxed != text
    burials.write_text(relaxed, encoding="utf-8")
    wh = clone(warehouse, tmp_path / "wh", KPI_CONTRACTS_DIR=str(contracts))
    before = digest(wh.analytics)
    path = landing_csv(wh, "burials")
    df = pd.read_csv(path, dtype=str)
    df.loc[df.index[0], "安葬方式"] = "火葬"
    rewrite(path, df)

    proc = wh.run("run", check=False)
    assert proc.returncode == 1, proc.stdout[-3000:]
    run_id = run_id_of(proc.stdout)
    res = run_results(wh, run_id)
    failed = res[~res.passed.astype(bool)]
    assert failed[["asset", "check_name", "check_level", "severity", "observed_value"]].values.tolist() == [[
        "staging/stg_funeral__burials", "relationships_stg_funeral__burials_burial_type_zh__burial_type_zh__ref_burial_types_",
        "dbt_test", "ERROR", "1 failing rows"]]
    assert res[res.check_level == "landed_file"].passed.all()
    assert not (res.check_level == "mart").any()  # the mart checks wait for the dbt step
    assert digest(wh.analytics) == before
    (report,) = (wh.root / "failures").glob(f"*_{run_id}.txt")
    assert "analytics_database" in report.read_text(encoding="utf-8")


def test_a_large_plausible_change_is_a_warning_and_publishes(publishing_night):
    """Burials of 2024: most traditional graves recorded as tree burials instead. The eco-burial rate
    jumps by far more than its 10-point bound: the advisory check fails, no blocking one does, the run
    publishes, and the warning is in the published dq_results and dq_kpi_status (the dashboard reads
    them); dq_results also keeps the results of the run that published v0. (The same night re-sends the
    social-organisation register, which changes no eco-burial figure and passes every check.)"""
    wh, run_id, v0, path = publishing_night.wh, publishing_night.run_id, publishing_night.v0, publishing_night.burials
    assert wh.query("SELECT run_id FROM publish_metadata").run_id.item() == run_id

    dq = wh.query("SELECT * FROM dq_results")
    assert set(dq.run_id) >= {v0, run_id}  # history across runs
    mine = dq[dq.run_id == run_id]
    # the night redid the two changed sources and what is downstream (issue 20.2): their checks ran again, dbt tests
    # included; the other sources' checks keep v0's results (dq_kpi_status.checks_carried_over)
    assert len(dq[dq.run_id == v0]) > 300 and 50 < len(mine) < len(dq[dq.run_id == v0])
    raw_assets = {a for a in mine.asset if a.startswith("raw/")}
    assert raw_assets == {"raw/funeral_burials", "raw/social_org_organisations"}, raw_assets
    assert {"marts/kpi_observations", "staging/stg_funeral__burials"} <= set(mine.asset)
    assert (mine.check_level == "dbt_test").any()
    carried = wh.query("SELECT kpi_id, checks_carried_over FROM dq_kpi_status").set_index("kpi_id").checks_carried_over
    assert carried["volunteer.registered_share_of_residents"] > 0
    failed = mine[~mine.passed.astype(bool)]
    assert failed[["asset", "check_name", "severity"]].values.tolist() == [
        ["marts/kpi_observations", "year_over_year_changes_are_within_bounds", "WARN"]]
    warn = failed.iloc[0]
    assert warn.kpi_ids == "funeral.eco_burial_rate"
    assert "funeral.eco_burial_rate 2024: " in warn.offending_keys and "bound 10)" in warn.offending_keys
    eco = wh.query("SELECT o.value FROM kpi_observations o WHERE kpi_id = 'funeral.eco_burial_rate' AND geo_level = 'district'"
                   " AND period_year IN (2023, 2024) ORDER BY period_year").value.tolist()
    assert eco[1] - eco[0] > 10  # the published value is the warned one

    status = wh.query("SELECT kpi_id, status, checks_warned, failed_checks, latest_record_date FROM dq_kpi_status").set_index("kpi_id")
    assert status.loc["funeral.eco_burial_rate", "status"] == "warned"
    assert "year_over_year_changes_are_within_bounds [WARN]" in status.loc["funeral.eco_burial_rate", "failed_checks"]
    assert (status.drop(index="funeral.eco_burial_rate").status == "passed").all()
    # the dashboard: the eco-burial card and page say "warnings", every other card "passed"
    overview = (wh.dashboard / "index.html").read_text(encoding="utf-8")
    card_quality = dict(re.findall(r'data-kpi-id="([^"]+)".*?data-quality="([a-z_]+)"', overview, flags=re.S))
    assert card_quality.pop("funeral.eco_burial_rate") == "warn"
    assert set(card_quality.values()) == {"passed"} and len(card_quality) == len(status) - 1
    page = (wh.dashboard / "kpi" / "funeral.eco_burial_rate.html").read_text(encoding="utf-8")
    assert 'data-quality="warn"' in page and "有提示性问题" in page
    # the Great Expectations Data Docs next to the dashboard, linked from it, offline, showing the warning
    from daxing_kpi.quality_docs import external_urls

    site = wh.dashboard / "quality"
    index = (site / "index.html").read_text(encoding="utf-8")
    row = next(r for r in index.split("<tr") if "year_over_year_changes_are_within_bounds" in r)
    assert "未通过 failed" in row and run_id in row
    assert all(external_urls(p.read_text(encoding="utf-8")) == [] for p in site.rglob("*.html"))
    assert 'href="quality/index.html"' in (wh.dashboard / "index.html").read_text(encoding="utf-8")

    fresh = wh.query("SELECT source_id, latest_record_date FROM source_freshness").set_index("source_id").latest_record_date
    burials = pd.read_csv(path, dtype=str)
    assert str(fresh["funeral_burials"])[:10] == max(burials["安葬日期"].max(), burials["死亡日期"].max())
