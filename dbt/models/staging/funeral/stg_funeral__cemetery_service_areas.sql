with source as (
    select * from {{ source('funeral', 'funeral_cemetery_service_areas') }}
),

renamed as (
    select
        cemetery_id,
        cemetery_name,
        cemetery_type_zh,
        case when cemetery_type_zh = '公益性公墓' then true else false end as is_public_welfare,
        cemetery_geo_code,
        {{ town_or_unassigned('geo_code') }} as geo_code,
        cast(service_start_date as date) as service_start_date,
        cast(service_end_date as date) as service_end_date,
        _source_file,
        _row_number
    from source
)

select * from renamed
