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
import threading
from types import ModuleType

_background: threading.Thread | None = None
_allowed = False  # set by allow_background_import
_started = threading.Lock()


def import_great_expectations() -> ModuleType:
    """``great_expectations``, imported with pyspark hidden (see the module docstring). Waits for the import
    :func:`import_in_background` started, if any; an import that failed there is tried again here, so its error
    is raised to the caller that needs Great Expectations."""
    thread = _background
    if thread is not None and thread is not threading.current_thread():
        thread.join()
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


def allow_background_import() -> None:
    """Let :func:`import_in_background` start (``kpi run`` calls it as it starts the job): only in processes that
    never import pyspark meanwhile, since pyspark is hidden from the whole process while Great Expectations is
    imported."""
    global _allowed
    _allowed = True


def import_in_background() -> None:
    """Start importing Great Expectations in a daemon thread, once per process, when allowed (issue 20.3).

    Its import takes about 5 s of a night (scipy, altair and every expectation class), all before the first
    check can run. The first ingestion step and the dbt step call this as they start, so the import runs beside
    work that leaves the interpreter free for long stretches (DuckDB's reading, the dbt subprocess) and is done
    when the checks after them need it. Not earlier: while the import runs, every short call that releases the
    interpreter (a SQLite write of Dagster's run start, a DuckDB query of the run guard's probe) waits up to
    Python's switch interval (5 ms) to get it back, which made the start of a run 5 s slower."""
    global _background
    with _started:
        if _allowed and _background is None and "great_expectations" not in sys.modules:
            _background = threading.Thread(target=_import_quietly, name="import great_expectations", daemon=True)
            _background.start()


def _import_quietly() -> None:
    try:
        import_great_expectations()
    except Exception:  # noqa: BLE001 - import_great_expectations in the caller that needs it tries again and raises
        pass
