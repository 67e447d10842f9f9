{{ config(alias="plan_sections") }}
{#- Published as `plan_sections`: one row per plan and section (规划章节). See _plans__models.yml. -#}
select plan_id, section_code, title_zh, title_en, sort_order
from {{ ref('int_plan_sections') }}
