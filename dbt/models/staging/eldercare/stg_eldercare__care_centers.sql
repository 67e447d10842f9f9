with source as (
    select * from {{ source('eldercare', 'eldercare_care_centers') }}
),

renamed as (
    select
        center_code,
        center_name,
        {{ town_or_unassigned('geo_code') }} as geo_code,
        operator_name,
        cast(opening_date as date) as opening_date,
        cast(closing_date as date) as closing_date,
        cast(beds_count as integer) as beds_count,
        _source_file,
        _row_number
    from source
)

select * from renamed
