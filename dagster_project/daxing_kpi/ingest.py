"""Contract-driven ingestion of department files into the raw layer.

One YAML data contract per source (``contracts/<source_id>.yaml``) says which Chinese
headers the export has (plus header variants), the English column name, the type, whether a
value is required, the allowed values and the personal-data (PII) class; optionally the key of
a record (``key``, for duplicate records) and the delivery scope (``delivery_scope``, for
re-deliveries). :func:`ingest_source` reads every file of a source's landing folder (CSV in
UTF-8, UTF-8 with BOM or GB18030; Excel ``.xlsx``/``.xls`` with title rows, merged headers and
several sheets: see :mod:`daxing_kpi.readers`), checks each row against the contract and returns

* the accepted rows, typed, with personal data removed (ID numbers replaced by a keyed
  HMAC-SHA256 ``person_key``; names, phones and addresses dropped; file columns that the
  contract does not name are never read), plus lineage columns ``_source_file``, ``_sheet``,
  ``_row_number``, ``_file_sha256``;
* the quarantined rows: one row per broken cell with file, sheet, row number, column,
  reason and the offending value (personal data masked, ID- and phone-like text redacted);
  a totals row (合计/总计/小计) or a signature/note row (填表人, 审核人, 说明 ...) at the foot
  of a form is quarantined as such, so every row read is accounted for;
* one audit row per file proving ``rows_read = rows_loaded + rows_quarantined + rows_superseded``.

Re-delivery: files are taken in delivery order (modification time, then name). A file whose
SHA-256 equals an earlier file's is skipped (``skipped_duplicate_file``). When the contract has
``delivery_scope`` (e.g. ``[burial_date.year]``, or ``[]`` for a complete export), a later file
replaces the rows of earlier files in the scopes it covers: those rows are ``superseded``
(status ``superseded`` or ``partly_superseded``), never loaded twice. Without ``delivery_scope``
files add up. Within what remains, a row whose ``key`` repeats an earlier row is quarantined as
a duplicate record.

Errors raised: :class:`ContractError` when a file's header cannot be matched to its contract
(the message names the file and sheet, the missing and unexpected columns and the closest
contract column for each); ``ValueError`` for an invalid contract (naming the YAML file).
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import hmac
import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from daxing_kpi.paths import SEEDS_DIR, contracts_dir
from daxing_kpi.personkey import DEV_PII_KEY, pii_key  # noqa: F401  (part of this module's API)
from daxing_kpi.readers import CSV_SUFFIXES, EXCEL_SUFFIXES, HEADER_SCAN_ROWS, normalize_text, read_tables
from daxing_kpi.readers import decode_bytes  # noqa: F401  (part of this module's API)

PII_CLASSES = {"id_number", "name", "phone", "address"}
TYPES = {"text", "integer", "number", "date", "boolean", "town", "id_number"}
DUCKDB_TYPES = {
    "text": "VARCHAR",
    "integer": "BIGINT",
    "number": "DOUBLE",
    "date": "DATE",
    "boolean": "BOOLEAN",
    "town": "VARCHAR",
    "id_number": "VARCHAR",
}
# First non-blank cell of a row that is not a record: a totals row, or a signature/note line of a form.
TOTAL_MARKERS = ("合计", "总计", "小计", "共计")
NOTE_MARKERS = ("填表人", "制表人", "填报人", "审核人", "负责人", "联系人", "填表日期", "填报日期", "制表日期", "注:", "备注:", "说明:")
_TOTAL_RE = re.compile(r"^(%s)([:：].*)?$" % "|".join(TOTAL_MARKERS))
_NOTE_RE = re.compile(r"^(%s)" % "|".join(re.escape(m) for m in NOTE_MARKERS))
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = np.array(list("10X98765432"))
# Personal data in free text (quarantined values): ID-number-like and mobile-phone-like runs.
ID_LIKE = r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9A-Za-z])"
PHONE_LIKE = r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])"


class Reason:
    """Quarantine reasons: the exact texts written to ``audit.quarantine.reason`` (and the sample's faults)."""

    MISSING = "missing required value"
    NOT_ALLOWED = "value not in the allowed list"
    NOT_NUMBER = "not a number"
    NOT_WHOLE = "not a whole number"
    BELOW_MIN = "below the minimum {min}"
    BAD_DATE = "unreadable date"
    NOT_YES_NO = "not yes/no (是/否)"
    UNKNOWN_TOWN = "unknown town/street"
    BAD_ID = "invalid ID number (length or check digit)"
    TOTALS_ROW = "totals row (合计/总计), not a record"
    NOTE_ROW = "note or signature row (填表人/说明), not a record"
    EXTRA_CELLS = "values beyond the last header column"
    DUPLICATE = "duplicate record (same key as an earlier row)"


class ContractError(ValueError):
    """A file that cannot be read against its contract (names the file, sheet and the columns)."""


@dataclass(frozen=True)
class Column:
    """One column of a data contract."""

    header_zh: str
    name: str
    type: str
    required: bool = False
    pii: str | None = None
    allowed: tuple[str, ...] | None = None
    allowed_from_seed: str | None = None
    min: float | None = None
    header_aliases: tuple[str, ...] = ()

    @property
    def dropped(self) -> bool:
        """Names, phones and addresses never leave ingestion."""
        return self.pii in {"name", "phone", "address"}


@dataclass(frozen=True)
class Contract:
    """A source's data contract, loaded from ``contracts/<source_id>.yaml``.

    ``key``: English names of the columns identifying a record (duplicates are quarantined).
    ``delivery_scope``: ``None`` (files add up), ``()`` (each file is a complete export: the latest
    replaces all earlier ones) or column references ``name`` / ``name.year`` / ``name.month``
    (a later file replaces earlier files' rows with the same values).
    ``sheets``: the only workbook sheets to read (``sheets:`` or ``return_form.sheet``); default all.
    """

    source_id: str
    title_zh: str
    title_en: str
    landing_dir: str
    grain: str
    columns: tuple[Column, ...]
    encoding: str = "auto"
    key: tuple[str, ...] = ()
    delivery_scope: tuple[str, ...] | None = None
    sheets: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def kept_columns(self) -> list[Column]:
        return [c for c in self.columns if not c.dropped]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def load_contract(path: Path) -> Contract:
    """Parse one contract YAML.

    Raises ``ValueError`` naming the file for an unknown type or PII class, an ID-number column
    without the ``id_number`` PII class (or the reverse: the class decides that the number is
    replaced by a keyed hash), or a ``key``/``delivery_scope`` naming no kept column."""
    spec = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    cols = []
    for c in spec["columns"]:
        if c["type"] not in TYPES:
            raise ValueError(f"{path}: column {c['name']!r} has unknown type {c['type']!r}; use one of {sorted(TYPES)}")
        pii = c.get("pii")
        if pii in ("none", ""):
            pii = None
        if pii is not None and pii not in PII_CLASSES:
            raise ValueError(f"{path}: column {c['name']!r} has unknown PII class {pii!r}; use one of {sorted(PII_CLASSES)} or none")
        if (c["type"] == "id_number") != (pii == "id_number"):
            raise ValueError(
                f"{path}: column {c['name']!r}: an ID-number column needs both type id_number and pii id_number"
                " (the PII class makes ingestion replace the number by a keyed hash)"
            )
        cols.append(
            Column(
                header_zh=c["header_zh"],
                name=c["name"],
                type=c["type"],
                required=bool(c.get("required", False)),
                pii=pii,
                allowed=tuple(str(a) for a in c["allowed"]) if c.get("allowed") else None,
                allowed_from_seed=c.get("allowed_from_seed"),
                min=c.get("min"),
                header_aliases=tuple(c.get("header_aliases") or ()),
            )
        )
    kept = {c.name for c in cols if not c.dropped}
    key = tuple(spec.get("key") or ())
    scope = spec.get("delivery_scope")
    scope = None if scope is None else tuple(scope)
    for ref in key + (scope or ()):
        name, _, part = ref.partition(".")
        if name not in kept or part not in ("", "year", "month"):
            raise ValueError(f"{path}: key/delivery_scope entry {ref!r} must name a kept column (optionally .year or .month)")
    return Contract(
        source_id=spec["source_id"],
        title_zh=spec.get("title_zh", ""),
        title_en=spec.get("title_en", ""),
        landing_dir=spec["landing_dir"],
        grain=spec.get("grain", ""),
        columns=tuple(cols),
        encoding=spec.get("encoding", "auto"),
        key=key,
        delivery_scope=scope,
        sheets=tuple(spec.get("sheets") or ([spec["return_form"]["sheet"]] if (spec.get("return_form") or {}).get("sheet") else [])),
        extra={k: v for k, v in spec.items() if k not in {"columns"}},
    )


def load_contracts(folder: Path | None = None) -> dict[str, Contract]:
    """All contracts of a folder (default :func:`daxing_kpi.paths.contracts_dir`), keyed by ``source_id``."""
    folder = contracts_dir() if folder is None else folder
    return {c.source_id: c for c in (load_contract(p) for p in sorted(Path(folder).glob("*.yaml")))}


# -- normalisation -------------------------------------------------------------------------


def _norm_series(s: pd.Series) -> pd.Series:
    """:func:`normalize_text` of every value (blank for missing), as pandas' string dtype.

    Runs in Arrow's C++ kernels (NFKC, then every Unicode whitespace run removed, the same set as
    Python's ``\\s``), not once per value in Python: the hot path of ingestion."""
    arr = pa.array(s.fillna("").astype(str), type=pa.large_string())
    norm = pc.replace_substring_regex(pc.utf8_normalize(arr, "NFKC"), pattern=_WS_RE2, replacement="")
    return pd.Series(pd.array(norm.cast(pa.large_string()), dtype="str"), index=s.index)


# Python's ``\s`` in RE2 syntax: ASCII whitespace, the separators \p{Z} and the other characters
# str.isspace() accepts (vertical tab, information separators, next line).
_WS_RE2 = r"[\s\x{0b}\x{1c}-\x{1f}\x{85}\p{Z}]+"


# Prefixes of the district that some systems put before a town/street name (北京市大兴区黄村镇).
DISTRICT_PREFIXES = ("北京市大兴区", "大兴区", "北京市")


@lru_cache(maxsize=1)
def town_lookup() -> dict[str, str]:
    """Normalised spelling or code -> 9-digit 2023 statistical code, from ``seeds/township_aliases.csv``
    and ``seeds/townships.csv`` (the one alias table)."""
    lookup: dict[str, str] = {}
    with open(SEEDS_DIR / "townships.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            lookup[normalize_text(r["code"])] = r["code"]
            lookup[normalize_text(r["name_zh"])] = r["code"]
    with open(SEEDS_DIR / "township_aliases.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            lookup[normalize_text(r["alias"])] = r["geo_code"]
    return lookup


def resolve_towns(values: pd.Series, *, normalized: bool = False) -> pd.Series:
    """Map spellings and codes of towns/streets to 9-digit codes; unknown spellings give NaN.

    Accepts names with or without suffix, both-name forms, office names, renamed units
    (via the alias seed), a leading 北京市/大兴区, and codes of 9 or 12 digits (``...000``),
    with spaces or full-width digits. Never guesses: a spelling not in the alias table is unknown.
    """
    lookup = town_lookup()
    norm = values if normalized else _norm_series(values)
    for prefix in DISTRICT_PREFIXES:
        norm = norm.where(~norm.str.startswith(prefix), norm.str[len(prefix):])
    digits = norm.str.fullmatch(r"\d{12}") & norm.str.endswith("000")
    norm = norm.where(~digits, norm.str[:9])
    return norm.map(lookup)


@lru_cache(maxsize=8)
def seed_values(ref: str) -> frozenset[str]:
    """Allowed values from a seed column, ``ref`` = ``<seed file stem>.<column>``."""
    stem, column = ref.split(".")
    with open(SEEDS_DIR / f"{stem}.csv", encoding="utf-8") as f:
        return frozenset(normalize_text(r[column]) for r in csv.DictReader(f))


def parse_dates(values: pd.Series, *, normalized: bool = False) -> pd.Series:
    """Dates written 2023-05-06, 2023/5/6, 2023.5.6, 2023年5月6日, 20230506 or as an Excel serial.

    Returns ``datetime64`` with NaT where a value is blank or unreadable.
    """
    s = values if normalized else _norm_series(values)
    serial = s.str.fullmatch(r"\d{5}(\.0+)?")
    compact = s.str.fullmatch(r"\d{8}")
    t = s.str.replace(r"[/.年月]", "-", regex=True).str.replace("日", "", regex=False)
    t = t.where(~compact, s.str[:4] + "-" + s.str[4:6] + "-" + s.str[6:8])
    out = pd.to_datetime(t.where(t.str.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}"), None), format="%Y-%m-%d", errors="coerce")
    if serial.any():
        days = pd.to_numeric(s.where(serial), errors="coerce")
        excel = pd.Timestamp("1899-12-30") + pd.to_timedelta(days, unit="D")
        out = out.where(~serial, excel)
    return out


def parse_numbers(values: pd.Series, *, normalized: bool = False) -> pd.Series:
    """Numbers with full-width digits, thousands separators or a trailing ``%`` (value kept as written)."""
    s = (values if normalized else _norm_series(values)).str.replace(",", "", regex=False).str.rstrip("%")
    return pd.to_numeric(s.where(s != ""), errors="coerce")


def valid_id_numbers(values: pd.Series, *, normalized: bool = False) -> pd.Series:
    """True where a value is an 18-character resident ID number with a correct GB 11643 check digit
    (upper- or lower-case ``x``)."""
    s = (values if normalized else _norm_series(values)).str.upper()
    shape = s.str.fullmatch(r"\d{17}[\dX]").fillna(False).to_numpy(dtype=bool)
    ok = np.zeros(len(s), dtype=bool)
    if shape.any():
        body = s[shape].str[:17]
        digits = np.frombuffer("".join(body).encode(), dtype=np.uint8).reshape(-1, 17) - 48
        check = _ID_CHECK[(digits * _ID_WEIGHTS).sum(axis=1) % 11]
        ok[shape] = check == s[shape].str[17].to_numpy()
    return pd.Series(ok, index=values.index)


def person_keys(values: pd.Series, *, normalized: bool = False) -> pd.Series:
    """Keyed hash (HMAC-SHA256, 32 hex characters) of normalised ID numbers: links a person across
    sources without keeping the number."""
    keyed = hmac.new(pii_key(), digestmod=hashlib.sha256)  # keyed once; each value hashes a copy
    s = (values if normalized else _norm_series(values)).str.upper()

    def one(v: str) -> str:
        h = keyed.copy()
        h.update(v.encode())
        return h.hexdigest()[:32]

    return pd.Series([one(v) for v in s.to_numpy(dtype=object)], index=s.index, dtype=object)


def redact_text(value: str) -> str:
    """Free text with ID-number-like runs cut to their first 6 digits and phone-like runs masked."""
    v = re.sub(ID_LIKE, lambda m: m.group(0)[:6] + "*" * 12, str(value))
    return re.sub(PHONE_LIKE, lambda m: m.group(0)[:3] + "*" * 8, v)


def mask_value(value: str, pii: str | None) -> str:
    """What the quarantine keeps of a bad value: personal data masked, other values as written
    (up to 200 characters) with ID-number-like and phone-like text redacted."""
    if pii is None:
        return redact_text(str(value)[:200])
    v = str(value)
    if pii == "id_number" and len(v) >= 8:
        return v[:6] + "*" * (len(v) - 6)
    return "***" if v else ""


# -- reading files --------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def header_index(contract: Contract) -> dict[str, Column]:
    """Normalised header spellings (Chinese header, its variants, English name) -> contract column."""
    index: dict[str, Column] = {}
    for c in contract.columns:
        for h in (c.name, *c.header_aliases, c.header_zh):
            index[normalize_text(h)] = c
    return index


def read_csv_file(path: Path, encoding: str = "auto", contract: Contract | None = None) -> tuple[pd.DataFrame, list[int]]:
    """A CSV file as strings (title rows skipped when a contract is given) and the line number of every data row."""
    known = header_index(contract) if contract else {}
    table, _ = read_tables(path, known, encoding)[0]
    return table.frame, table.row_numbers.tolist()


def match_headers(columns: list[str], contract: Contract, file_label: str, header_found: bool = True) -> dict[str, Column]:
    """Map a file's headers to contract columns after trimming spaces, full-width characters and
    line breaks (header variants of the contract accepted).

    Raises :class:`ContractError` naming ``file_label`` (file, sheet, header row), the missing
    required columns and the unexpected columns with the closest contract column for each."""
    by_header = header_index(contract)
    mapping: dict[str, Column] = {}
    unexpected = []
    for col in columns:
        c = by_header.get(normalize_text(col))
        if c is None:
            if normalize_text(col) and not col.startswith("(column "):
                unexpected.append(col)
        else:
            mapping[col] = c
    found = {c.name for c in mapping.values()}
    missing = [c for c in contract.columns if c.required and c.name not in found]
    if missing:
        lines = [f"{file_label}: header does not match contract {contract.source_id!r}."]
        if not header_found:
            lines.append(f"  no row among the first {HEADER_SCAN_ROWS} names a contract column; the first row was taken as the header")
        lines.append("  missing required columns: " + ", ".join(f"{c.header_zh} ({c.name})" for c in missing))
        if unexpected:
            parts = []
            for u in unexpected:
                close = difflib.get_close_matches(normalize_text(u), list(by_header), n=1, cutoff=0.0)
                hint = f" (closest contract column: {by_header[close[0]].header_zh})" if close else ""
                parts.append(f"{u!r}{hint}")
            lines.append("  unexpected columns: " + ", ".join(parts))
        raise ContractError("\n".join(lines))
    return mapping


# -- checking rows ------------------------------------------------------------------------------


def check_frame(df: pd.DataFrame, mapping: dict[str, Column], contract: Contract) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Type and check every contract column of ``df`` (strings).

    Returns ``(typed, problems)``: ``typed`` has one column per kept contract column (English
    names); ``problems`` has ``pos, column, reason, value`` for each broken cell (``pos`` is the
    row position in ``df``). ID numbers become person keys here; dropped PII is never typed.
    """
    typed = {}
    problems = []
    present = {c.name: src for src, c in mapping.items()}

    def flag(mask: pd.Series, column: Column, reason: str, raw: pd.Series):
        idx = np.flatnonzero(mask.to_numpy(dtype=bool))
        if idx.size:
            vals = raw.iloc[idx].map(lambda v: mask_value(v, column.pii))
            problems.append(pd.DataFrame({"pos": idx, "column": column.header_zh, "reason": reason, "value": vals.to_numpy()}))

    for c in contract.columns:
        if c.name not in present:
            if not c.dropped:
                typed[c.name] = pd.Series([None] * len(df), index=df.index, dtype=object)
            continue
        raw = df[present[c.name]].fillna("").astype(str)
        norm = _norm_series(raw)
        blank = norm == ""
        if c.required:
            flag(blank, c, Reason.MISSING, raw)
        if c.dropped:
            continue  # personal data: never typed, never kept
        if c.type == "text":
            val = raw.str.strip().where(~blank, None)
            allowed = set(c.allowed or ()) | (seed_values(c.allowed_from_seed) if c.allowed_from_seed else set())
            if allowed:
                bad = ~blank & ~norm.isin({normalize_text(a) for a in allowed})
                flag(bad, c, Reason.NOT_ALLOWED, raw)
                val = norm.where(~blank, None)
        elif c.type in ("integer", "number"):
            val = parse_numbers(norm, normalized=True)
            flag(~blank & val.isna(), c, Reason.NOT_NUMBER, raw)
            if c.type == "integer":
                flag(val.notna() & (val != val.round()), c, Reason.NOT_WHOLE, raw)
            if c.min is not None:
                flag(val.notna() & (val < c.min), c, Reason.BELOW_MIN.format(min=c.min), raw)
            val = val.astype("Int64") if c.type == "integer" else val.astype("Float64")
        elif c.type == "date":
            val = parse_dates(norm, normalized=True)
            flag(~blank & val.isna(), c, Reason.BAD_DATE, raw)
            val = val.dt.date
        elif c.type == "boolean":
            lower = norm.str.lower()
            truth = {"是": True, "y": True, "yes": True, "true": True, "1": True, "否": False, "n": False, "no": False, "false": False, "0": False}
            val = lower.map(truth)
            flag(~blank & val.isna(), c, Reason.NOT_YES_NO, raw)
            val = val.astype("boolean")
        elif c.type == "town":
            val = resolve_towns(norm, normalized=True)
            flag(~blank & val.isna(), c, Reason.UNKNOWN_TOWN, raw)
        elif c.type == "id_number":
            ok = valid_id_numbers(norm, normalized=True)
            flag(~blank & ~ok, c, Reason.BAD_ID, raw)
            val = person_keys(norm.where(ok, ""), normalized=True).where(ok & ~blank, None)
        typed[c.name] = val
    problems_df = (
        pd.concat(problems, ignore_index=True) if problems else pd.DataFrame(columns=["pos", "column", "reason", "value"])
    )
    return pd.DataFrame(typed, index=df.index), problems_df


def marker_rows(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Rows that are not records: ``(reason, value)`` per row, reason None for a record.

    The first non-blank cell decides: 合计/总计/小计/共计 (optionally followed by ``:`` and text)
    makes a totals row, 填表人/审核人/说明: ... a note or signature row. The value kept is the
    marker alone (a signature line names a clerk)."""
    reason = pd.Series([None] * len(df), index=df.index, dtype=object)
    value = pd.Series([None] * len(df), index=df.index, dtype=object)
    if not len(df) or not len(df.columns):
        return reason, value
    first = df[df.columns[0]].astype(str)
    blank = (first.str.strip() == "").to_numpy(dtype=bool)
    for col in df.columns[1:]:  # rows whose first cell is blank: the next non-blank cell
        if not blank.any():
            break
        cell = df[col].astype(str)
        take = blank & (cell.str.strip() != "").to_numpy(dtype=bool)
        first = first.where(~take, cell)
        blank &= ~take
    norm = _norm_series(first)
    totals = norm.str.match(_TOTAL_RE.pattern)
    notes = ~totals & norm.str.match(_NOTE_RE.pattern)
    reason[totals] = Reason.TOTALS_ROW
    value[totals] = norm[totals].str.extract(f"^({'|'.join(TOTAL_MARKERS)})", expand=False)
    reason[notes] = Reason.NOTE_ROW
    value[notes] = norm[notes].str.extract(f"^({'|'.join(re.escape(m) for m in NOTE_MARKERS)})", expand=False)
    return reason, value


@dataclass
class IngestResult:
    """What :func:`ingest_source` produced for one source."""

    accepted: pd.DataFrame
    quarantine: pd.DataFrame
    audit: list[dict]


def landing_files(folder: Path) -> list[Path]:
    """Data files of a landing folder in delivery order: modification time, then name.

    CSV (``.csv``, ``.txt``) and Excel (``.xlsx``, ``.xlsm``, ``.xls``); hidden files and
    Excel's lock files (``~$...``) are ignored."""
    if not folder.exists():
        return []
    files = [
        p for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in CSV_SUFFIXES | EXCEL_SUFFIXES and not p.name.startswith((".", "~$"))
    ]
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))


@dataclass
class _FileRows:
    """Every row read from one file: typed kept columns, lineage, and its problems (``rid`` = row id)."""

    label: str
    digest: str
    modified: str
    rows: pd.DataFrame  # kept columns + _sheet, _row_number
    problems: pd.DataFrame  # rid, sheet, row_number, column, reason, value
    sheets: dict
    # a file not read again (wholly superseded by later files; see known_file_scopes): rows and scopes of its last load
    known_rows: int | None = None
    known_scopes: frozenset[str] | None = None

    @property
    def rows_read(self) -> int:
        return len(self.rows) if self.known_rows is None else self.known_rows


def _min_match(contract: Contract) -> int:
    """Contract columns a sheet's header must name to count as a data sheet (others are skipped)."""
    required = sum(c.required for c in contract.columns)
    return min(len(contract.columns), max(2, math.ceil(required / 2)))


def read_file(path: Path, contract: Contract, label: str, digest: str) -> _FileRows:
    """Read one landing file against its contract: every data sheet, every row typed or flagged.

    A sheet whose header names fewer than half the required columns (at least 2) is not a data
    sheet (a cover or instructions sheet) and is skipped, and listed in the audit's ``sheets``;
    if no sheet qualifies, the best one is checked and its header error raised.
    Raises :class:`ContractError` (header) or ``ValueError`` (unreadable workbook)."""
    known = header_index(contract)
    tables = read_tables(path, known, contract.encoding)
    if contract.sheets and any(t.sheet is not None for t, _ in tables):
        wanted = {normalize_text(s) for s in contract.sheets}
        chosen = [(t, m) for t, m in tables if normalize_text(t.sheet or "") in wanted]
        if not chosen:
            found = ", ".join(str(t.sheet) for t, _ in tables)
            raise ContractError(f"{label}: no sheet {', '.join(contract.sheets)} for contract {contract.source_id!r}; sheets found: {found}")
        tables = chosen
    need = _min_match(contract)
    data = [(t, m) for t, m in tables if m >= need]
    sheets: dict[str, object] = {}
    if not data:
        best = max(tables, key=lambda tm: tm[1])
        data = [best]
    for t, m in tables:
        if t.sheet is not None and all(t is not d for d, _ in data):
            sheets[t.sheet] = "skipped: no header naming the contract's columns"
    row_parts, prob_parts = [], []
    offset = 0
    for table, matched in data:
        where = label if table.sheet is None else f"{label} [sheet {table.sheet!r}]"
        where += f", header row {table.header_row}"
        mapping = match_headers(list(table.frame.columns), contract, where, header_found=matched > 0)
        df = table.frame.reset_index(drop=True)
        marks, mark_values = marker_rows(df)
        is_record = marks.isna().to_numpy()
        typed, problems = check_frame(df, mapping, contract)
        # marker rows: their one reason replaces any cell problem
        problems = problems[is_record[problems["pos"].to_numpy(dtype=int)]] if len(problems) else problems
        extra = []
        m_idx = np.flatnonzero(~is_record)
        if m_idx.size:
            extra.append(pd.DataFrame({"pos": m_idx, "column": "", "reason": marks.iloc[m_idx].to_numpy(), "value": mark_values.iloc[m_idx].to_numpy()}))
        if table.extra_cells is not None:
            e_idx = np.flatnonzero(table.extra_cells & is_record)
            if e_idx.size:
                extra.append(pd.DataFrame({"pos": e_idx, "column": "(beyond the header)", "reason": Reason.EXTRA_CELLS, "value": ""}))
        if extra:
            problems = pd.concat([problems, *extra], ignore_index=True)
        typed = typed.reset_index(drop=True)
        for c in contract.kept_columns:  # marker rows carry no values
            if m_idx.size:
                typed.loc[m_idx, c.name] = None
        typed["_sheet"] = table.sheet
        typed["_row_number"] = table.row_numbers
        problems = problems.assign(
            rid=problems["pos"].to_numpy(dtype=np.int64) + offset,
            sheet=table.sheet,
            row_number=table.row_numbers[problems["pos"].to_numpy(dtype=np.int64)] if len(problems) else np.array([], dtype=np.int64),
        ).drop(columns="pos")
        row_parts.append(typed)
        prob_parts.append(problems)
        if table.sheet is not None:
            sheets[table.sheet] = len(df)
        offset += len(df)
    rows = pd.concat(row_parts, ignore_index=True) if row_parts else pd.DataFrame()
    probs = pd.concat(prob_parts, ignore_index=True) if prob_parts else pd.DataFrame(columns=["rid", "sheet", "row_number", "column", "reason", "value"])
    modified = pd.Timestamp(Path(path).stat().st_mtime, unit="s").isoformat(timespec="seconds")
    return _FileRows(label, digest, modified, rows, probs, sheets)


def scope_values(rows: pd.DataFrame, scope: tuple[str, ...]) -> pd.Series:
    """The delivery scope of each row as text (``"*"`` for a complete export), NA where unknown."""
    if not scope:
        return pd.Series("*", index=rows.index, dtype="string")
    parts = []
    for ref in scope:
        name, _, part = ref.partition(".")
        col = rows[name]
        if part:
            d = pd.to_datetime(col, errors="coerce")
            s = d.dt.year.astype("Int64").astype("string") if part == "year" else d.dt.strftime("%Y-%m").astype("string")
        else:
            s = col.astype("string")
        parts.append(s)
    out = parts[0]
    for s in parts[1:]:
        out = out + "|" + s
    return out


def known_file_scopes(contract: Contract, fact: dict | None) -> frozenset[str] | None:
    """The delivery-scope values of a file from its last load (``fact``: ``rows_read``, ``delivery_scope``
    text of its audit row), or None when they are not known for certain under the current contract: no
    fact, no rows, a list cut short (`` ...``) or values not shaped as the contract's scope."""
    if not fact or contract.delivery_scope is None or not fact.get("rows_read") or not fact.get("delivery_scope"):
        return None
    text = str(fact["delivery_scope"])
    if not contract.delivery_scope:
        return frozenset({"*"}) if text == "complete export" else None
    if text == "complete export" or text.endswith(" ..."):
        return None
    shapes = [{"year": r"\d{4}", "month": r"\d{4}-\d{2}"}.get(ref.partition(".")[2]) for ref in contract.delivery_scope]
    values = frozenset(text.split(","))
    for v in values:
        parts = v.split("|")
        if len(parts) != len(shapes) or any(sh and not re.fullmatch(sh, part) for sh, part in zip(shapes, parts)):
            return None
    return values


def ingest_source(contract: Contract, landing_root: Path, known_files: dict[str, dict] | None = None) -> IngestResult:
    """Read, check and type every file of one source's landing folder.

    Files are taken in delivery order (:func:`landing_files`). A file with the same SHA-256 as an
    earlier one is skipped; with a ``delivery_scope`` a later file supersedes earlier files' rows
    of the scopes it covers (all rows of an earlier file whose every scope it covers); a row
    repeating the ``key`` of an earlier remaining row is quarantined as a duplicate. Each row read
    is loaded, quarantined or superseded, and the audit says how many of each, per file.
    Raises :class:`ContractError` for a header that does not match the contract.

    ``known_files`` (SHA-256 -> ``rows_read, delivery_scope, sheets`` of that file's last load, from
    :func:`daxing_kpi.warehouse.loaded_file_facts`): a file with a ``delivery_scope`` whose every scope is
    covered by later files is wholly superseded, whatever it holds; when its last load says which scopes
    it covers, it is not read again (its audit row is the same: read = superseded, nothing loaded or
    quarantined). A roster re-sent complete every night then costs one file, not every earlier one.
    """
    audit_skipped: list[dict] = []
    loads: list[_FileRows] = []
    seen: dict[str, str] = {}
    todo: list[tuple[Path, str, str]] = []
    for path in landing_files(Path(landing_root) / contract.landing_dir):
        digest = sha256_file(path)
        label = f"{contract.landing_dir}/{path.name}"
        if digest in seen:
            audit_skipped.append(dict(
                source_id=contract.source_id, file_name=label, sha256=digest, status="skipped_duplicate_file",
                rows_read=0, rows_loaded=0, rows_quarantined=0, rows_superseded=0, reasons="{}", sheets=None,
                delivery_scope=None, superseded_by=None, duplicate_of=seen[digest],
                file_modified_at=pd.Timestamp(path.stat().st_mtime, unit="s").isoformat(timespec="seconds"),
            ))
            continue
        seen[digest] = label
        todo.append((path, label, digest))
    # newest first: a file whose known scopes are all covered by later files is not read again
    later_scopes: set[str] = set()
    by_index: dict[int, _FileRows] = {}
    for i in range(len(todo) - 1, -1, -1):
        path, label, digest = todo[i]
        fact = (known_files or {}).get(digest)
        known = known_file_scopes(contract, fact)
        if known and known <= later_scopes:
            sheets = json.loads(fact["sheets"]) if fact.get("sheets") else {}
            modified = pd.Timestamp(path.stat().st_mtime, unit="s").isoformat(timespec="seconds")
            empty = pd.DataFrame(columns=[c.name for c in contract.kept_columns] + ["_sheet", "_row_number"])
            by_index[i] = _FileRows(label, digest, modified, empty, pd.DataFrame(columns=["rid", "sheet", "row_number", "column", "reason", "value"]),
                                    sheets, known_rows=int(fact["rows_read"]), known_scopes=known)
            continue
        f = read_file(path, contract, label, digest)
        by_index[i] = f
        if contract.delivery_scope is not None and len(f.rows):
            later_scopes |= set(scope_values(f.rows, contract.delivery_scope).dropna().unique())
    loads = [by_index[i] for i in range(len(todo))]

    kept = [c.name for c in contract.kept_columns]
    # 1. re-delivery: which rows of earlier files are covered by a later file's scope
    scopes = [scope_values(f.rows, contract.delivery_scope) if contract.delivery_scope is not None and len(f.rows) else None for f in loads]
    superseded = [np.zeros(len(f.rows), dtype=bool) for f in loads]
    superseded_by: list[set[str]] = [set() for _ in loads]
    if contract.delivery_scope is not None:
        covered: dict[str, str] = {}  # scope value -> label of the latest file covering it
        for i in range(len(loads) - 1, -1, -1):
            sc = scopes[i]
            if loads[i].known_scopes is not None:  # not read again: wholly superseded (checked above)
                superseded_by[i] = {covered[v] for v in loads[i].known_scopes if v in covered}
                continue
            if sc is None:
                continue
            own = set(sc.dropna().unique())
            hit = sc.isin(set(covered)).fillna(False).to_numpy(dtype=bool, copy=True)
            if own and own <= set(covered):
                hit[:] = True  # every scope of this file was delivered again: the whole file is replaced
            superseded[i] = hit
            superseded_by[i] = {covered[v] for v in own if v in covered}
            for v in own:
                covered.setdefault(v, loads[i].label)

    # 2. problems of the rows that still count; duplicates of the key among the good rows
    frames, problems = [], []
    for i, f in enumerate(loads):
        if f.known_rows is not None:
            continue  # not read again: no rows, no problems
        r = f.rows.copy()
        r["_source_file"] = f.label
        r["_file_sha256"] = f.digest
        r["_file_index"] = i
        r["_superseded"] = superseded[i]
        bad = np.zeros(len(r), dtype=bool)
        p = f.problems
        if len(p):
            p = p[~superseded[i][p["rid"].to_numpy(dtype=np.int64)]]
            bad[p["rid"].to_numpy(dtype=np.int64)] = True
        r["_bad"] = bad
        r["_rid"] = np.arange(len(r))
        frames.append(r)
        problems.append(p.assign(file_index=i))
    cols_out = kept + ["_source_file", "_sheet", "_row_number", "_file_sha256"]
    allrows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols_out + ["_file_index", "_superseded", "_bad", "_rid"])
    if contract.key and len(allrows):
        live = allrows[~allrows["_bad"] & ~allrows["_superseded"]]
        key_cols = list(contract.key)
        dup = live.duplicated(subset=key_cols, keep="first")
        if dup.any():
            first_at = pd.Series(live.index, index=live.index).groupby([live[k] for k in key_cols], dropna=False, sort=False).transform("min")
            d = live[dup]
            fd = allrows.loc[first_at[dup].to_numpy(), ["_source_file", "_sheet", "_row_number"]]
            fd.index = d.index
            where = fd["_source_file"] + np.where(fd["_sheet"].isna(), "", " [sheet " + fd["_sheet"].astype(str) + "]") + " row " + fd["_row_number"].astype(str)
            problems.append(pd.DataFrame({
                "rid": d["_rid"].to_numpy(), "sheet": d["_sheet"].to_numpy(), "row_number": d["_row_number"].to_numpy(),
                "column": "+".join(contract.column(k).header_zh for k in key_cols), "reason": Reason.DUPLICATE,
                "value": ("same as " + where).to_numpy(), "file_index": d["_file_index"].to_numpy(),
            }))
            allrows.loc[d.index, "_bad"] = True
    good = ~allrows["_bad"].to_numpy(dtype=bool) & ~allrows["_superseded"].to_numpy(dtype=bool)
    accepted = allrows.loc[good, cols_out].reset_index(drop=True)

    qcols = ["source_id", "file_name", "sheet", "row_number", "column", "reason", "value"]
    prob = pd.concat([p for p in problems if len(p)], ignore_index=True) if any(len(p) for p in problems) else pd.DataFrame(columns=["rid", "sheet", "row_number", "column", "reason", "value", "file_index"])
    prob["file_index"] = prob["file_index"].astype(np.int64)
    prob = prob.sort_values(["file_index", "rid", "column"], kind="stable")
    q = prob.assign(source_id=contract.source_id, file_name=[loads[i].label for i in prob["file_index"]] if len(prob) else [])
    q = q[qcols].reset_index(drop=True)
    q["row_number"] = q["row_number"].astype(np.int64)

    audit = []
    order = {**{f.label: i for i, f in enumerate(loads)}}
    for i, f in enumerate(loads):
        pi = prob[prob["file_index"] == i]
        n_read = f.rows_read
        n_sup = n_read if f.known_rows is not None else int(superseded[i].sum())
        n_q = int(pi["rid"].nunique())
        reasons = pi.groupby("reason")["rid"].nunique().to_dict() if len(pi) else {}
        status = "loaded" if n_sup == 0 else ("superseded" if n_sup == n_read else "partly_superseded")
        sc = scopes[i]
        scope_text = None
        if contract.delivery_scope is not None:
            vals = sorted(sc.dropna().unique()) if sc is not None else sorted(f.known_scopes or ())
            scope_text = "complete export" if not contract.delivery_scope else (",".join(vals[:50]) + (" ..." if len(vals) > 50 else ""))
        audit.append(dict(
            source_id=contract.source_id, file_name=f.label, sha256=f.digest, status=status,
            rows_read=n_read, rows_loaded=n_read - n_sup - n_q, rows_quarantined=n_q, rows_superseded=n_sup,
            reasons=json.dumps({k: int(v) for k, v in sorted(reasons.items())}, ensure_ascii=False),
            sheets=json.dumps(f.sheets, ensure_ascii=False) if f.sheets else None,
            delivery_scope=scope_text, superseded_by=", ".join(sorted(superseded_by[i], key=order.get)) or None,
            duplicate_of=None, file_modified_at=f.modified,
        ))
    for a in audit_skipped:
        audit.append(a)
    audit.sort(key=lambda a: (a["file_modified_at"], a["file_name"]))
    total_loaded = sum(a["rows_loaded"] for a in audit)
    if total_loaded != len(accepted):  # the audit is computed apart from the accepted frame: prove they agree
        raise AssertionError(f"{contract.source_id}: audit says {total_loaded} rows loaded, {len(accepted)} accepted")
    return IngestResult(accepted=accepted, quarantine=q, audit=audit)


def raw_table_ddl(contract: Contract) -> str:
    """Column list of the raw table of a source (typed as in the contract, plus lineage)."""
    cols = [f'"{c.name}" {DUCKDB_TYPES[c.type]}' for c in contract.kept_columns]
    cols += ['"_source_file" VARCHAR', '"_sheet" VARCHAR', '"_row_number" BIGINT', '"_file_sha256" VARCHAR']
    return ", ".join(cols)
