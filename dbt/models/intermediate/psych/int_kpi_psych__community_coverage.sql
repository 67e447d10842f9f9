{#- KPI rows of psych.community_coverage (社会心理服务覆盖社区(村)比例, plan 三(三)), per year and
    town/street: communities and villages active on the snapshot date served by a community/village-level
    station (社区村级) active on that date ÷ communities and villages active on that date, in %. A station
    registered under a village serves the community the village became (int_community_unit_successors). -#}
with units as (
    select * from {{ ref('int_community_units_active_by_year') }}
),

stations as (
    select * from {{ ref('stg_psych__stations') }}
    where is_community_station
)

{{ community_unit_coverage_rows('psych.community_coverage', 'units', 'stations') }}
