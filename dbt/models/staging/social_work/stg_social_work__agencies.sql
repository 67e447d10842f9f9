with source as (
    select * from {{ source('social_work', 'social_work_agencies') }}
),

renamed as (
    select
        agency_id,
        agency_name,
        {{ town_or_unassigned('geo_code') }} as geo_code,
        cast(registration_date as date) as registration_date,
        status_zh,
        cast(closing_date as date) as closing_date,
        _source_file,
        _row_number
    from source
)

select * from renamed
