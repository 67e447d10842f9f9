"""The set-based pass: a table of text cells typed, checked and split in DuckDB, in one streamed query.

Every table a file holds (a CSV file read by DuckDB's ``read_csv``, or a sheet a Python reader turned
into an Arrow table) goes through the same query (:func:`pass_sql`), which DuckDB runs chunk by chunk
(memory does not grow with the file). Per row it yields the typed contract columns, the faults of each
cell (:class:`~daxing_kpi.ingest.reasons.Reason` texts, up to two per cell), the cell's value as the
quarantine may keep it (personal data masked), whether the row is a totals or signature row, and whether
the record is quarantined (``_q``: a fault in a column of the contract's ``record_needs``, a town/street
outside the district, cells beyond the header, or no record at all) or loaded (with faulty fields NULL).

Where the rules live (one place each):

* the field rules (:func:`daxing_kpi.ingest.fields.cell_rule`: dates, numbers, yes/no, allowed values,
  towns, ID numbers and person keys) are Python, applied by the DuckDB function ``kpi_cell`` to each
  distinct spelling the query does not type itself, results kept per spelling; the query types the
  spellings already in the normal form directly (``2023-05-06``, ``42``, a town name or code as the
  seeds write it, an allowed value as the contract writes it), where the Python rule is the identity or
  a cast (``tests/test_ingest_sqlpass.py`` proves the two agree);
* ID numbers go through ``kpi_person`` (:func:`daxing_kpi.ingest.fields.id_cells`: check digit and
  keyed hash, vectorised);
* totals and signature rows: ``kpi_marker`` (:func:`daxing_kpi.ingest.rows.marker_rows`), asked only
  for rows with a fault (a record without one is no such row);
* masking of quarantined values: SQL for ID numbers and other personal data, ``kpi_redact``
  (:func:`daxing_kpi.ingest.fields.redact_text`) for free text.

Blank cells (only whitespace, as Python's ``str.isspace`` knows it) and the stripping of text cells are
SQL macros (``kpi_blank``, ``kpi_strip``) equal to the Python rules.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from daxing_kpi.ingest.contracts import Column, Contract
from daxing_kpi.ingest.fields import cell_rule, person_cells, redact_text, seed_values
from daxing_kpi.ingest.readers import normalize_text
from daxing_kpi.ingest.reasons import Reason
from daxing_kpi.ingest.rows import marker_rows
from daxing_kpi.ingest.towns import town_lookup

# Python's str.isspace() characters (= what str.strip() removes and what makes a cell blank after NFKC)
WHITESPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
_WS_LITERAL = "'" + WHITESPACE.replace("'", "''") + "'"
# fields of kpi_cell's result; the value sits in the field of its type
CELL_STRUCT = {"t": "VARCHAR", "n": "DOUBLE", "d": "DATE", "ts": "TIMESTAMP", "b": "BOOLEAN", "r1": "VARCHAR", "r2": "VARCHAR",
               "blank": "BOOLEAN"}
_VALUE_FIELD = {"text": "t", "town": "t", "id_number": "t", "integer": "n", "number": "n", "date": "d", "timestamp": "ts",
                "boolean": "b"}
_OUT_TYPE = {"text": "VARCHAR", "town": "VARCHAR", "id_number": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE", "date": "DATE",
             "timestamp": "TIMESTAMP", "boolean": "BOOLEAN"}
MEMO_LIMIT = 200_000  # spellings kept per column before the memory of results is cleared


def q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


def lit(text) -> str:
    """A SQL string literal (NULL for None)."""
    return "NULL" if text is None else "'" + str(text).replace("'", "''") + "'"


# -- the Python side: functions DuckDB calls on chunks of a column ----------------------------------------


@dataclass
class _Spec:
    column: Column
    memo: dict = field(default_factory=dict)


_SPECS: dict[int, _Spec] = {}
_SPEC_IDS = itertools.count(1)
_LOCK = threading.Lock()


def new_spec(column: Column) -> int:
    """Register a contract column for ``kpi_cell``; returns the id the query passes. Free it with
    :func:`drop_specs`."""
    with _LOCK:
        i = next(_SPEC_IDS)
        _SPECS[i] = _Spec(column)
    return i


def drop_specs(ids) -> None:
    with _LOCK:
        for i in ids:
            _SPECS.pop(i, None)


def _arrow(arr) -> pa.Array:
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _kpi_cell(spec_ids, values):
    """``kpi_cell(spec, text)``: :func:`cell_rule` of each distinct spelling, once per column."""
    values = _arrow(values)
    empty = pa.array([None] * len(values))
    if not len(values):
        return pa.StructArray.from_arrays([empty.cast(_PA[k]) for k in CELL_STRUCT], names=list(CELL_STRUCT))
    spec = _SPECS[_arrow(spec_ids)[0].as_py()]
    uniques = pc.unique(values)
    keys = uniques.to_pylist()
    memo = spec.memo
    misses = [k for k in keys if k not in memo]
    if misses:
        if len(memo) + len(misses) > MEMO_LIMIT:
            memo.clear()
        out = cell_rule(spec.column, pd.Series(["" if m is None else m for m in misses], dtype=object))
        for k, row in zip(misses, zip(out["value"], out["reason"], out["reason2"], out["blank"])):
            memo[k] = row
    rows = [memo[k] for k in keys]
    where = pc.index_in(values, value_set=uniques)
    vf = _VALUE_FIELD.get(spec.column.type, "t")
    arrays = []
    for name in CELL_STRUCT:
        if name == vf and not spec.column.dropped:
            col = pa.array([_py(r[0], spec.column.type) for r in rows], type=_PA[name])
        elif name == "r1":
            col = pa.array([r[1] for r in rows], type=pa.string())
        elif name == "r2":
            col = pa.array([r[2] for r in rows], type=pa.string())
        elif name == "blank":
            col = pa.array([bool(r[3]) for r in rows], type=pa.bool_())
        else:
            arrays.append(pa.nulls(len(values), type=_PA[name]))
            continue
        arrays.append(pc.take(col, where))
    return pa.StructArray.from_arrays(arrays, names=list(CELL_STRUCT))


_PA = {"t": pa.string(), "n": pa.float64(), "d": pa.date32(), "ts": pa.timestamp("us"), "b": pa.bool_(), "r1": pa.string(),
       "r2": pa.string(), "blank": pa.bool_()}


def _py(v, kind: str):
    if v is None or (isinstance(v, float) and v != v):
        return None
    if kind == "timestamp":
        return pd.Timestamp(v).to_pydatetime()
    if kind in ("integer", "number"):
        return float(v)
    return v


def _kpi_person(values):
    """``kpi_person(text)``: person key and fault of ID-number cells (:func:`person_cells`)."""
    keys, reasons = person_cells(_arrow(values))
    return pa.StructArray.from_arrays([keys, reasons], names=["k", "r"])


def _kpi_marker(cells):
    """``kpi_marker(list of the row's cells)``: totals or signature row (:func:`marker_rows`)."""
    cells = _arrow(cells)
    rows = cells.to_pylist()
    if not rows:
        return pa.StructArray.from_arrays([pa.array([], pa.string()), pa.array([], pa.string())], names=["r", "v"])
    width = max(len(r) for r in rows)
    frame = pd.DataFrame([[("" if c is None else c) for c in r] + [""] * (width - len(r)) for r in rows],
                         columns=[f"c{i}" for i in range(width)], dtype=object)
    reason, value = marker_rows(frame)
    return pa.StructArray.from_arrays([pa.array(reason.tolist(), type=pa.string()), pa.array(value.tolist(), type=pa.string())],
                                      names=["r", "v"])


def _kpi_redact(values):
    """``kpi_redact(text)``: :func:`redact_text` of the first 200 characters (quarantined free text)."""
    return pa.array([redact_text(("" if v is None else v)[:200]) for v in _arrow(values).to_pylist()], type=pa.string())


# a session variable of a connection the pass's functions are created on (a test that does not fail: the failing
# query's error message, with its suggestions of similar names, cost more than the rest of the preparation)
PREPARED_VARIABLE = "kpi_pass_prepared"


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Create the pass's macros and Python functions on a connection (once per connection)."""
    if con.execute(f"SELECT getvariable('{PREPARED_VARIABLE}')").fetchall()[0][0]:
        return  # prepared already
    # the types from the connection (duckdb.sqltype goes through the module's default connection, milliseconds a call)
    text = con.sqltype("VARCHAR")
    struct = con.struct_type({k: con.sqltype(v) for k, v in CELL_STRUCT.items()})
    con.create_function("kpi_cell", _kpi_cell, [con.sqltype("INTEGER"), text], struct, type="arrow", side_effects=False)
    con.create_function("kpi_person", _kpi_person, [text], con.struct_type({"k": text, "r": text}), type="arrow",
                        side_effects=False)
    con.create_function("kpi_marker", _kpi_marker, [con.list_type(text)], con.struct_type({"r": text, "v": text}), type="arrow",
                        side_effects=False)
    con.create_function("kpi_redact", _kpi_redact, [text], text, type="arrow", side_effects=False)
    # a code point that may be whitespace (cheap; the exact test follows only for these)
    con.execute("CREATE OR REPLACE TEMP MACRO kpi_maybe_ws(cp) AS cp <= 32 OR (cp BETWEEN 133 AND 12288 AND (cp = 133 OR cp = 160"
                " OR cp = 5760 OR cp BETWEEN 8192 AND 8202 OR cp IN (8232, 8233, 8239, 8287, 12288)))")
    con.execute(f"CREATE OR REPLACE TEMP MACRO kpi_blank(x) AS CASE WHEN x IS NULL OR x = '' THEN true"
                f" WHEN NOT kpi_maybe_ws(unicode(x)) THEN false ELSE trim(x, {_WS_LITERAL}) = '' END")
    con.execute(f"CREATE OR REPLACE TEMP MACRO kpi_strip(x) AS CASE WHEN kpi_maybe_ws(unicode(x)) OR kpi_maybe_ws(unicode(x[-1]))"
                f" THEN trim(x, {_WS_LITERAL}) ELSE x END")
    con.execute(f"SET VARIABLE {PREPARED_VARIABLE} = true")


# -- the query -------------------------------------------------------------------------------------------------


@dataclass
class PassPlan:
    """What the pass of one table needs: the contract, which text column (``c0``, ``c1`` ...) holds each
    contract column, and every text column (for totals rows)."""

    contract: Contract
    present: dict[str, str]  # contract column name -> text column of the source
    cells: list[str]  # every text column of the source, in order
    specs: dict[str, int] = field(default_factory=dict)  # contract column -> kpi_cell spec (shared by a source's files)

    def spec(self, column: Column) -> int:
        """The ``kpi_cell`` spec of a column: its rule and the results kept per spelling (registered once)."""
        if column.name not in self.specs:
            self.specs[column.name] = new_spec(column)
        return self.specs[column.name]


def faultable(c: Column) -> bool:
    """Whether a cell of this column can have a fault (required, or typed beyond plain text)."""
    return c.required or (not c.dropped and (c.type != "text" or bool(c.allowed or c.allowed_from_seed)))


def _allowed(c: Column) -> list[str]:
    allowed = set(c.allowed or ()) | (seed_values(c.allowed_from_seed) if c.allowed_from_seed else set())
    return sorted({normalize_text(a) for a in allowed})


def _in_list(values) -> str:
    return "(" + ", ".join(lit(v) for v in values) + ")"


def _town_fast() -> tuple[str, str]:
    """An ENUM of the exact spellings of the town tables (already normal: no spaces, NFKC) and the list of
    their codes, for a cast instead of a join (a join would not keep the file's row order)."""
    table = town_lookup()
    spellings = sorted(table)
    return "ENUM" + _in_list(spellings), "[" + ", ".join(lit(table[s]) for s in spellings) + "]"


def _column_sql(j: int, c: Column, x: str, plan: PassPlan) -> tuple[list[str], list[str], list[str], str]:
    """``(layer A, layer B, layer C, mask)`` of contract column ``j`` read from text column ``x``.

    Layer A computes per cell what every later test uses (``_x{j}`` the text, ``_b{j}`` blank, a cast or
    a look-up); layer B whether the query types the cell itself (``_f{j}``) and otherwise the Python
    rule's struct (``_s{j}``); layer C the typed value ``_v{j}`` and the faults ``_r{j}a``/``_r{j}b``.
    ``mask`` is the SQL of the value the quarantine keeps (evaluated for faulty cells only)."""
    xj = f"_x{j}"
    a, b, c_ = [f"{x} AS {xj}"], [], []
    missing = lit(Reason.MISSING) if c.required else "NULL"
    if c.dropped or (c.type == "text" and not (c.allowed or c.allowed_from_seed)):
        a.append(f"kpi_blank({x}) AS _b{j}")
        value = "NULL" if c.dropped else f"CASE WHEN NOT _b{j} THEN kpi_strip({xj}) END"
        c_ += [f"{value} AS _v{j}", f"CASE WHEN _b{j} THEN {missing} END AS _r{j}a", f"NULL AS _r{j}b"]
    elif c.type == "id_number":
        a.append(f"kpi_blank({x}) AS _b{j}")
        b.append(f"CASE WHEN NOT _b{j} THEN kpi_person({xj}) END AS _p{j}")
        c_ += [f"_p{j}.k AS _v{j}", f"CASE WHEN _b{j} THEN {missing} ELSE _p{j}.r END AS _r{j}a", f"NULL AS _r{j}b"]
    else:
        spec = plan.spec(c)
        # an empty cell is blank whatever the type; other spellings of blank (spaces) go to the rule
        a.append(f"({x} IS NULL OR {x} = '') AS _n{j}")
        if c.type == "text":
            fast, fast_value, fast_fault = f"{xj} IN {_in_list(_allowed(c))}", xj, "NULL"
        elif c.type in ("integer", "number"):
            a.append(f"TRY_CAST({x} AS DOUBLE) AS _d{j}")
            fast = f"(strlen({xj}) BETWEEN 1 AND 15 AND NOT {xj} GLOB '*[!0-9]*')"
            if c.min is None:
                fast_value, fast_fault = f"_d{j}", "NULL"
            else:
                fast_value = f"CASE WHEN _d{j} >= {float(c.min)!r} THEN _d{j} END"
                fast_fault = f"CASE WHEN _d{j} < {float(c.min)!r} THEN {lit(Reason.BELOW_MIN.format(min=c.min))} END"
        elif c.type in ("date", "timestamp"):
            a.append(f"TRY_CAST({x} AS DATE) AS _d{j}")
            # the normal form 2023-05-06 of a valid date (others, and invalid dates, go to the rule)
            fast = f"(year(_d{j}) BETWEEN 1900 AND 2199 AND CAST(_d{j} AS VARCHAR) = {xj})"
            fast_value = f"_d{j}" if c.type == "date" else f"CAST(_d{j} AS TIMESTAMP)"
            fast_fault = "NULL"
        elif c.type == "boolean":
            fast, fast_value, fast_fault = f"{xj} IN ('是', '否')", f"({xj} = '是')", "NULL"
        elif c.type == "town":
            enum, codes = _town_fast()
            a.append(f"enum_code(TRY_CAST({x} AS {enum})) AS _e{j}")
            fast, fast_value, fast_fault = f"_e{j} IS NOT NULL", f"{codes}[_e{j} + 1]", "NULL"
        else:  # pragma: no cover - contracts are validated on load
            raise ValueError(f"unknown contract type {c.type!r}")
        b.append(f"(_n{j} OR coalesce({fast}, false)) AS _f{j}")
        b.append(f"CASE WHEN NOT (_n{j} OR coalesce({fast}, false)) THEN kpi_cell({spec}, {xj}) END AS _s{j}")
        slow_value = f"_s{j}.{_VALUE_FIELD[c.type]}"
        if c.type == "integer":
            slow_value = f"CAST(_s{j}.n AS BIGINT)"
            fast_value = f"CAST({fast_value} AS BIGINT)"
        c_ += [f"CASE WHEN _n{j} THEN NULL WHEN _f{j} THEN {fast_value} ELSE {slow_value} END AS _v{j}",
               f"CASE WHEN _n{j} THEN {missing} WHEN _f{j} THEN {fast_fault} ELSE _s{j}.r1 END AS _r{j}a", f"_s{j}.r2 AS _r{j}b"]
    if c.pii == "id_number":
        mask = f"CASE WHEN length({xj}) >= 8 THEN left({xj}, 6) || repeat('*', length({xj}) - 6) WHEN coalesce({xj}, '') <> '' THEN '***' ELSE '' END"
    elif c.pii is not None:
        mask = f"CASE WHEN coalesce({xj}, '') <> '' THEN '***' ELSE '' END"
    else:
        mask = f"kpi_redact(coalesce({xj}, ''))"
    return a, b, c_, mask


FAULT_STRUCT = "STRUCT(b TINYINT, j SMALLINT, s TINYINT, c VARCHAR, r VARCHAR, v VARCHAR)"


def _fault(block: int, j: int, slot: int, column: str, reason: str, value: str) -> str:
    return f"{{'b': {block}::TINYINT, 'j': {j}::SMALLINT, 's': {slot}::TINYINT, 'c': {column}, 'r': {reason}, 'v': {value}}}"


def pass_sql(plan: PassPlan, source: str, carry: tuple[str, ...] = ()) -> str:
    """The query typing and checking the rows of ``source`` (a relation with ``_t`` (the table's number
    within its file), ``_row_number``, ``_extra`` and the text columns of ``plan.cells``), one output row
    per input row:

    ``_t, _row_number``; each kept contract column by its name (typed; NULL when blank or faulty; the
    columns of the delivery scope also NULL in a totals or signature row); ``_q`` (the record is not
    loaded); ``_f``: the row's faults, NULL for a row without any, else a list of
    ``{b: block, j: contract column, s: slot, c: column header, r: reason, v: value as kept}`` in the order
    the faults are listed (block 0 a cell's fault, 1 a totals/signature row: its only entry, 2 cells
    beyond the header). The result depends on the cells and the rules only, never on other files (the
    duplicates of a key across files are found afterwards, :func:`daxing_kpi.ingest.source.ingest_source`).
    ``carry``: further columns of ``source`` passed through unchanged, last (several files read in one pass
    tell their rows apart by them: :mod:`daxing_kpi.ingest.together`)."""
    contract = plan.contract
    cols = list(contract.columns)
    base = ["_t", "_row_number", "_extra"] + [q(c) for c in plan.cells] + [q(c) for c in carry]
    la, lb, lc = list(base), ["*"], ["*"]
    reasons: list[tuple[int, Column, str]] = []
    for j, c in enumerate(cols):
        if c.name not in plan.present:
            if not c.dropped:
                lc.append(f"CAST(NULL AS {_OUT_TYPE[c.type]}) AS _v{j}")
            continue
        a, b, c_, mask = _column_sql(j, c, q(plan.present[c.name]), plan)
        la += a
        lb += b
        lc += c_
        if faultable(c):
            reasons.append((j, c, mask))
    any_fault = " OR ".join(f"_r{j}a IS NOT NULL OR _r{j}b IS NOT NULL" for j, _, _ in reasons) or "false"
    needs = set(contract.record_needs)
    out_fault = [f"_r{j}a IS NOT NULL OR _r{j}b IS NOT NULL" for j, c, _ in reasons if c.name in needs]
    out_fault += [f"coalesce(_r{j}a = {lit(Reason.OUTSIDE_DISTRICT)}, false)" for j, c, _ in reasons if c.type == "town"]
    cells_list = "[" + ", ".join(f"coalesce({q(c)}, '')" for c in plan.cells) + "]" if plan.cells else "[]"
    l3 = ["*", f"coalesce({any_fault} OR _extra, false) AS _p"]
    l4 = ["*", f"CASE WHEN _p THEN kpi_marker({cells_list}) END AS _mk"]
    entries = []
    for j, c, mask in reasons:
        for slot, suffix in ((0, "a"), (1, "b")):
            entries.append(_fault(0, j, slot, lit(c.header_zh), f"_r{j}{suffix}", f"CASE WHEN _r{j}{suffix} IS NOT NULL THEN {mask} END"))
    entries.append(_fault(2, 0, 0, lit("(beyond the header)"), f"CASE WHEN _extra THEN {lit(Reason.EXTRA_CELLS)} END", "''"))
    faults = (f"CASE WHEN NOT _p THEN NULL WHEN _mk.r IS NOT NULL THEN [{_fault(1, 0, 0, lit(''), '_mk.r', '_mk.v')}]"
              f" ELSE list_filter([{', '.join(entries)}], lambda x: x.r IS NOT NULL) END")
    scope_cols = {ref.partition(".")[0] for ref in (contract.delivery_scope or ())}
    out = ["_t", "_row_number"]
    for j, c in enumerate(cols):
        if not c.dropped:
            out.append(f"CASE WHEN _mk.r IS NULL THEN _v{j} END AS {q(c.name)}" if c.name in scope_cols else f"_v{j} AS {q(c.name)}")
    out += [f"coalesce(_mk.r IS NOT NULL OR _extra OR {' OR '.join(out_fault) or 'false'}, false) AS _q",
            f"CAST({faults} AS {FAULT_STRUCT}[]) AS _f"] + [q(c) for c in carry]
    sql = f"SELECT {', '.join(la)} FROM {source}"
    for layer in (lb, lc, l3, l4, out):
        sql = f"SELECT {', '.join(layer)} FROM ({sql})"
    return sql
