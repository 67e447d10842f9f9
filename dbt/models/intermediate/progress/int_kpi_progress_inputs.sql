{#- One row per plan, KPI, geography and as-of date: the values the method (macros/progress.sql) compares
    for the plan's target on the KPI. See _progress__models.yml for the rules. -#}
with plans as (
    select plan_id, period_start_year, baseline_year from {{ ref('int_plans') }}
),

targets as (
    select plan_id, kpi_id, target_kind, target_value, target_value_upper, target_year, count_basis
    from {{ ref('int_plan_targets') }}
    where kpi_id is not null
),

milestones as (
    select plan_id, kpi_id, milestone_year, milestone_value from {{ ref('int_plan_target_milestones') }}
),

catalog as (
    select kpi_id, unit, direction from {{ ref('kpi_catalog') }}
),

series as (
    select * from {{ ref('int_plan_assessed_series') }}
),

cutoff as (
    select max(data_cutoff_date) as data_cutoff_date
    from {{ ref('int_periods') }}
),

town_street_targets as (
    select plan_id, kpi_id, geo_code, target_year, target_value
    from {{ ref('kpi_town_street_targets') }}
),

-- each plan's assessment dates up to the data cut-off, plus the cut-off itself (the latest data)
as_of_dates as (
    select plan_id, as_of_date, max(review) as review
    from (
        select dates.plan_id, dates.as_of_date, dates.review
        from {{ ref('int_plan_assessment_dates') }} as dates
        cross join cutoff
        where cutoff.data_cutoff_date is null or dates.as_of_date <= cutoff.data_cutoff_date
        union all
        select plans.plan_id, cutoff.data_cutoff_date, cast(null as {{ dbt.type_string() }})
        from plans
        cross join cutoff
        where cutoff.data_cutoff_date is not null
    ) as dates
    group by plan_id, as_of_date
),

-- every plan target, KPI and assessed geography (the district and the towns/streets; special zones and
-- records not assigned to a town/street count in the district only) with at least one observation
geo_series as (
    select distinct plan_id, kpi_id, geo_level, geo_code, geo_name_zh
    from series
    where geo_level in ('district', 'town_street')
),

-- the target that applies to each geography, milestones aside: the plan's, or the town/street's own; a
-- district count (unit count) is no target for one town/street
final_targets as (
    select
        geo_series.plan_id,
        geo_series.kpi_id,
        geo_series.geo_level,
        geo_series.geo_code,
        geo_series.geo_name_zh,
        targets.target_kind,
        targets.count_basis,
        catalog.unit,
        catalog.direction,
        case when town_street_targets.kpi_id is not null
            then coalesce(town_street_targets.target_year, targets.target_year)
            else targets.target_year
        end as target_year,
        case
            when town_street_targets.kpi_id is not null then town_street_targets.target_value
            when geo_series.geo_level = 'town_street' and catalog.unit = 'count' then null
            else targets.target_value
        end as target_value,
        case
            when town_street_targets.kpi_id is not null then null
            when geo_series.geo_level = 'town_street' and catalog.unit = 'count' then null
            else targets.target_value_upper
        end as target_value_upper,
        case
            when town_street_targets.kpi_id is not null then 'town_street'
            when geo_series.geo_level = 'town_street' and catalog.unit = 'count' then 'none'
            when targets.target_value is null then 'none'
            else 'catalog'
        end as target_source
    from geo_series
    inner join targets
        on geo_series.plan_id = targets.plan_id
        and geo_series.kpi_id = targets.kpi_id
    inner join catalog on geo_series.kpi_id = catalog.kpi_id
    left join town_street_targets
        on geo_series.geo_level = 'town_street'
        and town_street_targets.plan_id = geo_series.plan_id
        and town_street_targets.kpi_id = geo_series.kpi_id
        and town_street_targets.geo_code = geo_series.geo_code
),

-- the years a target is judged at: its target year and, for a plan's own reach_by_year target, its milestones
checkpoints as (
    select plan_id, kpi_id, geo_code, target_year as checkpoint_year, target_value as checkpoint_value,
           false as is_milestone
    from final_targets
    union all
    select final_targets.plan_id, final_targets.kpi_id, final_targets.geo_code, milestones.milestone_year,
           milestones.milestone_value, true as is_milestone
    from final_targets
    inner join milestones
        on final_targets.plan_id = milestones.plan_id
        and final_targets.kpi_id = milestones.kpi_id
    where final_targets.target_source = 'catalog'
      and final_targets.target_kind = 'reach_by_year'
      and milestones.milestone_year < final_targets.target_year
),

frames as (
    select
        final_targets.*,
        as_of_dates.as_of_date,
        as_of_dates.review,
        case when as_of_dates.as_of_date = cutoff.data_cutoff_date then true else false end as is_data_cutoff,
        plans.baseline_year as planned_baseline_year,
        plans.period_start_year
    from final_targets
    inner join as_of_dates on final_targets.plan_id = as_of_dates.plan_id
    inner join plans on final_targets.plan_id = plans.plan_id
    cross join cutoff
),

-- years with a value known at the as-of date: the year's period ended on or before it, from the plan's
-- baseline year on (the current, partial year counts once its data cut-off is reached)
usable as (
    select frames.plan_id, frames.kpi_id, frames.geo_code, frames.as_of_date, series.period_year
    from frames
    inner join series
        on frames.plan_id = series.plan_id
        and frames.kpi_id = series.kpi_id
        and frames.geo_code = series.geo_code
    where series.assessed_value is not null
      and series.period_end_date <= frames.as_of_date
      and series.period_year >= frames.planned_baseline_year
),

picked_years as (
    select plan_id, kpi_id, geo_code, as_of_date,
           min(period_year) as baseline_year, max(period_year) as latest_year
    from usable
    group by plan_id, kpi_id, geo_code, as_of_date
),

-- the checkpoint the status is judged against (the next one not yet passed, else the last) and the one the
-- verdict is about (the latest passed)
checkpoint_years as (
    select
        frames.plan_id, frames.kpi_id, frames.geo_code, frames.as_of_date,
        min(case when checkpoints.checkpoint_year >= coalesce(picked_years.latest_year, frames.planned_baseline_year)
                 then checkpoints.checkpoint_year end) as next_year,
        max(checkpoints.checkpoint_year) as last_year,
        max(case when checkpoints.checkpoint_year <= picked_years.latest_year
                 then checkpoints.checkpoint_year end) as passed_year
    from frames
    inner join checkpoints
        on frames.plan_id = checkpoints.plan_id
        and frames.kpi_id = checkpoints.kpi_id
        and frames.geo_code = checkpoints.geo_code
    left join picked_years
        on frames.plan_id = picked_years.plan_id
        and frames.kpi_id = picked_years.kpi_id
        and frames.geo_code = picked_years.geo_code
        and frames.as_of_date = picked_years.as_of_date
    group by frames.plan_id, frames.kpi_id, frames.geo_code, frames.as_of_date
),

-- hold_every_year: the years of the period so far (up to the target year) whose value missed the target
hold_years as (
    select
        frames.plan_id, frames.kpi_id, frames.geo_code, frames.as_of_date,
        sum(case when {{ target_is_met('frames.target_kind', 'series.assessed_value', 'frames.target_value',
                                       'frames.direction', 'frames.target_value_upper') }}
                 then 0 else 1 end) as years_not_held
    from frames
    inner join usable
        on frames.plan_id = usable.plan_id
        and frames.kpi_id = usable.kpi_id
        and frames.geo_code = usable.geo_code
        and frames.as_of_date = usable.as_of_date
    inner join series
        on usable.plan_id = series.plan_id
        and usable.kpi_id = series.kpi_id
        and usable.geo_code = series.geo_code
        and usable.period_year = series.period_year
    where frames.target_kind = 'hold_every_year'
      and frames.target_value is not null
      and usable.period_year >= frames.period_start_year
      and usable.period_year <= frames.target_year
    group by frames.plan_id, frames.kpi_id, frames.geo_code, frames.as_of_date
),

district as (
    select plan_id, kpi_id, period_year, assessed_value
    from series
    where geo_level = 'district'
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
    coalesce(next_checkpoint.checkpoint_year, frames.target_year) as target_year,
    case when next_checkpoint.checkpoint_year is not null then next_checkpoint.checkpoint_value
         else frames.target_value end as target_value,
    frames.target_source,
    frames.target_kind,
    frames.target_value_upper,
    frames.count_basis,
    baseline.assessed_value as assessed_baseline_value,
    latest.assessed_value as assessed_value,
    coalesce(next_checkpoint.is_milestone, false) as is_milestone_target,
    frames.target_year as final_target_year,
    frames.target_value as final_target_value,
    passed_checkpoint.checkpoint_year as verdict_year,
    passed_checkpoint.checkpoint_value as verdict_target_value,
    at_verdict.assessed_value as verdict_value,
    case when frames.target_kind = 'hold_every_year' and frames.target_value is not null
         then coalesce(hold_years.years_not_held, 0) end as years_not_held,
    case when frames.geo_level = 'town_street' and frames.unit = 'count' and district.assessed_value <> 0
         then latest.assessed_value / district.assessed_value end as contribution_share
from frames
left join picked_years
    on frames.plan_id = picked_years.plan_id
    and frames.kpi_id = picked_years.kpi_id
    and frames.geo_code = picked_years.geo_code
    and frames.as_of_date = picked_years.as_of_date
left join series as baseline
    on picked_years.plan_id = baseline.plan_id
    and picked_years.kpi_id = baseline.kpi_id
    and picked_years.geo_code = baseline.geo_code
    and picked_years.baseline_year = baseline.period_year
left join series as latest
    on picked_years.plan_id = latest.plan_id
    and picked_years.kpi_id = latest.kpi_id
    and picked_years.geo_code = latest.geo_code
    and picked_years.latest_year = latest.period_year
left join checkpoint_years
    on frames.plan_id = checkpoint_years.plan_id
    and frames.kpi_id = checkpoint_years.kpi_id
    and frames.geo_code = checkpoint_years.geo_code
    and frames.as_of_date = checkpoint_years.as_of_date
left join checkpoints as next_checkpoint
    on frames.plan_id = next_checkpoint.plan_id
    and frames.kpi_id = next_checkpoint.kpi_id
    and frames.geo_code = next_checkpoint.geo_code
    and coalesce(checkpoint_years.next_year, checkpoint_years.last_year) = next_checkpoint.checkpoint_year
left join checkpoints as passed_checkpoint
    on frames.plan_id = passed_checkpoint.plan_id
    and frames.kpi_id = passed_checkpoint.kpi_id
    and frames.geo_code = passed_checkpoint.geo_code
    and checkpoint_years.passed_year = passed_checkpoint.checkpoint_year
left join series as at_verdict
    on passed_checkpoint.plan_id = at_verdict.plan_id
    and passed_checkpoint.kpi_id = at_verdict.kpi_id
    and passed_checkpoint.geo_code = at_verdict.geo_code
    and passed_checkpoint.checkpoint_year = at_verdict.period_year
left join hold_years
    on frames.plan_id = hold_years.plan_id
    and frames.kpi_id = hold_years.kpi_id
    and frames.geo_code = hold_years.geo_code
    and frames.as_of_date = hold_years.as_of_date
left join district
    on frames.plan_id = district.plan_id
    and frames.kpi_id = district.kpi_id
    and picked_years.latest_year = district.period_year
