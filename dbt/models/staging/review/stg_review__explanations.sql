with source as (
    select * from {{ source('review', 'review_explanations') }}
),

cleaned as (
    select
        trim(plan_id) as plan_id,
        trim(kpi_id) as kpi_id,
        nullif(trim({{ mask_personal_numbers('explanation_zh') }}), '') as explanation_zh,
        nullif(trim({{ mask_personal_numbers('next_steps_zh') }}), '') as next_steps_zh,
        nullif(trim({{ mask_personal_numbers('responsible_unit') }}), '') as responsible_unit,
        cast(filled_date as date) as filled_date,
        _source_file,
        _sheet,
        _row_number
    from source
)

select *
from cleaned
where explanation_zh is not null or next_steps_zh is not null or responsible_unit is not null
