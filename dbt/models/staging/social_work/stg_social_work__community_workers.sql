with source as (
    select * from {{ source('social_work', 'social_work_community_workers') }}
),

renamed as (
    select
        person_key,
        {{ person_id('person_key') }} as person_id,
        {{ town_or_unassigned('geo_code') }} as geo_code,
        serving_community_name,
        serving_community_code,
        residence_community_code,
        position_zh,
        cast(hire_date as date) as hire_date,
        cast(leave_date as date) as leave_date,
        _source_file,
        _sheet,
        _row_number
    from source
)

select * from renamed
