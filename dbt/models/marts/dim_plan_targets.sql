{{ config(alias="plan_targets") }}
{#- Published as `plan_targets`: one row per target of a plan (规划目标), measurable or not yet
    (待建指标), with the KPI's names and unit where there is one. See _plans__models.yml. -#}
with targets as (
    select * from {{ ref('int_plan_targets') }}
),

definitions as (
    select kpi_id, name_zh, name_en, unit, unit_zh, unit_en, direction from {{ ref('kpi_catalog') }}
),

milestones as (
    select plan_id, kpi_id, count(*) as milestones
    from {{ ref('int_plan_target_milestones') }}
    group by plan_id, kpi_id
)

select
    targets.plan_id,
    targets.kpi_id,
    coalesce(definitions.name_zh, targets.indicator_name_zh) as name_zh,
    definitions.name_en,
    targets.indicator_name_zh,
    definitions.unit,
    definitions.unit_zh,
    definitions.unit_en,
    definitions.direction,
    targets.target_kind,
    targets.comparator,
    targets.target_value,
    targets.target_value_upper,
    targets.target_year,
    targets.count_basis,
    coalesce(milestones.milestones, 0) as milestones,
    targets.plan_section,
    {{ plan_section_code('targets.plan_section') }} as section_code,
    targets.source_clause_zh,
    targets.measurement_status
from targets
left join definitions on targets.kpi_id = definitions.kpi_id
left join milestones
    on targets.plan_id = milestones.plan_id
    and targets.kpi_id = milestones.kpi_id
