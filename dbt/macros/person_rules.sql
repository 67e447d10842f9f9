{#- Who a person record stands for (issue 16.1): its person_key (keyed hash of the ID number), or, for a record
    whose ID number could not be read (NULL person_key: an ID field fault), the record itself: such a record
    counts as one person of its own (its file, sheet and row). Used in staging as `person_id`. -#}
{% macro person_id(person_key) -%}
    coalesce({{ person_key }},
             'record:' || coalesce(_source_file, '') || ':' || coalesce(_sheet, '') || ':' || coalesce(cast(_row_number as {{ dbt.type_string() }}), ''))
{%- endmacro %}

{#- One row per year and person active on the year's snapshot date (issue 16.1: persons are counted once).
    `records`: relation with one row per person record, columns person_id, person_key, geo_code, _source_file,
    _row_number and the dates named by `start_date`, `end_date`. `condition`: an extra SQL condition on the
    record and `periods` (the int_periods alias), e.g. a certificate held on that day.
    The person counts once, in the town/street of their representative record: the active record that started
    first (then file and row order). Columns: period_year, person_id, has_person_key, geo_code (of the
    representative record), active_records_count (the person's records active that day), and the
    representative record's columns listed in `carry`, and for each entry name -> SQL condition of
    `person_flags` a column `name` = 1 when any of the person's active records meets the condition, else 0. -#}
{% macro persons_active_by_year(records, start_date, end_date, ended_without_date=none, carry=[], condition=none, person_flags={}) %}
    select
        period_year,
        person_id,
        has_person_key,
        geo_code,
        active_records_count
        {%- for c in carry %},
        {{ c }}
        {%- endfor %}
        {%- for name in person_flags %},
        {{ name }}
        {%- endfor %}
    from (
        select
            periods.period_year,
            {{ records }}.person_id,
            case when {{ records }}.person_key is null then false else true end as has_person_key,
            {{ records }}.geo_code,
            {%- for c in carry %}
            {{ records }}.{{ c }},
            {%- endfor %}
            count(*) over (partition by periods.period_year, {{ records }}.person_id) as active_records_count,
            {%- for name, cond in person_flags.items() %}
            max(case when {{ cond }} then 1 else 0 end) over (partition by periods.period_year, {{ records }}.person_id) as {{ name }},
            {%- endfor %}
            row_number() over (
                partition by periods.period_year, {{ records }}.person_id
                order by {{ records }}.{{ start_date }}, {{ records }}._source_file, {{ records }}._row_number, {{ records }}.geo_code
            ) as record_rank
        from {{ records }}
        inner join {{ ref('int_periods') }} as periods
            on {{ is_active_on(records ~ '.' ~ start_date, records ~ '.' ~ end_date, 'periods.period_end_date',
                               ended_without_date) }}
            {%- if condition %}
            and ({{ condition }})
            {%- endif %}
    ) as ranked
    where record_rank = 1
{% endmacro %}
