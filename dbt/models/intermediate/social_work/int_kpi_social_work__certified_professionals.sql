{#- KPI rows per town/street and district and year for 持证社会工作专业人才数 (plan 二(四)3): social-work
    professionals employed on the year's snapshot date who hold the national social-worker certificate
    (社会工作者职业水平证书: 助理社会工作师, 社会工作师 or 高级社会工作师, seed social_work_certificate_levels) obtained on
    or before that date, counted as persons (doc person_counting_rule). Denominator 1 (count KPI). Rows for every
    town/street of the 22 (0 where none), other geographies with persons and the district, while the register is
    not empty. -#}
with register as (
    select * from {{ ref('stg_social_work__professionals') }}
),

active as (
    select period_year, geo_code, person_id
    from {{ ref('int_social_work_professionals_employed_by_year') }}
    where is_certified = 1
)

{{ count_kpi_rows('social_work.certified_professionals', 'active', 'person_id', 'register') }}
