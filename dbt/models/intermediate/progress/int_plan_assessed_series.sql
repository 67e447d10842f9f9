{#- One row per plan, KPI, geography and year (每个规划、指标、区域、年份一行): the value a plan's target on the
    KPI is judged on (assessed_value). count_basis new_in_period: the units added from the plan's first
    year up to the year (the running sum of new_in_year; 0 before the period); for a series without any
    new_in_year, the net change of the value since the plan's baseline year. Else the KPI's value.
    See _plans__models.yml. -#}
with plans as (
    select plan_id, period_start_year, baseline_year from {{ ref('int_plans') }}
),

targets as (
    select plan_id, kpi_id, count_basis
    from {{ ref('int_plan_targets') }}
    where kpi_id is not null
),

observations as (
    select * from {{ ref('int_kpi_observations_with_additions') }}
),

series as (
    select
        targets.plan_id,
        observations.kpi_id,
        observations.geo_level,
        observations.geo_code,
        observations.geo_name_zh,
        observations.period_year,
        observations.is_partial_year,
        observations.period_end_date,
        observations.value,
        observations.new_in_year,
        targets.count_basis,
        plans.period_start_year,
        sum(case when observations.period_year >= plans.period_start_year
                 then coalesce(observations.new_in_year, 0) else 0 end)
            over (partition by targets.plan_id, observations.kpi_id, observations.geo_code
                  order by observations.period_year rows between unbounded preceding and current row)
            as additions_in_period,
        count(observations.new_in_year)
            over (partition by targets.plan_id, observations.kpi_id, observations.geo_code) as years_with_additions,
        max(case when observations.period_year = plans.baseline_year then observations.value end)
            over (partition by targets.plan_id, observations.kpi_id, observations.geo_code) as value_in_baseline_year
    from observations
    inner join targets on observations.kpi_id = targets.kpi_id
    inner join plans on targets.plan_id = plans.plan_id
)

select
    plan_id,
    kpi_id,
    geo_level,
    geo_code,
    geo_name_zh,
    period_year,
    is_partial_year,
    period_end_date,
    value,
    new_in_year,
    count_basis,
    case
        when value is null then null
        when count_basis = 'new_in_period' and years_with_additions > 0 then additions_in_period
        when count_basis = 'new_in_period' and period_year < period_start_year then 0
        when count_basis = 'new_in_period' then value - value_in_baseline_year
        else value
    end as assessed_value
from series
