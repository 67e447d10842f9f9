"""Scan a DuckDB database for personal data (个人信息) in its text columns.

Independent of the data contracts on purpose: it looks at content, so it also finds personal
data that a wrong contract let through. Every VARCHAR column of the chosen schemas is checked for

* ``id_number``: an 18-character resident ID number (region code, birth date 18xx-20xx, sequence,
  digit or X/x) standing alone, i.e. not inside a longer run of letters and digits such as a
  SHA-256 (organisation codes such as the unified social credit code do not have a birth date);
* ``phone``: a mainland mobile number (11 digits starting 13-19) standing alone;
* ``personal_name``: a column whose content looks like a column of Chinese personal names
  (at least :data:`NAME_MIN_DISTINCT` distinct values, most of them two or three Chinese
  characters starting with a common surname), or any cell equal to one of ``known_names``.

:func:`scan_database` returns the findings (never the values themselves, only masked examples).
Used by the tests on the published database (``analytics.duckdb``) and on the operator's raw
layer and quarantine; the published database must have none.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

# RE2 (DuckDB) has no look-behind: the boundaries are matched as characters.
ID_NUMBER_SQL = r"(^|[^0-9A-Za-z])[1-9][0-9]{5}(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]($|[^0-9A-Za-z])"
PHONE_SQL = r"(^|[^0-9A-Za-z])1[3-9][0-9]{9}($|[^0-9A-Za-z])"
# The most common Chinese surnames (about 85% of the population).
COMMON_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤萧"
)
NAME_SQL = "^[" + COMMON_SURNAMES + r"][\x{4e00}-\x{9fff}]{1,2}$"
NAME_MIN_DISTINCT = 20
NAME_MIN_SHARE = 0.6


def _mask(v: str) -> str:
    v = str(v)
    return v[:2] + "*" * max(len(v) - 2, 1) if len(v) > 2 else v[:1] + "*"


def scan_connection(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...] | None = None, database: str | None = None,
                    known_names: frozenset[str] | set[str] = frozenset()) -> pd.DataFrame:
    """Findings of personal data in the VARCHAR columns of ``schemas`` (default: all) of an open database.

    Returns a frame ``schema, table, column, kind, rows, example`` (example masked), empty when clean.
    """
    where = "data_type = 'VARCHAR'"
    params: list = []
    if database:
        where += " AND table_catalog = ?"
        params.append(database)
    if schemas:
        where += " AND table_schema IN (" + ", ".join("?" for _ in schemas) + ")"
        params += list(schemas)
    cols = con.execute(
        f"SELECT table_catalog, table_schema, table_name, column_name FROM information_schema.columns WHERE {where}"
        " ORDER BY 1, 2, 3, 4", params,
    ).fetchall()
    names = sorted(known_names)
    if names:
        con.execute("CREATE OR REPLACE TEMP TABLE _known_names (v VARCHAR)")
        con.executemany("INSERT INTO _known_names VALUES (?)", [[n] for n in names])
    findings = []
    for cat, schema, table, col in cols:
        ref = f'"{cat}"."{schema}"."{table}"'
        c = f'"{col}"'
        for kind, pattern in (("id_number", ID_NUMBER_SQL), ("phone", PHONE_SQL)):
            n, ex = con.execute(
                f"SELECT count(*), min({c}) FROM {ref} WHERE regexp_matches({c}, ?)", [pattern]
            ).fetchone()
            if n:
                findings.append((schema, table, col, kind, int(n), _mask(ex)))
        distinct, named, ex = con.execute(
            f"SELECT count(DISTINCT {c}), count(DISTINCT {c}) FILTER (WHERE regexp_matches({c}, ?)),"
            f" min({c}) FILTER (WHERE regexp_matches({c}, ?)) FROM {ref}", [NAME_SQL, NAME_SQL],
        ).fetchone()
        if named >= NAME_MIN_DISTINCT and named >= NAME_MIN_SHARE * distinct:
            findings.append((schema, table, col, "personal_name", int(named), _mask(ex)))
        if names:
            n, ex = con.execute(f"SELECT count(*), min({c}) FROM {ref} WHERE {c} IN (SELECT v FROM _known_names)").fetchone()
            if n:
                findings.append((schema, table, col, "personal_name", int(n), _mask(ex)))
    return pd.DataFrame(findings, columns=["schema", "table", "column", "kind", "rows", "example"]).drop_duplicates(
        ["schema", "table", "column", "kind"]
    )


def scan_database(path: Path, schemas: tuple[str, ...] | None = None, known_names: frozenset[str] | set[str] = frozenset()) -> pd.DataFrame:
    """:func:`scan_connection` on a DuckDB file opened read-only (a scratch in-memory database
    holds the list of known names). Raises ``FileNotFoundError`` when ``path`` does not exist."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(path)
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{path}' AS scanned (READ_ONLY)")
        return scan_connection(con, schemas, database="scanned", known_names=known_names)
