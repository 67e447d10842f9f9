{#- KPI rows of a count KPI measured on the snapshot date (社区社会组织数, 社会工作专业服务机构数, persons ...),
    for every year of int_periods: one row per town/street of the plan's 镇(街) denominator (0 where none is
    counted) and per any other geography with a counted record (a special zone, the unassigned geography), and
    one district row (geo_code var('district_code')) counting the district as a whole, so a unit counted in two
    geographies counts once. No rows at all while the source register is empty (no data is not a zero).
    A count has no natural denominator: denominator 1, and the catalog row has unit count, scale_factor 1,
    is_additive false (the district row is emitted here, not summed by the mart).
    `active`: relation (CTE) with one row per counted record and year, columns period_year, geo_code and
    `counted_column` (the key counted distinct). `register`: relation (CTE) of the whole source register.
    `added_column` (optional): a boolean column of `active`, true for a unit added during the year (built,
    opened, founded from 1 January to the snapshot date); gives `new_in_year` = the distinct units added (doc
    count_stock_rule). Without it the rows have no new_in_year column. -#}
{% macro count_kpi_rows(kpi_id, active, counted_column, register, added_column=none) %}
    select
        '{{ kpi_id }}' as kpi_id,
        town_years.period_year,
        town_years.geo_code,
        count(distinct {{ active }}.{{ counted_column }}) as numerator,
        1 as denominator
        {%- if added_column %},
        count(distinct case when {{ active }}.{{ added_column }} then {{ active }}.{{ counted_column }} end) as new_in_year
        {%- endif %}
    from (
        select periods.period_year, townships.code as geo_code
        from {{ ref('int_periods') }} as periods
        cross join {{ ref('townships') }} as townships
        where townships.in_town_street_denominator = 'yes'
        union
        select {{ active }}.period_year, {{ active }}.geo_code
        from {{ active }}
    ) as town_years
    left join {{ active }}
        on town_years.period_year = {{ active }}.period_year
        and town_years.geo_code = {{ active }}.geo_code
    where exists (select 1 from {{ register }})
    group by town_years.period_year, town_years.geo_code

    union all

    select
        '{{ kpi_id }}' as kpi_id,
        periods.period_year,
        '{{ var("district_code") }}' as geo_code,
        count(distinct {{ active }}.{{ counted_column }}) as numerator,
        1 as denominator
        {%- if added_column %},
        count(distinct case when {{ active }}.{{ added_column }} then {{ active }}.{{ counted_column }} end) as new_in_year
        {%- endif %}
    from {{ ref('int_periods') }} as periods
    left join {{ active }} on periods.period_year = {{ active }}.period_year
    where exists (select 1 from {{ register }})
    group by periods.period_year
{% endmacro %}
