"""Data contracts: one YAML file per source (``contracts/<source_id>.yaml``).

A contract names the Chinese headers of the export (plus header variants), the English column
name, the type, whether a value is required, the allowed values and the personal-data (PII) class
of every column; optionally the key of a record (``key``, for duplicate records), the delivery
scope (``delivery_scope``, for re-deliveries), the quality thresholds (``quality:``) and
``record_needs``: the columns without which a record cannot count anywhere.

``record_needs`` decides what a fault costs (issue 15): a fault in one of these columns quarantines
the record (it is not loaded); a fault in any other column is a *field fault*: the record is loaded
with that field NULL and the fault logged for that field. Without ``record_needs`` every required
column is needed. The ``delivery_scope`` columns must be among them (a record without its scope
cannot be replaced by a corrected delivery).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from daxing_kpi.paths import contracts_dir
from daxing_kpi.yamlfile import load_yaml

PII_CLASSES = {"id_number", "name", "phone", "address"}
TYPES = {"text", "integer", "number", "date", "timestamp", "boolean", "town", "id_number"}
DUCKDB_TYPES = {
    "text": "VARCHAR",
    "integer": "BIGINT",
    "number": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "boolean": "BOOLEAN",
    "town": "VARCHAR",
    "id_number": "VARCHAR",
}
# Thresholds of the landed-file rules; a contract overrides them under ``quality:``.
SOURCE_RULE_DEFAULTS = {
    "max_rejected_share": 0.05,  # records quarantined for breaking the contract, per file (past it: the file is set aside)
    "max_duplicate_share": 0.10,  # records repeating an earlier file's records, per file
    "max_row_count_change": 0.30,  # rows loaded vs the last publication, either way
}
# Bumped when a rule of ingestion changes what a file yields: a file set aside under older rules is read again.
RULES_VERSION = "15.1"


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
    ``record_needs``: columns without which a record cannot count (a fault there quarantines it).
    ``digest``: SHA-256 of the contract's text and :data:`RULES_VERSION` (a rejected file is read again
    when either changes).
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
    record_needs: tuple[str, ...] = ()
    digest: str = ""
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
    replaced by a keyed hash), a ``key``/``delivery_scope``/``record_needs`` naming no kept column, or
    a delivery-scope column missing from ``record_needs``."""
    text = Path(path).read_text(encoding="utf-8")
    spec = load_yaml(text)
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
    if "record_needs" in spec:
        needs = tuple(spec.get("record_needs") or ())
    else:
        needs = tuple(c.name for c in cols if c.required and not c.dropped)
    for name in needs:
        if name not in kept:
            raise ValueError(f"{path}: record_needs entry {name!r} must name a kept column")
    for ref in scope or ():
        if ref.partition(".")[0] not in needs:
            raise ValueError(f"{path}: delivery_scope column {ref.partition('.')[0]!r} must be in record_needs"
                             " (a record without its scope cannot be replaced by a corrected delivery)")
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
        record_needs=needs,
        digest=hashlib.sha256((RULES_VERSION + "\n" + text).encode()).hexdigest(),
        extra={k: v for k, v in spec.items() if k not in {"columns"}},
    )


def load_contracts(folder: Path | None = None) -> dict[str, Contract]:
    """All contracts of a folder (default :func:`daxing_kpi.paths.contracts_dir`), keyed by ``source_id``."""
    folder = contracts_dir() if folder is None else folder
    return {c.source_id: c for c in (load_contract(p) for p in sorted(Path(folder).glob("*.yaml")))}


def source_rules(contract: Contract) -> dict:
    """Thresholds of the landed-file rules: :data:`SOURCE_RULE_DEFAULTS` and the contract's
    ``quality:`` block. Raises ``ValueError`` naming the contract for an unknown key or a value
    outside [0, 10]."""
    rules = dict(SOURCE_RULE_DEFAULTS)
    extra = contract.extra.get("quality") or {}
    for k, v in extra.items():
        if k not in SOURCE_RULE_DEFAULTS:
            raise ValueError(f"contract {contract.source_id}: unknown quality rule {k!r}; use {sorted(SOURCE_RULE_DEFAULTS)}")
        if not isinstance(v, (int, float)) or not 0 <= v <= 10:
            raise ValueError(f"contract {contract.source_id}: quality.{k} = {v!r} must be a share (a number from 0 to 10)")
        rules[k] = float(v)
    return rules


def raw_table_ddl(contract: Contract) -> str:
    """Column list of the raw table of a source (typed as in the contract, plus lineage)."""
    cols = [f'"{c.name}" {DUCKDB_TYPES[c.type]}' for c in contract.kept_columns]
    cols += ['"_source_file" VARCHAR', '"_sheet" VARCHAR', '"_row_number" BIGINT', '"_file_sha256" VARCHAR']
    return ", ".join(cols)
