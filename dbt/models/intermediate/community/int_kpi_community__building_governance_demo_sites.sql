{#- KPI rows of community.building_governance_demo_sites (楼门院治理示范点, plan 二(一)2), per year, town/street and
    district (macro event_count_rows, doc count_stock_rule): sites named on or before the year's snapshot date
    (the stock, whatever the year of naming) and new_in_year, those named during the year; denominator 1. Source:
    the towns' return forms (contract townreturn_building_demo_sites); whether a town/street reported the year
    comes from the cover sheet (int_town_return_reporting_by_year): a report of zero gives 0, no report gives
    numerator NULL with reporting_status not_reported. -#}
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
    select period_year, geo_code, reporting_status
    from {{ ref('int_town_return_reporting_by_year') }}
    where form_name_zh = '楼门院治理示范点'
)

{{ event_count_rows('community.building_governance_demo_sites', 'named', 'reporting') }}
