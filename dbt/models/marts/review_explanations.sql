-- The planners' explanations of a plan review (情况说明), one row per explained target; read by the review report.
with explained as (
    select * from {{ ref('stg_review__explanations') }}
),

targets as (
    select distinct plan_id, kpi_id from {{ ref('dim_kpi_catalog') }}
)

select
    explained.plan_id,
    explained.kpi_id,
    explained.explanation_zh,
    explained.next_steps_zh,
    explained.responsible_unit,
    explained.filled_date,
    targets.kpi_id is not null as is_known_target,
    explained._source_file as source_file,
    explained._sheet as sheet,
    explained._row_number as row_number
from explained
left join targets
    on explained.plan_id = targets.plan_id
    and explained.kpi_id = targets.kpi_id
