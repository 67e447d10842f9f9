with population as (
    select * from {{ ref('stg_statbureau__population') }}
)

select
    period_year,
    geo_code,
    sum(residents_count) as residents_count,
    sum(case when is_aged_60_plus then residents_count else 0 end) as residents_60_plus_count
from population
group by period_year, geo_code
