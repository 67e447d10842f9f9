{#- One row per KPI, year and geography (the grain of kpi_observations), in long format: the
    observation with the catalog's names, unit and direction, the target that applies to the
    geography, and the scorecard's assessment as of the end of that year's period. The common
    question needs no join (kpi_long.yml). -#}
with observations as (
    select * from {{ ref('kpi_observations') }}
),

catalog as (
    select * from {{ ref('dim_kpi_catalog') }}
),

scorecard as (
    select * from {{ ref('kpi_scorecard') }}
),

-- the target of each KPI and geography as the scorecard applies it (the district's, or the
-- town/street's own); it does not depend on the as-of date
targets as (
    select distinct kpi_id, geo_code, target_year, target_value, target_source
    from scorecard
)

{%- set meets = progress__terms(
    'observations.value', 'null', 'observations.value', 'null',
    'targets.target_value', 'targets.target_year', 'catalog.direction'
) %}

select
    catalog.plan_id,
    observations.kpi_id,
    catalog.domain,
    catalog.name_zh,
    catalog.name_en,
    catalog.plan_section,
    catalog.unit,
    catalog.unit_zh,
    catalog.direction,
    observations.period_year,
    observations.is_partial_year,
    observations.period_end_date,
    observations.geo_level,
    observations.geo_code,
    observations.geo_name_zh,
    observations.numerator,
    observations.denominator,
    observations.value,
    targets.target_year,
    targets.target_value,
    targets.target_source,
    case
        when observations.value is null or targets.target_value is null then null
        when {{ meets.meets_target }} then true
        else false
    end as meets_target,
    scorecard.review,
    scorecard.status,
    scorecard.progress_ratio,
    scorecard.method,
    scorecard.projected_value,
    scorecard.baseline_year,
    scorecard.baseline_value,
    -- what the numerator counts (e.g. persons, each counted once), its reporting status and the year's additions
    catalog.numerator_zh,
    catalog.numerator_en,
    observations.reporting_status,
    observations.new_in_year
from observations
inner join catalog
    on observations.kpi_id = catalog.kpi_id
left join targets
    on observations.kpi_id = targets.kpi_id
    and observations.geo_code = targets.geo_code
left join scorecard
    on observations.kpi_id = scorecard.kpi_id
    and observations.geo_code = scorecard.geo_code
    and observations.period_end_date = scorecard.as_of_date
