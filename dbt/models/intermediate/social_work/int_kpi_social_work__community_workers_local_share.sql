{#- KPI rows per town/street and year for 社区工作者本社区化率 (plan 二(四)3): community workers employed
    on the year's snapshot date who live in the community they serve (community-of-residence code equal
    to the served community's code; a worker living in another community or outside the district, code
    null, is not local), and all community workers employed on that date. Additive: the district is the
    sum of its towns/streets. -#}
with periods as (
    select * from {{ ref('int_periods') }}
),

workers as (
    select * from {{ ref('stg_social_work__community_workers') }}
)

select
    'social_work.community_workers_local_share' as kpi_id,
    periods.period_year,
    workers.geo_code,
    sum(case when workers.residence_community_code = workers.serving_community_code then 1 else 0 end) as numerator,
    count(*) as denominator
from workers
inner join periods
    on workers.hire_date <= periods.period_end_date
    and (workers.leave_date is null or workers.leave_date > periods.period_end_date)
group by periods.period_year, workers.geo_code
