{#- Whether each town/street reported each return form for each year (doc reporting_status_rule); grain: form,
    year, geography. A town/street reports a form for a year when its latest return (cover sheet 报送情况) covers
    that year: its 数据截至日期 (reported_through_date) is on or after the year's snapshot date. A town/street
    that lists records on a form's sheet without a cover row reported it up to the data cut-off. Rows: every form × year × the 22 towns/streets of the plan's 镇(街) targets, and any other
    geography that reported or has listed records; reporting_status 'reported' or 'not_reported' (未报送). -#}
with periods as (
    select * from {{ ref('int_periods') }}
),

forms as (
    select '社区书记工作室示范点' as form_name_zh
    union all
    select '楼门院治理示范点' as form_name_zh
),

towns as (
    select code as geo_code from {{ ref('townships') }} where in_town_street_denominator = 'yes'
),

covers as (
    select form_name_zh, geo_code, reported_through_date
    from {{ ref('stg_townreturn__submissions') }}
),

listed as (
    select distinct '社区书记工作室示范点' as form_name_zh, geo_code
    from {{ ref('stg_townreturn__secretary_studio_sites') }}
    union
    select distinct '楼门院治理示范点' as form_name_zh, geo_code
    from {{ ref('stg_townreturn__building_demo_sites') }}
),

cutoff as (
    select max(period_end_date) as data_cutoff_date from periods
),

reporters as (
    select form_name_zh, geo_code, max(reported_through_date) as reported_through_date
    from (
        select covers.form_name_zh, covers.geo_code, coalesce(covers.reported_through_date, cutoff.data_cutoff_date) as reported_through_date
        from covers
        cross join cutoff
        union all
        select listed.form_name_zh, listed.geo_code, cutoff.data_cutoff_date as reported_through_date
        from listed
        cross join cutoff
        where not exists (
            select 1 from covers
            where covers.form_name_zh = listed.form_name_zh and covers.geo_code = listed.geo_code
        )
    ) as all_reporters
    group by form_name_zh, geo_code
),

form_geos as (
    select forms.form_name_zh, towns.geo_code
    from forms
    cross join towns
    union
    select form_name_zh, geo_code from reporters
)

select
    form_geos.form_name_zh,
    periods.period_year,
    form_geos.geo_code,
    case when reporters.reported_through_date >= periods.period_end_date then 'reported' else 'not_reported' end
        as reporting_status
from form_geos
cross join periods
left join reporters
    on form_geos.form_name_zh = reporters.form_name_zh
    and form_geos.geo_code = reporters.geo_code
