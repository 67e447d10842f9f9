{#- KPI rows of community.new_community_service_space_share (新建社区服务用房达500㎡比例, plan 二(一)3; a
    monitor without numeric target), per year and town/street: new communities (established on or after
    new_since_date, 1 January 2021, as the catalog's definition says: new or converted from a village, active on
    the snapshot date) whose community
    service facilities in use on that date (opened in or before the year, not closed on or before the date;
    a converted community also uses its former village's) have at least 500 m² of floor area together ÷
    those new communities, in %. No rows before the first new community. -#}
{%- set min_floor_area_sqm = 500 -%}  {#- 逐步按最小规模500平方米配置 (plan 二(一)3) -#}
{%- set new_since_date = '2021-01-01' -%}  {#- the KPI's definition (kpi_catalog: 2021年以来新建), not a plan variable -#}
with communities as (
    select * from {{ ref('int_community_units_active_by_year') }}
    where is_community
      and established_date >= cast('{{ new_since_date }}' as date)
),

periods as (
    select * from {{ ref('int_periods') }}
),

facilities as (
    select * from {{ ref('stg_community__service_facilities') }}
),

successors as (
    select * from {{ ref('int_community_unit_successors') }}
),

floor_area as (
    select
        periods.period_year,
        successors.served_unit_code as unit_code,
        sum(facilities.floor_area_sqm) as floor_area_sqm
    from facilities
    inner join periods
        on facilities.opening_year <= periods.period_year
        and {{ is_not_ended_on('facilities.closed_date', 'periods.period_end_date') }}
    inner join successors on facilities.unit_code = successors.registered_unit_code
    group by periods.period_year, successors.served_unit_code
)

select
    'community.new_community_service_space_share' as kpi_id,
    communities.period_year,
    communities.geo_code,
    sum(case when floor_area.floor_area_sqm >= {{ min_floor_area_sqm }} then 1 else 0 end) as numerator,
    count(*) as denominator
from communities
left join floor_area
    on communities.period_year = floor_area.period_year
    and communities.unit_code = floor_area.unit_code
group by communities.period_year, communities.geo_code
