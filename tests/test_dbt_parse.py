"""dbt's parsed project reused by a new warehouse (``defs/dbt.py``, ``adopt_partial_parse``; issue 20.3).

dbt keeps its parsed project (``partial_parse.msgpack``) for one connection, and the connection names the
working database's path and spill folder: every new warehouse (and every copy of one) parsed the whole project
again. A parse made with the same connection but for those paths is given the new run's profile hash."""

from __future__ import annotations

import os
import shutil
import subprocess

import msgpack

from daxing_kpi.defs import dbt as dbt_defs
from daxing_kpi.paths import DBT_PROJECT_DIR


def _night_env(monkeypatch, root) -> dict[str, str]:
    """The environment of a night in a warehouse at ``root`` (what ``dbt_env`` sets)."""
    env = {"KPI_WORK_DB": str(root / "work" / "work.duckdb"), "KPI_DUCKDB_TEMP_DIR": str(root / "tmp"), "KPI_DUCKDB_MEMORY": "1GiB"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return {**os.environ, **env}


def _checkout_state():
    """The checkout's parsed project (``dbt/target/partial_parse.msgpack``, made when the code location loads)."""
    return dbt_defs.dbt_project.manifest_path.with_name(dbt_defs.PARTIAL_PARSE)


def test_a_new_warehouse_reads_the_checkouts_parsed_project_instead_of_parsing_it_again(tmp_path, monkeypatch):
    env = _night_env(monkeypatch, tmp_path / "a new warehouse")
    connection = dbt_defs.dbt_connection()
    assert dict(connection)["path"] == str(tmp_path / "a new warehouse" / "work" / "work.duckdb")
    assert dict(connection)["config_options"] == {"temp_directory": str(tmp_path / "a new warehouse" / "tmp"), "memory_limit": "1GiB"}

    target = tmp_path / "target"
    target.mkdir()
    assert dbt_defs.adopt_partial_parse(_checkout_state(), target / dbt_defs.PARTIAL_PARSE, connection)
    state = msgpack.unpackb((target / dbt_defs.PARTIAL_PARSE).read_bytes(), raw=False, strict_map_key=False)
    assert state["state_check"]["profile_hash"]["checksum"] == dbt_defs.profile_hash(connection)

    proc = subprocess.run([dbt_defs.DBT_EXECUTABLE, "--debug", "parse", "--target-path", str(target), "--log-path", str(tmp_path / "logs")],
                          cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "Unable to do partial parsing" not in proc.stdout, proc.stdout[-3000:]
    assert "Partial parsing enabled" in proc.stdout  # dbt read the checkout's parse: no full parse
    # and dbt's own record of the run's connection is the hash given (the next night reuses this warehouse's state)
    after = msgpack.unpackb((target / dbt_defs.PARTIAL_PARSE).read_bytes(), raw=False, strict_map_key=False)
    assert after["state_check"]["profile_hash"]["checksum"] == dbt_defs.profile_hash(connection)


def test_a_parse_made_for_another_database_name_or_schema_is_left_for_dbt_to_redo(tmp_path, monkeypatch):
    """Only the paths may differ: a working database of another name (dbt's models name it) is not adopted;
    the state is copied unchanged and dbt, seeing another connection, parses again."""
    _night_env(monkeypatch, tmp_path / "wh")
    monkeypatch.setenv("KPI_WORK_DB", str(tmp_path / "wh" / "work" / "other.duckdb"))
    connection = dbt_defs.dbt_connection()
    assert dict(connection)["database"] == "other"
    dst = tmp_path / dbt_defs.PARTIAL_PARSE
    assert not dbt_defs.adopt_partial_parse(_checkout_state(), dst, connection)
    assert dst.read_bytes() == _checkout_state().read_bytes()
    # a state without its .key file (written by an earlier version) is copied unchanged too
    bare = tmp_path / "bare" / dbt_defs.PARTIAL_PARSE
    bare.parent.mkdir()
    shutil.copyfile(_checkout_state(), bare)
    monkeypatch.setenv("KPI_WORK_DB", str(tmp_path / "wh" / "work" / "work.duckdb"))
    assert not dbt_defs.adopt_partial_parse(bare, tmp_path / "copy.msgpack", dbt_defs.dbt_connection())
    assert (tmp_path / "copy.msgpack").read_bytes() == bare.read_bytes()


def test_when_dbts_profile_code_fails_the_night_goes_on_and_dbt_parses_again(tmp_path, monkeypatch, caplog):
    """The adoption is an optimisation: if dbt's profile code changes (another dbt version), the state is copied
    unchanged, its key file is not written, and a warning says dbt will parse again."""
    import dbt.config.profile

    def broken(*_args, **_kwargs):
        raise AttributeError("read_profile changed")

    monkeypatch.setattr(dbt.config.profile, "read_profile", broken)
    assert dbt_defs.dbt_connection() is None
    assert "dbt will parse the project again" in caplog.text
    assert not dbt_defs.adopt_partial_parse(_checkout_state(), tmp_path / "copy.msgpack", None)
    assert (tmp_path / "copy.msgpack").read_bytes() == _checkout_state().read_bytes()
    kept = tmp_path / "kept.msgpack"
    kept.with_name("kept.msgpack.key").write_text("an older key\n")
    dbt_defs._write_parse_key(kept, None)
    assert not kept.with_name("kept.msgpack.key").exists()
