"""The quality gate in Dagster: asset checks on every landed source and on the marts, and the
Great Expectations Data Docs next to the dashboard (issue 6).

* ``raw__<source_id>__landed_file_checks``: one step per source, right after its ingestion, with
  the landed-file checks of :mod:`daxing_kpi.checks` (row accounting, town/street coverage,
  contract conformance, duplicated delivery, plausible row count). All ERROR and blocking: a
  failure stops every asset downstream of the source (dbt, publication, dashboard).
* ``marts__kpi_observations__mart_checks``: the Great Expectations checks of the mart (every KPI
  for every year and geography, rates in [0, 100], non-negative values, positive denominators,
  additivity: ERROR; year-over-year changes and persons with several active records: WARN, advisory).
* dbt tests (staging, intermediate, marts) are asset checks through dagster-dbt: error-severity
  tests are blocking, warn-severity tests advisory.

Every check is declared ``blocking=True``: a result with severity ERROR that fails stops the assets
downstream, a WARN result never does, and the publish step always runs after every check (so the
published ``dq_results`` holds all of this run's results, see :mod:`daxing_kpi.dq`).
"""


import dagster as dg

from daxing_kpi import checks, quality_docs
from daxing_kpi.defs.publish import kpi_dashboard
from daxing_kpi.ingest import Contract, load_contracts
from daxing_kpi.paths import dashboard_dir
from daxing_kpi.warehouse import connect_work

OBSERVATIONS = dg.AssetKey(["marts", "kpi_observations"])
MART_CHECK_DEPS = [
    dg.AssetKey(["marts", "dim_kpi_catalog"]),
    dg.AssetKey(["marts", "geographies"]),
    dg.AssetKey(["seeds", "kpi_quality_rules"]),
    dg.AssetKey(["intermediate", "int_periods"]),
    dg.AssetKey(["marts", "kpi_person_duplicates"]),  # persons_with_several_active_records_are_few (issue 16.1)
]
SEVERITY = {checks.ERROR: dg.AssetCheckSeverity.ERROR, checks.WARN: dg.AssetCheckSeverity.WARN}
CHECK_DESCRIPTIONS = {
    "every_row_is_loaded_or_quarantined": "Rows read = loaded + quarantined + superseded, for every landing file.",
    "every_town_street_is_present_and_known": "Every one of the plan's 22 towns/streets has records (per year where the contract says "
    "coverage_by), and every town/street code is known (Great Expectations on a per-town aggregate).",
    "records_conform_to_the_contract": "At most the contract's max_rejected_share of each file's records quarantined for breaking the "
    "contract (totals/signature rows and duplicates not counted).",
    "no_record_is_delivered_twice": "At most max_duplicate_share of each file's records repeat a record of an earlier file still in "
    "force (same key, or identical content): a duplicated delivery.",
    "row_count_is_plausible_against_the_last_delivery": "Rows loaded within ±max_row_count_change of the rows loaded at the last "
    "publication (KPI_ACCEPT_ROW_COUNT_CHANGE=<source_id> accepts a genuine change for one run).",
    "every_kpi_has_a_value_for_every_year_and_geography": "Exactly one row per catalog KPI, year (from its first year to the current "
    "one) and geography (district; towns/streets per seeds/kpi_quality_rules.csv).",
    "rates_are_between_0_and_100": "Values of KPIs in % within [0, 100].",
    "counts_and_per_10k_values_are_not_negative": "Numerators, counts and per-10,000 values >= 0.",
    "denominators_are_positive": "Every denominator present and > 0 (a special zone or the unassigned geography may have none).",
    "town_street_numerators_sum_to_the_district": "For additive KPIs, the district's numerator and denominator equal the sums over its "
    "towns/streets, special zones and the unassigned geography.",
    "year_over_year_changes_are_within_bounds": "Advisory (WARN): district change between consecutive full years within the KPI's "
    "max_yoy_change (seeds/kpi_quality_rules.csv).",
    "persons_with_several_active_records_are_few": "Advisory (WARN): per KPI counting persons and year, at most "
    f"{checks.MAX_PERSON_DUPLICATE_SHARE:g}% of the persons counted stand on several active records (marts.kpi_person_duplicates): "
    "a source platform registering people twice is seen.",
}


def _results(context: dg.AssetCheckExecutionContext, key: dg.AssetKey, outcomes: list[checks.CheckOutcome]):
    asset = key.to_user_string()
    for o in outcomes:
        if o.gx is not None:
            quality_docs.store_validation(context.run.run_id, asset, o.name, o.gx.result_json)
        if not o.passed:
            log = context.log.warning if o.severity == checks.WARN else context.log.error
            log(f"{asset} {o.name} failed: {o.observed}; expected {o.expected}")
        yield dg.AssetCheckResult(
            asset_key=key, check_name=o.name, passed=o.passed, severity=SEVERITY[o.severity],
            metadata=o.metadata(), description=o.observed[:500],
        )


def build_landed_file_checks(contract: Contract) -> dg.AssetChecksDefinition:
    """The landed-file checks of one source, evaluated in one step after its ``raw/<source_id>`` asset."""
    key = dg.AssetKey(["raw", contract.source_id])
    checks.source_rules(contract)  # an invalid quality: block fails at load time, naming the contract

    @dg.multi_asset_check(
        name=f"raw__{contract.source_id}__landed_file_checks",
        specs=[
            dg.AssetCheckSpec(name, asset=key, blocking=True, description=CHECK_DESCRIPTIONS[name])
            for name in checks.landed_file_check_names(contract)
        ],
        can_subset=True,
        description=f"Quality gate of the landing files of {contract.source_id} ({contract.title_zh}).",
    )
    def _landed(context: dg.AssetCheckExecutionContext):
        names = {ck.name for ck in context.selected_asset_check_keys}
        with connect_work(read_only=True) as con:
            outcomes = checks.landed_file_outcomes(con, contract, context.run.run_id, names)
        yield from _results(context, key, outcomes)

    return _landed


@dg.multi_asset_check(
    name="marts__kpi_observations__mart_checks",
    specs=[
        dg.AssetCheckSpec(name, asset=OBSERVATIONS, blocking=True, description=CHECK_DESCRIPTIONS[name], additional_deps=MART_CHECK_DEPS)
        for name in checks.MART_CHECKS
    ],
    can_subset=True,
    description="Great Expectations checks of the mart kpi_observations (one bounded batch: a row per KPI, year and geography).",
)
def kpi_observations_mart_checks(context: dg.AssetCheckExecutionContext):
    names = {ck.name for ck in context.selected_asset_check_keys}
    with connect_work(read_only=True) as con:
        outcomes = checks.mart_outcomes(con, names)
    yield from _results(context, OBSERVATIONS, outcomes)


landed_file_checks = [build_landed_file_checks(c) for c in load_contracts().values()]
mart_checks = [kpi_observations_mart_checks]


@dg.asset(
    group_name="publish",
    # After the dashboard, like the dbt docs: a failure here never holds back the dashboard, and each
    # new dashboard version starts with the previous site (daxing_kpi.quality_docs.copy_quality_site_into).
    deps=[kpi_dashboard],
    description=(
        "dashboards/build/quality/index.html: Great Expectations Data Docs of the latest result of every quality suite, "
        "built offline (CDN scripts, styles and images of GX's templates removed), linked from the dashboard."
    ),
    kinds={"html"},
)
def quality_data_docs(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    index = quality_docs.build_quality_site(dashboard_version=dashboard_dir())
    context.log.info(f"quality Data Docs: {dashboard_dir() / quality_docs.SITE_DIR_NAME / 'index.html'} (kept as {index})")
    return dg.MaterializeResult(metadata={"path": str(dashboard_dir() / quality_docs.SITE_DIR_NAME / "index.html"),
                                          "kept_as": str(index), "suites": len(quality_docs.latest_validations())})
