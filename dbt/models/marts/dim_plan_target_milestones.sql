{{ config(alias="plan_target_milestones") }}
{#- Published as `plan_target_milestones`: one row per milestone (阶段目标) of a plan's target.
    See _plans__models.yml. -#}
select plan_id, kpi_id, milestone_year, milestone_value
from {{ ref('int_plan_target_milestones') }}
