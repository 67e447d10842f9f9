{#- KPI rows of eldercare.care_workers_per_10k_elderly (每万名老年人拥有养老护理员数, plan 一(二)1), per year and
    geography: care workers employed on the year's snapshot date, counted as persons (doc person_counting_rule: a
    worker on two rosters counts once, in the town/street of the employment that started first), and residents
    aged 60+. A special zone or the unassigned geography has workers but no residents of its own (denominator
    NULL); the district counts them. -#}
with periods as (
    select * from {{ ref('int_periods') }}
),

persons as (
    select * from {{ ref('int_care_workers_employed_by_year') }}
),

population as (
    select * from {{ ref('int_population_summed_by_town') }}
),

employed as (
    select
        period_year,
        geo_code,
        count(*) as workers_count
    from persons
    group by period_year, geo_code
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
