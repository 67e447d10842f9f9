"""Ingestion leaves unread the files that later deliveries wholly supersede (issue 10), with the same result.

A complete roster re-sent every night (``delivery_scope: []``) or a year-to-date export re-sent within
the year supersedes every earlier file of those scopes. When the last load of such a file recorded its
scopes (audit ``delivery_scope``), :func:`ingest_source` with ``known_files`` does not read it again;
the accepted rows, the quarantine and the audit are exactly those of reading everything.

A file loaded at an earlier night is not read again at all (issue 20.2): the nightly raw asset
(:func:`daxing_kpi.defs.ingest.load_source`) keeps each file's staged rows in the working database
(:mod:`daxing_kpi.ingest.stagecache`) and takes them instead of reading the file, with the same raw rows,
quarantine and audit (its ``read_mode`` says ``stage_cache``); another person key or contract, or a full
rebuild, reads every file again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from daxing_kpi import ingest
from daxing_kpi.ingest import ingest_source, known_file_scopes, load_contracts
from daxing_kpi.ingest.source import SET_ASIDE_BEFORE
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
    """Labels of the files read: those read_file is asked to read, and those read together in one pass
    (workbooks, read_together)."""
    seen: list[str] = []
    from daxing_kpi.ingest import source

    real, real_together = source.read_file, source.read_together

    def spy(path, contract, label, digest, *staging):
        seen.append(label)
        return real(path, contract, label, digest, *staging)

    def spy_together(stage, items):
        seen.extend(label for _, label, *_ in items)
        return real_together(stage, items)

    monkeypatch.setattr(source, "read_file", spy)
    monkeypatch.setattr(source, "read_together", spy_together)
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


# -- the nightly raw asset keeps each file's staged rows (issue 20.2: a file loaded before is not read again) --


BURIAL_HEAD = "逝者编号,逝者姓名,死亡日期,安葬日期,户籍所在镇街,安葬方式,安葬地点"
AUDIT_RUN_COLUMNS = ["run_id", "loaded_at", "read_mode"]


@pytest.fixture
def landing(sample, tmp_path) -> tuple[Path, Path, pd.DataFrame]:
    """A burials folder holding the sample's history file with faults added (a field fault, a record
    quarantined, a duplicate within the file): ``(landing root, history file, its rows)``."""
    root, _ = sample
    folder = copy_source(root, "burials", tmp_path)
    history = next(folder.glob("*.csv"))
    df = pd.read_csv(history, dtype=str, keep_default_na=False)
    first_2021 = df[df["安葬日期"].str[:4] == "2021"].iloc[0]
    faulty = pd.DataFrame([["BQ-1", "x", "2021-13-01", "2021-05-01", "黄村地区", "树葬", "p"],  # death date: field fault
                           ["BQ-2", "x", "", "2021-05-02", "黄村地区", "不存在", "p"],  # burial type: quarantined
                           ["BQ-3", "x", "", "2021-05-03", "火星镇", "树葬", "p"],  # unknown town: field fault
                           list(first_2021)], columns=df.columns)  # a duplicate within the file
    df = pd.concat([df, faulty], ignore_index=True)
    t = history.stat().st_mtime
    df.to_csv(history, index=False)
    os.utime(history, (t, t))
    return tmp_path / "landing", history, df


def add_day(landing_root: Path, history: pd.DataFrame, name: str, day: int, extra: list[list[str]] = ()) -> Path:
    """A new day's year-to-date export of 2026 (it supersedes the history's 2026 rows) with ``extra`` rows."""
    ytd = history[history["安葬日期"].str[:4] == "2026"]
    new = pd.concat([ytd, pd.DataFrame(list(extra), columns=history.columns)], ignore_index=True)
    path = landing_root / "burials" / name
    new.to_csv(path, index=False)
    t = min(p.stat().st_mtime for p in path.parent.glob("*.csv") if p != path) + day * 86400
    os.utime(path, (t, t))
    return path


@dataclasses.dataclass
class Night:
    result: object
    totals: dict
    raw: pd.DataFrame
    quarantine: pd.DataFrame
    audit: pd.DataFrame  # this run's audit rows, file by file
    cache: list[dict]  # stage_cache.files rows of the source
    cache_tables: list[str]
    accepted: pd.DataFrame
    result_quarantine: pd.DataFrame


def night(warehouse: Path, landing_root: Path, run_id: str, monkeypatch, contract=None, **kw) -> Night:
    """The nightly raw asset's load of a source (default funeral_burials; :func:`daxing_kpi.defs.ingest.load_source`)
    into the working database of ``warehouse``; what it left there."""
    from daxing_kpi.defs.ingest import load_source
    from daxing_kpi.ingest import stagecache
    from daxing_kpi.warehouse import connect_work

    contract = contract or load_contracts()["funeral_burials"]
    monkeypatch.setenv("KPI_WAREHOUSE_DIR", str(warehouse))
    with connect_work() as con:
        result, totals = load_source(contract, con, run_id, landing_root=landing_root, **kw)
        out = Night(
            result, totals,
            raw=con.sql(f'SELECT * FROM raw."{contract.source_id}"').df(),
            quarantine=con.execute("SELECT * EXCLUDE (run_id, quarantined_at) FROM audit.quarantine WHERE source_id = ?",
                                   [contract.source_id]).df(),
            audit=con.execute("SELECT * FROM audit.ingest_audit WHERE run_id = ? AND source_id = ? ORDER BY file_modified_at, file_name",
                              [run_id, contract.source_id]).df(),
            cache=stagecache.entries(con, contract.source_id),
            cache_tables=sorted(r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'stage_cache'"
                                                          " AND starts_with(table_name, ?)", [contract.source_id + "__"]).fetchall()),
            accepted=result.accepted, result_quarantine=result.quarantine)
    return out


def _without_set_aside_note(audit):
    """The audit with the note "set aside at an earlier run" taken off the reasons of files set aside (an
    incremental night adds it, a full rebuild reads those files again and has none)."""
    zh, en = SET_ASIDE_BEFORE
    if isinstance(audit, pd.DataFrame):
        audit = audit.copy()
        for col, note in (("rejected_reason_zh", zh), ("rejected_reason_en", en)):
            audit[col] = audit[col].map(lambda v, n=note: v.removesuffix(n) if isinstance(v, str) else v)
        return audit
    return [{**a, **{c: a[c].removesuffix(n) for c, n in (("rejected_reason_zh", zh), ("rejected_reason_en", en))
                     if isinstance(a.get(c), str)}} for a in audit]


def same_load(a: Night, b: Night) -> None:
    """The same raw rows, quarantine and audit (but for the run, how each file was come by and the note on
    files set aside at an earlier run)."""
    pd.testing.assert_frame_equal(a.raw, b.raw)
    pd.testing.assert_frame_equal(a.quarantine, b.quarantine)
    pd.testing.assert_frame_equal(_without_set_aside_note(a.audit.drop(columns=AUDIT_RUN_COLUMNS)),
                                  _without_set_aside_note(b.audit.drop(columns=AUDIT_RUN_COLUMNS)))
    pd.testing.assert_frame_equal(a.accepted, b.accepted)
    pd.testing.assert_frame_equal(a.result_quarantine, b.result_quarantine)
    assert _without_set_aside_note(a.result.audit) == _without_set_aside_note(b.result.audit)


def test_a_file_loaded_before_is_taken_from_the_stage_cache(landing, tmp_path, monkeypatch):
    """Night 2 reads only the new day's file; the history comes from the cache, and the raw rows, the quarantine
    and the audit are those of a fresh full read. The cache then holds one entry per file."""
    landing_root, history, df = landing
    wh = tmp_path / "wh"
    seen = reads(monkeypatch)
    n1 = night(wh, landing_root, "run-1", monkeypatch)
    assert seen == [f"burials/{history.name}"] and n1.audit.read_mode.tolist() == ["read"]
    assert [e["sha256"] for e in n1.cache] == [ingest.sha256_file(history)]
    assert n1.cache[0]["rows"] == len(df) and n1.cache_tables == [f"funeral_burials__{n1.cache[0]['sha256'][:32]}"]

    dup = list(df[df["安葬日期"].str[:4] == "2021"].iloc[1])  # the ID of a 2021 record of the history: a duplicate
    dup[3] = "2026-10-30"
    new = add_day(landing_root, df, "burials_20261102.csv", 1, [["BZ-NEW-1", "x", "", "2026-11-01", "黄村地区", "树葬", "p"], dup])
    seen.clear()
    n2 = night(wh, landing_root, "run-2", monkeypatch)
    assert seen == [f"burials/{new.name}"]  # the history file was not read again
    assert n2.result.files_from_cache() == [f"burials/{history.name}"] and n2.totals["files_from_stage_cache"] == 1

    seen.clear()
    fresh = night(tmp_path / "fresh", landing_root, "run-fresh", monkeypatch)  # every file read
    assert sorted(seen) == sorted([f"burials/{history.name}", f"burials/{new.name}"])
    same_load(n2, fresh)
    assert fresh.audit.read_mode.tolist() == ["read", "read"]
    assert n2.audit.read_mode.tolist() == ["stage_cache", "read"]
    # real values: the history partly superseded (its 2026 rows), its faults and both duplicates quarantined
    a = n2.audit.set_index("file_name")
    n2026 = int((df["安葬日期"].str[:4] == "2026").sum())
    assert a.loc[f"burials/{history.name}", ["status", "rows_read", "rows_superseded", "rows_quarantined"]].tolist() == \
        ["partly_superseded", len(df), n2026, 2]
    assert a.loc[f"burials/{new.name}", ["status", "rows_read", "rows_loaded", "rows_quarantined"]].tolist() == \
        ["loaded", n2026 + 2, n2026 + 1, 1]
    assert len(n2.raw) == len(df) - 2 + 1 and "BZ-NEW-1" in set(n2.raw.burial_id)
    q = n2.quarantine
    line_2021 = df.index[df["安葬日期"].str[:4] == "2021"] + 2  # line numbers of the 2021 records (line 1: header)
    assert list(zip(q.file_name, q["column"], q.value, q.disposition)) == [
        (f"burials/{history.name}", "死亡日期", "2021-13-01", "field_fault"),
        (f"burials/{history.name}", "安葬方式", "不存在", "quarantined"),
        (f"burials/{history.name}", "户籍所在镇街", "火星镇", "field_fault"),
        (f"burials/{history.name}", "逝者编号", f"same as burials/{history.name} row {line_2021[0]}", "quarantined"),
        (f"burials/{new.name}", "逝者编号", f"same as burials/{history.name} row {line_2021[1]}", "quarantined"),
    ]
    assert sorted(e["sha256"] for e in n2.cache) == sorted(map(ingest.sha256_file, [history, new]))
    assert n2.cache[0]["run_id"] == "run-1"  # the history's entry kept as written on night 1

    seen.clear()
    n3 = night(wh, landing_root, "run-3", monkeypatch)  # nothing new: nothing read, the same load
    assert seen == [] and n3.audit.read_mode.tolist() == ["stage_cache", "stage_cache"]
    same_load(n3, fresh)


def test_changed_person_key_or_contract_reads_every_file_again(landing, tmp_path, monkeypatch):
    """Rows staged under another secret or contract are never served: those nights read every file, and the
    entries are replaced by ones under the new key (the old ones dropped)."""
    from daxing_kpi.ingest import load_contract
    from daxing_kpi.ingest.stage import file_key

    landing_root, history, df = landing
    wh = tmp_path / "wh"
    new = add_day(landing_root, df, "burials_20261102.csv", 1)
    night(wh, landing_root, "run-1", monkeypatch)
    every = sorted([f"burials/{history.name}", f"burials/{new.name}"])
    seen = reads(monkeypatch)
    monkeypatch.setenv("KPI_PII_KEY", "another secret of thirty-two bytes or more")
    n2 = night(wh, landing_root, "run-2", monkeypatch)
    assert sorted(seen) == every and set(n2.audit.read_mode) == {"read"}
    key2 = file_key(load_contracts()["funeral_burials"])
    assert [e["file_key"] for e in n2.cache] == [key2, key2] and len(n2.cache_tables) == 2

    text = (Path(ingest.contracts_dir()) / "funeral_burials.yaml").read_text(encoding="utf-8")
    edited = tmp_path / "funeral_burials.yaml"
    edited.write_text(text.replace("title_en: Burial records", "title_en: Burials"), encoding="utf-8")
    changed = load_contract(edited)
    assert changed.digest != load_contracts()["funeral_burials"].digest
    seen.clear()
    n3 = night(wh, landing_root, "run-3", monkeypatch, contract=changed)
    assert sorted(seen) == every and set(n3.audit.read_mode) == {"read"}
    assert {e["file_key"] for e in n3.cache} == {file_key(changed)} and len(n3.cache) == len(n3.cache_tables) == 2
    seen.clear()
    n4 = night(wh, landing_root, "run-4", monkeypatch, contract=changed)  # and kept under the new contract
    assert seen == [] and set(n4.audit.read_mode) == {"stage_cache"}
    same_load(n4, n3)


def test_a_full_rebuild_reads_every_file_and_rebuilds_the_cache(landing, tmp_path, monkeypatch):
    landing_root, history, df = landing
    wh = tmp_path / "wh"
    new = add_day(landing_root, df, "burials_20261102.csv", 1)
    n1 = night(wh, landing_root, "run-1", monkeypatch)
    seen = reads(monkeypatch)
    full = night(wh, landing_root, "run-full", monkeypatch, full=True)
    assert sorted(seen) == sorted([f"burials/{history.name}", f"burials/{new.name}"])
    assert full.audit.read_mode.tolist() == ["read", "read"] and full.totals["files_from_stage_cache"] == 0
    assert [e["run_id"] for e in full.cache] == ["run-full", "run-full"] and full.cache_tables == n1.cache_tables
    same_load(full, n1)


def test_the_cache_holds_only_the_files_in_the_folder(landing, tmp_path, monkeypatch):
    """A file that left the landing folder loses its entry and table; a file changed while it was being read
    is not kept under the SHA-256 it had before."""
    landing_root, history, df = landing
    wh = tmp_path / "wh"
    new = add_day(landing_root, df, "burials_20261102.csv", 1)
    n1 = night(wh, landing_root, "run-1", monkeypatch)
    assert len(n1.cache) == len(n1.cache_tables) == 2
    new.unlink()
    n2 = night(wh, landing_root, "run-2", monkeypatch)
    assert [e["sha256"] for e in n2.cache] == [ingest.sha256_file(history)] and len(n2.cache_tables) == 1
    assert n2.audit.read_mode.tolist() == ["stage_cache"]

    from daxing_kpi.ingest import source

    real = source.read_file
    late = add_day(landing_root, df, "burials_20261103.csv", 2)

    def touched_while_read(path, contract, label, digest, *staging):
        f = real(path, contract, label, digest, *staging)
        os.utime(path, ns=(path.stat().st_mtime_ns + 1_000, path.stat().st_mtime_ns + 1_000))  # replaced meanwhile
        return f

    monkeypatch.setattr(source, "read_file", touched_while_read)
    n3 = night(wh, landing_root, "run-3", monkeypatch)
    assert n3.audit.read_mode.tolist() == ["stage_cache", "read"]
    assert [e["sha256"] for e in n3.cache] == [ingest.sha256_file(history)]  # the touched file not kept
    assert ingest.sha256_file(late) not in {e["sha256"] for e in n3.cache}


def test_a_cache_that_cannot_be_written_leaves_no_entry_and_the_load_stands(landing, tmp_path, monkeypatch):
    """The cache is written after the raw table's commit, in one transaction: a failure half-way leaves the
    entries as they were (no table without its row, none the other way round) and the load committed."""
    from daxing_kpi.ingest import stagecache

    landing_root, history, df = landing
    wh = tmp_path / "wh"
    n1 = night(wh, landing_root, "run-1", monkeypatch)
    new = add_day(landing_root, df, "burials_20261102.csv", 1)
    monkeypatch.setattr(stagecache, "table_name", lambda sid, digest: "files")  # the second statement of the write fails
    n2 = night(wh, landing_root, "run-2", monkeypatch)
    assert n2.audit.read_mode.tolist() == ["stage_cache", "read"]
    assert len(n2.raw) == len(df) - 2 and n2.totals["rows_loaded"] == len(n2.raw)  # loaded all the same
    assert n2.cache == n1.cache and n2.cache_tables == n1.cache_tables  # the entry of night 1, nothing half-written
    monkeypatch.undo()
    seen = reads(monkeypatch)
    n3 = night(wh, landing_root, "run-3", monkeypatch)  # the next night reads the new file again and keeps it
    assert seen == [f"burials/{new.name}"] and len(n3.cache) == 2


def test_the_nightly_raw_asset_uses_the_cache_and_a_full_rebuild_does_not(landing, tmp_path, monkeypatch):
    """``raw/funeral_burials`` as Dagster runs it: a second run takes the history from the cache, a run tagged
    ``kpi/full`` (``kpi run --full``) reads every file."""
    import dagster as dg
    import duckdb

    from daxing_kpi import nightplan
    from daxing_kpi.defs import ingest as ingest_defs
    from daxing_kpi.defs.operations import RunGuard

    class NoGuard(RunGuard):  # the asset alone: no lock, no run history
        def setup_for_execution(self, context) -> None:
            pass

        def teardown_after_execution(self, context) -> None:
            pass

    landing_root, history, df = landing
    wh = tmp_path / "wh"
    shutil.copytree(landing_root, wh / "landing")
    monkeypatch.setenv("KPI_WAREHOUSE_DIR", str(wh))
    asset = next(a for a in ingest_defs.raw_assets if a.key == dg.AssetKey(["raw", "funeral_burials"]))
    modes = {}
    with dg.instance_for_test() as instance:
        for name, tags in (("first", {}), ("again", {}), ("full", {nightplan.FULL_TAG: "1"})):
            if name == "again":
                add_day(wh / "landing", df, "burials_20261102.csv", 1)
            run = dg.materialize([asset], instance=instance, resources={"run_guard": NoGuard()}, tags=tags)
            with duckdb.connect(str(wh / "work" / "work.duckdb"), read_only=True) as con:
                modes[name] = [r[0] for r in con.execute("SELECT read_mode FROM audit.ingest_audit WHERE run_id = ?"
                                                         " ORDER BY file_modified_at", [run.run_id]).fetchall()]
            (event,) = run.get_asset_materialization_events()
            meta = event.materialization.metadata
            assert meta["files_from_stage_cache"].value == (1 if name == "again" else 0)
    assert modes == {"first": ["read"], "again": ["stage_cache", "read"], "full": ["read", "read"]}


def test_the_cache_keeps_of_a_form_s_title_rows_only_the_cut_off_statement(tmp_path, monkeypatch):
    """The kept facts hold no line of the text above the header but the cut-off statement, and the cut-off
    worked out from them is the one of reading the file."""
    landing_root = tmp_path / "landing"
    (landing_root / "burials").mkdir(parents=True)
    form = landing_root / "burials" / "安葬记录.csv"
    form.write_text("\n".join(["大兴区安葬记录月报", "填报人：张三，电话 13800000000，数据截至2026年10月31日", BURIAL_HEAD,
                               "B1,x,,2026-05-01,黄村地区,树葬,p"]) + "\n", encoding="utf-8")
    n1 = night(tmp_path / "wh", landing_root, "run-1", monkeypatch)
    (entry,) = n1.cache
    assert json.loads(entry["facts"])["titles"] == ["数据截至2026年10月31日"]
    seen = reads(monkeypatch)
    n2 = night(tmp_path / "wh", landing_root, "run-2", monkeypatch)
    assert seen == [] and n2.audit.read_mode.tolist() == ["stage_cache"]
    assert (str(n2.audit.delivery_cutoff_date[0])[:10], n2.audit.delivery_cutoff_source[0]) == ("2026-10-31", "statement")
    same_load(n2, n1)


@pytest.fixture(scope="module")
def messy_landing(tmp_path_factory) -> Path:
    from daxing_kpi.sample import messy

    root = tmp_path_factory.mktemp("messy_cache")
    messy.MessySample(scale=0.02, fault_rate=0.03).write(root)
    return root / "landing"


@pytest.mark.parametrize("source_id", sorted(load_contracts()))
def test_every_source_of_the_messy_sample_loads_the_same_from_the_cache(messy_landing, tmp_path, monkeypatch, source_id):
    """Every shape of file (workbooks of several sheets, HTML saved as .xls, GBK text, title rows, duplicates,
    files set aside): a night taking every file from the cache loads what a full rebuild of the same files loads."""
    contract = load_contracts()[source_id]
    files = ingest.landing_files(messy_landing / contract.landing_dir)
    if not files:
        pytest.skip("no files for this source in the sample")
    wh = tmp_path / "wh"
    n1 = night(wh, messy_landing, "run-1", monkeypatch, contract=contract)
    seen = reads(monkeypatch)
    cached = night(wh, messy_landing, "run-2", monkeypatch, contract=contract)
    assert seen == []
    full = night(wh, messy_landing, "run-3", monkeypatch, contract=contract, full=True)
    same_load(cached, full)
    read_now = set(n1.audit.file_name[n1.audit.read_mode == "read"])  # files read on night 1 ...
    set_aside = set(n1.audit.file_name[n1.audit.status == "rejected"])  # ... those set aside are not read again anyway
    assert set(cached.audit.file_name[cached.audit.read_mode == "stage_cache"]) == read_now - set_aside
    assert set(full.audit.file_name[full.audit.read_mode == "read"]) == read_now  # a full rebuild reads the set-aside ones too
    assert set(cached.audit.file_name[cached.audit.read_mode == "not_read"]) >= set_aside
    assert len(cached.cache) == len(read_now - set_aside) == len(cached.cache_tables)
