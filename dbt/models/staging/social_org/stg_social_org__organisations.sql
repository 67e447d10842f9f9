with source as (
    select * from {{ source('social_org', 'social_org_organisations') }}
),

categories as (
    select * from {{ ref('social_org_categories') }}
),

renamed as (
    select
        source.org_id,
        source.org_name,
        source.org_category_zh,
        categories.org_category_code,
        coalesce(categories.is_community_org, false) as is_community_org,
        source.legal_form_zh,
        source.filing_status_zh,
        case when source.filing_status_zh in ('登记', '备案') then true else false end as is_registered_or_filed,
        {{ town_or_unassigned('source.geo_code') }} as geo_code,
        cast(source.founding_date as date) as founding_date,
        source.status_zh,
        cast(source.deregistration_date as date) as deregistration_date,
        source._source_file,
        source._row_number
    from source
    left join categories on source.org_category_zh = categories.org_category_zh
)

select * from renamed
