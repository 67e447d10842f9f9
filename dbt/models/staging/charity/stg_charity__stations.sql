with source as (
    select * from {{ source('charity', 'charity_stations') }}
),

renamed as (
    select
        station_id,
        station_name,
        {{ town_or_unassigned('geo_code') }} as geo_code,
        unit_code,
        cast(established_date as date) as established_date,
        cast(closed_date as date) as closed_date,
        _source_file,
        _row_number
    from source
)

select * from renamed
