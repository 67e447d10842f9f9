{#- One row per plan (规划): the bundled plans of seeds/plans.csv and the plans added as workbooks
    (stg_plans__workbook_plans). See _plans__models.yml. -#}
select
    plan_id,
    name_zh,
    name_en,
    short_name_zh,
    short_name_en,
    cast(period_start_year as integer) as period_start_year,
    cast(period_end_year as integer) as period_end_year,
    cast(baseline_year as integer) as baseline_year,
    is_example,
    cast('bundled' as {{ dbt.type_string() }}) as plan_source,
    cast(null as {{ dbt.type_string() }}) as source_file,
    cast(null as integer) as mid_term_review_year
from {{ ref('plans') }}

union all

select
    plan_id,
    name_zh,
    name_en,
    short_name_zh,
    short_name_en,
    period_start_year,
    period_end_year,
    baseline_year,
    is_example,
    cast('workbook' as {{ dbt.type_string() }}) as plan_source,
    source_file,
    mid_term_review_year
from {{ ref('stg_plans__workbook_plans') }}
