with source as (
    select * from {{ source('social_work', 'social_work_professionals') }}
),

levels as (
    select * from {{ ref('social_work_certificate_levels') }}
),

renamed as (
    select
        source.person_key,
        {{ person_id('source.person_key') }} as person_id,
        source.certificate_level_zh,
        levels.certificate_level_code,
        coalesce(levels.is_national_certificate, false) as has_national_certificate,
        cast(source.certificate_date as date) as certificate_date,
        source.employer_name,
        {{ town_or_unassigned('source.geo_code') }} as geo_code,
        cast(source.entry_date as date) as entry_date,
        cast(source.exit_date as date) as exit_date,
        source._source_file,
        source._sheet,
        source._row_number
    from source
    left join levels on source.certificate_level_zh = levels.certificate_level_zh
)

select * from renamed
