"""One more day of deliveries for the benchmark's incremental nightly run (issue 10).

After a full run on the sample (data cut-off ``CUTOFF``, 2026-10-31), :func:`write_new_day` writes,
for every CSV source, the file its department would send the next day (export date 2026-11-02),
following the source's data contract, so the run that loads it is a normal night:

* files add up (no ``delivery_scope``): only the new records of 2026-11-01;
* ``delivery_scope: []`` (complete export, e.g. the volunteer roster): the whole roster again plus
  the new records (the contract says the latest file replaces all earlier ones);
* a date-year scope (burials, cases: ``[burial_date.year]``): the year-to-date 2026 export plus the
  new records (the contract says a file replaces earlier rows of the years it covers);
* another scope (statistical year, catalog year): the latest year's rows again, unchanged values
  (a re-sent annual table; annual statistics have no daily records).

New records copy the last rows of the existing file with the identifying text columns (the key's, else
the first all-distinct required text column) suffixed ``-D20261101-<n>``, required dates set to
2026-11-01 and optional dates blank; a key holding a required date (an employment from its start, e.g.
person, employer and hire date) is new by that date, and its text columns are kept. Their number is the
file's records per day (:func:`records_per_day`), fewer when two copied rows would share a key. The towns'
Excel return forms (monthly) get no new file. Returns one dict per file written.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from daxing_kpi.ingest import Contract, header_index, landing_files, load_contracts, normalize_text
from daxing_kpi.readers import CSV_SUFFIXES
from daxing_kpi.sample.generator import BASE_YEAR, CUTOFF

NEW_DAY = CUTOFF + dt.timedelta(days=1)
EXPORT_DAY = CUTOFF + dt.timedelta(days=2)
DAYS_COVERED = (CUTOFF - dt.date(BASE_YEAR, 1, 1)).days + 1


def _columns(contract: Contract, header: list[str]) -> dict[str, str]:
    """Contract column name -> the file's header text."""
    known = header_index(contract)
    out: dict[str, str] = {}
    for h in header:
        c = known.get(normalize_text(h))
        if c is not None:
            out.setdefault(c.name, h)
    return out


def new_records(contract: Contract, df: pd.DataFrame, cols: dict[str, str], n: int) -> pd.DataFrame:
    """``n`` records of the new day made from the last rows of ``df`` (see the module docstring)."""
    new = df.tail(n).copy().reset_index(drop=True)
    suffix = f"-D{NEW_DAY:%Y%m%d}"
    key_text = [k for k in contract.key if contract.column(k).type == "text" and k in cols]
    if any(contract.column(k).type == "date" and contract.column(k).required and k in cols for k in contract.key):
        key_text = []  # a key with a required date (a person's employment from its start): the new date makes the record new
    if not contract.key:  # no key: the first required text column whose values are all distinct (an identifier)
        ids = [c.name for c in contract.kept_columns if c.type == "text" and c.required and not c.allowed
               and not c.allowed_from_seed and c.name in cols and df[cols[c.name]].is_unique]
        key_text = ids[:1]
    for name in key_text:
        new[cols[name]] = new[cols[name]].astype(str) + suffix + "-" + pd.Series(range(len(new))).astype(str)
    for c in contract.columns:
        if c.type == "date" and c.name in cols:
            new[cols[c.name]] = NEW_DAY.isoformat() if c.required else ""
    if contract.key and all(k in cols for k in contract.key):  # two copied rows alike in the key would be one record
        new = new.drop_duplicates(subset=[cols[k] for k in contract.key]).reset_index(drop=True)
    return new


def records_per_day(rows: int) -> int:
    """New records of one day for a file of ``rows`` records over the sample's period: rows / days, at least 1,
    but none for a register under 20 records (one more would move its row count beyond the plausibility check's
    bounds, and a register that small does not change every day)."""
    return 0 if rows < 20 else max(1, round(rows / DAYS_COVERED))


def write_new_day(landing: Path, sources: set[str] | None = None) -> list[dict]:
    """Write the next day's files into ``landing/<source>/`` (of every source, or of the ``sources`` named);
    returns ``source_id, file, rows, new_records, rule``."""
    written = []
    for contract in load_contracts().values():
        if sources is not None and contract.source_id not in sources:
            continue
        files = landing_files(Path(landing) / contract.landing_dir)
        csvs = [p for p in files if p.suffix.lower() in CSV_SUFFIXES]
        if not csvs or len(csvs) != len(files):
            continue  # Excel return forms: monthly, nothing new on a day
        df = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig") for p in csvs], ignore_index=True)
        cols = _columns(contract, list(df.columns))
        new = new_records(contract, df, cols, records_per_day(len(df)))
        scope = contract.delivery_scope
        if scope is None:
            if not len(new):
                continue
            out, n_new, rule = new, len(new), "new records only (files add up)"
        elif scope == ():
            out, n_new, rule = pd.concat([df, new], ignore_index=True), len(new), "complete export again + new records"
        else:
            name, _, part = scope[0].partition(".")
            if part == "year" and contract.column(name).type == "date" and name in cols:
                same_year = df[cols[name]].str[:4] == str(NEW_DAY.year)
                out = pd.concat([df[same_year], new], ignore_index=True)
                n_new, rule = len(new), f"year-to-date {NEW_DAY.year} export + new records"
            else:
                latest = df[cols[name]].astype(str).max() if name in cols else None
                out = df[df[cols[name]].astype(str) == latest] if latest is not None else df.iloc[0:0]
                n_new, rule = 0, f"latest {name} ({latest}) re-sent, no daily records"
        if not len(out):
            continue
        stem = csvs[-1].name.rsplit("_", 1)[0]
        path = csvs[-1].parent / f"{stem}_{EXPORT_DAY:%Y%m%d}.csv"
        out.to_csv(path, index=False, encoding="utf-8")
        written.append({"source_id": contract.source_id, "file": f"{contract.landing_dir}/{path.name}", "rows": len(out),
                        "new_records": n_new, "rule": rule})
    return written
