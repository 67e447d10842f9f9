{#- One row per KPI, year and geography (grain: kpi_id, period_year, geo_code; see _marts__models.yml).
    The one list of KPI models: adding a KPI is a catalog row, an intermediate model and a line here. -#}
{%- set kpi_models = [
    'int_kpi_eldercare__care_workers_per_10k_elderly',
    'int_kpi_funeral__eco_burial_rate',
    'int_kpi_volunteer__registered_share_of_residents',
    'int_kpi_digital__online_service_rate',
    'int_kpi_digital__online_case_rate',
    'int_kpi_social_org__federation_town_coverage',
    'int_kpi_social_org__community_social_orgs',
    'int_kpi_social_work__agencies',
    'int_kpi_social_work__community_workers_local_share',
    'int_kpi_social_work__professionals',
    'int_kpi_social_work__certified_professionals',
    'int_kpi_funeral__township_cemetery_coverage',
    'int_kpi_eldercare__nursing_bed_60pct_public_institutions',
    'int_kpi_eldercare__three_star_township_homes',
    'int_kpi_eldercare__care_centers_operating',
    'int_kpi_eldercare__care_center_town_coverage',
    'int_kpi_disability__intellectual_disability_institutions',
    'int_kpi_disability__mental_health_welfare_institutions',
    'int_kpi_children__institution_beds_per_10k_children',
    'int_kpi_community__secretary_studio_demo_sites',
    'int_kpi_community__building_governance_demo_sites',
    'int_kpi_community__direct_election_share',
    'int_kpi_community__lajiachang_council_coverage',
    'int_kpi_community__new_community_service_space_share',
    'int_kpi_community__villages_converted',
    'int_kpi_volunteer__station_coverage',
    'int_kpi_psych__community_coverage',
    'int_kpi_psych__town_center_coverage',
    'int_kpi_charity__station_community_coverage',
] -%}
{#- Models whose rows carry new_in_year (count KPIs with a build/open/designation date, doc count_stock_rule)
    and reporting_status (KPIs from the towns' return forms, doc reporting_status_rule); NULL for the others. -#}
{%- set with_new_in_year = [
    'int_kpi_social_org__community_social_orgs',
    'int_kpi_social_work__agencies',
    'int_kpi_eldercare__nursing_bed_60pct_public_institutions',
    'int_kpi_eldercare__three_star_township_homes',
    'int_kpi_eldercare__care_centers_operating',
    'int_kpi_disability__intellectual_disability_institutions',
    'int_kpi_disability__mental_health_welfare_institutions',
    'int_kpi_community__secretary_studio_demo_sites',
    'int_kpi_community__building_governance_demo_sites',
    'int_kpi_community__villages_converted',
] -%}
{%- set with_reporting_status = [
    'int_kpi_community__secretary_studio_demo_sites',
    'int_kpi_community__building_governance_demo_sites',
    'int_kpi_community__villages_converted',
] -%}

with catalog as (
    select * from {{ ref('kpi_catalog') }}
),

geographies as (
    select * from {{ ref('geographies') }}
),

periods as (
    select * from {{ ref('int_periods') }}
),

kpi_rows as (
    {% for model in kpi_models %}
    select
        kpi_id,
        cast(period_year as integer) as period_year,
        geo_code,
        cast(numerator as double) as numerator,
        cast(denominator as double) as denominator,
        {% if model in with_new_in_year %}cast(new_in_year as double){% else %}cast(null as double){% endif %} as new_in_year,
        {% if model in with_reporting_status %}cast(reporting_status as {{ dbt.type_string() }}){% else %}cast(null as {{ dbt.type_string() }}){% endif %} as reporting_status
    from {{ ref(model) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

-- rows below the district: towns/streets, special zones and the unassigned geography (doc geography_levels)
town_rows as (
    select kpi_rows.*
    from kpi_rows
    inner join geographies
        on kpi_rows.geo_code = geographies.geo_code
        and geographies.geo_level <> 'district'
),

-- additive KPIs: the district is the sum of every geography below it (town_street + special_zone + unassigned)
district_rollup as (
    select
        town_rows.kpi_id,
        town_rows.period_year,
        '{{ var("district_code") }}' as geo_code,
        sum(town_rows.numerator) as numerator,
        sum(town_rows.denominator) as denominator,
        cast(null as double) as new_in_year,
        cast(null as {{ dbt.type_string() }}) as reporting_status
    from town_rows
    inner join catalog on town_rows.kpi_id = catalog.kpi_id
    where catalog.is_additive
    group by town_rows.kpi_id, town_rows.period_year
),

district_direct as (
    select * from kpi_rows where geo_code = '{{ var("district_code") }}'
),

all_rows as (
    select * from town_rows
    union all
    select * from district_rollup
    union all
    select * from district_direct
)

select
    all_rows.kpi_id,
    all_rows.period_year,
    geographies.geo_level,
    all_rows.geo_code,
    geographies.geo_name_zh,
    all_rows.numerator,
    all_rows.denominator,
    case
        when all_rows.denominator > 0 then all_rows.numerator / all_rows.denominator * catalog.scale_factor
    end as value,
    periods.is_partial_year,
    periods.period_end_date,
    all_rows.reporting_status,
    all_rows.new_in_year
from all_rows
inner join catalog on all_rows.kpi_id = catalog.kpi_id
inner join geographies on all_rows.geo_code = geographies.geo_code
inner join periods on all_rows.period_year = periods.period_year
