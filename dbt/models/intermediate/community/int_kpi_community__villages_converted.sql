{#- KPI rows of community.villages_converted (撤村建居完成村数, plan 二(二)), per year, town/street of the register
    and district (macro event_count_rows, doc count_stock_rule): villages abolished by conversion into a community
    (reason 撤村建居) on or before the year's snapshot date (the stock of conversions since the register begins; a
    conversion on 31 December counts in that year) and new_in_year, those converted during the year; denominator 1.
    reporting_status NULL (a register, not a return). -#}
with periods as (
    select * from {{ ref('int_periods') }}
),

units as (
    select * from {{ ref('stg_community__units') }}
),

converted as (
    select
        geo_code,
        abolished_date as event_date,
        unit_code as event_key
    from units
    where unit_type_zh = '村'
      and abolition_reason_zh = '撤村建居'
),

reporting as (
    select periods.period_year, register_geos.geo_code, cast(null as {{ dbt.type_string() }}) as reporting_status
    from periods
    cross join (select distinct geo_code from units) as register_geos
)

{{ event_count_rows('community.villages_converted', 'converted', 'reporting') }}
