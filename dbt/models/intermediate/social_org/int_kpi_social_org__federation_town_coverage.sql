{#- KPI rows per town/street and year for 镇(街)社区社会组织联合会覆盖率 (plan 二(三)3): numerator 1 when
    the town/street has a federation of community social organisations active on the year's snapshot
    date (founded on or before it, not dissolved on or before it), else 0; denominator 1. One row for each
    of the 22 towns/streets counted by the plan's 镇(街) targets, so the district sum is covered ÷ 22.
    No rows at all when the federation list is empty. -#}
with periods as (
    select * from {{ ref('int_periods') }}
),

townships as (
    select code as geo_code
    from {{ ref('townships') }}
    where in_town_street_denominator = 'yes'
),

federations as (
    select * from {{ ref('stg_social_org__federations') }}
),

covered as (
    select distinct
        periods.period_year,
        federations.geo_code
    from federations
    inner join periods
        on {{ is_active_on('federations.founding_date', 'federations.dissolution_date', 'periods.period_end_date') }}
)

select
    'social_org.federation_town_coverage' as kpi_id,
    periods.period_year,
    townships.geo_code,
    case when covered.geo_code is null then 0 else 1 end as numerator,
    1 as denominator
from periods
cross join townships
left join covered
    on periods.period_year = covered.period_year
    and townships.geo_code = covered.geo_code
where exists (select 1 from federations)
