{#- Town/street elderly-care centers (镇(街)养老照料中心) operating on each year's snapshot date
    (31 December, or the data cut-off in the partial year), one row per year and town/street with at
    least one: a center operates on day d when opening_date <= d < closing_date (macro is_active_on, doc
    end_date_rule: a center closing on 31 December is not counted that year; one without an opening date is still
    being built). opened_count: those of them that opened during the year (new_in_year).
    Contract eldercare_care_centers. -#}
with periods as (
    select * from {{ ref('int_periods') }}
),

centers as (
    select * from {{ ref('stg_eldercare__care_centers') }}
)

select
    periods.period_year,
    centers.geo_code,
    count(*) as centers_count,
    sum(case when {{ is_within_year('centers.opening_date', 'periods') }} then 1 else 0 end) as opened_count
from centers
inner join periods
    on {{ is_active_on('centers.opening_date', 'centers.closing_date', 'periods.period_end_date') }}
group by periods.period_year, centers.geo_code
