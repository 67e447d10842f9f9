{#- One row per section title of a workbook plan. See _plans__models.yml. -#}
select
    plan_id,
    section_code,
    title_zh,
    coalesce(title_en, title_zh) as title_en,
    cast(sort_order as integer) as sort_order
from {{ source('plans', 'plan_workbook_sections') }}
