"""One Dagster asset per landing source, generated from the data contracts.

``landing_files`` makes sure there is something to load (the bundled sample is generated on
the first run when the landing folder is empty); ``raw/<source_id>`` assets read, check and
load each source into the raw layer of the working database; their asset checks verify row
accounting and town/street coverage (Great Expectations on a per-town aggregate).
"""


import os

import dagster as dg

from daxing_kpi import quality
from daxing_kpi.ingest import Contract, ingest_source, load_contracts
from daxing_kpi.paths import landing_dir, warehouse_dir
from daxing_kpi.sample.generator import generate, towns
from daxing_kpi.warehouse import query_work, write_raw

CONTRACTS = load_contracts()


@dg.asset(group_name="landing", description="Files in the landing folders; the bundled sample is generated when all are empty.")
def landing_files(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    root = landing_dir()
    files = [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
    generated = False
    if not files and os.environ.get("KPI_SAMPLE_ON_EMPTY", "1") != "0":
        scale = float(os.environ.get("KPI_SAMPLE_SCALE", "1"))
        context.log.info(f"landing folder {root} is empty: generating the bundled sample at scale {scale}")
        counts = generate(warehouse_dir(), scale=scale)
        context.log.info(f"sample rows per source: {counts}")
        files = [p for p in root.rglob("*") if p.is_file()]
        generated = True
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
    def _raw(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        result = ingest_source(contract, landing_dir())
        totals = write_raw(contract, result, context.run_id)
        context.log.info(f"{contract.source_id}: {totals}")
        return dg.MaterializeResult(metadata={**totals, "files": len(result.audit)})

    return _raw


def build_raw_checks(contract: Contract) -> list[dg.AssetChecksDefinition]:
    key = dg.AssetKey(["raw", contract.source_id])

    @dg.asset_check(asset=key, name="every_row_is_loaded_or_quarantined", blocking=True)
    def _accounting() -> dg.AssetCheckResult:
        df = query_work(
            "SELECT file_name, rows_read, rows_loaded, rows_quarantined FROM audit.ingest_audit"
            " WHERE source_id = ? AND run_id = (SELECT max_by(run_id, loaded_at) FROM audit.ingest_audit WHERE source_id = ?)",
            [contract.source_id, contract.source_id],
        )
        bad = df[df.rows_read != df.rows_loaded + df.rows_quarantined]
        return dg.AssetCheckResult(
            passed=len(bad) == 0,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "files": len(df),
                "rows_read": int(df.rows_read.sum()),
                "rows_loaded": int(df.rows_loaded.sum()),
                "rows_quarantined": int(df.rows_quarantined.sum()),
                "unbalanced_files": ", ".join(bad.file_name.head(5)) or "none",
            },
        )

    checks = [_accounting]
    if contract.extra.get("coverage") == "every_town_street":
        expected = [t.code for t in towns()]

        @dg.asset_check(asset=key, name="every_town_street_is_present_and_known", blocking=True)
        def _towns() -> dg.AssetCheckResult:
            agg = query_work(f'SELECT geo_code, count(*) AS rows_count FROM raw."{contract.source_id}" GROUP BY geo_code')
            res = quality.validate_frame(agg, f"raw_{contract.source_id}_towns", quality.town_coverage_expectations(expected))
            missing = sorted(set(expected) - set(agg.geo_code.dropna()))
            return dg.AssetCheckResult(
                passed=res.success,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"summary": res.summary(), "missing_towns": ", ".join(missing[:10]) or "none", "towns_seen": len(agg)},
            )

        checks.append(_towns)
    return checks


raw_assets = [build_raw_asset(c) for c in CONTRACTS.values()]
raw_checks = [chk for c in CONTRACTS.values() for chk in build_raw_checks(c)]
