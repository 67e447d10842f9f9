with source as (
    select * from {{ source('townreturn', 'townreturn_submissions') }}
),

renamed as (
    select
        {{ town_or_unassigned('geo_code') }} as geo_code,
        form_name_zh,
        cast(reported_through_date as date) as reported_through_date,
        cast(records_reported as bigint) as records_reported,
        _source_file,
        _sheet,
        _row_number
    from source
)

select * from renamed
