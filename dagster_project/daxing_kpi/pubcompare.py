"""Whether two published databases hold the same data (issue 20.2: a night that redid only what changed
publishes what a full rebuild of the same files publishes).

:func:`compare_published` compares, table by table, every published mart
(:data:`daxing_kpi.warehouse.PUBLISHED_MARTS`) and the quality gate's per-KPI and per-source tables
(``dq_kpi_status``, ``source_freshness``) as multisets of rows, leaving out only the columns that name
the run that made them or the time it ran (:data:`RUN_COLUMNS`), in ``dq_kpi_status``, the count of
check results carried over from earlier runs (which a partial night has by design) and, in ``ingest_audit``,
``read_mode`` (a file taken from the stage cache rather than read: how the run worked, not what it loaded). Row order is not
compared: no published table promises one. ``dq_results``, ``pipeline_runs`` and ``publish_metadata`` are
histories of runs and differ by nature.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

# columns naming the run that made a row, or when (they differ between any two runs)
RUN_COLUMNS = frozenset({"run_id", "loaded_at", "first_loaded_at", "last_loaded_at", "checked_at", "published_at"})
EXCLUDED = {"dq_kpi_status": frozenset({"checks_carried_over"}), "ingest_audit": frozenset({"read_mode"})}
OPERATOR_TABLES_COMPARED = ("dq_kpi_status", "source_freshness")


@dataclass
class TableDiff:
    table: str
    rows_a: int
    rows_b: int
    only_a: int  # rows of a without an equal row in b (multiset difference)
    only_b: int
    columns: list[str]

    @property
    def equal(self) -> bool:
        return self.rows_a == self.rows_b and not self.only_a and not self.only_b


def compare_published(a: Path | str, b: Path | str, tables: tuple[str, ...] | None = None) -> list[TableDiff]:
    """Compare the published databases ``a`` and ``b`` (see the module docstring); one :class:`TableDiff`
    per table. A table missing from one side counts all its rows as only on the other."""
    from daxing_kpi.warehouse import PUBLISHED_MARTS

    tables = tables or (*PUBLISHED_MARTS, *OPERATOR_TABLES_COMPARED)
    out = []
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{a}' AS a (READ_ONLY)")
        con.execute(f"ATTACH '{b}' AS b (READ_ONLY)")
        for t in tables:
            cols = {}
            for side in ("a", "b"):
                cols[side] = [r[0] for r in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = 'main' AND table_name = ?"
                    " ORDER BY column_index", [side, t]).fetchall()]
            if not cols["a"] or not cols["b"]:
                counts = {s: (con.execute(f'SELECT count(*) FROM {s}.main."{t}"').fetchone()[0] if cols[s] else 0) for s in "ab"}
                out.append(TableDiff(t, counts["a"], counts["b"], counts["a"], counts["b"], []))
                continue
            skip = RUN_COLUMNS | EXCLUDED.get(t, frozenset())
            keep = [c for c in cols["a"] if c in cols["b"] and c not in skip]
            sel = ", ".join(f'"{c}"' for c in keep)
            # columns only one side has make every row differ
            extra = [c for c in cols["a"] + cols["b"] if (c not in cols["a"] or c not in cols["b"]) and c not in skip]
            n_a, n_b = (con.execute(f'SELECT count(*) FROM {s}.main."{t}"').fetchone()[0] for s in "ab")
            if extra:
                out.append(TableDiff(t, n_a, n_b, n_a, n_b, keep))
                continue
            only_a = con.execute(f'SELECT count(*) FROM (SELECT {sel} FROM a.main."{t}" EXCEPT ALL SELECT {sel} FROM b.main."{t}")').fetchone()[0]
            only_b = con.execute(f'SELECT count(*) FROM (SELECT {sel} FROM b.main."{t}" EXCEPT ALL SELECT {sel} FROM a.main."{t}")').fetchone()[0]
            out.append(TableDiff(t, n_a, n_b, only_a, only_b, keep))
    return out


def describe(diffs: list[TableDiff]) -> str:
    """One line: every table equal, or the tables that differ and by how many rows."""
    bad = [d for d in diffs if not d.equal]
    if not bad:
        return f"identical: {len(diffs)} tables ({sum(d.rows_a for d in diffs):,} rows)"
    return "DIFFERENT: " + "; ".join(f"{d.table} ({d.rows_a} vs {d.rows_b} rows, {d.only_a} only in the first, "
                                     f"{d.only_b} only in the second)" for d in bad)
