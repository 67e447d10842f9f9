{#- Persons counted by the per-person KPIs and how many of them stand on several active records (issue 16.1, doc
    person_counting_rule). Grain: one row per KPI, year and geography (kpi_id, period_year, geo_code), for the KPIs
    that count persons: the district and every geography with persons (a person counts in the geography of their
    record that started first, so the geographies add up to the district). A platform that registers people twice
    shows here; the quality gate warns when the share is high (daxing_kpi.checks). No personal data: counts only. -#}
{%- set person_sources = [
    ('volunteer.registered_share_of_residents', 'int_volunteers_active_by_year', none),
    ('eldercare.care_workers_per_10k_elderly', 'int_care_workers_employed_by_year', none),
    ('social_work.professionals', 'int_social_work_professionals_employed_by_year', none),
    ('social_work.certified_professionals', 'int_social_work_professionals_employed_by_year', 'is_certified = 1'),
    ('social_work.community_workers_local_share', 'int_community_workers_employed_by_year', none),
] -%}

with persons as (
    {% for kpi_id, model, condition in person_sources %}
    select
        '{{ kpi_id }}' as kpi_id,
        period_year,
        geo_code,
        person_id,
        has_person_key,
        active_records_count
    from {{ ref(model) }}
    {% if condition %}where {{ condition }}{% endif %}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

by_geography as (
    select
        kpi_id,
        period_year,
        geo_code,
        count(*) as persons,
        sum(active_records_count) as records,
        sum(case when active_records_count > 1 then 1 else 0 end) as persons_with_several_records,
        sum(case when has_person_key then 0 else 1 end) as records_without_usable_id
    from persons
    group by kpi_id, period_year, geo_code
),

district as (
    select
        kpi_id,
        period_year,
        '{{ var("district_code") }}' as geo_code,
        sum(persons) as persons,
        sum(records) as records,
        sum(persons_with_several_records) as persons_with_several_records,
        sum(records_without_usable_id) as records_without_usable_id
    from by_geography
    group by kpi_id, period_year
),

geographies as (
    select * from {{ ref('geographies') }}
),

periods as (
    select * from {{ ref('int_periods') }}
),

all_rows as (
    select * from by_geography
    union all
    select * from district
)

select
    all_rows.kpi_id,
    all_rows.period_year,
    geographies.geo_level,
    all_rows.geo_code,
    geographies.geo_name_zh,
    cast(all_rows.persons as bigint) as persons,
    cast(all_rows.records as bigint) as records,
    cast(all_rows.persons_with_several_records as bigint) as persons_with_several_records,
    cast(all_rows.records_without_usable_id as bigint) as records_without_usable_id,
    case when all_rows.persons > 0
         then cast(all_rows.persons_with_several_records as double) / all_rows.persons * 100 end as share,
    periods.is_partial_year,
    periods.period_end_date
from all_rows
inner join geographies on all_rows.geo_code = geographies.geo_code
inner join periods on all_rows.period_year = periods.period_year
