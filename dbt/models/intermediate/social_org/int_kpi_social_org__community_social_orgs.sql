{#- KPI rows per town/street and district and year for 社区社会组织数 (plan 二(三)3): community social
    organisations (category flagged is_community_org) registered (登记) or filed (备案), active on the
    year's snapshot date (macro is_active_on, doc end_date_rule: founded on or before it and not deregistered on
    or before it; one marked 已注销/已撤销 without a date is not counted). Numerator: organisations (distinct
    org_id), the stock that day; new_in_year: those founded during the year; denominator 1 (count KPI). Rows for
    every town/street of the 22 (0 where none), other geographies with organisations and the district, while the
    register is not empty. -#}
with periods as (
    select * from {{ ref('int_periods') }}
),

register as (
    select * from {{ ref('stg_social_org__organisations') }}
),

organisations as (
    select * from register
    where is_community_org and is_registered_or_filed
),

active as (
    select
        periods.period_year,
        organisations.geo_code,
        organisations.org_id,
        {{ is_within_year('organisations.founding_date', 'periods') }} as is_added
    from organisations
    inner join periods
        on {{ is_active_on('organisations.founding_date', 'organisations.deregistration_date', 'periods.period_end_date',
                           ended_without_date="organisations.status_zh in ('已注销', '已撤销')") }}
)

{{ count_kpi_rows('social_org.community_social_orgs', 'active', 'org_id', 'register', added_column='is_added') }}
