{#- KPI rows per town/street and district and year for 社会工作专业服务机构数 (plan 二(四)2): professional
    social-work agencies active on the year's snapshot date (registered on or before it, not closed on or
    before it; one marked closed without a date is not counted). Numerator: agencies (distinct
    agency_id); denominator 1 (count KPI). Rows for every town/street of the 22 (0 where none) and the
    district, while the register is not empty. -#}
with periods as (
    select * from {{ ref('int_periods') }}
),

agencies as (
    select * from {{ ref('stg_social_work__agencies') }}
),

active as (
    select
        periods.period_year,
        agencies.geo_code,
        agencies.agency_id
    from agencies
    inner join periods
        on agencies.registration_date <= periods.period_end_date
        and (
            agencies.closing_date > periods.period_end_date
            or (agencies.closing_date is null and agencies.status_zh = '正常')
        )
)

{{ count_kpi_rows('social_work.agencies', 'active', 'agency_id', 'agencies') }}
