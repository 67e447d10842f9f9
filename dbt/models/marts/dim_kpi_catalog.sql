{{ config(alias="kpi_catalog") }}
{#- Published as `kpi_catalog` (the analyst contract); the dbt name differs from the seed it selects from. -#}

select
    plan_id,
    kpi_id,
    domain,
    name_zh,
    name_en,
    unit,
    unit_zh,
    unit_en,
    direction,
    comparator,
    baseline_year,
    target_year,
    target_value,
    plan_section,
    source_clause_zh,
    numerator_zh,
    numerator_en,
    denominator_zh,
    denominator_en,
    definition_zh,
    definition_en,
    scale_factor,
    is_additive,
    has_town_street,
    is_per_person,
    sources
from {{ ref('kpi_catalog') }}
