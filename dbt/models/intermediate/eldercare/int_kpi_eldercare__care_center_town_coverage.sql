{#- KPI rows per year and town/street of the plan's 镇(街) denominator (the 22 with
    in_town_street_denominator = yes): 1 when at least one elderly-care center operates there on the
    snapshot date, else 0, over 1. The mart sums them to the district: covered towns/streets ÷ 22.
    Centers in other units (special zones) do not count. No rows while the center register is empty.
    Plan 一(二)2 (镇街养老照料中心全覆盖); contract eldercare_care_centers. -#}
with periods as (
    select * from {{ ref('int_periods') }}
),

counted as (
    select * from {{ ref('int_care_centers_counted_by_town') }}
),

towns as (
    select code as geo_code from {{ ref('townships') }} where in_town_street_denominator = 'yes'
),

register_loaded as (
    select count(*) as centers_in_register from {{ ref('stg_eldercare__care_centers') }}
)

select
    'eldercare.care_center_town_coverage' as kpi_id,
    periods.period_year,
    towns.geo_code,
    case when counted.centers_count > 0 then 1 else 0 end as numerator,
    1 as denominator
from periods
cross join towns
cross join register_loaded
left join counted
    on periods.period_year = counted.period_year
    and towns.geo_code = counted.geo_code
where register_loaded.centers_in_register > 0
