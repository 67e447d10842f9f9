{#- KPI rows of psych.community_coverage (社会心理服务覆盖社区(村)比例, plan 三(三)), per year and
    town/street: communities and villages active on the snapshot date served by a community/village-level
    station (社区村级) active on that date ÷ communities and villages active on that date, in %. A station
    registered under a village serves the community the village became (int_community_unit_successors). -#}
with units as (
    select * from {{ ref('int_community_units_active_by_year') }}
),

periods as (
    select * from {{ ref('int_periods') }}
),

stations as (
    select * from {{ ref('stg_psych__stations') }}
    where is_community_station
),

successors as (
    select * from {{ ref('int_community_unit_successors') }}
),

served as (
    select distinct
        periods.period_year,
        successors.served_unit_code as unit_code
    from stations
    inner join periods
        on stations.established_date <= periods.period_end_date
        and (stations.closed_date is null or stations.closed_date > periods.period_end_date)
    inner join successors on stations.unit_code = successors.registered_unit_code
)

select
    'psych.community_coverage' as kpi_id,
    units.period_year,
    units.geo_code,
    sum(case when served.unit_code is not null then 1 else 0 end) as numerator,
    count(*) as denominator
from units
left join served
    on units.period_year = served.period_year
    and units.unit_code = served.unit_code
group by units.period_year, units.geo_code
