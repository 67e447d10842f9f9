{#- KPI rows per town/street and year: active real-name registered volunteers on the year's
    snapshot date, and the resident population. -#}
with periods as (
    select * from {{ ref('int_periods') }}
),

volunteers as (
    select * from {{ ref('stg_volunteer__volunteers') }}
),

population as (
    select * from {{ ref('int_population_summed_by_town') }}
),

active as (
    select
        periods.period_year,
        volunteers.geo_code,
        count(*) as volunteers_count
    from volunteers
    inner join periods
        on volunteers.registration_date <= periods.period_end_date
        and (
            volunteers.cancellation_date > periods.period_end_date
            or (volunteers.cancellation_date is null and volunteers.status_zh = '正常')
        )
    group by periods.period_year, volunteers.geo_code
),

residents as (
    select population.period_year, population.geo_code, population.residents_count
    from population
    inner join periods on population.period_year = periods.period_year
)

select
    'volunteer.registered_share_of_residents' as kpi_id,
    coalesce(residents.period_year, active.period_year) as period_year,
    coalesce(residents.geo_code, active.geo_code) as geo_code,
    coalesce(active.volunteers_count, 0) as numerator,
    residents.residents_count as denominator
from residents
full outer join active
    on residents.period_year = active.period_year
    and residents.geo_code = active.geo_code
