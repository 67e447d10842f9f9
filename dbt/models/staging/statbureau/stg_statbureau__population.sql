with source as (
    select * from {{ source('statbureau', 'statbureau_population') }}
),

renamed as (
    select
        cast(period_year as integer) as period_year,
        {{ town_or_unassigned('geo_code') }} as geo_code,
        age_band,
        cast(residents_count as bigint) as residents_count,
        case when age_band in ('60-79', '80+') then true else false end as is_aged_60_plus,
        _source_file,
        _row_number
    from source
)

select * from renamed
