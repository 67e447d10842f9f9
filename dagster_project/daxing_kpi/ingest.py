"""Contract-driven ingestion of department files into the raw layer.

One YAML data contract per source (``contracts/<source_id>.yaml``) says which Chinese
headers the export has, the English column name, the type, whether a value is required,
the allowed values and the personal-data (PII) class. :func:`ingest_source` reads every
file of a source's landing folder, checks each row against the contract and returns

* the accepted rows, typed, with personal data removed (ID numbers replaced by a keyed
  HMAC-SHA256 ``person_key``; names, phones and addresses dropped), plus lineage columns
  ``_source_file``, ``_sheet``, ``_row_number``, ``_file_sha256``;
* the quarantined rows: one row per broken cell with file, sheet, row number, column,
  reason and the offending value (masked where the column holds personal data);
* one audit row per file proving ``rows_read = rows_loaded + rows_quarantined``.

Errors raised: :class:`ContractError` when a file's header cannot be matched to its
contract (the message names the file, the missing and unexpected columns and the closest
contract column for each).
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import hmac
import io
import json
import os
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from daxing_kpi.paths import CONTRACTS_DIR, SEEDS_DIR

DEV_PII_KEY = "DEVELOPMENT-ONLY-KEY--set-KPI_PII_KEY-in-production"
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
TOTAL_MARKERS = ("合计", "总计")
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = np.array(list("10X98765432"))


class ContractError(ValueError):
    """A file that cannot be read against its contract (names the file and the columns)."""


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

    @property
    def dropped(self) -> bool:
        """Names, phones and addresses never leave ingestion."""
        return self.pii in {"name", "phone", "address"}


@dataclass(frozen=True)
class Contract:
    """A source's data contract, loaded from ``contracts/<source_id>.yaml``."""

    source_id: str
    title_zh: str
    title_en: str
    landing_dir: str
    grain: str
    columns: tuple[Column, ...]
    encoding: str = "auto"
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def kept_columns(self) -> list[Column]:
        return [c for c in self.columns if not c.dropped]


def load_contract(path: Path) -> Contract:
    """Parse one contract YAML. Raises ``ValueError`` naming the file for an invalid type or PII class."""
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
            )
        )
    return Contract(
        source_id=spec["source_id"],
        title_zh=spec.get("title_zh", ""),
        title_en=spec.get("title_en", ""),
        landing_dir=spec["landing_dir"],
        grain=spec.get("grain", ""),
        columns=tuple(cols),
        encoding=spec.get("encoding", "auto"),
        extra={k: v for k, v in spec.items() if k not in {"columns"}},
    )


def load_contracts(folder: Path = CONTRACTS_DIR) -> dict[str, Contract]:
    """All contracts of a folder, keyed by ``source_id``."""
    return {c.source_id: c for c in (load_contract(p) for p in sorted(Path(folder).glob("*.yaml")))}


# -- normalisation -------------------------------------------------------------------------


def normalize_text(value: str) -> str:
    """NFKC (full-width digits, letters and brackets to half-width), no spaces or line breaks."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value)))


def _norm_series(s: pd.Series) -> pd.Series:
    return s.fillna("").astype(str).map(lambda v: unicodedata.normalize("NFKC", v)).str.replace(r"\s+", "", regex=True)


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


def resolve_towns(values: pd.Series) -> pd.Series:
    """Map spellings and codes of towns/streets to 9-digit codes; unknown spellings give NaN.

    Accepts names with or without suffix, both-name forms, office names, renamed units
    (via the alias seed) and codes of 9 or 12 digits (``...000``), with spaces or full-width digits.
    """
    lookup = town_lookup()
    norm = _norm_series(values)
    digits = norm.str.fullmatch(r"\d{12}") & norm.str.endswith("000")
    norm = norm.where(~digits, norm.str[:9])
    return norm.map(lookup)


@lru_cache(maxsize=8)
def seed_values(ref: str) -> frozenset[str]:
    """Allowed values from a seed column, ``ref`` = ``<seed file stem>.<column>``."""
    stem, column = ref.split(".")
    with open(SEEDS_DIR / f"{stem}.csv", encoding="utf-8") as f:
        return frozenset(normalize_text(r[column]) for r in csv.DictReader(f))


def parse_dates(values: pd.Series) -> pd.Series:
    """Dates written 2023-05-06, 2023/5/6, 2023.5.6, 2023年5月6日, 20230506 or as an Excel serial.

    Returns ``datetime64`` with NaT where a value is blank or unreadable.
    """
    s = _norm_series(values)
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


def parse_numbers(values: pd.Series) -> pd.Series:
    """Numbers with full-width digits, thousands separators or a trailing ``%`` (value kept as written)."""
    s = _norm_series(values).str.replace(",", "", regex=False).str.rstrip("%")
    return pd.to_numeric(s.where(s != ""), errors="coerce")


def valid_id_numbers(values: pd.Series) -> pd.Series:
    """True where a value is an 18-character resident ID number with a correct GB 11643 check digit."""
    s = _norm_series(values).str.upper()
    shape = s.str.fullmatch(r"\d{17}[\dX]").fillna(False).to_numpy(dtype=bool)
    ok = np.zeros(len(s), dtype=bool)
    if shape.any():
        body = s[shape].str[:17]
        digits = np.frombuffer("".join(body).encode(), dtype=np.uint8).reshape(-1, 17) - 48
        check = _ID_CHECK[(digits * _ID_WEIGHTS).sum(axis=1) % 11]
        ok[shape] = check == s[shape].str[17].to_numpy()
    return pd.Series(ok, index=values.index)


def pii_key() -> bytes:
    """The HMAC key for person keys: ``$KPI_PII_KEY``, or the clearly marked development default."""
    return os.environ.get("KPI_PII_KEY", DEV_PII_KEY).encode("utf-8")


def person_keys(values: pd.Series) -> pd.Series:
    """Keyed hash (HMAC-SHA256, 32 hex characters) of normalised ID numbers: links a person across
    sources without keeping the number."""
    key = pii_key()
    s = _norm_series(values).str.upper()
    return s.map(lambda v: hmac.new(key, v.encode(), hashlib.sha256).hexdigest()[:32])


def mask_value(value: str, pii: str | None) -> str:
    """What the quarantine keeps of a bad value: personal data masked, other values as written."""
    if pii is None:
        return str(value)[:200]
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


def decode_bytes(raw: bytes, declared: str = "auto") -> str:
    """Text of a CSV file: UTF-8 (with or without BOM) or GB18030/GBK, detected unless declared."""
    if declared not in ("auto", None):
        return raw.decode(declared)
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gb18030")


def read_csv_file(path: Path, encoding: str = "auto") -> tuple[pd.DataFrame, list[int]]:
    """A CSV file as strings (header row first) and the 1-based line number of every data row."""
    text = decode_bytes(Path(path).read_bytes(), encoding)
    df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False)
    return df, list(range(2, len(df) + 2))


def match_headers(columns: list[str], contract: Contract, file_label: str) -> dict[str, Column]:
    """Map a file's headers to contract columns after trimming spaces, full-width characters and
    line breaks. Raises :class:`ContractError` naming missing and unexpected columns."""
    by_header = {normalize_text(c.header_zh): c for c in contract.columns}
    by_header.update({normalize_text(c.name): c for c in contract.columns})
    mapping: dict[str, Column] = {}
    unexpected = []
    for col in columns:
        c = by_header.get(normalize_text(col))
        if c is None:
            unexpected.append(col)
        else:
            mapping[col] = c
    found = {c.name for c in mapping.values()}
    missing = [c for c in contract.columns if c.required and c.name not in found]
    if missing:
        lines = [f"{file_label}: header does not match contract {contract.source_id!r}."]
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
    row position in ``df``).
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
        blank = _norm_series(raw) == ""
        if c.required:
            flag(blank, c, "missing required value", raw)
        if c.dropped:
            continue  # personal data: never typed, never kept
        if c.type == "text":
            val = raw.str.strip().where(~blank, None)
            norm = _norm_series(raw)
            allowed = set(c.allowed or ()) | (seed_values(c.allowed_from_seed) if c.allowed_from_seed else set())
            if allowed:
                bad = ~blank & ~norm.isin({normalize_text(a) for a in allowed})
                flag(bad, c, "value not in the allowed list", raw)
                val = norm.where(~blank, None)
        elif c.type in ("integer", "number"):
            val = parse_numbers(raw)
            flag(~blank & val.isna(), c, "not a number", raw)
            if c.type == "integer":
                flag(val.notna() & (val != val.round()), c, "not a whole number", raw)
            if c.min is not None:
                flag(val.notna() & (val < c.min), c, f"below the minimum {c.min}", raw)
            val = val.astype("Int64") if c.type == "integer" else val.astype("Float64")
        elif c.type == "date":
            val = parse_dates(raw)
            flag(~blank & val.isna(), c, "unreadable date", raw)
            val = val.dt.date
        elif c.type == "boolean":
            norm = _norm_series(raw).str.lower()
            truth = {"是": True, "y": True, "yes": True, "true": True, "1": True, "否": False, "n": False, "no": False, "false": False, "0": False}
            val = norm.map(truth)
            flag(~blank & val.isna(), c, "not yes/no (是/否)", raw)
            val = val.astype("boolean")
        elif c.type == "town":
            val = resolve_towns(raw)
            flag(~blank & val.isna(), c, "unknown town/street", raw)
        elif c.type == "id_number":
            ok = valid_id_numbers(raw)
            flag(~blank & ~ok, c, "invalid ID number (length or check digit)", raw)
            val = person_keys(raw).where(ok & ~blank, None)
        typed[c.name] = val
    problems_df = (
        pd.concat(problems, ignore_index=True) if problems else pd.DataFrame(columns=["pos", "column", "reason", "value"])
    )
    return pd.DataFrame(typed, index=df.index), problems_df


@dataclass
class IngestResult:
    """What :func:`ingest_source` produced for one source."""

    accepted: pd.DataFrame
    quarantine: pd.DataFrame
    audit: list[dict]


def landing_files(folder: Path) -> list[Path]:
    """Data files of a landing folder, sorted by name (CSV; Excel where supported)."""
    if not folder.exists():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in {".csv", ".txt"} and not p.name.startswith("."))


def ingest_source(contract: Contract, landing_root: Path) -> IngestResult:
    """Read, check and type every file of one source's landing folder.

    Files with the same SHA-256 as an earlier file of the listing are counted once (a re-sent
    file). Raises :class:`ContractError` for a header that does not match the contract.
    """
    accepted, quarantined, audit = [], [], []
    seen: set[str] = set()
    for path in landing_files(Path(landing_root) / contract.landing_dir):
        digest = sha256_file(path)
        label = f"{contract.landing_dir}/{path.name}"
        if digest in seen:
            audit.append(dict(source_id=contract.source_id, file_name=label, sha256=digest, rows_read=0, rows_loaded=0,
                              rows_quarantined=0, status="skipped_duplicate_file", reasons="{}"))
            continue
        seen.add(digest)
        df, line_numbers = read_csv_file(path, contract.encoding)
        mapping = match_headers(list(df.columns), contract, label)
        typed, problems = check_frame(df, mapping, contract)
        bad_pos = set(problems["pos"].tolist())
        good = np.ones(len(df), dtype=bool)
        if bad_pos:
            good[list(bad_pos)] = False
        rows = np.array(line_numbers)
        out = typed[good].copy()
        out["_source_file"] = label
        out["_sheet"] = None
        out["_row_number"] = rows[good]
        out["_file_sha256"] = digest
        accepted.append(out)
        if len(problems):
            q = problems.copy()
            q["row_number"] = rows[q["pos"].to_numpy()]
            q.insert(0, "source_id", contract.source_id)
            q.insert(1, "file_name", label)
            q.insert(2, "sheet", None)
            quarantined.append(q.drop(columns="pos"))
        reasons = problems.groupby("reason")["pos"].nunique().to_dict() if len(problems) else {}
        audit.append(dict(source_id=contract.source_id, file_name=label, sha256=digest, rows_read=len(df),
                          rows_loaded=int(good.sum()), rows_quarantined=int((~good).sum()), status="loaded",
                          reasons=json.dumps({k: int(v) for k, v in sorted(reasons.items())}, ensure_ascii=False)))
    cols = [c.name for c in contract.kept_columns] + ["_source_file", "_sheet", "_row_number", "_file_sha256"]
    acc = pd.concat(accepted, ignore_index=True) if accepted else pd.DataFrame(columns=cols)
    qcols = ["source_id", "file_name", "sheet", "row_number", "column", "reason", "value"]
    q = pd.concat(quarantined, ignore_index=True)[qcols] if quarantined else pd.DataFrame(columns=qcols)
    return IngestResult(accepted=acc[cols], quarantine=q, audit=audit)


def raw_table_ddl(contract: Contract) -> str:
    """Column list of the raw table of a source (typed as in the contract, plus lineage)."""
    cols = [f'"{c.name}" {DUCKDB_TYPES[c.type]}' for c in contract.kept_columns]
    cols += ['"_source_file" VARCHAR', '"_sheet" VARCHAR', '"_row_number" BIGINT', '"_file_sha256" VARCHAR']
    return ", ".join(cols)
