{#- KPI rows per year: town/street elderly-care centers operating on the snapshot date, for each of
    the 22 towns/streets of the plan's 镇(街) denominator (0 where none), any other town/street with a
    center, and the district total (emitted here: counts use denominator 1, so they are not rolled up); the
    stock on the snapshot date, and new_in_year: those of them that opened during the year (doc count_stock_rule).
    No rows at all while the center register is empty. Plan 一(二)2; contract eldercare_care_centers. -#}
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
),

town_years as (
    select periods.period_year, towns.geo_code
    from periods
    cross join towns
    union
    select period_year, geo_code from counted
),

town_rows as (
    select
        town_years.period_year,
        town_years.geo_code,
        coalesce(counted.centers_count, 0) as centers_count,
        coalesce(counted.opened_count, 0) as opened_count
    from town_years
    left join counted
        on town_years.period_year = counted.period_year
        and town_years.geo_code = counted.geo_code
),

district_rows as (
    select
        periods.period_year,
        '{{ var("district_code") }}' as geo_code,
        coalesce(sum(counted.centers_count), 0) as centers_count,
        coalesce(sum(counted.opened_count), 0) as opened_count
    from periods
    left join counted on periods.period_year = counted.period_year
    group by periods.period_year
),

all_rows as (
    select * from town_rows
    union all
    select * from district_rows
)

select
    'eldercare.care_centers_operating' as kpi_id,
    all_rows.period_year,
    all_rows.geo_code,
    all_rows.centers_count as numerator,
    1 as denominator,
    all_rows.opened_count as new_in_year
from all_rows
cross join register_loaded
where register_loaded.centers_in_register > 0
