{#- One row per year and person employed as an elderly-care worker on the year's snapshot date (doc
    person_counting_rule): roster rows active that day (hire_date <= day < leave_date), one row per person_id, in the
    town/street of the employment that started first; active_records_count = that person's active rows (two
    employers at once, or a departure not recorded). Source: stg_eldercare__care_workers. -#}
with workers as (
    select * from {{ ref('stg_eldercare__care_workers') }}
)

{{ persons_active_by_year('workers', 'hire_date', 'leave_date') }}
