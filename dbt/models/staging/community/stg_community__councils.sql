with source as (
    select * from {{ source('community', 'community_councils') }}
),

renamed as (
    select
        council_id,
        unit_code,
        {{ town_or_unassigned('geo_code') }} as geo_code,
        cast(established_date as date) as established_date,
        cast(dissolved_date as date) as dissolved_date,
        _source_file,
        _row_number
    from source
)

select * from renamed
