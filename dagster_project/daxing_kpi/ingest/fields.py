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
_ID_CHECK_BYTES = np.frombuffer(b"10X98765432", dtype=np.uint8)
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
    blank or no date (2023-02-30, 2023/13/1, 25:00 are no dates, nor years before 1678 or after 2261). ``normalized``: the values are already
    :func:`date_text` (or contain no spaces)."""
    s = values if normalized else date_text(values)
    arr = pa.array(s.astype(object).where(s.notna(), ""), type=pa.large_string())
    iso = pc.match_substring_regex(arr, r"^\d{4}-\d{2}-\d{2}$").to_numpy(zero_copy_only=False)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    if iso.any():  # the common case, in C: 2023-05-06
        out[iso] = _in_range(pd.to_datetime(s[iso], format="%Y-%m-%d", errors="coerce"))
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
                out[other.index[ok.to_numpy()]] = _in_range(pd.to_datetime(fields[ok], errors="coerce"))
    return out


# Dates a timestamp of the warehouse can hold; 0000-01-01 or 9999-12-31 (placeholders some systems write) are no dates.
_FIRST_DAY, _LAST_DAY = pd.Timestamp("1678-01-01"), pd.Timestamp("2261-12-31 23:59:59")


def _in_range(values: pd.Series) -> pd.Series:
    """``values`` with the dates outside what the warehouse holds made NaT, at nanosecond resolution."""
    keep = (values >= _FIRST_DAY) & (values <= _LAST_DAY)
    return values.where(keep).astype("datetime64[ns]")


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
    s = (values if normalized else norm_series(values)).str.upper().fillna("")
    arr = s.to_numpy(dtype=object)
    shaped = np.fromiter((len(v) == 18 and v.isascii() for v in arr), dtype=bool, count=len(arr))
    ok = np.zeros(len(arr), dtype=bool)
    if shaped.any():
        ok[shaped] = _id_checks(np.frombuffer("".join(arr[shaped]).encode("ascii"), dtype=np.uint8).reshape(-1, 18))
    return pd.Series(ok, index=values.index)


def id_numbers_changed_by_excel(values: pd.Series, *, normalized: bool = False) -> pd.Series:
    """True where an ID number was turned into a number by Excel: shown in scientific notation
    (``1.10115E+17``) or written out with the digits after the 15th lost (``110115199001011000``, whose
    check digit then fails; call on invalid numbers only)."""
    s = (values if normalized else norm_series(values)).str.upper().str.replace(r"\.0+$", "", regex=True)
    return (s.str.fullmatch(_EXCEL_SCIENTIFIC) | s.str.fullmatch(r"[1-9]\d{14}000")).fillna(False).astype(bool)


def _hmac_pads() -> tuple[bytes, bytes]:
    """HMAC-SHA256's inner and outer padded keys (RFC 2104) of :func:`daxing_kpi.personkey.pii_key`."""
    key = pii_key()
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def hmac_hex32(numbers: np.ndarray | list[bytes]) -> pa.Array:
    """The person key of each value: HMAC-SHA256 with :func:`daxing_kpi.personkey.pii_key`, the first 32
    hex characters.

    ``numbers``: the normalised ID numbers as an ``(n, w)`` ``uint8`` array (``n`` values of ``w`` bytes) or
    a list of bytes. Both hash states of the key are computed once and copied per value (what :mod:`hmac`
    does inside, without its per-call overhead); the keys are assembled as one Arrow string array, no
    Python string per value."""
    inner_pad, outer_pad = _hmac_pads()
    ic, oc = hashlib.sha256(inner_pad).copy, hashlib.sha256(outer_pad).copy
    if isinstance(numbers, np.ndarray):
        n, width = numbers.shape
        buf = memoryview(np.ascontiguousarray(numbers).tobytes())
        values = (buf[a:a + width] for a in range(0, n * width, width))
    else:
        n, values = len(numbers), numbers
    digests = []
    append = digests.append
    for v in values:
        i = ic()
        i.update(v)
        o = oc()
        o.update(i.digest())
        append(o.digest())
    if not n:
        return pa.array([], type=pa.string())
    text = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(n, 32)[:, :16].tobytes().hex().encode("ascii")
    offsets = np.arange(0, 32 * n + 1, 32, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(text))


def person_keys(values: pd.Series, *, normalized: bool = False) -> pd.Series:
    """Keyed hash (HMAC-SHA256 with :func:`daxing_kpi.personkey.pii_key`, the first 32 hex characters) of
    normalised ID numbers (:func:`norm_series`, upper case): links a person across sources without keeping
    the number (:func:`hmac_hex32`)."""
    s = (values if normalized else norm_series(values)).str.upper().fillna("")
    keys = hmac_hex32([v.encode() for v in s.to_numpy(dtype=object)])
    return pd.Series(keys.to_pylist(), index=s.index, dtype=object)


def _id_matrix(arr: pa.Array) -> np.ndarray:
    """The bytes of a string array whose every value has 18 bytes, as an ``(n, 18)`` array."""
    arr = arr.cast(pa.binary()) if not pa.types.is_binary(arr.type) else arr
    if not len(arr):
        return np.zeros((0, 18), dtype=np.uint8)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32, count=len(arr) + 1, offset=4 * arr.offset)
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
    return data.reshape(-1, 18)


def _id_checks(m: np.ndarray) -> np.ndarray:
    """Valid ID numbers among ``(n, 18)`` byte rows: 17 digits and a digit or ``X``, with a correct GB 11643
    check digit (the one implementation of that rule)."""
    digits = (m >= 48) & (m <= 57)
    shape = digits[:, :17].all(axis=1) & (digits[:, 17] | (m[:, 17] == 88))
    check = _ID_CHECK_BYTES[((m[:, :17].astype(np.int64) - 48) * _ID_WEIGHTS).sum(axis=1) % 11]
    return shape & (check == m[:, 17])


def person_cells(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """``(keys, reasons)`` of ID-number cells (none blank): the person key of a valid number (18
    characters, ``[0-9]{17}[0-9X]`` with a correct GB 11643 check digit, after :func:`norm_series` and
    upper case), None otherwise; the reason of an invalid one (:attr:`Reason.ID_CHANGED_BY_EXCEL` when
    :func:`id_numbers_changed_by_excel`, else :attr:`Reason.BAD_ID`), None for a valid one.

    Values already in the normal form (18 ASCII bytes of digits or ``X``) are checked as one byte
    matrix; any other spelling goes through :func:`norm_series` first."""
    values = pa.array(values, type=pa.string()) if not isinstance(values, pa.Array) else values
    if pa.types.is_large_string(values.type) or pa.types.is_string_view(values.type):
        values = values.cast(pa.string())
    n = len(values)
    lengths = pc.fill_null(pc.binary_length(values), 0).to_numpy(zero_copy_only=False)
    plain = lengths == 18
    if plain.any():
        idx = np.flatnonzero(plain)
        m = _id_matrix(values if plain.all() else values.take(pa.array(idx)))
        ok_plain = ((m >= 48) & (m <= 57))[:, :17].all(axis=1) & (((m[:, 17] >= 48) & (m[:, 17] <= 57)) | (m[:, 17] == 88))
        plain[idx[~ok_plain]] = False  # 18 bytes but not in the normal form (x, spaces, full-width...)
    other = np.flatnonzero(~plain)
    # the normal form of every value: itself, or norm_series + upper for the others
    norm_other = None
    if other.size:
        raw_other = values.take(pa.array(other)).to_pylist()
        norm_other = norm_series(pd.Series(["" if v is None else v for v in raw_other], dtype=object)).str.upper().to_numpy(dtype=object)
    valid = np.zeros(n, dtype=bool)
    keys_parts, key_pos = [], []
    pidx = np.flatnonzero(plain)
    if pidx.size:
        m = _id_matrix(values if pidx.size == n else values.take(pa.array(pidx)))
        v = _id_checks(m)
        valid[pidx] = v
        if v.any():
            keys_parts.append(hmac_hex32(m[v]))
            key_pos.append(pidx[v])
    if other.size:
        shaped = np.fromiter((len(v) == 18 and v.isascii() for v in norm_other), dtype=bool, count=other.size)
        if shaped.any():
            m = np.frombuffer("".join(norm_other[shaped]).encode("ascii"), dtype=np.uint8).reshape(-1, 18)
            v = _id_checks(m)
            valid[other[shaped]] = v
            if v.any():
                keys_parts.append(hmac_hex32(m[v]))
                key_pos.append(other[shaped][v])
    excel = np.zeros(n, dtype=bool)
    bad = np.flatnonzero(~valid)
    if bad.size:  # the normal form of the invalid ones, then the Excel rule
        norm_all = np.empty(n, dtype=object)
        if pidx.size:
            norm_all[pidx[~valid[pidx]]] = values.take(pa.array(pidx[~valid[pidx]])).to_pylist()
        if other.size:
            norm_all[other] = norm_other
        excel[bad] = id_numbers_changed_by_excel(pd.Series(norm_all[bad], dtype="str"), normalized=True).to_numpy()
    # keys in row order: the computed keys taken to their rows, NULL elsewhere
    if keys_parts and sum(len(p) for p in keys_parts) == n and len(keys_parts) == 1:
        keys = keys_parts[0]
    else:
        where = np.full(n, -1, dtype=np.int64)
        start = 0
        for part, pos in zip(keys_parts, key_pos):
            where[pos] = np.arange(start, start + len(part))
            start += len(part)
        pool = pa.concat_arrays(keys_parts) if keys_parts else pa.array([], type=pa.string())
        keys = pool.take(pa.array(where, mask=where < 0)) if len(pool) else pa.nulls(n, type=pa.string())
    if valid.all():
        reasons = pa.nulls(n, type=pa.string())
    else:
        reasons = pa.array(np.where(valid, None, np.where(excel, Reason.ID_CHANGED_BY_EXCEL, Reason.BAD_ID)).tolist(), type=pa.string())
    return keys, reasons


def id_cells(values) -> tuple[np.ndarray, np.ndarray]:
    """:func:`person_cells` of a list or Series of cells, as object arrays (None where there is none)."""
    vals = list(values.to_numpy(dtype=object) if isinstance(values, pd.Series) else values)
    keys, reasons = person_cells(pa.array(["" if v is None else str(v) for v in vals], type=pa.string()))
    return np.array(keys.to_pylist(), dtype=object), np.array(reasons.to_pylist(), dtype=object)


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


CELL_COLUMNS = ("value", "reason", "reason2", "blank")


def cell_rule(column: Column, raw: pd.Series) -> dict[str, np.ndarray]:
    """Type and check the cells ``raw`` (text as the file holds it) of one contract column: the field
    rules of the module text, in one place.

    Returns arrays in the order of ``raw``, by :data:`CELL_COLUMNS`: ``value`` the typed value (NULL where
    the cell is blank or faulty; a person key for an ID number; Python objects: ``str``, ``float``,
    ``bool``, ``datetime.date``, ``pandas.Timestamp``), ``reason`` and ``reason2`` the faults of the cell
    (:class:`Reason` texts, None for none; an integer can be both not whole and below its minimum) and
    ``blank``. A blank cell of a required column has the reason :attr:`Reason.MISSING`. Personal data
    other than ID numbers (names, phones, addresses) is never typed: only its blankness is checked.
    The set-based pass (:mod:`daxing_kpi.ingest.sqlpass`) calls this for each distinct value it does not
    type itself."""
    raw = raw.fillna("").astype(str)
    norm = norm_series(raw)
    blank = (norm == "").to_numpy(dtype=bool, na_value=True)
    n = len(raw)
    value = np.full(n, None, dtype=object)
    reason = np.full(n, None, dtype=object)
    reason2 = np.full(n, None, dtype=object)
    if column.required:
        reason[blank] = Reason.MISSING
    if column.dropped:
        return {"value": value, "reason": reason, "reason2": reason2, "blank": blank}
    if column.type == "text":
        allowed = set(column.allowed or ()) | (seed_values(column.allowed_from_seed) if column.allowed_from_seed else set())
        if allowed:
            bad = ~blank & ~norm.isin({normalize_text(a) for a in allowed}).to_numpy(dtype=bool)
            reason[bad] = Reason.NOT_ALLOWED
            keep = ~blank & ~bad
            value[keep] = norm.to_numpy(dtype=object)[keep]
        else:
            value[~blank] = raw.str.strip().to_numpy(dtype=object)[~blank]
    elif column.type in ("integer", "number"):
        val = parse_numbers(norm, normalized=True)
        num = val.to_numpy(dtype=float, na_value=np.nan)
        isnum = ~np.isnan(num)
        if column.type == "integer":
            isnum &= np.isfinite(num) | np.isnan(num)  # an infinite "integer" is no number
        nan_bad = ~blank & ~isnum
        reason[nan_bad] = Reason.NOT_NUMBER
        bad = nan_bad.copy()
        if column.type == "integer":
            with np.errstate(invalid="ignore"):
                not_whole = isnum & (num != np.round(num))
            reason[not_whole] = Reason.NOT_WHOLE
            bad |= not_whole
        if column.min is not None:
            below = isnum & (num < column.min)
            slot = np.where(reason[below] == None, 0, 1)  # noqa: E711  (below the minimum after not whole: a second fault)
            idx = np.flatnonzero(below)
            reason[idx[slot == 0]] = Reason.BELOW_MIN.format(min=column.min)
            reason2[idx[slot == 1]] = Reason.BELOW_MIN.format(min=column.min)
            bad |= below
        keep = isnum & ~bad
        value[keep] = num[keep]
    elif column.type in ("date", "timestamp"):
        val = parse_timestamps(raw)
        missing = val.isna().to_numpy()
        reason[~blank & missing] = Reason.BAD_DATE
        keep = ~missing
        if column.type == "date":
            value[keep] = val.dt.normalize().dt.date.to_numpy(dtype=object)[keep]
        else:
            value[keep] = val.to_numpy(dtype=object)[keep]
    elif column.type == "boolean":
        val = norm.str.lower().map(TRUTH)
        missing = val.isna().to_numpy()
        reason[~blank & missing] = Reason.NOT_YES_NO
        keep = ~missing
        value[keep] = val.to_numpy(dtype=object)[keep]
    elif column.type == "town":
        codes, why = classify_towns(norm)
        why_arr = why.to_numpy(dtype=object)
        bad = ~blank & pd.notna(why_arr)
        reason[bad] = why_arr[bad]
        code_arr = codes.to_numpy(dtype=object)
        keep = pd.notna(code_arr)
        value[keep] = code_arr[keep]
    elif column.type == "id_number":
        nb = np.flatnonzero(~blank)
        if nb.size:
            keys, why = id_cells(raw.to_numpy(dtype=object)[nb])
            value[nb] = keys
            reason[nb] = why
    return {"value": value, "reason": reason, "reason2": reason2, "blank": blank}
