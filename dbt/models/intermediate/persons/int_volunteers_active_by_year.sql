{#- One row per year and person registered as a volunteer on the year's snapshot date (doc person_counting_rule):
    registrations active that day (registration_date <= day < cancellation_date; a registration marked 已注销
    without a date is not active), one row per person_id, in the town/street of the registration that started
    first; active_records_count = that person's active registrations. Source: stg_volunteer__volunteers. -#}
with volunteers as (
    select * from {{ ref('stg_volunteer__volunteers') }}
)

{{ persons_active_by_year('volunteers', 'registration_date', 'cancellation_date',
                          ended_without_date="volunteers.status_zh = '已注销'") }}
