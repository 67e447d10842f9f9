{#- One row per milestone of a workbook plan's target. See _plans__models.yml. -#}
select
    plan_id,
    kpi_id,
    cast(milestone_year as integer) as milestone_year,
    cast(milestone_value as {{ type_double() }}) as milestone_value
from {{ source('plans', 'plan_workbook_milestones') }}
