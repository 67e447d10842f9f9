{#- One row per plan and section (规划章节) whose title pages show: the bundled plans' seed and the
    workbook plans' sheet 规划章节. See _plans__models.yml. -#}
select plan_id, section_code, title_zh, title_en, cast(sort_order as integer) as sort_order
from {{ ref('plan_sections') }}

union all

select plan_id, section_code, title_zh, title_en, sort_order
from {{ ref('stg_plans__workbook_sections') }}
