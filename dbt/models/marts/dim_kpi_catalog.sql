{{ config(alias="kpi_catalog") }}
{#- Published as `kpi_catalog` (the analyst contract): one row per plan and KPI, the KPI's definition
    (seeds/kpi_catalog.csv) joined with that plan's target on it (int_plan_targets) and the plan's baseline
    year. The dbt name differs from the seed it selects from. -#}

select
    targets.plan_id,
    definitions.kpi_id,
    definitions.domain,
    definitions.name_zh,
    definitions.name_en,
    definitions.unit,
    definitions.unit_zh,
    definitions.unit_en,
    definitions.direction,
    targets.comparator,
    plans.baseline_year,
    targets.target_year,
    targets.target_value,
    targets.plan_section,
    targets.source_clause_zh,
    definitions.numerator_zh,
    definitions.numerator_en,
    definitions.denominator_zh,
    definitions.denominator_en,
    definitions.definition_zh,
    definitions.definition_en,
    definitions.scale_factor,
    definitions.is_additive,
    definitions.has_town_street,
    definitions.is_per_person,
    definitions.sources,
    targets.target_kind,
    targets.target_value_upper,
    targets.count_basis
from {{ ref('kpi_catalog') }} as definitions
inner join {{ ref('int_plan_targets') }} as targets on definitions.kpi_id = targets.kpi_id
inner join {{ ref('int_plans') }} as plans on targets.plan_id = plans.plan_id
