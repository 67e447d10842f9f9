{#- One row per target of a workbook plan. See _plans__models.yml. -#}
select
    plan_id,
    kpi_id,
    target_kind,
    comparator,
    cast(target_value as {{ type_double() }}) as target_value,
    cast(target_value_upper as {{ type_double() }}) as target_value_upper,
    cast(target_year as integer) as target_year,
    count_basis,
    plan_section,
    source_clause_zh,
    indicator_name_zh
from {{ source('plans', 'plan_workbook_targets') }}
