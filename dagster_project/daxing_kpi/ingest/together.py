"""Several files of one source read and checked together: one set-based pass for all of them (issue 20.3).

The 22 towns/streets each send a workbook of return forms (:mod:`daxing_kpi.returnforms`); a source of
those forms has many small files, and reading each in a pass of its own costs more in DuckDB's fixed work
(planning the pass's query, the counts after it) than in its rows. :func:`read_together` reads such files
(everything a Python reader reads: workbooks, HTML and XML tables; not delimited text, which DuckDB's
``read_csv`` reads file by file, :mod:`daxing_kpi.ingest.csvread`) into one Arrow relation, tells each
file's rows apart by two columns (``_fi``, the file's index in delivery order, and ``_seq``, the row's
position in reading order), and runs the pass (:func:`daxing_kpi.ingest.sqlpass.pass_sql`) once per header
layout (the forms of one template: once in all). Each file's rows are then split into the file's own
table, exactly the table :meth:`daxing_kpi.ingest.stage.SourceStage.read` makes of it alone: the pass's
result of a row depends on its cells and the rules only, never on the other rows. What each file's reading
found (rows, delivery scopes, whether it is past its quarantine limit) is counted for all files in one
query each.

What does not change: a file that cannot be used (:class:`FileRejected`: not readable, no sheet or header
matching the contract) is set aside alone, with its own message naming the file, sheet and header row,
and the other files are read; every fault keeps its file, sheet, row and column; the quarantine, the audit
and the re-delivery rules are worked out from the per-file tables as before
(:func:`daxing_kpi.ingest.source.ingest_source`).
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from pathlib import Path

import pyarrow as pa

from daxing_kpi.ingest.cutoff import delivery_cutoff
from daxing_kpi.ingest.readers import sniff
from daxing_kpi.ingest.reasons import FileRejected
from daxing_kpi.ingest.sqlpass import pass_sql, q
from daxing_kpi.ingest.stage import FileStage, SourceStage, arrow_cells, limit_counts_sql, scope_sql

# Bytes of landing files read before their pass runs (bounds the memory the Python readers' tables hold).
BATCH_BYTES = 8 * 1024 * 1024
_BATCHES = itertools.count()


def reads_together(path: Path) -> bool:
    """Whether a file can be read with others in one pass: anything but delimited text (CSV or
    tab-separated, read by DuckDB file by file) and files that cannot be opened."""
    try:
        return sniff(path) != "text"
    except OSError:
        return False


def read_together(stage: SourceStage, items: list[tuple[Path, str, str, int, dt.datetime]]) -> list[tuple[FileStage | FileRejected, dict]]:
    """Read the landing files ``items`` (each ``(path, label, sha256, index in delivery order, modified)``, the
    arguments of :meth:`SourceStage.read`) into ``stage`` in one pass.

    Returns, per item and in the same order, the :class:`FileStage` (its table on ``stage.con``, ``rejection``
    set when past the quarantine limit) or the :class:`FileRejected` (a :class:`ContractError` for a
    header) that sets the file aside, with what reading it cost: ``{"cpu_seconds", "wall_seconds"}``
    (its own reading, plus its share, by rows, of the pass all shared). Other errors are raised."""
    out: list = [None] * len(items)
    costs = [{"cpu_seconds": 0.0, "wall_seconds": 0.0} for _ in items]
    prepared: list[tuple[int, FileStage, list]] = []
    for k, (path, label, digest, index, modified) in enumerate(items):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        f = FileStage(index, label, digest, modified.isoformat(timespec="seconds"))
        cands = []
        try:
            cands = stage._candidates(Path(path))
            data = stage._data_tables(f, cands)
        except FileRejected as err:
            out[k] = err
        else:
            titles = [line for cand, _ in data for line in cand.titles]
            f.titles = tuple(titles)
            f.cutoff = delivery_cutoff(titles, Path(path).name, modified)
            for cand, _ in data:
                f.sheet_names.append(cand.sheet)
                if cand.sheet is not None:
                    f.sheets[cand.sheet] = len(cand.source.frame)
            prepared.append((k, f, data))
        finally:
            for cand in cands:
                if hasattr(cand.source, "cleanup"):
                    cand.source.cleanup()
        costs[k] = {"cpu_seconds": time.process_time() - cpu0, "wall_seconds": time.perf_counter() - wall0}
    if prepared:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        _pass_together(stage, [f for _, f, _ in prepared], [data for _, _, data in prepared])
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        total = sum(f.rows for _, f, _ in prepared)
        for k, f, _ in prepared:
            share = f.rows / total if total else 1 / len(prepared)
            costs[k]["cpu_seconds"] += cpu * share
            costs[k]["wall_seconds"] += wall * share
            out[k] = f
    return list(zip(out, costs))


def _pass_together(stage: SourceStage, files: list[FileStage], data: list[list]) -> None:
    """The pass over the data tables of ``files`` (``data``: each file's ``(candidate, mapping)``, from
    :meth:`SourceStage._data_tables`), one query per header layout into one table, then each file's table
    and facts (``table``, ``rows``, ``scopes``, ``rejection``)."""
    con = stage.con
    combined = f"_ing_{stage.uid}_b{next(_BATCHES)}"
    groups: dict[tuple, tuple[object, list[pa.Table]]] = {}
    seq = 0
    for f, tables in zip(files, data):
        for t, (cand, mapping) in enumerate(tables):
            plan = stage.plan(cand, mapping)
            arrow = arrow_cells(plan, cand.source, t)
            n = arrow.num_rows
            arrow = arrow.append_column("_fi", pa.array([f.index] * n, type=pa.int32()))
            arrow = arrow.append_column("_seq", pa.array(range(seq, seq + n), type=pa.int64()))
            seq += n
            key = (tuple(plan.cells), tuple(sorted(plan.present.items())))
            groups.setdefault(key, (plan, []))[1].append(arrow)
    name = f"_ing_src_{stage.uid}"
    try:
        verb = f"CREATE TEMP TABLE {combined} AS"
        for plan, tables in groups.values():
            con.register(name, pa.concat_tables(tables).combine_chunks())  # one batch: the Python rules called once per 2,048 rows
            try:
                con.execute(f"{verb} {pass_sql(plan, name, ('_fi', '_seq'))}")
            finally:
                con.unregister(name)
            verb = f"INSERT INTO {combined}"
        for f in files:  # each file's table, its rows in reading order (as a pass of its own writes them)
            f.table = f"_ing_{stage.uid}_f{f.index}"
            stage.created.append(f.table)
            con.execute(f"CREATE TEMP TABLE {f.table} AS SELECT * EXCLUDE (_fi, _seq) FROM {combined}"
                        f" WHERE _fi = {f.index} ORDER BY _seq")
        rows = dict(con.execute(f"SELECT _fi, count(*) FROM {combined} GROUP BY _fi").fetchall())
        scopes: dict[int, set] = {}
        if stage.contract.delivery_scope is not None:
            for fi, s in con.execute(f"SELECT DISTINCT _fi, {scope_sql(stage.contract)} AS s FROM {combined} WHERE s IS NOT NULL").fetchall():
                scopes.setdefault(fi, set()).add(s)
        limits = {fi: (int(m), int(b)) for fi, m, b in con.execute(limit_counts_sql(combined, q("_fi"))).fetchall()}
    finally:
        con.execute(f"DROP TABLE IF EXISTS {combined}")
    for f in files:
        f.rows = int(rows.get(f.index, 0))
        f.scopes = scopes.get(f.index, set())
        f.rejection = stage._over_limit(f, limits.get(f.index, (0, 0)))
