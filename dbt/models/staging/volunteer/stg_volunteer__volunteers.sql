with source as (
    select * from {{ source('volunteer', 'volunteer_volunteers') }}
),

renamed as (
    select
        volunteer_id,
        person_key,
        {{ person_id('person_key') }} as person_id,
        cast(registration_date as date) as registration_date,
        {{ town_or_unassigned('geo_code') }} as geo_code,
        status_zh,
        cast(cancellation_date as date) as cancellation_date,
        _source_file,
        _sheet,
        _row_number
    from source
)

select * from renamed
