"""Field rules: how one cell of a contract column is typed, and which fault it has.

Every rule takes the text of a column (normalised: :func:`norm_series`) and returns typed values
plus the fault of each cell; :func:`check_frame` applies the contract's column types to a table of
text cells. A faulty cell is NULL in the typed result, so the record can be loaded without it when
the contract does not need that column (see :mod:`daxing_kpi.ingest.contracts`, ``record_needs``).

* dates: ``2023-05-06``, ``2023/5/6``, ``2023.5.6``, ``2023年5月6日``, ``20230506``, an Excel serial
  (``45052``), each optionally with a time of day (``2024-05-06 09:31:12``, ``2024/5/6 9:31``,
  ``2024-05-06T09:31``, ``2024年5月6日 9时31分``, a serial with a fraction); the date counts, the time
  is kept by a ``timestamp`` column;
* numbers with full-width digits, thousands separators or a trailing ``%``;
* yes/no as 是/否, Y/N, yes/no, true/false, 1/0;
* towns/streets: :mod:`daxing_kpi.ingest.towns`;
* ID numbers: 18 characters with a correct GB 11643 check digit; a number Excel changed
  (``1.10115E+17``, or 15 significant digits followed by ``000``) has its own reason; a valid number
  becomes a keyed hash (:func:`person_keys`), the number itself never leaves ingestion.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import re
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from daxing_kpi.ingest.contracts import Column, Contract
from daxing_kpi.ingest.reasons import Reason
from daxing_kpi.ingest.readers import normalize_text
from daxing_kpi.ingest.towns import classify_towns
from daxing_kpi.paths import SEEDS_DIR
from daxing_kpi.personkey import pii_key

_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = np.array(list("10X98765432"))
# Personal data in free text (quarantined values): ID-number-like and mobile-phone-like runs.
ID_LIKE = r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9A-Za-z])"
PHONE_LIKE = r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])"
# Python's ``\s`` in RE2 syntax: ASCII whitespace, the separators \p{Z} and the other characters
# str.isspace() accepts (vertical tab, information separators, next line).
_WS_RE2 = r"[\s\x{0b}\x{1c}-\x{1f}\x{85}\p{Z}]+"
TRUTH = {"是": True, "y": True, "yes": True, "true": True, "1": True, "否": False, "n": False, "no": False, "false": False, "0": False}
# A date, optionally with a time of day, as normalised text (no spaces): 2024-05-0609:31:12, 2024年5月6日9时31分
# (dates keep one space between the date and the time: 2024-05-06 09:31:12, 2024/5/6 9:31, 2024年5月6日 9时31分)
_DATE_TIME = re.compile(
    r"^(?P<y>\d{4}) ?[-/.年] ?(?P<m>\d{1,2}) ?[-/.月] ?(?P<d>\d{1,2}) ?日?"
    r"(?:(?: |T| ?日 ?)?(?P<H>\d{1,2}) ?[:时点] ?(?P<M>\d{1,2})(?: ?[:分] ?(?P<S>\d{1,2})(?:\.\d+)?)? ?[分秒]?)?$"
)
_COMPACT = re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?:[ T]?(?P<H>\d{1,2}):?(?P<M>\d{2})(?::?(?P<S>\d{2}))?)?$")
_SERIAL = r"^\d{5}(\.\d+)?$"
_EXCEL_SCIENTIFIC = r"^\d(\.\d+)?E\+?1[67]$"


def norm_series(s: pd.Series) -> pd.Series:
    """:func:`normalize_text` of every value (blank for missing), as pandas' string dtype.

    Runs in Arrow's C++ kernels (NFKC, then every Unicode whitespace run removed, the same set as
    Python's ``\\s``), not once per value in Python: the hot path of ingestion."""
    arr = pa.array(s.fillna("").astype(str), type=pa.large_string())
    norm = pc.replace_substring_regex(pc.utf8_normalize(arr, "NFKC"), pattern=_WS_RE2, replacement="")
    return pd.Series(pd.array(norm.cast(pa.large_string()), dtype="str"), index=s.index)


_norm_series = norm_series  # the name before the package split


@lru_cache(maxsize=8)
def seed_values(ref: str) -> frozenset[str]:
    """Allowed values from a seed column, ``ref`` = ``<seed file stem>.<column>``."""
    stem, column = ref.split(".")
    with open(SEEDS_DIR / f"{stem}.csv", encoding="utf-8") as f:
        return frozenset(normalize_text(r[column]) for r in csv.DictReader(f))


def date_text(s: pd.Series) -> pd.Series:
    """Text of a date cell: NFKC, every whitespace run one space, trimmed (the space between a date and its
    time of day is kept: ``2021.2.3 9:31`` is not ``2021.2.39:31``)."""
    arr = pa.array(s.fillna("").astype(str), type=pa.large_string())
    t = pc.utf8_trim(pc.replace_substring_regex(pc.utf8_normalize(arr, "NFKC"), pattern=_WS_RE2, replacement=" "), " ")
    return pd.Series(pd.array(t.cast(pa.large_string()), dtype="str"), index=s.index)


def parse_timestamps(values: pd.Series, *, normalized: bool = False) -> pd.Series:
    """Dates with an optional time of day (see the module text) as ``datetime64``; NaT where a value is
    blank or no date (2023-02-30, 2023/13/1, 25:00 are no dates). ``normalized``: the values are already
    :func:`date_text` (or contain no spaces)."""
    s = values if normalized else date_text(values)
    arr = pa.array(s.astype(object).where(s.notna(), ""), type=pa.large_string())
    iso = pc.match_substring_regex(arr, r"^\d{4}-\d{2}-\d{2}$").to_numpy(zero_copy_only=False)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    if iso.any():  # the common case, in C: 2023-05-06
        out[iso] = pd.to_datetime(s[iso], format="%Y-%m-%d", errors="coerce")
    rest = ~iso & (s != "").to_numpy(dtype=bool, na_value=False)
    if rest.any():
        r = s[rest]
        serial = r.str.fullmatch(_SERIAL).fillna(False).to_numpy(dtype=bool)
        if serial.any():
            days = pd.to_numeric(r[serial], errors="coerce")
            out[r.index[serial]] = (pd.Timestamp("1899-12-30") + pd.to_timedelta(days, unit="D")).dt.round("s")
        other = r[~serial]
        if len(other):
            parts = other.str.extract(_DATE_TIME)
            compact = other.str.extract(_COMPACT)
            parts = parts.fillna(compact[parts.columns]) if len(compact) else parts
            fields = pd.DataFrame({
                "year": pd.to_numeric(parts["y"]), "month": pd.to_numeric(parts["m"]), "day": pd.to_numeric(parts["d"]),
                "hour": pd.to_numeric(parts["H"]).fillna(0), "minute": pd.to_numeric(parts["M"]).fillna(0),
                "second": pd.to_numeric(parts["S"]).fillna(0),
            })
            ok = fields[["year", "month", "day"]].notna().all(axis=1) & (fields.hour < 24) & (fields.minute < 60) & (fields.second < 60)
            if ok.any():
                out[other.index[ok.to_numpy()]] = pd.to_datetime(fields[ok], errors="coerce")
    return out


def parse_dates(values: pd.Series, *, normalized: bool = False) -> pd.Series:
    """Dates written 2023-05-06, 2023/5/6, 2023.5.6, 2023年5月6日, 20230506 or as an Excel serial, each
    optionally with a time of day (which is dropped). Returns ``datetime64`` (midnight) with NaT where a
    value is blank or unreadable."""
    return parse_timestamps(values, normalized=normalized).dt.normalize()


def parse_numbers(values: pd.Series, *, normalized: bool = False) -> pd.Series:
    """Numbers with full-width digits, thousands separators or a trailing ``%`` (value kept as written)."""
    s = (values if normalized else norm_series(values)).str.replace(",", "", regex=False).str.rstrip("%")
    return pd.to_numeric(s.where(s != ""), errors="coerce")


def valid_id_numbers(values: pd.Series, *, normalized: bool = False) -> pd.Series:
    """True where a value is an 18-character resident ID number with a correct GB 11643 check digit
    (upper- or lower-case ``x``)."""
    s = (values if normalized else norm_series(values)).str.upper()
    shape = s.str.fullmatch(r"\d{17}[\dX]").fillna(False).to_numpy(dtype=bool)
    ok = np.zeros(len(s), dtype=bool)
    if shape.any():
        body = s[shape].str[:17]
        digits = np.frombuffer("".join(body).encode(), dtype=np.uint8).reshape(-1, 17) - 48
        check = _ID_CHECK[(digits * _ID_WEIGHTS).sum(axis=1) % 11]
        ok[shape] = check == s[shape].str[17].to_numpy()
    return pd.Series(ok, index=values.index)


def id_numbers_changed_by_excel(values: pd.Series, *, normalized: bool = False) -> pd.Series:
    """True where an ID number was turned into a number by Excel: shown in scientific notation
    (``1.10115E+17``) or written out with the digits after the 15th lost (``110115199001011000``, whose
    check digit then fails; call on invalid numbers only)."""
    s = (values if normalized else norm_series(values)).str.upper().str.replace(r"\.0+$", "", regex=True)
    return (s.str.fullmatch(_EXCEL_SCIENTIFIC) | s.str.fullmatch(r"[1-9]\d{14}000")).fillna(False).astype(bool)


def person_keys(values: pd.Series, *, normalized: bool = False) -> pd.Series:
    """Keyed hash (HMAC-SHA256, 32 hex characters) of normalised ID numbers: links a person across
    sources without keeping the number."""
    keyed = hmac.new(pii_key(), digestmod=hashlib.sha256)  # keyed once; each value hashes a copy
    s = (values if normalized else norm_series(values)).str.upper()

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


def check_frame(df: pd.DataFrame, mapping: dict[str, Column], contract: Contract) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Type and check every contract column of ``df`` (strings).

    Returns ``(typed, problems)``: ``typed`` has one column per kept contract column (English
    names), NULL where the cell is blank or faulty; ``problems`` has ``pos, column, reason, value,
    name`` for each faulty cell (``pos`` is the row position in ``df``, ``name`` the contract column).
    ID numbers become person keys here; dropped PII is never typed.
    """
    typed = {}
    problems = []
    present = {c.name: src for src, c in mapping.items()}

    def flag(mask, column: Column, reason, raw: pd.Series):
        m = np.asarray(mask, dtype=bool)
        idx = np.flatnonzero(m)
        if idx.size:
            vals = raw.iloc[idx].map(lambda v: mask_value(v, column.pii))
            reasons = reason[m] if isinstance(reason, np.ndarray) else reason
            problems.append(pd.DataFrame({"pos": idx, "column": column.header_zh, "reason": reasons, "value": vals.to_numpy(),
                                          "name": column.name}))
        return m

    for c in contract.columns:
        if c.name not in present:
            if not c.dropped:
                typed[c.name] = pd.Series([None] * len(df), index=df.index, dtype=object)
            continue
        raw = df[present[c.name]].fillna("").astype(str)
        norm = norm_series(raw)
        blank = (norm == "").to_numpy(dtype=bool, na_value=True)
        if c.required:
            flag(blank, c, Reason.MISSING, raw)
        if c.dropped:
            continue  # personal data: never typed, never kept
        if c.type == "text":
            val = raw.str.strip().where(~blank, None)
            allowed = set(c.allowed or ()) | (seed_values(c.allowed_from_seed) if c.allowed_from_seed else set())
            if allowed:
                bad = flag(~blank & ~norm.isin({normalize_text(a) for a in allowed}).to_numpy(dtype=bool), c, Reason.NOT_ALLOWED, raw)
                val = norm.astype(object).where(~blank & ~bad, None)
        elif c.type in ("integer", "number"):
            val = parse_numbers(norm, normalized=True)
            bad = flag(~blank & val.isna().to_numpy(), c, Reason.NOT_NUMBER, raw)
            if c.type == "integer":
                bad |= flag((val.notna() & (val != val.round())).to_numpy(), c, Reason.NOT_WHOLE, raw)
            if c.min is not None:
                bad |= flag((val.notna() & (val < c.min)).to_numpy(), c, Reason.BELOW_MIN.format(min=c.min), raw)
            val = val.where(~bad)
            val = val.astype("Int64") if c.type == "integer" else val.astype("Float64")
        elif c.type in ("date", "timestamp"):
            val = parse_timestamps(raw)
            flag(~blank & val.isna().to_numpy(), c, Reason.BAD_DATE, raw)
            val = val.dt.normalize().dt.date if c.type == "date" else val
        elif c.type == "boolean":
            val = norm.str.lower().map(TRUTH)
            flag(~blank & val.isna().to_numpy(), c, Reason.NOT_YES_NO, raw)
            val = val.astype("boolean")
        elif c.type == "town":
            val, why = classify_towns(norm)
            bad = ~blank & why.notna().to_numpy()
            flag(bad, c, why.to_numpy(dtype=object), raw)
        elif c.type == "id_number":
            ok = valid_id_numbers(norm, normalized=True).to_numpy()
            bad = ~blank & ~ok
            if bad.any():
                excel = id_numbers_changed_by_excel(norm, normalized=True).to_numpy()
                flag(bad, c, np.where(excel, Reason.ID_CHANGED_BY_EXCEL, Reason.BAD_ID), raw)
            val = person_keys(norm.where(ok, ""), normalized=True).where(ok & ~blank, None)
        typed[c.name] = val
    problems_df = (
        pd.concat(problems, ignore_index=True) if problems else pd.DataFrame(columns=["pos", "column", "reason", "value", "name"])
    )
    return pd.DataFrame(typed, index=df.index), problems_df
