{#- One row per target of a plan (规划目标): the bundled targets of seeds/plan_targets.csv and the targets
    of the workbook plans. See _plans__models.yml. -#}
with targets as (
    select
        plan_id, kpi_id, target_kind, comparator,
        cast(target_value as {{ type_double() }}) as target_value,
        cast(target_value_upper as {{ type_double() }}) as target_value_upper,
        cast(target_year as integer) as target_year,
        count_basis, plan_section, source_clause_zh, indicator_name_zh
    from {{ ref('plan_targets') }}

    union all

    select
        plan_id, kpi_id, target_kind, comparator, target_value, target_value_upper, target_year,
        count_basis, plan_section, source_clause_zh, indicator_name_zh
    from {{ ref('stg_plans__workbook_targets') }}
)

select
    plan_id,
    kpi_id,
    target_kind,
    comparator,
    target_value,
    target_value_upper,
    target_year,
    count_basis,
    plan_section,
    source_clause_zh,
    indicator_name_zh,
    case when kpi_id is null then 'not_yet_measurable' else 'measurable' end as measurement_status
from targets
