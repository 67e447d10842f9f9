{#- One row per plan and as-of date (评估日期) at which its targets are assessed: the bundled plans' dates of
    seeds/plan_assessment_dates.csv; a workbook plan gets 31 December of every year of its period, the
    mid-term review (mid_term) at the end of its mid-term review year and the final review (final) at the
    end of the period. See _plans__models.yml. -#}
select plan_id, cast(as_of_date as date) as as_of_date, review
from {{ ref('plan_assessment_dates') }}

union all

select
    plans.plan_id,
    years.year_end_date as as_of_date,
    case
        when years.period_year = plans.period_end_year then 'final'
        when years.period_year = plans.mid_term_review_year then 'mid_term'
    end as review
from {{ ref('stg_plans__workbook_plans') }} as plans
inner join {{ ref('calendar_years') }} as years
    on years.period_year >= plans.period_start_year
    and years.period_year <= plans.period_end_year
