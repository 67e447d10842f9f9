{#- KPI rows per town/street and district and year for 社会工作专业服务机构数 (plan 二(四)2): professional
    social-work agencies active on the year's snapshot date (macro is_active_on, doc end_date_rule: registered on
    or before it, not closed on or before it; one marked 已注销 without a date is not counted). Numerator: agencies
    (distinct agency_id), the stock that day; new_in_year: those registered during the year; denominator 1
    (count KPI). Rows for every town/street of the 22 (0 where none), other geographies with agencies and the
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
        agencies.agency_id,
        {{ is_within_year('agencies.registration_date', 'periods') }} as is_added
    from agencies
    inner join periods
        on {{ is_active_on('agencies.registration_date', 'agencies.closing_date', 'periods.period_end_date',
                           ended_without_date="agencies.status_zh in ('已注销', '已撤销')") }}
)

{{ count_kpi_rows('social_work.agencies', 'active', 'agency_id', 'agencies', added_column='is_added') }}
