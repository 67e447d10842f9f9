with source as (
    select * from {{ source('funeral', 'funeral_burials') }}
),

burial_types as (
    select * from {{ ref('burial_types') }}
),

renamed as (
    select
        source.burial_id,
        cast(source.burial_date as date) as burial_date,
        extract(year from cast(source.burial_date as date)) as burial_year,
        {{ town_or_unassigned('source.geo_code') }} as geo_code,
        source.burial_type_zh,
        burial_types.burial_type_code,
        coalesce(burial_types.is_eco_burial, false) as is_eco_burial,
        source._source_file,
        source._row_number
    from source
    left join burial_types on source.burial_type_zh = burial_types.burial_type_zh
)

select * from renamed
