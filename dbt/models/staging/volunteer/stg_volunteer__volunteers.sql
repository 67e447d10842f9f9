with source as (
    select * from {{ source('volunteer', 'volunteer_volunteers') }}
),

renamed as (
    select
        volunteer_id,
        person_key,
        cast(registration_date as date) as registration_date,
        geo_code,
        status_zh,
        cast(cancellation_date as date) as cancellation_date,
        _source_file,
        _row_number
    from source
)

select * from renamed
