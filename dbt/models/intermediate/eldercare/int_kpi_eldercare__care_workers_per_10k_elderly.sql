{#- KPI rows (numerator, denominator) per town/street and year: care workers employed on the
    year's snapshot date, and residents aged 60+. -#}
with periods as (
    select * from {{ ref('int_periods') }}
),

workers as (
    select * from {{ ref('stg_eldercare__care_workers') }}
),

population as (
    select * from {{ ref('int_population_summed_by_town') }}
),

employed as (
    select
        periods.period_year,
        workers.geo_code,
        count(*) as workers_count
    from workers
    inner join periods
        on workers.hire_date <= periods.period_end_date
        and (workers.leave_date is null or workers.leave_date > periods.period_end_date)
    group by periods.period_year, workers.geo_code
),

elderly as (
    select population.period_year, population.geo_code, population.residents_60_plus_count
    from population
    inner join periods on population.period_year = periods.period_year
)

select
    'eldercare.care_workers_per_10k_elderly' as kpi_id,
    coalesce(elderly.period_year, employed.period_year) as period_year,
    coalesce(elderly.geo_code, employed.geo_code) as geo_code,
    coalesce(employed.workers_count, 0) as numerator,
    elderly.residents_60_plus_count as denominator
from elderly
full outer join employed
    on elderly.period_year = employed.period_year
    and elderly.geo_code = employed.geo_code
