with source as (
    select * from {{ source('community', 'community_service_facilities') }}
),

renamed as (
    select
        facility_id,
        facility_name,
        unit_code,
        {{ town_or_unassigned('geo_code') }} as geo_code,
        cast(floor_area_sqm as double) as floor_area_sqm,
        cast(opening_year as integer) as opening_year,
        cast(closed_date as date) as closed_date,
        _source_file,
        _row_number
    from source
)

select * from renamed
