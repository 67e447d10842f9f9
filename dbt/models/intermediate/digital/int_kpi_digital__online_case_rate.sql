{#- KPI rows for the district per year: cases filed through an online channel, all cases. -#}
with periods as (
    select * from {{ ref('int_periods') }}
),

cases as (
    select * from {{ ref('stg_govservice__service_cases') }}
)

select
    'digital.online_case_rate' as kpi_id,
    cases.accepted_year as period_year,
    '{{ var("district_code") }}' as geo_code,
    sum(case when cases.is_online then 1 else 0 end) as numerator,
    count(*) as denominator
from cases
inner join periods on cases.accepted_year = periods.period_year
group by cases.accepted_year
