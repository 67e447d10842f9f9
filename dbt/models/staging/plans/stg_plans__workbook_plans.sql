{#- One row per plan added as a workbook. See _plans__models.yml. -#}
select
    plan_id,
    name_zh,
    coalesce(name_en, name_zh) as name_en,
    short_name_zh,
    coalesce(short_name_en, short_name_zh) as short_name_en,
    cast(period_start_year as integer) as period_start_year,
    cast(period_end_year as integer) as period_end_year,
    cast(baseline_year as integer) as baseline_year,
    coalesce(is_example, false) as is_example,
    _source_file as source_file,
    cast(coalesce(mid_term_review_year,
                  period_start_year + cast(floor((period_end_year - period_start_year) / 2.0) as integer)) as integer)
        as mid_term_review_year
from {{ source('plans', 'plan_workbook_plans') }}
