{#- KPI rows of a coverage of community units by stations (社区覆盖率): for every year of int_periods, the
    units of `units` (relation with period_year, unit_code, geo_code: the units active on the year's snapshot
    date, from int_community_units_active_by_year) served by at least one station of `stations` (relation with
    unit_code, established_date, closed_date) active on that date ÷ those units, in %, per town/street.
    A station registered under a village serves the community the village became
    (int_community_unit_successors); two stations in one unit count once. A town/street without units has
    no row. -#}
{% macro community_unit_coverage_rows(kpi_id, units, stations) %}
    select
        '{{ kpi_id }}' as kpi_id,
        {{ units }}.period_year,
        {{ units }}.geo_code,
        sum(case when served.unit_code is not null then 1 else 0 end) as numerator,
        count(*) as denominator
    from {{ units }}
    left join (
        select distinct
            periods.period_year,
            successors.served_unit_code as unit_code
        from {{ stations }}
        inner join {{ ref('int_periods') }} as periods
            on {{ is_active_on(stations ~ '.established_date', stations ~ '.closed_date', 'periods.period_end_date') }}
        inner join {{ ref('int_community_unit_successors') }} as successors
            on {{ stations }}.unit_code = successors.registered_unit_code
    ) as served
        on {{ units }}.period_year = served.period_year
        and {{ units }}.unit_code = served.unit_code
    group by {{ units }}.period_year, {{ units }}.geo_code
{% endmacro %}
