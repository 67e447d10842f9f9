"""Great Expectations checks on the marts, as blocking Dagster asset checks."""


import dagster as dg

from daxing_kpi import quality
from daxing_kpi.warehouse import query_work

OBSERVATIONS = dg.AssetKey(["marts", "kpi_observations"])


@dg.asset_check(asset=OBSERVATIONS, name="kpi_values_are_complete_and_within_bounds", blocking=True)
def kpi_values_are_complete_and_within_bounds() -> dg.AssetCheckResult:
    """Every catalog KPI present; one row per KPI, year and geography; numerators non-negative;
    denominators positive; rates within [0, 100]; per-10,000 values non-negative."""
    df = query_work(
        """
        SELECT o.kpi_id, o.period_year, o.geo_code, o.numerator, o.denominator,
               CASE WHEN c.unit = 'pct' THEN o.value END AS pct_value,
               CASE WHEN c.unit = 'per_10k' THEN o.value END AS per_10k_value
        FROM marts.kpi_observations o JOIN marts.kpi_catalog c USING (kpi_id)
        """
    )
    kpi_ids = query_work("SELECT kpi_id FROM marts.kpi_catalog ORDER BY kpi_id").kpi_id.tolist()
    res = quality.validate_frame(df, "marts_kpi_observations", quality.observations_expectations(kpi_ids))
    return dg.AssetCheckResult(
        passed=res.success,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"summary": res.summary(), "rows": len(df), "failed_expectations": len(res.failures)},
    )


mart_checks = [kpi_values_are_complete_and_within_bounds]
