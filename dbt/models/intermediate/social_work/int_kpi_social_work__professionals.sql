{#- KPI rows per town/street and district and year for 社会工作专业人才总量 (plan 二(四)3): social-work
    professionals employed on the year's snapshot date, counted as persons (doc person_counting_rule: a person who
    changes employer or works for two employers counts once, in the town/street of the employment that started
    first, so the towns/streets add up to the district). Denominator 1 (count KPI); new_in_year NULL (persons,
    not built units). Rows for every town/street of the 22 (0 where none), other geographies with persons and
    the district, while the register is not empty. -#}
with register as (
    select * from {{ ref('stg_social_work__professionals') }}
),

active as (
    select period_year, geo_code, person_id
    from {{ ref('int_social_work_professionals_employed_by_year') }}
)

{{ count_kpi_rows('social_work.professionals', 'active', 'person_id', 'register') }}
