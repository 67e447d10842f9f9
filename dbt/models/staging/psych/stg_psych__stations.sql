with source as (
    select * from {{ source('psych', 'psych_stations') }}
),

renamed as (
    select
        station_id,
        station_name,
        station_level_zh,
        station_level_zh = '镇街级' as is_town_center,
        station_level_zh = '社区村级' as is_community_station,
        {{ town_or_unassigned('geo_code') }} as geo_code,
        unit_code,
        cast(established_date as date) as established_date,
        cast(closed_date as date) as closed_date,
        _source_file,
        _row_number
    from source
)

select * from renamed
