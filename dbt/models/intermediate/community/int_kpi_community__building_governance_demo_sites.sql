{#- KPI rows of community.building_governance_demo_sites (楼门院治理示范点, plan 二(一)2): sites named from
    1 January 2021 to the year's snapshot date, cumulative (sites), per reporting town/street and for the
    district; denominator 1. Source: the towns' return forms (contract townreturn_building_demo_sites). -#}
with sites as (
    select * from {{ ref('stg_townreturn__building_demo_sites') }}
),

named as (
    select
        geo_code,
        designated_date as event_date,
        site_key as event_key
    from sites
),

reporting as (
    select distinct geo_code from sites
)

{{ cumulative_count_rows('community.building_governance_demo_sites', 'named', 'reporting') }}
