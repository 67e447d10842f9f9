with source as (
    select * from {{ source('statbureau', 'statbureau_registered_population') }}
),

renamed as (
    select
        cast(period_year as integer) as period_year,
        {{ town_or_unassigned('geo_code') }} as geo_code,
        age_band,
        cast(registered_count as bigint) as registered_count,
        case when age_band in ('0-5', '6-11', '12-17') then true else false end as is_under_18,
        _source_file,
        _row_number
    from source
)

select * from renamed
