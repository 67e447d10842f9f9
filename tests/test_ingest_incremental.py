"""Ingestion leaves unread the files that later deliveries wholly supersede (issue 10), with the same result.

A complete roster re-sent every night (``delivery_scope: []``) or a year-to-date export re-sent within
the year supersedes every earlier file of those scopes. When the last load of such a file recorded its
scopes (audit ``delivery_scope``), :func:`ingest_source` with ``known_files`` does not read it again;
the accepted rows, the quarantine and the audit are exactly those of reading everything.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from daxing_kpi import ingest
from daxing_kpi.ingest import ingest_source, known_file_scopes, load_contracts
from daxing_kpi.sample.generator import generate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("incr")
    counts = generate(root, scale=0.02)
    return root, counts


def facts_of(result) -> dict[str, dict]:
    """What warehouse.loaded_file_facts would return after this load (latest audit row per file)."""
    return {a["sha256"]: {"rows_read": a["rows_read"], "delivery_scope": a["delivery_scope"], "sheets": a["sheets"]}
            for a in result.audit if a["status"] in ("loaded", "superseded", "partly_superseded")}


def reads(monkeypatch) -> list[str]:
    """Labels of the files read_file is asked to read."""
    seen: list[str] = []
    from daxing_kpi.ingest import source

    real = source.read_file

    def spy(path, contract, label, digest, *staging):
        seen.append(label)
        return real(path, contract, label, digest, *staging)

    monkeypatch.setattr(source, "read_file", spy)
    return seen


def same_result(a, b) -> None:
    pd.testing.assert_frame_equal(a.accepted, b.accepted)
    pd.testing.assert_frame_equal(a.quarantine, b.quarantine)
    assert a.audit == b.audit


def copy_source(root: Path, folder: str, dest: Path) -> Path:
    shutil.copytree(root / "landing" / folder, dest / "landing" / folder)
    return dest / "landing" / folder


def test_superseded_roster_is_not_read_again(sample, tmp_path, monkeypatch):
    root, counts = sample
    contract = load_contracts()["volunteer_volunteers"]  # delivery_scope: [] (complete roster)
    folder = copy_source(root, "volunteers", tmp_path)
    first = ingest_source(contract, tmp_path / "landing")  # night 1: one roster
    old = next(folder.glob("*.csv"))
    roster = pd.read_csv(old, dtype=str, keep_default_na=False)
    new = pd.concat([roster.iloc[5:], roster.tail(1).assign(志愿者编号="ZY-NEW-1")], ignore_index=True)  # 5 left, 1 joined
    new.to_csv(folder / "volunteers_20261102.csv", index=False)
    os.utime(folder / "volunteers_20261102.csv", (old.stat().st_mtime + 86400,) * 2)
    everything = ingest_source(contract, tmp_path / "landing")  # night 2, reading every file
    seen = reads(monkeypatch)
    skipping = ingest_source(contract, tmp_path / "landing", known_files=facts_of(first))
    assert seen == ["volunteers/volunteers_20261102.csv"]  # the old roster was not read again
    same_result(everything, skipping)
    audit = {a["file_name"]: a for a in skipping.audit}
    old_row = audit[f"volunteers/{old.name}"]
    assert (old_row["status"], old_row["rows_read"], old_row["rows_superseded"], old_row["rows_loaded"]) == \
        ("superseded", counts["volunteers"], counts["volunteers"], 0)
    assert old_row["superseded_by"] == "volunteers/volunteers_20261102.csv"
    assert len(skipping.accepted) == counts["volunteers"] - 5 + 1


def test_year_to_date_exports(sample, tmp_path, monkeypatch):
    """The full history file is partly superseded (read again); an earlier 2026 export wholly (not read)."""
    root, counts = sample
    contract = load_contracts()["funeral_burials"]  # delivery_scope: [burial_date.year]
    folder = copy_source(root, "burials", tmp_path)
    history = next(folder.glob("*.csv"))
    df = pd.read_csv(history, dtype=str, keep_default_na=False)
    ytd = df[df["安葬日期"].str[:4] == "2026"]
    t = history.stat().st_mtime
    ytd.to_csv(folder / "burials_20261102.csv", index=False)
    os.utime(folder / "burials_20261102.csv", (t + 86400,) * 2)
    night2 = ingest_source(contract, tmp_path / "landing")
    later = pd.concat([ytd, ytd.tail(2).assign(逝者编号=["BZ-NEW-1", "BZ-NEW-2"], 安葬日期="2026-11-02")], ignore_index=True)
    later.to_csv(folder / "burials_20261103.csv", index=False)
    os.utime(folder / "burials_20261103.csv", (t + 2 * 86400,) * 2)
    everything = ingest_source(contract, tmp_path / "landing")
    seen = reads(monkeypatch)
    skipping = ingest_source(contract, tmp_path / "landing", known_files=facts_of(night2))
    assert seen == ["burials/burials_20261103.csv", f"burials/{history.name}"]  # newest first; 20261102 not read
    same_result(everything, skipping)
    audit = {a["file_name"]: a for a in skipping.audit}
    assert audit["burials/burials_20261102.csv"]["status"] == "superseded"
    assert audit["burials/burials_20261102.csv"]["rows_superseded"] == len(ytd)
    assert audit[f"burials/{history.name}"]["status"] == "partly_superseded"
    assert audit[f"burials/{history.name}"]["rows_superseded"] == len(ytd)
    assert len(skipping.accepted) == counts["burials"] + 2


def test_scopes_are_used_only_when_known_for_certain():
    contracts = load_contracts()
    burials, roster, orgs = contracts["funeral_burials"], contracts["volunteer_volunteers"], contracts["social_org_organisations"]
    assert known_file_scopes(burials, {"rows_read": 9, "delivery_scope": "2025,2026"}) == {"2025", "2026"}
    assert known_file_scopes(burials, {"rows_read": 9, "delivery_scope": "2025,2026 ..."}) is None  # list cut short
    assert known_file_scopes(burials, {"rows_read": 9, "delivery_scope": "2026-05"}) is None  # another scope's shape
    assert known_file_scopes(burials, {"rows_read": 9, "delivery_scope": "complete export"}) is None
    assert known_file_scopes(roster, {"rows_read": 9, "delivery_scope": "complete export"}) == {"*"}
    assert known_file_scopes(roster, {"rows_read": 0, "delivery_scope": "complete export"}) is None  # nothing to skip
    assert known_file_scopes(orgs, {"rows_read": 9, "delivery_scope": None}) is None  # files add up: always read
    assert known_file_scopes(burials, None) is None


def test_a_file_staged_at_an_earlier_night_is_not_read_again(tmp_path, monkeypatch):
    """The work on one file is a unit (issue 20.1 for 20.2): its staged rows and facts (:meth:`FileStage.facts`,
    valid under :func:`file_key`) stand in for reading it again; a new delivery partly superseding it, and a
    duplicate across the two, are worked out exactly as when both files are read."""
    import json

    import duckdb

    from daxing_kpi.ingest.stage import FileStage, file_key

    contract = load_contracts()["funeral_burials"]
    folder = tmp_path / "landing" / "burials"
    folder.mkdir(parents=True)
    head = "逝者编号,逝者姓名,死亡日期,安葬日期,户籍所在镇街,安葬方式,安葬地点"
    (folder / "a.csv").write_text("\n".join([head, "B1,x,,2022-05-01,黄村,树葬,p", "B2,x,,2023-05-01,火星镇,树葬,p",
                                             "B3,x,,2023-06-01,黄村,树葬,p"]) + "\n", encoding="utf-8")
    os.utime(folder / "a.csv", (1_000, 1_000))
    con = duckdb.connect()
    night1 = ingest_source(contract, tmp_path / "landing", con=con)
    (a,) = night1.files
    con.execute(f"CREATE TABLE kept_a AS SELECT * FROM {a.table}")  # kept where a later night finds it
    facts = json.loads(json.dumps(a.facts()))
    key = file_key(contract)
    (folder / "b.csv").write_text("\n".join([head, "B9,x,,2023-07-01,黄村,树葬,p", "B1,x,,2024-01-01,黄村,树葬,p"]) + "\n", encoding="utf-8")
    os.utime(folder / "b.csv", (2_000, 2_000))
    seen = reads(monkeypatch)
    assert file_key(contract) == key  # same contract, rules, seeds and secret: the kept rows are valid
    night2 = ingest_source(contract, tmp_path / "landing", con=con, staged={a.digest: FileStage.from_facts(facts, "kept_a")})
    assert seen == ["burials/b.csv"]
    everything = ingest_source(contract, tmp_path / "landing")
    same_result(night2, everything)
    assert [x["status"] for x in night2.audit] == ["partly_superseded", "loaded"]
    assert night2.accepted.burial_id.tolist() == ["B1", "B9"] and night2.quarantine.reason.tolist() == [ingest.Reason.DUPLICATE]
    monkeypatch.setenv("KPI_PII_KEY", "another secret of thirty-two bytes or more")
    assert file_key(contract) != key  # another secret: other person keys, the kept rows are not valid
