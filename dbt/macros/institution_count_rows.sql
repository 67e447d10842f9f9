{#- KPI rows of a count of institutions, for the district only: one row per statistical year of the
    register stg_civilstat__institutions that lies within int_periods. numerator = institutions of
    that year meeting `condition` (a SQL boolean on the staging columns), denominator = 1 (the
    catalog's convention for counts: scale_factor 1, so value = numerator). A year absent from the
    register has no row; a register year without a qualifying institution gives 0. -#}
{% macro institution_count_rows(kpi_id, condition) %}
with periods as (
    select * from {{ ref('int_periods') }}
),

institutions as (
    select * from {{ ref('stg_civilstat__institutions') }}
),

register_years as (
    select distinct institutions.period_year
    from institutions
    inner join periods on institutions.period_year = periods.period_year
),

qualifying as (
    select
        institutions.period_year,
        count(*) as institutions_count
    from institutions
    where {{ condition }}
    group by institutions.period_year
)

select
    '{{ kpi_id }}' as kpi_id,
    register_years.period_year,
    '{{ var("district_code") }}' as geo_code,
    coalesce(qualifying.institutions_count, 0) as numerator,
    1 as denominator
from register_years
left join qualifying on register_years.period_year = qualifying.period_year
{% endmacro %}
