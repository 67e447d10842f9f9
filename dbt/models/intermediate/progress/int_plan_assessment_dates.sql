{#- One row per plan and as-of date (评估日期) at which its targets are assessed: the bundled plans' dates of
    seeds/plan_assessment_dates.csv. See _plans__models.yml. -#}
select plan_id, cast(as_of_date as date) as as_of_date, review
from {{ ref('plan_assessment_dates') }}
