{#- KPI rows for the district per catalog year: items that can be handled fully online, all items. -#}
with periods as (
    select * from {{ ref('int_periods') }}
),

items as (
    select * from {{ ref('stg_govservice__service_items') }}
)

select
    'digital.online_service_rate' as kpi_id,
    items.catalog_year as period_year,
    '{{ var("district_code") }}' as geo_code,
    sum(case when items.is_fully_online then 1 else 0 end) as numerator,
    count(*) as denominator
from items
inner join periods on items.catalog_year = periods.period_year
group by items.catalog_year
