{#- One row per milestone (阶段目标) of a plan's reach_by_year target. See _plans__models.yml. -#}
select
    plan_id,
    kpi_id,
    cast(milestone_year as integer) as milestone_year,
    cast(milestone_value as {{ type_double() }}) as milestone_value
from {{ ref('plan_target_milestones') }}
