{#- KPI rows of psych.town_center_coverage (镇街级社会心理服务中心(站)覆盖率, plan 三(三)), one row per year
    and town/street among the 22 of the plan's 镇(街) targets: numerator 1 when a town/street-level center
    or station (镇街级) is active on the snapshot date, else 0; denominator 1. The mart sums them to the
    district: covered towns/streets ÷ 22, in %. No rows while the station register is empty. -#}
with periods as (
    select * from {{ ref('int_periods') }}
),

towns as (
    select code as geo_code from {{ ref('townships') }} where in_town_street_denominator = 'yes'
),

stations as (
    select * from {{ ref('stg_psych__stations') }}
),

centers as (
    select distinct
        periods.period_year,
        stations.geo_code
    from stations
    inner join periods
        on {{ is_active_on('stations.established_date', 'stations.closed_date', 'periods.period_end_date') }}
    where stations.is_town_center
)

select
    'psych.town_center_coverage' as kpi_id,
    periods.period_year,
    towns.geo_code,
    case when centers.geo_code is not null then 1 else 0 end as numerator,
    1 as denominator
from periods
cross join towns
left join centers
    on periods.period_year = centers.period_year
    and towns.geo_code = centers.geo_code
where exists (select 1 from stations)
