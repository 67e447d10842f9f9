{#- KPI rows per town/street (of the deceased's household registration) and year of burial:
    land-saving eco-burials and all burials. -#}
with periods as (
    select * from {{ ref('int_periods') }}
),

burials as (
    select * from {{ ref('stg_funeral__burials') }}
)

select
    'funeral.eco_burial_rate' as kpi_id,
    burials.burial_year as period_year,
    burials.geo_code,
    sum(case when burials.is_eco_burial then 1 else 0 end) as numerator,
    count(*) as denominator
from burials
inner join periods on burials.burial_year = periods.period_year
group by burials.burial_year, burials.geo_code
