with source as (
    select * from {{ source('govservice', 'govservice_service_items') }}
),

renamed as (
    select
        item_code,
        item_name,
        cast(catalog_year as integer) as catalog_year,
        cast(is_fully_online as boolean) as is_fully_online,
        _source_file,
        _row_number
    from source
)

select * from renamed
