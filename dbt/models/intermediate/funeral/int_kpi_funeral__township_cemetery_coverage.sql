{#- KPI rows per town and year for 镇级公益性公墓服务覆盖率 (plan 三(二)): numerator 1 when the town is
    served by a public-welfare cemetery (公益性公墓; a commercial 经营性公墓 does not count) on the year's
    snapshot date (service started on or before it, not ended on or before it), else 0; denominator 1.
    The denominator units are the towns (镇): township units of kind town (镇) or area (地区, which is
    also a town government) among the 22 of the plan's 镇(街) targets; streets (街道) have no town-level
    cemetery and no row. The district sum is served towns ÷ towns. No rows when the register is empty. -#}
with periods as (
    select * from {{ ref('int_periods') }}
),

towns as (
    select code as geo_code
    from {{ ref('townships') }}
    where in_town_street_denominator = 'yes'
        and kind in ('town', 'area')
),

service_areas as (
    select * from {{ ref('stg_funeral__cemetery_service_areas') }}
),

served as (
    select distinct
        periods.period_year,
        service_areas.geo_code
    from service_areas
    inner join periods
        on {{ is_active_on('service_areas.service_start_date', 'service_areas.service_end_date', 'periods.period_end_date') }}
    where service_areas.is_public_welfare
)

select
    'funeral.township_cemetery_coverage' as kpi_id,
    periods.period_year,
    towns.geo_code,
    case when served.geo_code is null then 0 else 1 end as numerator,
    1 as denominator
from periods
cross join towns
left join served
    on periods.period_year = served.period_year
    and towns.geo_code = served.geo_code
where exists (select 1 from service_areas)
