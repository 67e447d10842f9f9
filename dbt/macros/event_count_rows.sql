{#- KPI rows of a count of dated events (示范点 named, villages converted ...), plan-independent (doc
    count_stock_rule): for every year and geography of `reporting`, `numerator` = the distinct events dated on or
    before the year's snapshot date (the stock: every event since records began), `new_in_year` = those dated
    within the year (1 January to the snapshot date). Denominator 1 (catalog unit count, scale_factor 1,
    is_additive false). One district row per year counting the district as a whole (a key reported by two
    towns/streets counts once).
    `events`: relation (CTE) with columns geo_code, event_date, event_key.
    `reporting`: relation (CTE) with one row per year and geography to publish: period_year, geo_code,
    reporting_status (doc reporting_status_rule: 'reported', 'not_reported', or NULL for a source that is not a
    return towns send). A geography 'not_reported' that year gets numerator and new_in_year NULL and its events
    are left out of the district, whose status is reported (every geography reported), partly_reported or
    not_reported (none did: numerator NULL); NULL when no row has a status. -#}
{% macro event_count_rows(kpi_id, events, reporting) %}
    select
        '{{ kpi_id }}' as kpi_id,
        geo_years.period_year,
        geo_years.geo_code,
        case when geo_years.reporting_status = 'not_reported' then null
             else count(distinct {{ events }}.event_key) end as numerator,
        1 as denominator,
        case when geo_years.reporting_status = 'not_reported' then null
             else count(distinct case when {{ is_within_year(events ~ '.event_date', 'geo_years') }}
                                      then {{ events }}.event_key end) end as new_in_year,
        geo_years.reporting_status
    from (
        select {{ reporting }}.period_year, {{ reporting }}.geo_code, {{ reporting }}.reporting_status,
               periods.year_start_date, periods.period_end_date
        from {{ reporting }}
        inner join {{ ref('int_periods') }} as periods on {{ reporting }}.period_year = periods.period_year
    ) as geo_years
    left join {{ events }}
        on {{ events }}.geo_code = geo_years.geo_code
        and {{ is_on_or_before_snapshot(events ~ '.event_date', 'geo_years') }}
    group by geo_years.period_year, geo_years.geo_code, geo_years.reporting_status

    union all

    select
        '{{ kpi_id }}' as kpi_id,
        district_years.period_year,
        '{{ var("district_code") }}' as geo_code,
        case when district_years.reporting_status = 'not_reported' then null
             else coalesce(district_counts.events_count, 0) end as numerator,
        1 as denominator,
        case when district_years.reporting_status = 'not_reported' then null
             else coalesce(district_counts.added_count, 0) end as new_in_year,
        district_years.reporting_status
    from (
        select
            {{ reporting }}.period_year,
            case
                when count({{ reporting }}.reporting_status) = 0 then null
                when sum(case when {{ reporting }}.reporting_status = 'not_reported' then 1 else 0 end) = 0 then 'reported'
                when sum(case when {{ reporting }}.reporting_status = 'reported' then 1 else 0 end) = 0 then 'not_reported'
                else 'partly_reported'
            end as reporting_status
        from {{ reporting }}
        group by {{ reporting }}.period_year
    ) as district_years
    left join (
        select
            periods.period_year,
            count(distinct {{ events }}.event_key) as events_count,
            count(distinct case when {{ is_within_year(events ~ '.event_date', 'periods') }}
                                then {{ events }}.event_key end) as added_count
        from {{ ref('int_periods') }} as periods
        inner join {{ events }}
            on {{ is_on_or_before_snapshot(events ~ '.event_date', 'periods') }}
        inner join {{ reporting }}
            on {{ reporting }}.period_year = periods.period_year
            and {{ reporting }}.geo_code = {{ events }}.geo_code
        where {{ reporting }}.reporting_status is null or {{ reporting }}.reporting_status <> 'not_reported'
        group by periods.period_year
    ) as district_counts
        on district_years.period_year = district_counts.period_year
{% endmacro %}
