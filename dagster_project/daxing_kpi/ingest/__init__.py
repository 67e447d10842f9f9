"""Contract-driven ingestion of department files into the raw layer.

The modules, by what a newcomer looks for:

| module | what it holds |
|---|---|
| :mod:`~daxing_kpi.ingest.contracts` | the data contracts (YAML): columns, types, PII classes, key, delivery scope, ``record_needs``, quality thresholds |
| :mod:`~daxing_kpi.ingest.readers` | reading a file by its content (Excel, HTML-as-xls, SpreadsheetML, CSV/TSV in any common encoding) into tables of text |
| :mod:`~daxing_kpi.ingest.rows` | which header columns are the contract's; which rows are no records (totals, signatures) |
| :mod:`~daxing_kpi.ingest.fields` | the field rules: typing and checking a cell (dates with a time of day, numbers, yes/no, ID numbers, person keys) |
| :mod:`~daxing_kpi.ingest.sqlpass` | the set-based pass: a table of text cells typed, checked and split (loaded / field fault / quarantined) in DuckDB |
| :mod:`~daxing_kpi.ingest.csvread` | CSV and tab-separated text read by DuckDB's ``read_csv`` (header found in Python, transcoding, row numbers) |
| :mod:`~daxing_kpi.ingest.stage` | one source staged in DuckDB: a table per file, re-deliveries, duplicates, the quarantine's rows |
| :mod:`~daxing_kpi.ingest.towns` | town/street spellings and codes to 2023 statistical codes; units of other districts |
| :mod:`~daxing_kpi.ingest.redelivery` | delivery order, re-sent files, corrected deliveries replacing earlier rows |
| :mod:`~daxing_kpi.ingest.accounting` | the per-file audit: rows read = loaded + quarantined + superseded, field faults, rejections |
| :mod:`~daxing_kpi.ingest.cutoff` | the date a delivery covers to |
| :mod:`~daxing_kpi.ingest.source` | one source end to end: :func:`ingest_source`; a bad file set aside, never the night |
| :mod:`~daxing_kpi.ingest.kept` | each file's checked rows kept in the working database: a later night does not read the file again |
| :mod:`~daxing_kpi.ingest.report` | the files set aside, for the operator's report and the quality page |
| :mod:`~daxing_kpi.ingest.reasons` | reason texts (English, Chinese), :class:`FileRejected`, :class:`ContractError` |

A fault costs only what it touches: a record is quarantined only when it cannot count anywhere (a
fault in a column of the contract's ``record_needs``, a town/street outside the district, a duplicate,
a totals or signature row); otherwise it is loaded with the faulty field NULL and the fault logged
for that field (``disposition = field_fault``). A file that cannot be used is set aside (status
``rejected``) and every other file and source goes on; ``KPI_STRICT_FILES=1`` fails the night
instead (:func:`strict_files`).
"""

from __future__ import annotations

import os

from daxing_kpi.ingest.accounting import AUDIT_COLUMNS_ADDED
from daxing_kpi.ingest.contracts import (
    DUCKDB_TYPES, PII_CLASSES, RULES_VERSION, SOURCE_RULE_DEFAULTS, TYPES, Column, Contract, load_contract, load_contracts,
    raw_table_ddl, source_rules,
)
from daxing_kpi.ingest.fields import (
    ID_LIKE, PHONE_LIKE, _norm_series, cell_rule, id_cells, id_numbers_changed_by_excel, mask_value, norm_series, parse_dates,
    parse_numbers, parse_timestamps, person_keys, redact_text, seed_values, valid_id_numbers,
)
from daxing_kpi.ingest.readers import (
    CSV_SUFFIXES, EXCEL_SUFFIXES, HEADER_SCAN_ROWS, LANDING_SUFFIXES, decode_bytes, normalize_text, read_tables, sniff,
)
from daxing_kpi.ingest.reasons import REASON_ZH, ROW_REASONS, ContractError, FileRejected, Reason, reason_zh
from daxing_kpi.ingest.redelivery import known_file_scopes, landing_files, scope_values, sha256_file
from daxing_kpi.ingest.rows import NOTE_MARKERS, TOTAL_MARKERS, header_index, marker_rows, match_headers
from daxing_kpi.ingest.source import FIELD_FAULT, NOT_REJECTIONS, QUARANTINED, IngestResult, ingest_connection, ingest_source, read_file
from daxing_kpi.ingest.towns import DISTRICT_PREFIXES, classify_town, classify_towns, resolve_towns, town_lookup
from daxing_kpi.paths import contracts_dir  # noqa: F401  (tests point contracts elsewhere through it)
from daxing_kpi.personkey import DEV_PII_KEY, pii_key  # noqa: F401  (part of this package's API)

STRICT_FILES_ENV = "KPI_STRICT_FILES"


def strict_files() -> bool:
    """``KPI_STRICT_FILES=1``: a file set aside fails the night (the behaviour before issue 15)."""
    return os.environ.get(STRICT_FILES_ENV, "").strip().lower() in ("1", "true", "yes")


def read_csv_file(path, encoding: str = "auto", contract: Contract | None = None):
    """A CSV file as strings (title rows skipped when a contract is given) and the line number of every data row."""
    known = header_index(contract) if contract else {}
    table, _ = read_tables(path, known, encoding)[0]
    return table.frame, table.row_numbers.tolist()


__all__ = [
    "AUDIT_COLUMNS_ADDED", "CSV_SUFFIXES", "DEV_PII_KEY", "DISTRICT_PREFIXES", "DUCKDB_TYPES", "EXCEL_SUFFIXES", "FIELD_FAULT",
    "HEADER_SCAN_ROWS", "ID_LIKE", "LANDING_SUFFIXES", "NOTE_MARKERS", "NOT_REJECTIONS", "PHONE_LIKE", "PII_CLASSES", "QUARANTINED",
    "REASON_ZH", "ROW_REASONS", "RULES_VERSION", "SOURCE_RULE_DEFAULTS", "STRICT_FILES_ENV", "TOTAL_MARKERS", "TYPES", "Column",
    "Contract", "ContractError", "FileRejected", "IngestResult", "Reason", "_norm_series", "cell_rule", "classify_town",
    "classify_towns", "contracts_dir", "decode_bytes", "header_index", "id_numbers_changed_by_excel", "ingest_source",
    "id_cells", "ingest_connection", "known_file_scopes", "landing_files", "load_contract", "load_contracts", "marker_rows", "mask_value", "match_headers",
    "norm_series", "normalize_text", "parse_dates", "parse_numbers", "parse_timestamps", "person_keys", "pii_key",
    "raw_table_ddl", "read_csv_file", "read_file", "read_tables", "reason_zh", "redact_text", "resolve_towns", "scope_values",
    "seed_values", "sha256_file", "sniff", "source_rules", "strict_files", "town_lookup", "valid_id_numbers",
]
