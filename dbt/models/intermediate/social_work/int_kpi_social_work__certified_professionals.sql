{#- KPI rows per town/street and district and year for 持证社会工作专业人才数 (plan 二(四)3): social-work
    professionals employed on the year's snapshot date who hold the national social-worker certificate
    (社会工作者职业水平证书: 助理社会工作师, 社会工作师 or 高级社会工作师, per the seed
    social_work_certificate_levels) obtained on or before that date. Numerator: persons (distinct
    person_key); denominator 1 (count KPI). Rows for every town/street of the 22 (0 where none) and the
    district, while the register is not empty. -#}
with periods as (
    select * from {{ ref('int_periods') }}
),

register as (
    select * from {{ ref('stg_social_work__professionals') }}
),

professionals as (
    select * from register
    where has_national_certificate
),

active as (
    select
        periods.period_year,
        professionals.geo_code,
        professionals.person_key
    from professionals
    inner join periods
        on professionals.entry_date <= periods.period_end_date
        and (professionals.exit_date is null or professionals.exit_date > periods.period_end_date)
        and professionals.certificate_date <= periods.period_end_date
)

{{ count_kpi_rows('social_work.certified_professionals', 'active', 'person_key', 'register') }}
