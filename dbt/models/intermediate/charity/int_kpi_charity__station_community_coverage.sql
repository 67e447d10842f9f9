{#- KPI rows of charity.station_community_coverage (基层慈善服务站点社区覆盖率, plan 三(四)), per year and
    town/street: communities (社区) active on the snapshot date with a charity service station active on that
    date ÷ communities active on that date, in %. Stations in villages count only once the village has
    become a community (int_community_unit_successors). A town/street without communities has no row. -#}
with communities as (
    select * from {{ ref('int_community_units_active_by_year') }}
    where is_community
),

periods as (
    select * from {{ ref('int_periods') }}
),

stations as (
    select * from {{ ref('stg_charity__stations') }}
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
    'charity.station_community_coverage' as kpi_id,
    communities.period_year,
    communities.geo_code,
    sum(case when served.unit_code is not null then 1 else 0 end) as numerator,
    count(*) as denominator
from communities
left join served
    on communities.period_year = served.period_year
    and communities.unit_code = served.unit_code
group by communities.period_year, communities.geo_code
