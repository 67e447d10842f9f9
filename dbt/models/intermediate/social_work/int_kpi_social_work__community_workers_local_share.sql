{#- KPI rows per town/street and year for 社区工作者本社区化率 (plan 二(四)3): community workers employed on the
    year's snapshot date, counted as persons (doc person_counting_rule), who live in the community they serve
    (community-of-residence code equal to the served community's code, of the person's employment that started
    first; a worker living in another community or outside the district, code null, is not local), and all
    community workers employed on that date (persons). Additive: the district is the sum of its geographies. -#}
with persons as (
    select * from {{ ref('int_community_workers_employed_by_year') }}
)

select
    'social_work.community_workers_local_share' as kpi_id,
    period_year,
    geo_code,
    sum(case when residence_community_code = serving_community_code then 1 else 0 end) as numerator,
    count(*) as denominator
from persons
group by period_year, geo_code
