{#- One row per year and social-work professional employed on the year's snapshot date (doc
    person_counting_rule): employments active that day (entry_date <= day < exit_date), one row per person_id, in
    the town/street of the employment that started first. is_certified = 1 when an active record of the person
    holds a national social-worker certificate (seed social_work_certificate_levels) obtained on or before that
    day. Source: stg_social_work__professionals. -#}
with professionals as (
    select * from {{ ref('stg_social_work__professionals') }}
)

{{ persons_active_by_year('professionals', 'entry_date', 'exit_date', person_flags={
    'is_certified': 'professionals.has_national_certificate and professionals.certificate_date <= periods.period_end_date'
}) }}
