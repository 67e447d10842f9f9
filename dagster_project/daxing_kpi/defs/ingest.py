"""One Dagster asset per landing source, generated from the data contracts.

``landing_files`` makes sure there is something to load (the bundled sample is generated on
the first run when the landing folder is empty; ``KPI_SAMPLE_SHAPES=messy`` writes it in
real-world shapes with a share ``KPI_SAMPLE_FAULT_RATE`` of faulty rows); ``raw/<source_id>``
assets read, check and load each source into the raw layer of the working database; their asset
checks (row accounting, town/street coverage, contract conformance, duplicated delivery, row
count against the last publication) are in :mod:`daxing_kpi.defs.quality`. ``audit/ingest_audit``
is the per-file audit all of them append to (the dbt source of
the published ``ingest_audit``).

A raw asset reads only the files it has not staged before: the staged rows of every file read are kept in
the working database (schema ``stage_cache``, :mod:`daxing_kpi.ingest.stagecache`) and taken as they are
on later nights; a full rebuild (run tag ``kpi/full``) reads every file again and rebuilds them.

A raw asset's materialization also says what its load cost (:func:`read_cost_metadata`: CPU seconds of the
load, and of reading the CSV files apart from the other files), for the benchmark's CSV-only figure.
"""


import os
import time
from pathlib import Path

import dagster as dg
import duckdb

from daxing_kpi import nightplan, raw_parquet
from daxing_kpi.defs.operations import RunGuard
from daxing_kpi.gxload import import_in_background
from daxing_kpi.ingest import Contract, IngestResult, ingest_source, load_contracts, strict_files
from daxing_kpi.ingest.stagecache import StageCache
from daxing_kpi.ingest.source import NOT_READ, READ, STAGE_CACHE
from daxing_kpi.paths import landing_dir, warehouse_dir
from daxing_kpi.sample.generator import generate
from daxing_kpi.warehouse import connect_work, loaded_file_facts, rejected_file_facts, write_raw

CONTRACTS = load_contracts()


@dg.asset(group_name="landing", description="Files in the landing folders; the bundled sample is generated when all are empty.")
def landing_files(context: dg.AssetExecutionContext, run_guard: RunGuard) -> dg.MaterializeResult:
    root = landing_dir()
    files = [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
    generated = False
    if not files and os.environ.get("KPI_SAMPLE_ON_EMPTY", "1") != "0":
        scale = float(os.environ.get("KPI_SAMPLE_SCALE", "1"))
        shapes = os.environ.get("KPI_SAMPLE_SHAPES", "clean")
        context.log.info(f"landing folder {root} is empty: generating the bundled sample at scale {scale} ({shapes} shapes)")
        if shapes == "messy":
            from daxing_kpi.sample import messy

            counts = messy.generate(warehouse_dir(), scale=scale, fault_rate=float(os.environ.get("KPI_SAMPLE_FAULT_RATE", messy.DEFAULT_FAULT_RATE)))
        elif shapes == "clean":
            counts = generate(warehouse_dir(), scale=scale)
        else:
            raise ValueError(f"KPI_SAMPLE_SHAPES={shapes!r}: use clean (default) or messy")
        context.log.info(f"sample rows per source: {counts}")
        from daxing_kpi.personkey import mark_bundled_sample  # issue 19.2: the sample may use the development key

        mark_bundled_sample(root, f"daxing_kpi.sample ({shapes} shapes, scale {scale})")
        files = [p for p in root.rglob("*") if p.is_file()]
        generated = True
        from daxing_kpi import nightplan  # the files this run loads are the sample's, not the empty folder it started from

        nightplan.save_run_inputs(context.run_id, nightplan.snapshot(), replace=True)
    return dg.MaterializeResult(metadata={"files": len(files), "sample_generated": generated, "landing_dir": str(root)})


def load_source(contract: Contract, con: duckdb.DuckDBPyConnection, run_id: str, *, landing_root: Path | None = None,
                full: bool = False, log=None, audit_parquet: bool = True) -> tuple[IngestResult, dict[str, int]]:
    """Ingest one source into the working database (``con``) and keep its files' staged rows for later nights.

    Files wholly superseded by later ones (a roster re-sent complete) and files set aside before are not
    read again (the audit's last facts); files staged at an earlier night under the same rules are taken
    from the stage cache (:class:`StageCache`), unless ``full`` (``kpi run --full``: every file read, wholly
    superseded and earlier set-aside ones included, the cache rebuilt). The cache is written after the raw table's commit; a failure there is logged
    (``log``: a logger) and does not fail the load. ``audit_parquet``: also write the audit's Parquet copy
    (:func:`write_raw`; the nightly job writes it once, in ``audit/ingest_audit``). Returns the result (staged on ``con``) and the totals
    of :func:`write_raw` with ``files_from_stage_cache``."""
    root = landing_dir() if landing_root is None else Path(landing_root)
    # a full rebuild reads every file again: no file is taken as wholly superseded or set aside from the last load
    known_files, known_rejections = ({}, {}) if full else (
        loaded_file_facts(contract.source_id, con), rejected_file_facts(contract.source_id, con))
    cache = StageCache(con, contract, root, full=full)
    result = ingest_source(contract, root, known_files=known_files, known_rejections=known_rejections, con=con,
                           staged=cache.staged)
    totals = write_raw(contract, result, run_id, con=con, audit_parquet=audit_parquet)
    totals["files_from_stage_cache"] = len(result.files_from_cache())
    try:
        kept = cache.save(result, run_id)
    except (duckdb.Error, OSError) as exc:  # the cache only saves work: the next night reads those files again
        if log is not None:
            log.warning(f"{contract.source_id}: staged rows not kept for later nights ({type(exc).__name__}: {exc})")
    else:
        if log is not None:
            log.info(f"{contract.source_id}: stage cache: {totals['files_from_stage_cache']} file(s) not read again,"
                     f" {kept['added']} kept, {kept['dropped']} dropped, {kept['kept']} in all")
    return result, totals


def read_cost_metadata(result: IngestResult, load_cpu_seconds: float) -> dict:
    """What the load cost, for the benchmark's CSV-only figure (issue 20.1): ``load_cpu_seconds`` (CPU seconds of
    the whole process over :func:`load_source`: reading, checking, the raw table, its Parquet copy and the stage
    cache; not Dagster's bookkeeping of the step), ``files_read_text`` (files read now that are delimited text:
    CSV or tab-separated), ``rows_read_text`` (their rows), ``read_cpu_seconds_text`` (CPU seconds of reading and
    checking them, :attr:`IngestResult.read_costs`, no writing) and ``read_cpu_seconds_other`` (the same for the
    other files read now: Excel, HTML, forms)."""
    kinds = result.read_costs_by_kind()
    text = kinds.get("text", {})
    return {"load_cpu_seconds": round(load_cpu_seconds, 4), "files_read_text": int(text.get("files", 0)),
            "rows_read_text": int(text.get("rows", 0)), "read_cpu_seconds_text": round(float(text.get("cpu_seconds", 0.0)), 4),
            "read_cpu_seconds_other": round(sum(v["cpu_seconds"] for k, v in kinds.items() if k != "text"), 4)}


def build_raw_asset(contract: Contract) -> dg.AssetsDefinition:
    """The ingestion asset of one source: every landing file checked against its contract."""

    @dg.asset(
        key=["raw", contract.source_id],
        group_name="ingest",
        deps=[landing_files],
        description=f"{contract.title_zh} ({contract.title_en}). Grain: {contract.grain}. Contract: contracts/{contract.source_id}.yaml.",
        kinds={"duckdb", "python"},
    )
    def _raw(context: dg.AssetExecutionContext, run_guard: RunGuard) -> dg.MaterializeResult:
        # only files not staged before are read (a full rebuild reads them all): see load_source
        import_in_background()  # Great Expectations, for the checks after this step, beside the DuckDB work
        cpu0 = time.process_time()
        with connect_work() as con:  # rows staged and loaded inside the working database, never whole in Python
            result, totals = load_source(contract, con, context.run_id, full=nightplan.full_rebuild_requested(context), log=context.log,
                                         audit_parquet=False)  # written once, after every source: ingest_audit
        load_cpu = time.process_time() - cpu0
        context.log.info(f"{contract.source_id}: {totals}")
        for a in result.rejected:  # set aside, the night goes on (issue 15): the clerk's words, no stack trace
            context.log.warning(f"file set aside 文件被搁置: {a['rejected_reason_en']} / {a['rejected_reason_zh']}")
        if result.rejected and strict_files():
            raise dg.Failure(
                description=f"KPI_STRICT_FILES=1: {len(result.rejected)} file(s) of {contract.source_id} set aside:\n"
                + "\n".join(f"- {a['rejected_reason_en']}\n  {a['rejected_reason_zh']}" for a in result.rejected),
                allow_retries=False,
            )
        modes = [result.read_modes.get(a["file_name"]) for a in result.audit]  # how each file's rows were come by
        return dg.MaterializeResult(metadata={**totals, "files": len(result.audit), "files_rejected": len(result.rejected),
                                              "files_read": modes.count(READ), "files_reused": modes.count(STAGE_CACHE),
                                              "files_not_read": modes.count(NOT_READ),
                                              "rows_parsed": sum(f.rows for f in result.files  # rows of the files read now
                                                                 if result.read_modes.get(f.label) == READ),
                                              **read_cost_metadata(result, load_cpu)})

    return _raw


raw_assets = [build_raw_asset(c) for c in CONTRACTS.values()]


@dg.asset(
    key=["audit", "ingest_audit"],
    group_name="ingest",
    deps=[a.key for a in raw_assets],
    description="audit.ingest_audit: one row per landing file and run (status, rows read/loaded/quarantined/superseded, reasons); "
    "the dbt source of the published ingest_audit. Written by the raw assets; this asset writes its Parquet copy "
    "(raw_parquet/_audit) and reports the run's totals.",
    kinds={"duckdb"},
)
def ingest_audit(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    with connect_work(read_only=True) as con:
        raw_parquet.write_audit(con)  # the audit's Parquet copy, once a night rather than after each source (issue 20.3)
        df = con.execute(
            "SELECT status, count(*) AS files, sum(rows_read) AS rows_read, sum(rows_loaded) AS rows_loaded,"
            " sum(rows_quarantined) AS rows_quarantined, sum(coalesce(rows_superseded, 0)) AS rows_superseded"
            " FROM audit.ingest_audit WHERE run_id = ? GROUP BY status ORDER BY status",
            [context.run_id],
        ).df()
    meta = {f"files_{r.status}": int(r.files) for r in df.itertuples()}
    for col in ("rows_read", "rows_loaded", "rows_quarantined", "rows_superseded"):
        meta[col] = int(df[col].sum()) if len(df) else 0
    return dg.MaterializeResult(metadata=meta)
