{#- kpi_observations with the yearly additions of count KPIs (new_in_year, issue 16, doc count_stock_rule): one
    row per KPI, year and geography. See _progress__models.yml. -#}
select
    kpi_id,
    geo_level,
    geo_code,
    geo_name_zh,
    period_year,
    value,
    cast(new_in_year as {{ type_double() }}) as new_in_year,
    is_partial_year,
    period_end_date
from {{ ref('kpi_observations') }}
