{#- KPI rows of community.lajiachang_council_coverage ("拉家常"议事会覆盖率, plan 二(一)3), per year and
    town/street: communities active on the snapshot date with a council active on that date (established
    on or before it, not dissolved on or before it) ÷ communities active on that date, in %. A town/street
    without communities has no row. -#}
with communities as (
    select * from {{ ref('int_community_units_active_by_year') }}
    where is_community
),

periods as (
    select * from {{ ref('int_periods') }}
),

councils as (
    select * from {{ ref('stg_community__councils') }}
),

covered as (
    select distinct
        periods.period_year,
        councils.unit_code
    from councils
    inner join periods
        on {{ is_active_on('councils.established_date', 'councils.dissolved_date', 'periods.period_end_date') }}
)

select
    'community.lajiachang_council_coverage' as kpi_id,
    communities.period_year,
    communities.geo_code,
    sum(case when covered.unit_code is not null then 1 else 0 end) as numerator,
    count(*) as denominator
from communities
left join covered
    on communities.period_year = covered.period_year
    and communities.unit_code = covered.unit_code
group by communities.period_year, communities.geo_code
