{#- One row per milestone (阶段目标) of a plan's reach_by_year target: bundled and workbook plans.
    See _plans__models.yml. -#}
select
    plan_id,
    kpi_id,
    cast(milestone_year as integer) as milestone_year,
    cast(milestone_value as {{ type_double() }}) as milestone_value
from {{ ref('plan_target_milestones') }}

union all

select plan_id, kpi_id, milestone_year, milestone_value
from {{ ref('stg_plans__workbook_milestones') }}
