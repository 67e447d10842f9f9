{#- KPI rows of volunteer.station_coverage (志愿服务站点覆盖率, plan 二(五)2), per year and town/street:
    community service facilities (社区综合服务设施) in use on the snapshot date (opened in or before the year,
    not closed on or before the date) hosting at least one volunteer station active on that date ÷ those
    facilities, in %. Stations not hosted by a facility count nowhere; two stations in one facility count
    once. Sources: contracts community_service_facilities and volunteer_stations. -#}
with periods as (
    select * from {{ ref('int_periods') }}
),

facilities as (
    select * from {{ ref('stg_community__service_facilities') }}
),

stations as (
    select * from {{ ref('stg_volunteer__stations') }}
    where facility_id is not null
),

in_use as (
    select
        periods.period_year,
        periods.period_end_date,
        facilities.facility_id,
        facilities.geo_code
    from facilities
    inner join periods
        on facilities.opening_year <= periods.period_year
        and {{ is_not_ended_on('facilities.closed_date', 'periods.period_end_date') }}
),

hosting as (
    select distinct
        periods.period_year,
        stations.facility_id
    from stations
    inner join periods
        on {{ is_active_on('stations.established_date', 'stations.closed_date', 'periods.period_end_date') }}
)

select
    'volunteer.station_coverage' as kpi_id,
    in_use.period_year,
    in_use.geo_code,
    sum(case when hosting.facility_id is not null then 1 else 0 end) as numerator,
    count(*) as denominator
from in_use
left join hosting
    on in_use.period_year = hosting.period_year
    and in_use.facility_id = hosting.facility_id
group by in_use.period_year, in_use.geo_code
