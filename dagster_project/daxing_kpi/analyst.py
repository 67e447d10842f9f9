"""Analysts' access to the published database: ``kpi sql``, ``kpi export`` and ``kpi status``.

All three subcommands read the PUBLISHED, PII-free database ``$KPI_WAREHOUSE_DIR/analytics.duckdb``
(``--database`` points at another copy) through one sandboxed DuckDB connection
(:func:`connect_published`): opened read-only, external access off and the configuration locked
before the first statement, so no file, folder, URL or database other than the published file can be
read (landing files, the working database, the raw Parquet layer, system files: issue 19.1). They
never touch the operator's working database. A damaged published file is reported in one sentence
(exit code 4); the next successful run replaces it.

``kpi sql``
    Runs a query given as an argument, from ``--file``, from standard input, or at an interactive
    prompt (the default when standard input is a terminal). Results are printed as an aligned table,
    or written with ``--format csv|json|parquet --output FILE``. Only queries run: a statement that
    would change the database or write elsewhere (INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, ATTACH,
    DETACH, COPY, EXPORT, INSTALL, LOAD, SET of a setting, a PRAGMA that is not a read-only one, ...)
    is refused before anything runs, with a message saying the database is read-only. DuckDB's
    read-only mode alone stops writes to the database itself, but not ``ATTACH '<file>' (READ_WRITE)``,
    ``COPY ... TO``, ``EXPORT DATABASE``, ``INSTALL``/``LOAD`` or ``EXPLAIN ANALYZE COPY ... TO`` (each
    checked with DuckDB 2.0), hence the explicit check.
``kpi export``
    Writes published tables (default: the scorecard, the observations and the catalog) to CSV (one
    file per table, UTF-8 with a byte-order mark so that Excel shows Chinese), XLSX (one workbook, one
    sheet per table) or Parquet (one file per table). ``--chinese-headers`` replaces the column names
    of CSV and XLSX files by the Chinese labels of the published data dictionary. Parquet and CSV keep
    every digit of a number; XLSX keeps 16 significant digits (Excel itself shows 15). An export in
    which every table is empty writes the files (column names only) and exits 1: nothing was exported.
``kpi status``
    Prints the latest publication (``publish_metadata``), the data freshness per source from
    ``source_freshness``: 数据截至 (``delivery_cutoff_date``, the cut-off date of the delivery the figures
    use: the same date the dashboard and the review report show) and, apart, the latest record date; the
    latest loaded file per source when ``ingest_audit`` is published) and
    the latest run with its failed checks when ``pipeline_runs`` is published (and the newest
    failure report of the warehouse folder, which names them).

Exit codes (every subcommand):
    0  success; an empty query result is a success too, and the command says that it is empty
    1  the query failed (DuckDB's message is printed with the line and column where it failed), or an
       export or status could not be produced (unknown table, file not writable), or an export wrote
       no rows at all (every table empty)
    2  usage error (unknown option, missing argument), printed by argparse
    3  refused: the statement would write (the published database is read-only)
    4  the published database does not exist yet (run ``kpi run``) or cannot be opened
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import decimal
import io
import json
import math
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from daxing_kpi.paths import analytics_db_path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED, EXIT_NO_DATABASE = 0, 1, 2, 3, 4

# Tables `kpi export` writes when no --tables are given.
DEFAULT_EXPORT_TABLES = ("kpi_scorecard", "kpi_observations", "kpi_catalog")
# Read-only PRAGMAs kpi sql runs (every other PRAGMA is refused).
READ_ONLY_PRAGMAS = frozenset(
    {"table_info", "show", "show_tables", "show_tables_expanded", "show_databases", "database_list",
     "database_size", "storage_info", "metadata_info", "version", "platform", "functions", "collations",
     "user_agent"}
)
# Statement types that produce results and run as they are.
QUERY_TYPES = frozenset({"SELECT", "EXPLAIN", "PRAGMA", "MULTI", "RELATION"})
# Statement types that change the database itself.
WRITE_TYPES = frozenset({"INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "CREATE_FUNC", "VACUUM", "ANALYZE"})


class AnalystError(Exception):
    """An error reported to the analyst as one message, with the command's exit code."""

    exit_code = EXIT_FAILED


class QueryFailed(AnalystError):
    """DuckDB rejected the query; the message names the line and column."""


class QueryRefused(AnalystError):
    """The statement would write: the published database is read-only."""

    exit_code = EXIT_REFUSED


class DatabaseMissing(AnalystError):
    """The published database does not exist or cannot be opened."""

    exit_code = EXIT_NO_DATABASE


# --------------------------------------------------------------------------- connection


# DuckDB settings of every analyst connection (issue 19.1), fixed when the connection opens, before
# any statement: no file, folder, URL, extension or other database but the published file can be
# read or written (read_csv, read_parquet, read_json, read_text, read_blob, glob, read_duckdb,
# ATTACH, COPY, ... all fail with DuckDB's "file system operations are disabled by configuration");
# Python objects of the process are not scanned as tables; and nothing can change a setting back.
SANDBOX_CONFIG = {
    "enable_external_access": False,
    "python_enable_replacements": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "errors_as_json": True,
    "lock_configuration": True,
}
def is_damaged_file_error(exc: BaseException) -> bool:
    """Whether a DuckDB error says the database file itself is damaged (not a wrong query)."""
    from daxing_kpi.selfheal import is_damaged

    return is_damaged(exc)


def _plain_message(exc: BaseException) -> str:
    """DuckDB's message without the JSON wrapping of ``errors_as_json``."""
    raw = str(exc)
    _, _, payload = raw.partition(": ")
    try:
        return json.loads(payload).get("exception_message", raw).splitlines()[0]
    except (ValueError, AttributeError):
        return raw.splitlines()[0] if raw else type(exc).__name__


def damaged_message(path: Path, exc: BaseException) -> str:
    """What an analyst reads when the published database is damaged: one sentence, no JSON."""
    return (f"the published database {path} is damaged and cannot be read ({_plain_message(exc)}). "
            "Nothing is wrong with your query: the operator's next successful `kpi run` replaces the file "
            "(the warehouse rebuilds it from its working database); until then the published data cannot be queried.")


def connect_published(path: Path | str | None = None) -> duckdb.DuckDBPyConnection:
    """Open the published database for an analyst: read-only, sandboxed, configuration locked.

    Every analyst entry point (``kpi sql``, ``kpi export``, ``kpi status`` and any later one) opens
    the published file through this function. The settings (:data:`SANDBOX_CONFIG`) are given to
    DuckDB when the connection opens, so they hold before the first statement: external access off
    (no file, folder, URL or other database can be read or written, the published file excepted),
    Python objects not scanned, no extension installed or loaded, errors as JSON (for positions),
    and the configuration locked. Raises :class:`DatabaseMissing` when the file does not exist, is
    damaged or cannot be opened; the message is one plain sentence.
    """
    path = Path(path) if path else analytics_db_path()
    if not path.exists():
        raise DatabaseMissing(f"the published database {path} does not exist yet: run `kpi run` first")
    try:
        con = duckdb.connect(str(path), read_only=True, config=dict(SANDBOX_CONFIG))
        con.execute("SELECT count(*) FROM duckdb_tables()").fetchone()  # reads the catalog: a damaged file fails here
    except duckdb.Error as exc:
        if is_damaged_file_error(exc):
            raise DatabaseMissing(damaged_message(path, exc)) from exc
        raise DatabaseMissing(f"cannot open the published database {path} read-only: {_plain_message(exc)}") from exc
    return con


def published_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of the tables and views of the published database's main schema, sorted."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY table_name"
    ).fetchall()
    return [r[0] for r in rows]


# --------------------------------------------------------------------------- statements


@dataclass
class Statement:
    """One statement of the analyst's input: its text, DuckDB's type name and where it starts."""

    index: int  # 1-based
    text: str
    type: str
    offset: int  # character offset of ``text`` in the whole input


@dataclass
class Result:
    """The rows a query returned."""

    statement: Statement
    columns: list[str]
    types: list[str]
    rows: list[tuple] = field(default_factory=list)


_LEADING_COMMENTS = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.S)


def _strip_leading_comments(text: str) -> str:
    return _LEADING_COMMENTS.sub("", text, count=1)


def _first_words(text: str, n: int = 3) -> str:
    return " ".join(_strip_leading_comments(text).split()[:n]).rstrip(";").upper()


def split_statements(con: duckdb.DuckDBPyConnection, sql: str) -> list[Statement]:
    """Parse ``sql`` into statements (DuckDB's parser). A syntax error raises :class:`QueryFailed`
    with its position; a statement kind the installed DuckDB cannot name is refused."""
    try:
        parsed = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryFailed(describe_error(exc, sql, 0)) from exc
    statements, pos = [], 0
    for i, st in enumerate(parsed, start=1):
        text = st.query
        try:
            kind = st.type.name
        except ValueError:  # a statement type the Python client has no name for (UPDATE EXTENSIONS)
            kind = "UNKNOWN"
        core = text.strip()
        found = sql.find(core, pos)
        found = pos if found < 0 else found
        pos = found + len(core)
        # DuckDB reports positions from the start of ``text``, blanks before the statement included
        start = max(0, found - (len(text) - len(text.lstrip())))
        statements.append(Statement(i, text, kind, start))
    return statements


def refusal_reason(stmt: Statement, con: duckdb.DuckDBPyConnection | None = None) -> str | None:
    """Why ``stmt`` is refused, or None when it is a query kpi sql runs.

    Writes to the database are stopped by DuckDB's read-only mode too; ATTACH, COPY, EXPORT,
    INSTALL/LOAD and EXPLAIN ANALYZE of those are not, so the check comes first.
    """
    kind, words = stmt.type, _first_words(stmt.text)
    if kind == "EXPLAIN" and con is not None:
        inner = re.sub(r"(?is)\A\s*explain\s+(analy[sz]e\s+)?(\([^)]*\)\s*)?", "", _strip_leading_comments(stmt.text))
        for sub in split_statements(con, inner):
            reason = refusal_reason(sub, con)
            if reason:
                return f"EXPLAIN of {reason}"
        return None
    if kind in QUERY_TYPES and kind != "PRAGMA":
        return None
    if kind == "PRAGMA":
        name = re.match(r"PRAGMA\s+(\w+)", words)
        if name and name.group(1).lower() in READ_ONLY_PRAGMAS:
            return None
        return f"{words.split('(')[0]} (only the read-only PRAGMAs {', '.join(sorted(READ_ONLY_PRAGMAS))} run)"
    if kind == "SET" and re.match(r"(SET|RESET)\s+VARIABLE\b", words):
        return None  # a session variable, nothing persists
    if kind == "TRANSACTION":
        return None
    if kind in WRITE_TYPES:
        return f"{words.split(' ')[0]} (it would change the database)"
    if kind in ("COPY", "COPY_DATABASE"):
        to = " ... TO" if re.search(r"(?i)\)\s*to\b|\bto\s+'", stmt.text) else ""
        return f"COPY{to} (it writes files or tables; use `kpi sql --format csv|json|parquet --output FILE` or `kpi export`)"
    if kind == "EXPORT":
        return "EXPORT DATABASE (it writes files; use `kpi export`)"
    if kind in ("ATTACH", "DETACH"):
        return f"{kind} (another database attached could be written)"
    if kind == "LOAD":
        return f"{words.split(' ')[0]} (extensions are neither installed nor loaded: the machine is offline)"
    if kind == "SET":
        return f"{words.split(' ')[0]} of a setting (settings are locked)"
    if kind == "CALL":
        return "CALL (write `SELECT * FROM function(...)` instead)"
    return f"{words.split(' ')[0] if kind == 'UNKNOWN' else kind} (not a query)"


def check_read_only(con: duckdb.DuckDBPyConnection, statements: list[Statement]) -> None:
    """Raise :class:`QueryRefused` naming the first statement that is not a query."""
    for stmt in statements:
        reason = refusal_reason(stmt, con)
        if reason:
            where = f"statement {stmt.index}" if len(statements) > 1 else "the statement"
            raise QueryRefused(
                f"refused: the published database is read-only; kpi sql runs queries only and {where} "
                f"is {reason}. Nothing was run."
            )


def _line_col(text: str, char_offset: int) -> tuple[int, int]:
    before = text[:char_offset]
    return before.count("\n") + 1, char_offset - (before.rfind("\n") + 1) + 1


def describe_error(exc: duckdb.Error, sql: str, offset: int) -> str:
    """DuckDB's message with the line and column of the error in the analyst's input.

    ``offset`` is where the failing statement starts in ``sql``; DuckDB reports the position as a
    byte offset in the statement's UTF-8 text (errors_as_json).
    """
    raw = str(exc)
    prefix, _, payload = raw.partition(": ")
    try:
        info = json.loads(payload)
    except ValueError:
        return raw
    kind = info.get("exception_type", prefix.replace(" Error", ""))
    lines = [f"{kind} Error: {info.get('exception_message', raw)}"]
    if info.get("position", "").isdigit():
        byte_pos = int(info["position"])
        statement = sql[offset:]
        char_pos = offset + len(statement.encode("utf-8")[:byte_pos].decode("utf-8", errors="ignore"))
        line, col = _line_col(sql, char_pos)
        text_line = sql.splitlines()[line - 1] if sql.splitlines() else ""
        caret = " " * _display_width(text_line[: col - 1]) + "^"
        lines += [f"at line {line}, column {col}:", f"  {text_line}", f"  {caret}"]
    return "\n".join(lines)


def _map_read_only_error(exc: duckdb.Error) -> AnalystError | None:
    """DuckDB's own refusals as a :class:`QueryRefused` (read-only database, locked settings, file
    access disabled by the sandbox), a damaged published file as :class:`DatabaseMissing`."""
    text = str(exc)
    if "file system operations are disabled" in text or "disabled by configuration" in text:
        return QueryRefused(
            "refused: kpi sql reads only the published tables; files, folders, URLs and other databases cannot be "
            f"read or written from here ({_plain_message(exc)})"
        )
    if "read-only mode" in text or "configuration has been locked" in text:
        return QueryRefused(f"refused: the published database is read-only ({describe_error(exc, '', 0)})")
    if is_damaged_file_error(exc):
        return DatabaseMissing(damaged_message(analytics_db_path(), exc))
    return None


def run_sql(con: duckdb.DuckDBPyConnection, sql: str) -> list[Result]:
    """Check every statement of ``sql``, then run them in order; returns the results of the queries.

    Raises :class:`QueryRefused` (nothing is run) or :class:`QueryFailed` (DuckDB's message and position).
    """
    statements = split_statements(con, sql)
    if not statements:
        raise QueryFailed("no SQL statement given")
    check_read_only(con, statements)
    results = []
    for stmt in statements:
        try:
            cur = con.execute(stmt.text)
            if stmt.type in QUERY_TYPES and cur.description:
                results.append(
                    Result(stmt, [d[0] for d in cur.description], [str(d[1]) for d in cur.description], cur.fetchall())
                )
        except duckdb.Error as exc:
            refused = _map_read_only_error(exc)
            if refused:
                raise refused from exc
            raise QueryFailed(describe_error(exc, sql, stmt.offset)) from exc
    return results


# --------------------------------------------------------------------------- output


def _display_width(text: str) -> int:
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _truncate(text: str, width: int) -> str:
    if width <= 0 or _display_width(text) <= width:
        return text
    out, used = [], 0
    for c in text:
        w = _display_width(c)
        if used + w > width - 1:
            break
        out.append(c)
        used += w
    return "".join(out) + "…"


def _text_cell(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, ".10g")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value).replace("\r", "").replace("\n", "\\n")


def format_table(result: Result, max_rows: int = 1000, max_width: int = 60) -> str:
    """The result as an aligned text table (numbers right-aligned, Chinese counted as two columns),
    ending with the row count; an empty result says so."""
    rows = result.rows[:max_rows] if max_rows > 0 else result.rows
    cells = [[_truncate(_text_cell(v), max_width) for v in row] for row in rows]
    numeric = [
        bool(result.rows) and all(isinstance(r[i], (int, float, decimal.Decimal)) and not isinstance(r[i], bool)
                                  for r in result.rows if r[i] is not None)
        for i in range(len(result.columns))
    ]
    widths = [max([_display_width(c)] + [_display_width(r[i]) for r in cells]) for i, c in enumerate(result.columns)]

    def pad(text: str, i: int) -> str:
        fill = " " * (widths[i] - _display_width(text))
        return fill + text if numeric[i] else text + fill

    out = ["  ".join(pad(c, i) for i, c in enumerate(result.columns)).rstrip(), "  ".join("-" * w for w in widths)]
    out += ["  ".join(pad(c, i) for i, c in enumerate(r)).rstrip() for r in cells]
    n = len(result.rows)
    if n == 0:
        out.append("(no rows: the query returned an empty result)")
    else:
        out.append(f"({n} row{'s' if n != 1 else ''})")
        if len(rows) < n:
            out.append(f"(only the first {len(rows)} shown: use --max-rows 0, or --format csv --output FILE)")
    return "\n".join(out)


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def write_csv(columns: list[str], rows: list[tuple], out: io.TextIOBase) -> None:
    """CSV with a header; NULL as an empty field, booleans true/false, dates ISO 8601."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])


def _json_value(value):
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def write_json(columns: list[str], rows: list[tuple], out: io.TextIOBase) -> None:
    """A JSON array with one object per row; NULL as null, dates ISO 8601, Chinese kept as is."""
    records = [{c: _json_value(v) for c, v in zip(columns, row)} for row in rows]
    json.dump(records, out, ensure_ascii=False, indent=1, default=str)
    out.write("\n")


def _write_text(path: Path | None, writer, columns, rows, encoding: str) -> None:
    if path is None:
        writer(columns, rows, sys.stdout)
        return
    try:
        with open(path, "w", encoding=encoding, newline="") as fh:
            writer(columns, rows, fh)
    except OSError as exc:
        raise AnalystError(f"cannot write {path}: {exc.strerror}") from exc


def write_parquet(con: duckdb.DuckDBPyConnection, sql: str, output: Path) -> int:
    """Write the result of ``sql`` to the Parquet file ``output`` (column types kept, through Arrow);
    returns the row count. The sandboxed connection cannot write files itself (issue 19.1), so the
    analyst's own process writes the file the analyst named."""
    import pyarrow.parquet as pq

    try:
        table = con.sql(sql).to_arrow_table()
    except duckdb.Error as exc:
        raise QueryFailed(describe_error(exc, sql, 0)) from exc
    try:
        pq.write_table(table, str(output))
    except OSError as exc:
        raise AnalystError(f"cannot write {output}: {exc}") from exc
    return table.num_rows


def write_result(con: duckdb.DuckDBPyConnection, result: Result, fmt: str, output: Path | None) -> None:
    """Write ``result`` as csv, json or parquet (parquet through DuckDB, so the column types stay)."""
    if fmt == "csv":
        _write_text(output, write_csv, result.columns, result.rows, "utf-8-sig")
    elif fmt == "json":
        _write_text(output, write_json, result.columns, result.rows, "utf-8")
    elif fmt == "parquet":
        write_parquet(con, result.statement.text.strip().rstrip(";"), output)


# --------------------------------------------------------------------------- kpi sql


def _print_err(msg: str) -> None:
    print(msg, file=sys.stderr)


def _run_and_print(con, sql: str, args) -> int:
    try:
        results = run_sql(con, sql)
        if args.format == "table":
            text = "\n\n".join(format_table(r, args.max_rows, args.max_width) for r in results)
            if args.output:
                Path(args.output).write_text(text + "\n", encoding="utf-8")
                print(f"wrote {args.output}", file=sys.stderr)
            elif text:
                print(text)
            if not results:
                print("(done: no statement returned rows)")
            return EXIT_OK
        if not results:
            raise QueryFailed("no statement returned rows, nothing to write")
        last = results[-1]
        if len(results) > 1:
            _print_err(f"note: {len(results)} statements returned rows; the output holds the last one's")
        write_result(con, last, args.format, Path(args.output) if args.output else None)
        if not last.rows:
            _print_err("note: the query returned no rows (empty result); the output holds only the column names")
        elif args.output:
            _print_err(f"wrote {len(last.rows)} row{'s' if len(last.rows) != 1 else ''} to {args.output}")
        return EXIT_OK
    except AnalystError as exc:
        _print_err(str(exc))
        return exc.exit_code


DOT_HELP = """Statements end with ';'. Commands:
  .tables            list the published tables
  .schema TABLE      columns of TABLE with their description (data dictionary)
  .help              this text
  .quit              leave (also .exit, \\q, Ctrl-D)"""


def _dot_command(con, line: str) -> bool:
    """Run a prompt command; returns False to leave the prompt."""
    word, _, rest = line.strip().partition(" ")
    if word in (".quit", ".exit", "\\q"):
        return False
    if word == ".tables":
        print("\n".join(published_tables(con)))
    elif word == ".schema" and rest.strip():
        table = rest.strip().strip(";")
        sql = (
            "SELECT c.column_name, c.data_type, d.label_zh, d.description_en FROM information_schema.columns c "
            "LEFT JOIN data_dictionary d ON d.table_name = c.table_name AND d.column_name = c.column_name "
            "WHERE c.table_name = ? ORDER BY c.ordinal_position"
            if "data_dictionary" in published_tables(con)
            else "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position"
        )
        cur = con.execute(sql, [table])
        print(format_table(Result(Statement(1, sql, "SELECT", 0), [d[0] for d in cur.description], [], cur.fetchall()), 0, 80))
    else:
        print(DOT_HELP)
    return True


def interactive(con, args, db_path: Path) -> int:
    """A prompt: statements end with ';'; errors are printed and the prompt goes on."""
    try:
        import readline  # noqa: F401  (line editing and history where available)
    except ImportError:
        pass
    print(f"kpi sql: {db_path} (read-only). End statements with ';'. .help for help, .quit to leave.")
    buffer: list[str] = []
    while True:
        try:
            line = input("kpi sql> " if not buffer else "   ...> ")
        except EOFError:
            print()
            break
        except KeyboardInterrupt:
            print()
            buffer = []
            continue
        if not buffer and line.strip().startswith((".", "\\")):
            if not _dot_command(con, line):
                break
            continue
        buffer.append(line)
        if line.rstrip().endswith(";"):
            _run_and_print(con, "\n".join(buffer), args)
            buffer = []
    if any(b.strip() for b in buffer):
        _run_and_print(con, "\n".join(buffer), args)
    return EXIT_OK


def cmd_sql(args) -> int:
    """``kpi sql``: see the module docstring."""
    if args.format == "parquet" and not args.output:
        _print_err("kpi sql: --format parquet needs --output FILE")
        return EXIT_USAGE
    try:
        con = connect_published(args.database)
    except AnalystError as exc:
        _print_err(str(exc))
        return exc.exit_code
    with con:
        if args.interactive or (args.query is None and args.file is None and sys.stdin.isatty()):
            return interactive(con, args, Path(args.database or analytics_db_path()))
        if args.file:
            try:
                sql = Path(args.file).read_text(encoding="utf-8-sig")
            except OSError as exc:
                _print_err(f"kpi sql: cannot read {args.file}: {exc.strerror}")
                return EXIT_USAGE
        elif args.query is None or args.query == "-":
            sql = sys.stdin.read()
        else:
            sql = args.query
        return _run_and_print(con, sql, args)


# --------------------------------------------------------------------------- kpi export


def chinese_labels(con: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> list[str]:
    """Column headers in Chinese from the published data dictionary (``label_zh``); a column without a
    label keeps its name, and a label used twice gets the column name appended."""
    if "data_dictionary" not in published_tables(con):
        raise AnalystError("the published database has no data_dictionary table: Chinese headers are not available")
    labels = dict(
        con.execute(
            "SELECT column_name, label_zh FROM data_dictionary WHERE table_name = ? AND column_name IS NOT NULL", [table]
        ).fetchall()
    )
    out, seen = [], set()
    for c in columns:
        label = labels.get(c) or c
        if label in seen:
            label = f"{label} ({c})"
        seen.add(label)
        out.append(label)
    return out


def _xlsx_value(value):
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


def export_tables(
    con: duckdb.DuckDBPyConnection, tables: list[str], fmt: str, output: Path, chinese_headers: bool = False
) -> list[tuple[Path, str, int]]:
    """Write ``tables`` of the published database to ``output``; returns ``(file, table, rows)``.

    csv and parquet: ``output`` is a folder (created), one ``<table>.csv`` / ``<table>.parquet`` each;
    xlsx: ``output`` is the workbook, one sheet per table (named after the table). Raises
    :class:`AnalystError` for an unknown table or an unwritable path.
    """
    known = published_tables(con)
    missing = [t for t in tables if t not in known]
    if missing:
        raise AnalystError(f"not in the published database: {', '.join(missing)} (tables: {', '.join(known)})")
    written = []
    try:
        if fmt in ("csv", "parquet"):
            output.mkdir(parents=True, exist_ok=True)
        else:
            output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AnalystError(f"cannot create {output}: {exc.strerror}") from exc
    if fmt == "parquet":
        for t in tables:
            path = output / f"{t}.parquet"
            written.append((path, t, write_parquet(con, f'SELECT * FROM main."{t}"', path)))
        return written
    frames = {}
    for t in tables:
        # ``con.execute`` returns the connection itself: its rows must be fetched before the next query on
        # ``con`` (the Chinese labels), which would otherwise replace them (headers and no rows, issue 17.7)
        cur = con.execute(f'SELECT * FROM main."{t}"')
        columns = [d[0] for d in cur.description]
        rows = cur.fetchall()
        frames[t] = (chinese_labels(con, t, columns) if chinese_headers else columns, rows)
    if fmt == "csv":
        for t, (columns, rows) in frames.items():
            path = output / f"{t}.csv"
            _write_text(path, write_csv, columns, rows, "utf-8-sig")
            written.append((path, t, len(rows)))
        return written
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    for t, (columns, rows) in frames.items():
        if len(rows) + 1 > 1_048_576:
            raise AnalystError(f"{t} has {len(rows)} rows, more than an Excel sheet holds: export it as csv or parquet")
        ws = wb.create_sheet(title=t[:31])
        ws.append(columns)
        for row in rows:
            ws.append([_xlsx_value(v) for v in row])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
        for i, c in enumerate(columns, start=1):
            width = max([_display_width(str(c))] + [_display_width(_text_cell(r[i - 1])) for r in rows[:200]])
            ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = min(60, width + 2)
            if rows and isinstance(rows[0][i - 1], dt.date) and not isinstance(rows[0][i - 1], dt.datetime):
                for cell in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                    cell[0].number_format = "yyyy-mm-dd"
        written.append((output, t, len(rows)))
    try:
        wb.save(output)
    except OSError as exc:
        raise AnalystError(f"cannot write {output}: {exc.strerror}") from exc
    return written


def _sql_literal(path: Path) -> str:
    return str(path).replace("'", "''")


def cmd_export(args) -> int:
    """``kpi export``: see the module docstring."""
    if args.chinese_headers and args.format == "parquet":
        _print_err("kpi export: --chinese-headers applies to csv and xlsx (Parquet keeps the column names)")
        return EXIT_USAGE
    try:
        with connect_published(args.database) as con:
            tables = published_tables(con) if args.tables == ["all"] else (args.tables or list(DEFAULT_EXPORT_TABLES))
            written = export_tables(con, tables, args.format, Path(args.output), args.chinese_headers)
            for path, table, n in written:
                print(f"{table}: {n} rows -> {path}")
    except AnalystError as exc:
        _print_err(str(exc))
        return exc.exit_code
    except duckdb.Error as exc:
        mapped = _map_read_only_error(exc)
        _print_err(f"kpi export: {mapped if mapped else _plain_message(exc)}")
        return mapped.exit_code if mapped else EXIT_FAILED
    empty = [table for _, table, n in written if n == 0]
    if written and len(empty) == len(written):
        _print_err(f"kpi export: nothing exported: {', '.join(empty)} {'has' if len(empty) == 1 else 'have'} no rows"
                   " (the files hold only the column names)")
        return EXIT_FAILED
    if empty:
        _print_err(f"note: {', '.join(empty)} {'has' if len(empty) == 1 else 'have'} no rows (only the column names written)")
    return EXIT_OK


# --------------------------------------------------------------------------- kpi status


def _latest_row(con, table: str) -> dict | None:
    cols = [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position", [table]
    ).fetchall()]
    order = next((c for c in ("started_at", "started", "published_at", "finished_at", "loaded_at") if c in cols), None)
    sql = f'SELECT * FROM main."{table}"' + (f' ORDER BY "{order}" DESC NULLS LAST' if order else "") + " LIMIT 1"
    cur = con.execute(sql)
    row = cur.fetchone()
    return None if row is None else dict(zip([d[0] for d in cur.description], row))


def status_report(con: duckdb.DuckDBPyConnection, db_path: Path) -> str:
    """The text printed by ``kpi status``: publication, freshness per source, latest run and failed checks."""
    tables = published_tables(con)
    out = [f"Published database: {db_path} ({db_path.stat().st_size / 1e6:.1f} MB, read-only for analysts)"]
    meta = _latest_row(con, "publish_metadata") if "publish_metadata" in tables else None
    if meta:
        out.append("Latest publication: " + ", ".join(f"{k} {_text_cell(v)}" for k, v in meta.items()))
    else:
        out.append("Latest publication: not recorded (no publish_metadata table)")
    counts = [f"{t} ({con.execute(f'SELECT count(*) FROM main.{chr(34)}{t}{chr(34)}').fetchone()[0]} rows)" for t in tables]
    out.append("Tables: " + ", ".join(counts))

    out.append("")
    if "source_freshness" in tables:
        # issue 17.8: one meaning of 数据截至 per source, as the dashboard and the review report show it
        cols = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'source_freshness'").fetchall()}
        cutoff = "delivery_cutoff_date" if "delivery_cutoff_date" in cols else "CAST(NULL AS DATE)"
        basis = "delivery_cutoff_source" if "delivery_cutoff_source" in cols else "CAST(NULL AS VARCHAR)"
        sql = (f"SELECT source_id AS source, title_zh, {cutoff} AS data_as_of, {basis} AS data_as_of_from,"
               " latest_record_date, files, rows_loaded, last_loaded_at FROM source_freshness ORDER BY source_id")
        cur = con.execute(sql)
        fresh = Result(Statement(1, sql, "SELECT", 0), [d[0] for d in cur.description], [], cur.fetchall())
        out.append("Data freshness per source (source_freshness): data_as_of (数据截至) is the cut-off date of the"
                   " delivery the figures use; latest_record_date, the latest date a record carries, is shown apart:")
        out.append(format_table(fresh, 0, 40))
    elif {"kpi_catalog", "kpi_observations"} <= set(tables):
        out.append("Data freshness per source (latest period with data of the KPIs the source feeds;"
                   " this database has no source_freshness table):")
        sql = """
            WITH feeds AS (
                SELECT kpi_id, trim(unnest(string_split(sources, ';'))) AS source_id FROM kpi_catalog
            ),
            latest AS (
                SELECT kpi_id, max(period_year) AS latest_year, max(period_end_date) AS latest_date,
                       bool_or(is_partial_year) AS has_partial_year
                FROM kpi_observations GROUP BY kpi_id
            )
            SELECT feeds.source_id AS source, count(DISTINCT feeds.kpi_id) AS kpis,
                   max(latest.latest_year) AS latest_year, max(latest.latest_date) AS latest_data_date,
                   bool_or(latest.has_partial_year) AS includes_partial_year,
                   count(DISTINCT feeds.kpi_id) FILTER (WHERE latest.kpi_id IS NULL) AS kpis_without_data
            FROM feeds LEFT JOIN latest USING (kpi_id)
            WHERE feeds.source_id <> ''
            GROUP BY feeds.source_id ORDER BY feeds.source_id
        """
        cur = con.execute(sql)
        fresh = Result(Statement(1, sql, "SELECT", 0), [d[0] for d in cur.description], [], cur.fetchall())
        out.append(format_table(fresh, 0, 60))
    else:
        out.append("Data freshness per source: not available (neither source_freshness nor kpi_catalog and"
                   " kpi_observations are published)")
    if "ingest_audit" in tables:
        cur = con.execute(
            "SELECT source_id, max(loaded_at) AS last_loaded_at, max_by(file_name, loaded_at) AS last_file, "
            "sum(rows_quarantined) FILTER (WHERE run_id = (SELECT max_by(run_id, loaded_at) FROM ingest_audit)) "
            "AS rows_quarantined_last_run FROM ingest_audit GROUP BY source_id ORDER BY source_id"
        )
        out += ["", "Latest file loaded per source (ingest_audit):",
                format_table(Result(Statement(1, "", "SELECT", 0), [d[0] for d in cur.description], [], cur.fetchall()), 0, 60)]

    out.append("")
    if "pipeline_runs" in tables:
        run = _latest_row(con, "pipeline_runs")
        if run is None:
            out.append("Latest run: pipeline_runs is empty")
        else:
            out.append("Latest run recorded in the published database (pipeline_runs):")
            out += [f"  {k}: {_text_cell(v)}" for k, v in run.items()]
            failed = {k: v for k, v in run.items() if "check" in k.lower() and "fail" in k.lower()}
            for k, v in failed.items():
                out.append(f"Failed checks ({k}): {_text_cell(v) if v not in (None, '', 0, []) else 'none'}")
        reports = sorted((db_path.parent / "failures").glob("*.txt"))
        if reports:
            out.append(f"Newest failure report (names the failed checks and steps): {reports[-1]}")
    else:
        out.append(
            "Failed checks: not recorded in the published database (no pipeline_runs table). A run whose "
            "blocking checks fail does not publish, so the data above passed every blocking check; the "
            "failed run is in Dagster's run history."
        )
    return "\n".join(out)


def cmd_status(args) -> int:
    """``kpi status``: see the module docstring."""
    try:
        path = Path(args.database) if args.database else analytics_db_path()
        with connect_published(path) as con:
            print(status_report(con, path))
    except AnalystError as exc:
        _print_err(str(exc))
        return exc.exit_code
    except duckdb.Error as exc:
        mapped = _map_read_only_error(exc)
        _print_err(f"kpi status: {mapped if mapped else _plain_message(exc)}")
        return mapped.exit_code if mapped else EXIT_FAILED
    return EXIT_OK


# --------------------------------------------------------------------------- argparse


COMMANDS = {"sql": cmd_sql, "export": cmd_export, "status": cmd_status}

EXIT_CODES_HELP = (
    "exit codes: 0 success (an empty query result too); 1 query or export failed, or an export wrote no rows; 2 usage error; "
    "3 refused, the published database is read-only; 4 published database missing"
)


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    """Add ``sql``, ``export`` and ``status`` to the ``kpi`` command's subparsers."""
    fmt = argparse.RawDescriptionHelpFormatter
    db_help = "database to read (default: the published $KPI_WAREHOUSE_DIR/analytics.duckdb)"

    p = sub.add_parser(
        "sql", help="run SQL on the published database (read-only)", formatter_class=fmt, epilog=EXIT_CODES_HELP,
        description=(
            "Run a query on the published database, opened read-only. The query comes from the argument,\n"
            "--file, standard input ('-' or a pipe), or an interactive prompt (the default on a terminal).\n"
            "Statements that would write (INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, ATTACH, COPY ... TO,\n"
            "EXPORT, INSTALL, LOAD, SET ...) are refused: the database is read-only."
        ),
    )
    p.add_argument("query", nargs="?", help="the SQL to run ('-' reads standard input)")
    p.add_argument("-f", "--file", help="read the SQL from this file")
    p.add_argument("-i", "--interactive", action="store_true", help="open the prompt even when standard input is not a terminal")
    p.add_argument("--format", choices=["table", "csv", "json", "parquet"], default="table",
                   help="table (aligned text, default), csv (UTF-8 with BOM), json (array of objects) or parquet")
    p.add_argument("-o", "--output", help="write the result to this file (required for parquet; default standard output)")
    p.add_argument("--max-rows", type=int, default=1000, help="rows shown in table format (0: all; default 1000)")
    p.add_argument("--max-width", type=int, default=60, help="widest cell in table format, in characters (0: no limit)")
    p.add_argument("--database", help=db_help)

    p = sub.add_parser(
        "export", help="export published tables to CSV, XLSX or Parquet", formatter_class=fmt, epilog=EXIT_CODES_HELP,
        description=(
            "Export published tables (default: kpi_scorecard, kpi_observations, kpi_catalog).\n"
            "csv and parquet: --output is a folder, one file per table; xlsx: --output is the workbook,\n"
            "one sheet per table."
        ),
    )
    p.add_argument("--format", choices=["csv", "xlsx", "parquet"], required=True, help="file format")
    p.add_argument("-o", "--output", required=True, help="folder (csv, parquet) or .xlsx file")
    p.add_argument("--tables", nargs="+", metavar="TABLE",
                   help=f"tables to export, or 'all' (default: {' '.join(DEFAULT_EXPORT_TABLES)})")
    p.add_argument("--chinese-headers", action="store_true",
                   help="csv and xlsx: Chinese column headers from the data dictionary (label_zh)")
    p.add_argument("--database", help=db_help)

    p = sub.add_parser(
        "status", help="latest publication, data freshness per source, failed checks", formatter_class=fmt,
        epilog=EXIT_CODES_HELP,
        description="Print the latest publication, the data freshness per source and the latest run's failed checks\n"
                    "as recorded in the published database.",
    )
    p.add_argument("--database", help=db_help)


def dispatch(args: argparse.Namespace) -> int:
    """Run the subcommand named by ``args.command`` (one of :data:`COMMANDS`)."""
    return COMMANDS[args.command](args)
