with source as (
    select * from {{ source('social_org', 'social_org_federations') }}
),

renamed as (
    select
        federation_id,
        federation_name,
        {{ town_or_unassigned('geo_code') }} as geo_code,
        cast(founding_date as date) as founding_date,
        cast(dissolution_date as date) as dissolution_date,
        _source_file,
        _row_number
    from source
)

select * from renamed
