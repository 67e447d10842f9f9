with source as (
    select * from {{ source('community', 'community_elections') }}
),

renamed as (
    select
        election_id,
        unit_code,
        {{ town_or_unassigned('geo_code') }} as geo_code,
        round_zh,
        cast(election_date as date) as election_date,
        election_method_zh,
        registered_voters_count,
        _source_file,
        _row_number
    from source
)

select * from renamed
