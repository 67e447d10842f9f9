"""Import Great Expectations without pyspark (issue 19.3).

Great Expectations' ``great_expectations.compatibility.pyspark`` imports pyspark whenever it is
installed (the Spark extra, so the ``--test`` install and CI), including
``pyspark.sql.connect.dataframe``. pyspark's Spark Connect modules check their own dependencies
on import and, when ``__main__`` has neither ``__spec__`` nor ``__file__`` (which they take for
"running doctests"), print "Skipping doctests: ..." and call ``sys.exit(0)``. A Dagster run started
by the daemon executes in a process spawned by the code server (``multiprocessing`` "spawn"
context, whose ``__main__`` is exactly such a bare module), so that process exited with code 0
in the middle of loading the definitions: no report, no ``pipeline_runs`` row, no notification.

The product validates pandas frames only and never uses Great Expectations' Spark support, so
pyspark is hidden from Great Expectations while it is imported: its compatibility module then
records pyspark as not installed. pyspark itself stays importable for code that really uses it
(the Spark target, :mod:`daxing_kpi.engines`).
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType


def import_great_expectations() -> ModuleType:
    """``great_expectations``, imported with pyspark hidden (see the module docstring)."""
    if "great_expectations" in sys.modules:
        return sys.modules["great_expectations"]
    hidden = "pyspark" not in sys.modules
    if hidden:
        sys.modules["pyspark"] = None  # `import pyspark` raises ImportError while this entry is None
    try:
        return importlib.import_module("great_expectations")
    finally:
        if hidden and sys.modules.get("pyspark", 0) is None:
            del sys.modules["pyspark"]
