{#- One row per KPI, geography and as-of date: the baseline, latest and target values the progress
    method (macros/progress.sql) compares. See _progress__models.yml for the rules. -#}
with catalog as (
    select plan_id, kpi_id, unit, direction, baseline_year, target_year, target_value
    from {{ ref('kpi_catalog') }}
),

observations as (
    select kpi_id, geo_level, geo_code, geo_name_zh, period_year, value, is_partial_year, period_end_date
    from {{ ref('kpi_observations') }}
    -- the scorecard assesses the district and the towns/streets (PLAN.md Geographies), not special zones or
    -- the unassigned geography
    where geo_level in ('district', 'town_street')
),

cutoff as (
    select max(data_cutoff_date) as data_cutoff_date
    from {{ ref('int_periods') }}
),

configured_dates as (
    select plan_id, as_of_date, review
    from {{ ref('plan_assessment_dates') }}
),

town_street_targets as (
    select plan_id, kpi_id, geo_code, target_year, target_value
    from {{ ref('kpi_town_street_targets') }}
),

-- the configured dates of each plan plus its latest data date (the data cut-off)
as_of_dates as (
    select plan_id, as_of_date, max(review) as review
    from (
        select plan_id, as_of_date, review from configured_dates
        union all
        select distinct catalog.plan_id, cutoff.data_cutoff_date, cast(null as {{ dbt.type_string() }})
        from catalog
        cross join cutoff
        where cutoff.data_cutoff_date is not null
    ) as dates
    group by plan_id, as_of_date
),

-- every KPI and geography with at least one observation
series as (
    select distinct kpi_id, geo_level, geo_code, geo_name_zh
    from observations
),

frames as (
    select
        catalog.plan_id,
        series.kpi_id,
        series.geo_level,
        series.geo_code,
        series.geo_name_zh,
        as_of_dates.as_of_date,
        as_of_dates.review,
        case when as_of_dates.as_of_date = cutoff.data_cutoff_date then true else false end as is_data_cutoff,
        catalog.unit,
        catalog.direction,
        catalog.baseline_year as planned_baseline_year,
        case when town_street_targets.kpi_id is not null
            then coalesce(town_street_targets.target_year, catalog.target_year)
            else catalog.target_year
        end as target_year,
        -- a district total (unit count) is no target for one town/street: without its own target,
        -- a town/street is then assessed like a KPI without a numeric target (growth a year)
        case
            when town_street_targets.kpi_id is not null then town_street_targets.target_value
            when series.geo_level = 'town_street' and catalog.unit = 'count' then null
            else catalog.target_value
        end as target_value,
        case
            when town_street_targets.kpi_id is not null then 'town_street'
            when series.geo_level = 'town_street' and catalog.unit = 'count' then 'none'
            when catalog.target_value is null then 'none'
            else 'catalog'
        end as target_source
    from series
    inner join catalog on series.kpi_id = catalog.kpi_id
    inner join as_of_dates on catalog.plan_id = as_of_dates.plan_id
    cross join cutoff
    left join town_street_targets
        on series.geo_level = 'town_street'
        and town_street_targets.plan_id = catalog.plan_id
        and town_street_targets.kpi_id = series.kpi_id
        and town_street_targets.geo_code = series.geo_code
),

-- years with a value known at the as-of date: the year's period ended on or before it, from the
-- catalog's baseline year on (the current, partial year counts once its data cut-off is reached)
usable as (
    select frames.kpi_id, frames.geo_code, frames.as_of_date, observations.period_year
    from frames
    inner join observations
        on frames.kpi_id = observations.kpi_id
        and frames.geo_code = observations.geo_code
    where observations.value is not null
      and observations.period_end_date <= frames.as_of_date
      and (frames.planned_baseline_year is null or observations.period_year >= frames.planned_baseline_year)
),

picked_years as (
    select kpi_id, geo_code, as_of_date, min(period_year) as baseline_year, max(period_year) as latest_year
    from usable
    group by kpi_id, geo_code, as_of_date
)

select
    frames.plan_id,
    frames.kpi_id,
    frames.geo_level,
    frames.geo_code,
    frames.geo_name_zh,
    frames.as_of_date,
    frames.review,
    frames.is_data_cutoff,
    frames.unit,
    frames.direction,
    frames.planned_baseline_year,
    picked_years.baseline_year,
    baseline.value as baseline_value,
    picked_years.latest_year,
    latest.value as latest_value,
    latest.is_partial_year as is_latest_partial_year,
    latest.period_end_date as latest_period_end_date,
    frames.target_year,
    frames.target_value,
    frames.target_source
from frames
left join picked_years
    on frames.kpi_id = picked_years.kpi_id
    and frames.geo_code = picked_years.geo_code
    and frames.as_of_date = picked_years.as_of_date
left join observations as baseline
    on picked_years.kpi_id = baseline.kpi_id
    and picked_years.geo_code = baseline.geo_code
    and picked_years.baseline_year = baseline.period_year
left join observations as latest
    on picked_years.kpi_id = latest.kpi_id
    and picked_years.geo_code = latest.geo_code
    and picked_years.latest_year = latest.period_year
