{#- One row per KPI, year and geography (the grain of kpi_observations), in long format: the
    observation with the catalog's names, unit and direction, the plan in force for the KPI that year, the
    target of that plan that applies to the geography, and the scorecard's assessment as of the end of that
    year's period. The common question needs no join (kpi_long.yml). -#}
with observations as (
    select * from {{ ref('kpi_observations') }}
),

definitions as (
    select * from {{ ref('kpi_catalog') }}
),

plans as (
    select plan_id, period_start_year from {{ ref('int_plans') }}
),

plan_targets as (
    select plan_id, kpi_id, plan_section from {{ ref('int_plan_targets') }} where kpi_id is not null
),

-- the plan in force for a KPI in a year: of the plans with a target on it, the latest one whose period has
-- started by that year; a year before every such plan's period (a baseline year) belongs to the first
in_force as (
    select kpi_id, period_year, plan_id, plan_section
    from (
        select
            years.kpi_id,
            years.period_year,
            plan_targets.plan_id,
            plan_targets.plan_section,
            row_number() over (
                partition by years.kpi_id, years.period_year
                order by
                    case when plans.period_start_year <= years.period_year then 0 else 1 end,
                    case when plans.period_start_year <= years.period_year
                         then -1 * plans.period_start_year else plans.period_start_year end,
                    plan_targets.plan_id
            ) as plan_rank
        from (select distinct kpi_id, period_year from observations) as years
        inner join plan_targets on years.kpi_id = plan_targets.kpi_id
        inner join plans on plan_targets.plan_id = plans.plan_id
    ) as ranked
    where plan_rank = 1
),

series as (
    select plan_id, kpi_id, geo_code, period_year, assessed_value from {{ ref('int_plan_assessed_series') }}
),

scorecard as (
    select * from {{ ref('kpi_scorecard') }}
),

-- the target of each plan, KPI and geography as the scorecard applies it (the district's, or the
-- town/street's own), milestones aside; it does not depend on the as-of date
targets as (
    select distinct plan_id, kpi_id, geo_code, target_kind, final_target_year, final_target_value,
           target_value_upper, target_source, count_basis
    from {{ ref('int_kpi_progress_inputs') }}
),

joined as (
    select
        observations.*,
        in_force.plan_id,
        in_force.plan_section,
        series.assessed_value,
        targets.target_kind,
        targets.count_basis,
        targets.target_value_upper,
        -- the scorecard's target at the year's end (a milestone when one is next), else the target itself
        case when scorecard.plan_id is not null then scorecard.target_year else targets.final_target_year end as target_year,
        case when scorecard.plan_id is not null then scorecard.target_value else targets.final_target_value end as target_value,
        targets.target_source,
        scorecard.review,
        scorecard.status,
        scorecard.progress_ratio,
        scorecard.method,
        scorecard.projected_value,
        scorecard.baseline_year,
        scorecard.baseline_value,
        scorecard.verdict,
        scorecard.verdict_year,
        scorecard.gap_to_target,
        scorecard.completion_rate,
        scorecard.progress_share,
        scorecard.completion_basis,
        scorecard.is_target_held,
        scorecard.contribution_share,
        scorecard.trend
    from observations
    left join in_force
        on observations.kpi_id = in_force.kpi_id
        and observations.period_year = in_force.period_year
    left join series
        on in_force.plan_id = series.plan_id
        and observations.kpi_id = series.kpi_id
        and observations.geo_code = series.geo_code
        and observations.period_year = series.period_year
    left join targets
        on in_force.plan_id = targets.plan_id
        and observations.kpi_id = targets.kpi_id
        and observations.geo_code = targets.geo_code
    left join scorecard
        on in_force.plan_id = scorecard.plan_id
        and observations.kpi_id = scorecard.kpi_id
        and observations.geo_code = scorecard.geo_code
        and observations.period_end_date = scorecard.as_of_date
)

select
    joined.plan_id,
    joined.kpi_id,
    definitions.domain,
    definitions.name_zh,
    definitions.name_en,
    joined.plan_section,
    definitions.unit,
    definitions.unit_zh,
    definitions.direction,
    joined.period_year,
    joined.is_partial_year,
    joined.period_end_date,
    joined.geo_level,
    joined.geo_code,
    joined.geo_name_zh,
    joined.numerator,
    joined.denominator,
    joined.value,
    joined.target_year,
    joined.target_value,
    joined.target_source,
    {{ target_is_met('joined.target_kind', 'joined.assessed_value', 'joined.target_value', 'definitions.direction',
                     'joined.target_value_upper') }} as meets_target,
    joined.review,
    joined.status,
    joined.progress_ratio,
    joined.method,
    joined.projected_value,
    joined.baseline_year,
    joined.baseline_value,
    joined.target_kind,
    joined.target_value_upper,
    joined.count_basis,
    joined.assessed_value,
    joined.verdict,
    joined.verdict_year,
    joined.gap_to_target,
    joined.completion_rate,
    joined.progress_share,
    joined.completion_basis,
    joined.is_target_held,
    joined.contribution_share,
    joined.trend,
    -- what the numerator counts (e.g. persons, each counted once), its reporting status and the year's additions
    definitions.numerator_zh,
    definitions.numerator_en,
    joined.reporting_status,
    joined.new_in_year
from joined
inner join definitions
    on joined.kpi_id = definitions.kpi_id
