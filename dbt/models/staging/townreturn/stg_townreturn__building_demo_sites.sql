with source as (
    select * from {{ source('townreturn', 'townreturn_building_demo_sites') }}
),

renamed as (
    select
        {{ town_or_unassigned('geo_code') }} as geo_code,
        unit_code,
        unit_name,
        site_name,
        site_type_zh,
        -- a site is identified by its community (village) and name: the same site in two returns counts once
        unit_code || '|' || site_name as site_key,
        cast(designated_date as date) as designated_date,
        _source_file,
        _sheet,
        _row_number
    from source
)

select * from renamed
