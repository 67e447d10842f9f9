{#- kpi_observations with the yearly additions of count KPIs (new_in_year, issue 16): one row per KPI,
    year and geography. A thin, transitional model: kpi_observations.new_in_year comes with the counting
    branch; until then new_in_year is NULL here (macros/column_or_null.sql) and every target is judged on
    the KPI's value. See _progress__models.yml. -#}
select
    kpi_id,
    geo_level,
    geo_code,
    geo_name_zh,
    period_year,
    value,
    cast({{ column_or_null(ref('kpi_observations'), 'new_in_year', type_double()) }} as {{ type_double() }}) as new_in_year,
    is_partial_year,
    period_end_date
from {{ ref('kpi_observations') }}
