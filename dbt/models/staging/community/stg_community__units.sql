with source as (
    select * from {{ source('community', 'community_units') }}
),

renamed as (
    select
        unit_code,
        unit_name,
        unit_type_zh,
        unit_type_zh = '社区' as is_community,
        {{ town_or_unassigned('geo_code') }} as geo_code,
        cast(established_date as date) as established_date,
        cast(abolished_date as date) as abolished_date,
        abolition_reason_zh,
        former_village_code,
        _source_file,
        _row_number
    from source
)

select * from renamed
