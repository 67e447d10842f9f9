{{ config(alias="plans") }}
{#- Published as `plans`: one row per plan (规划), bundled or added as a workbook, with its review dates and
    the last year any of its targets applies to. See _plans__models.yml. -#}
with plans as (
    select * from {{ ref('int_plans') }}
),

reviews as (
    select
        plan_id,
        max(case when review = 'mid_term' then as_of_date end) as mid_term_review_date,
        max(case when review = 'final' then as_of_date end) as final_review_date
    from {{ ref('int_plan_assessment_dates') }}
    group by plan_id
),

targets as (
    select
        plan_id,
        max(target_year) as last_target_year,
        cast(count(*) as integer) as targets,
        cast(sum(case when measurement_status = 'not_yet_measurable' then 1 else 0 end) as integer) as targets_not_yet_measurable
    from {{ ref('int_plan_targets') }}
    group by plan_id
)

select
    plans.plan_id,
    plans.name_zh,
    plans.name_en,
    plans.short_name_zh,
    plans.short_name_en,
    plans.period_start_year,
    plans.period_end_year,
    plans.baseline_year,
    plans.is_example,
    plans.plan_source,
    plans.source_file,
    reviews.mid_term_review_date,
    reviews.final_review_date,
    targets.last_target_year,
    cast(coalesce(targets.targets, 0) as integer) as targets,
    cast(coalesce(targets.targets_not_yet_measurable, 0) as integer) as targets_not_yet_measurable
from plans
left join reviews on plans.plan_id = reviews.plan_id
left join targets on plans.plan_id = targets.plan_id
