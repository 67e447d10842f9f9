{#- KPI rows per town/street and district and year for 社会工作专业人才总量 (plan 二(四)3): social-work
    professionals employed on the year's snapshot date (entry on or before it, exit after it or none).
    Numerator: persons (distinct person_key; a person who changes employer is counted once, in the
    town/street of the employment active on the snapshot date); denominator 1 (count KPI). Rows for
    every town/street of the 22 (0 where none) and the district, while the register is not empty. -#}
with periods as (
    select * from {{ ref('int_periods') }}
),

professionals as (
    select * from {{ ref('stg_social_work__professionals') }}
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
)

{{ count_kpi_rows('social_work.professionals', 'active', 'person_key', 'professionals') }}
