"""Moved to :mod:`daxing_kpi.ingest.readers` (issue 15); this name keeps working for older imports."""

from daxing_kpi.ingest.readers import *  # noqa: F401,F403
from daxing_kpi.ingest.readers import CSV_SUFFIXES, EXCEL_SUFFIXES, HEADER_SCAN_ROWS, Table, decode_bytes, normalize_text  # noqa: F401
