with source as (
    select * from {{ source('govservice', 'govservice_service_cases') }}
),

channels as (
    select * from {{ ref('service_channels') }}
),

renamed as (
    select
        source.case_id,
        source.item_code,
        source.channel_zh,
        channels.channel_code,
        coalesce(channels.is_online, false) as is_online,
        cast(source.accepted_date as date) as accepted_date,
        extract(year from cast(source.accepted_date as date)) as accepted_year,
        {{ town_or_unassigned('source.geo_code') }} as geo_code,
        source._source_file,
        source._row_number
    from source
    left join channels on source.channel_zh = channels.channel_zh
)

select * from renamed
