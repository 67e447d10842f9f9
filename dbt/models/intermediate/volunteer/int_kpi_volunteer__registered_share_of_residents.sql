{#- KPI rows of volunteer.registered_share_of_residents (实名注册志愿者占常住人口比例, plan 二(五)1), per year and
    geography: volunteers registered on the year's snapshot date, counted as persons (doc person_counting_rule: a
    person with two active registrations counts once, in the town/street of the earlier one), and the resident
    population. A special zone or the unassigned geography has volunteers but no residents of its own
    (denominator NULL); the district counts them. -#}
with periods as (
    select * from {{ ref('int_periods') }}
),

persons as (
    select * from {{ ref('int_volunteers_active_by_year') }}
),

population as (
    select * from {{ ref('int_population_summed_by_town') }}
),

active as (
    select
        period_year,
        geo_code,
        count(*) as volunteers_count
    from persons
    group by period_year, geo_code
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
