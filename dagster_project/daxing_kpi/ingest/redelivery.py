"""Delivery order and re-deliveries: which files are read, and which rows a later file replaces.

Files are taken in delivery order (modification time, then name): :func:`landing_files`. A file
whose SHA-256 equals an earlier file's is skipped (``skipped_duplicate_file``). When the contract
has ``delivery_scope`` (e.g. ``[burial_date.year]``, or ``[]`` for a complete export), a later file
replaces the rows of earlier files in the scopes it covers (:func:`scope_values`): those rows are
*superseded*, never loaded twice. A file set aside (rejected) covers nothing: the earlier deliveries
stand. :func:`known_file_scopes` lets a file wholly covered by later files stay unread.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pandas as pd

from daxing_kpi.ingest.contracts import Contract
from daxing_kpi.ingest.readers import LANDING_SUFFIXES


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def landing_files(folder: Path) -> list[Path]:
    """Data files of a landing folder in delivery order: modification time, then name.

    Files named as tables (:data:`daxing_kpi.ingest.readers.LANDING_SUFFIXES`: ``.csv``, ``.txt``,
    ``.tsv``, ``.xlsx``, ``.xlsm``, ``.xls``, ``.xml``, ``.htm``, ``.html``, ``.et``), whatever they hold;
    hidden files and Excel's lock files (``~$...``) are ignored."""
    if not folder.exists():
        return []
    files = [
        p for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in LANDING_SUFFIXES and not p.name.startswith((".", "~$"))
    ]
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))


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
