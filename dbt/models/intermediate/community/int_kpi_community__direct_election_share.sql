{#- KPI rows of community.direct_election_share (居委会直接选举和户代表选举比例, plan 二(一)2), per year and
    town/street: residents' committees of communities active on the snapshot date whose latest election on
    or before that date was direct or by household representatives (seed election_methods) ÷ those
    committees (communities with at least one election on or before the date), in %. A town/street
    without such a committee has no row. -#}
with periods as (
    select * from {{ ref('int_periods') }}
),

communities as (
    select * from {{ ref('int_community_units_active_by_year') }}
    where is_community
),

elections as (
    select * from {{ ref('stg_community__elections') }}
),

methods as (
    select * from {{ ref('election_methods') }}
),

ranked as (
    select
        periods.period_year,
        elections.unit_code,
        elections.election_method_zh,
        row_number() over (
            partition by periods.period_year, elections.unit_code
            order by elections.election_date desc, elections.election_id desc
        ) as recency_rank
    from elections
    inner join periods on elections.election_date <= periods.period_end_date
),

latest as (
    select * from ranked where recency_rank = 1
)

select
    'community.direct_election_share' as kpi_id,
    communities.period_year,
    communities.geo_code,
    sum(case when methods.is_direct_or_household then 1 else 0 end) as numerator,
    count(*) as denominator
from communities
inner join latest
    on communities.period_year = latest.period_year
    and communities.unit_code = latest.unit_code
left join methods on latest.election_method_zh = methods.election_method_zh
group by communities.period_year, communities.geo_code
