{#- KPI rows of community.villages_converted (撤村建居完成村数, plan 二(二)): villages abolished by
    conversion into a community (reason 撤村建居) from 1 January 2021 to the year's snapshot date,
    cumulative (villages). Per town/street of the register and for the district; denominator 1. -#}
with units as (
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
    select distinct geo_code from units
)

{{ cumulative_count_rows('community.villages_converted', 'converted', 'reporting') }}
