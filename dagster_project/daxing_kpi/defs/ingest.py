"""One Dagster asset per landing source, generated from the data contracts.

``landing_files`` makes sure there is something to load (the bundled sample is generated on
the first run when the landing folder is empty; ``KPI_SAMPLE_SHAPES=messy`` writes it in
real-world shapes with a share ``KPI_SAMPLE_FAULT_RATE`` of faulty rows); ``raw/<source_id>``
assets read, check and load each source into the raw layer of the working database; their asset
checks (row accounting, town/street coverage, contract conformance, duplicated delivery, row
count against the last publication) are in :mod:`daxing_kpi.defs.quality`. ``audit/ingest_audit``
is the per-file audit all of them append to (the dbt source of
the published ``ingest_audit``).
"""


import os

import dagster as dg
import duckdb

from daxing_kpi import nightplan
from daxing_kpi.defs.operations import RunGuard
from daxing_kpi.ingest import Contract, ingest_source, kept, load_contracts, strict_files
from daxing_kpi.paths import landing_dir, warehouse_dir
from daxing_kpi.sample.generator import generate
from daxing_kpi.warehouse import connect_work, loaded_file_facts, query_work, rejected_file_facts, write_raw

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
        # files wholly superseded by later ones (a roster re-sent complete) and files set aside before are not
        # read again, nor files staged at an earlier night under the same contract, rules, seeds, secret and code
        # (issue 20.2), unless the run is a full rebuild (kpi run --full: every file read again, the kept tables replaced)
        full = nightplan.full_rebuild_requested(context)
        with connect_work() as con:  # rows staged and loaded inside the working database, never whole in Python
            known_files, known_rejections, staged = ({}, {}, {}) if full else (
                loaded_file_facts(contract.source_id, con), rejected_file_facts(contract.source_id, con), kept.kept_stages(con, contract))
            result = ingest_source(contract, landing_dir(), known_files=known_files, known_rejections=known_rejections, con=con,
                                   staged=staged)
            totals = write_raw(contract, result, context.run_id, con=con)
            try:  # an optimisation for the next night: its failure never fails this one (the files are read again)
                keeping = kept.keep(con, contract, result, context.run_id, replace=full)
            except duckdb.Error as exc:
                keeping = {"kept": 0, "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
                context.log.warning(f"{contract.source_id}: the staged files could not be kept for the next night: {keeping['error']}")
        # files whose rows were staged by this run (read now) and files taken as staged at an earlier night
        read = sum(1 for f in result.files if f.digest not in staged)
        reused = sum(1 for f in result.files if f.digest in staged)
        parsed = sum(f.rows for f in result.files if f.digest not in staged)
        staged_now = {f.digest for f in result.files}  # wholly superseded files left unread (their scopes known)
        unread = [a for a in result.audit if a["status"] == "superseded" and a["sha256"] not in staged_now]
        context.log.info(f"{contract.source_id}: {totals}; files read {read}, taken as staged at an earlier night {reused},"
                         f" wholly superseded and not read {len(unread)}"
                         f"{' (full rebuild: every file read)' if full else ''}; kept {keeping}")
        for a in result.rejected:  # set aside, the night goes on (issue 15): the clerk's words, no stack trace
            context.log.warning(f"file set aside 文件被搁置: {a['rejected_reason_en']} / {a['rejected_reason_zh']}")
        if result.rejected and strict_files():
            raise dg.Failure(
                description=f"KPI_STRICT_FILES=1: {len(result.rejected)} file(s) of {contract.source_id} set aside:\n"
                + "\n".join(f"- {a['rejected_reason_en']}\n  {a['rejected_reason_zh']}" for a in result.rejected),
                allow_retries=False,
            )
        return dg.MaterializeResult(metadata={**totals, "files": len(result.audit), "files_rejected": len(result.rejected),
                                              "files_read": read, "files_reused": reused, "rows_parsed": parsed,
                                              "files_superseded_unread": len(unread),
                                              "rows_superseded_unread": int(sum(a["rows_read"] for a in unread))})

    return _raw


raw_assets = [build_raw_asset(c) for c in CONTRACTS.values()]


@dg.asset(
    key=["audit", "ingest_audit"],
    group_name="ingest",
    deps=[a.key for a in raw_assets],
    description="audit.ingest_audit: one row per landing file and run (status, rows read/loaded/quarantined/superseded, reasons); "
    "the dbt source of the published ingest_audit. Written by the raw assets; this asset reports the run's totals.",
    kinds={"duckdb"},
)
def ingest_audit(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    df = query_work(
        "SELECT status, count(*) AS files, sum(rows_read) AS rows_read, sum(rows_loaded) AS rows_loaded,"
        " sum(rows_quarantined) AS rows_quarantined, sum(coalesce(rows_superseded, 0)) AS rows_superseded"
        " FROM audit.ingest_audit WHERE run_id = ? GROUP BY status ORDER BY status",
        [context.run_id],
    )
    meta = {f"files_{r.status}": int(r.files) for r in df.itertuples()}
    for col in ("rows_read", "rows_loaded", "rows_quarantined", "rows_superseded"):
        meta[col] = int(df[col].sum()) if len(df) else 0
    return dg.MaterializeResult(metadata=meta)
