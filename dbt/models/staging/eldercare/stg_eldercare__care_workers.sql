with source as (
    select * from {{ source('eldercare', 'eldercare_care_workers') }}
),

renamed as (
    select
        person_key,
        {{ person_id('person_key') }} as person_id,
        employer_name,
        {{ town_or_unassigned('geo_code') }} as geo_code,
        cast(hire_date as date) as hire_date,
        cast(leave_date as date) as leave_date,
        skill_level,
        _source_file,
        _sheet,
        _row_number
    from source
)

select * from renamed
