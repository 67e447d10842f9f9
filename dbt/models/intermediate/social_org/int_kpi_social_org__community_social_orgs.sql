{#- KPI rows per town/street and district and year for 社区社会组织数 (plan 二(三)3): community social
    organisations (category flagged is_community_org) registered (登记) or filed (备案), active on the
    year's snapshot date: founded on or before it and not deregistered on or before it (an organisation
    deregistered on 31 December is not counted that year; one marked deregistered without a date is not
    counted). Numerator: organisations (distinct org_id); denominator 1 (count KPI). Rows for every
    town/street of the 22 (0 where none) and the district, while the register is not empty. -#}
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
        organisations.org_id
    from organisations
    inner join periods
        on organisations.founding_date <= periods.period_end_date
        and (
            organisations.deregistration_date > periods.period_end_date
            or (organisations.deregistration_date is null and organisations.status_zh = '正常')
        )
)

{{ count_kpi_rows('social_org.community_social_orgs', 'active', 'org_id', 'register') }}
