{#- KPI rows for the district per statistical year: beds of child-welfare and minor rescue and
    protection institutions (儿童福利机构、未成年人救助保护机构: seed institution_categories,
    is_child_protection) operating at year end, and registered (hukou) children aged under 18 of all
    towns/streets. A year needs both the institution register and the registered population; a year
    with no registered children has no row. Plan 一(四)4; contracts civilstat_institutions and
    statbureau_registered_population. -#}
with periods as (
    select * from {{ ref('int_periods') }}
),

institutions as (
    select * from {{ ref('stg_civilstat__institutions') }}
),

population as (
    select * from {{ ref('stg_statbureau__registered_population') }}
),

register_years as (
    select distinct institutions.period_year
    from institutions
    inner join periods on institutions.period_year = periods.period_year
),

beds as (
    select
        period_year,
        sum(beds_count) as beds_count
    from institutions
    where is_child_protection and is_operating
    group by period_year
),

children as (
    select
        period_year,
        sum(registered_count) as children_count
    from population
    where is_under_18
    group by period_year
)

select
    'children.institution_beds_per_10k_children' as kpi_id,
    register_years.period_year,
    '{{ var("district_code") }}' as geo_code,
    coalesce(beds.beds_count, 0) as numerator,
    children.children_count as denominator
from register_years
inner join children
    on register_years.period_year = children.period_year
    and children.children_count > 0
left join beds on register_years.period_year = beds.period_year
