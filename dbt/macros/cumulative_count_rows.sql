{#- KPI rows of a cumulative count of the plan period (撤村建居完成村数, 示范点 ...): for every year of
    int_periods, the events dated from 1 January of var('plan_first_year') (2021) up to the year's snapshot
    date, counted distinct by key. One row per year and reporting town/street (a town/street with any record
    in the source, whatever its date: 0 in a year without events of its own) and one district row (the
    district as a whole, so a key reported by two towns/streets counts once). A count has no denominator:
    denominator 1, catalog unit count, scale_factor 1, is_additive false. No rows while the source is empty.
    `events`: relation (CTE) with columns geo_code, event_date, event_key.
    `reporting`: relation (CTE) with one row per reporting town/street, column geo_code. -#}
{% macro cumulative_count_rows(kpi_id, events, reporting) %}
    select
        '{{ kpi_id }}' as kpi_id,
        periods.period_year,
        {{ reporting }}.geo_code,
        count(distinct {{ events }}.event_key) as numerator,
        1 as denominator
    from {{ ref('int_periods') }} as periods
    cross join {{ reporting }}
    left join {{ events }}
        on {{ events }}.geo_code = {{ reporting }}.geo_code
        and extract(year from {{ events }}.event_date) >= {{ var('plan_first_year') }}
        and {{ events }}.event_date <= periods.period_end_date
    group by periods.period_year, {{ reporting }}.geo_code

    union all

    select
        '{{ kpi_id }}' as kpi_id,
        periods.period_year,
        '{{ var("district_code") }}' as geo_code,
        count(distinct {{ events }}.event_key) as numerator,
        1 as denominator
    from {{ ref('int_periods') }} as periods
    left join {{ events }}
        on extract(year from {{ events }}.event_date) >= {{ var('plan_first_year') }}
        and {{ events }}.event_date <= periods.period_end_date
    where exists (select 1 from {{ reporting }})
    group by periods.period_year
{% endmacro %}
