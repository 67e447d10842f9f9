with source as (
    select * from {{ source('volunteer', 'volunteer_stations') }}
),

renamed as (
    select
        station_id,
        station_name,
        facility_id,
        {{ town_or_unassigned('geo_code') }} as geo_code,
        cast(established_date as date) as established_date,
        cast(closed_date as date) as closed_date,
        _source_file,
        _row_number
    from source
)

select * from renamed
