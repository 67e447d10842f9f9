{#- One row per year and community worker employed on the year's snapshot date (doc person_counting_rule): roster
    rows active that day (hire_date <= day < leave_date), one row per person_id, in the town/street of the
    employment that started first, with that employment's serving and residence community codes.
    Source: stg_social_work__community_workers. -#}
with workers as (
    select * from {{ ref('stg_social_work__community_workers') }}
)

{{ persons_active_by_year('workers', 'hire_date', 'leave_date',
                          carry=['serving_community_code', 'residence_community_code']) }}
