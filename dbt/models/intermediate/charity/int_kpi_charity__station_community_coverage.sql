{#- KPI rows of charity.station_community_coverage (基层慈善服务站点社区覆盖率, plan 三(四)), per year and
    town/street: communities (社区) active on the snapshot date with a charity service station active on that
    date ÷ communities active on that date, in %. Stations in villages count only once the village has
    become a community (int_community_unit_successors). A town/street without communities has no row. -#}
with communities as (
    select * from {{ ref('int_community_units_active_by_year') }}
    where is_community
),

stations as (
    select * from {{ ref('stg_charity__stations') }}
)

{{ community_unit_coverage_rows('charity.station_community_coverage', 'communities', 'stations') }}
