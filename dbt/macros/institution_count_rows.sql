{#- KPI rows of a count of institutions, for the district only: one row per statistical year of the
    register stg_civilstat__institutions that lies within int_periods. numerator = institutions of
    that year meeting `condition` (a SQL boolean on the staging columns): the stock at year end;
    denominator = 1 (the catalog's convention for counts: scale_factor 1, so value = numerator). A year
    absent from the register has no row; a register year without a qualifying institution gives 0.
    new_in_year (doc count_stock_rule), by `additions`:
      'opened'  (建成, 新建: built): qualifying institutions whose opening date (开业日期) falls in the year;
      'entered' (改造: upgraded, a rating has no date of its own): qualifying institutions that did not qualify in
                the previous year's register (opened, upgraded or re-opened during the year); NULL in the
                register's first year, which has no previous year to compare with. -#}
{% macro institution_count_rows(kpi_id, condition, additions='opened') %}
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

qualifying_institutions as (
    select institutions.period_year, institutions.institution_code, institutions.opening_date
    from institutions
    where {{ condition }}
),

qualifying as (
    select
        qualifying_institutions.period_year,
        count(*) as institutions_count,
        {%- if additions == 'opened' %}
        sum(case when extract(year from qualifying_institutions.opening_date) = qualifying_institutions.period_year
                 then 1 else 0 end) as added_count
        {%- else %}
        sum(case when previous_year.institution_code is null then 1 else 0 end) as added_count
        {%- endif %}
    from qualifying_institutions
    {%- if additions != 'opened' %}
    left join qualifying_institutions as previous_year
        on previous_year.period_year = qualifying_institutions.period_year - 1
        and previous_year.institution_code = qualifying_institutions.institution_code
    {%- endif %}
    group by qualifying_institutions.period_year
),

first_register_year as (
    select min(period_year) as period_year from institutions
)

select
    '{{ kpi_id }}' as kpi_id,
    register_years.period_year,
    '{{ var("district_code") }}' as geo_code,
    coalesce(qualifying.institutions_count, 0) as numerator,
    1 as denominator,
    {%- if additions == 'opened' %}
    coalesce(qualifying.added_count, 0) as new_in_year
    {%- else %}
    case when register_years.period_year = first_register_year.period_year then null
         else coalesce(qualifying.added_count, 0) end as new_in_year
    {%- endif %}
from register_years
cross join first_register_year
left join qualifying on register_years.period_year = qualifying.period_year
{% endmacro %}
