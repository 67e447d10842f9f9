{#- One row per observation year, from the plan's baseline year to the year of the latest record.
    The year's snapshot date is 31 December, or the data cut-off (latest event date of any source)
    in the current, partial year. -#}
with event_dates as (
    select max(burial_date) as event_date from {{ ref('stg_funeral__burials') }}
    union all
    select max(accepted_date) from {{ ref('stg_govservice__service_cases') }}
    union all
    select max(hire_date) from {{ ref('stg_eldercare__care_workers') }}
    union all
    select max(registration_date) from {{ ref('stg_volunteer__volunteers') }}
),

cutoff as (
    select max(event_date) as data_cutoff_date from event_dates
),

years as (
    select * from {{ ref('calendar_years') }}
)

select
    years.period_year,
    years.year_start_date,
    years.year_end_date,
    case
        when cutoff.data_cutoff_date < years.year_end_date then cutoff.data_cutoff_date
        else years.year_end_date
    end as period_end_date,
    case when cutoff.data_cutoff_date < years.year_end_date then true else false end as is_partial_year,
    cutoff.data_cutoff_date
from years
cross join cutoff
where years.period_year >= {{ var('start_year') }}
  and years.year_start_date <= cutoff.data_cutoff_date
