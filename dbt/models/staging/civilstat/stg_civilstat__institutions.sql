with source as (
    select * from {{ source('civilstat', 'civilstat_institutions') }}
),

categories as (
    select * from {{ ref('institution_categories') }}
),

renamed as (
    select
        cast(source.period_year as integer) as period_year,
        source.institution_code,
        source.institution_name,
        source.category_zh,
        categories.category_code,
        coalesce(categories.is_child_protection, false) as is_child_protection,
        source.sponsor_level_zh,
        case when source.sponsor_level_zh = '区级' then true else false end as is_district_level,
        source.ownership_zh,
        case when source.ownership_zh in ('公办公营', '公建民营') then true else false end as is_public,
        {{ town_or_unassigned('source.geo_code') }} as geo_code,
        cast(source.beds_count as integer) as beds_count,
        cast(source.nursing_beds_count as integer) as nursing_beds_count,
        source.star_rating_zh,
        case source.star_rating_zh
            when '未评定' then 0
            when '一星级' then 1
            when '二星级' then 2
            when '三星级' then 3
            when '四星级' then 4
            when '五星级' then 5
        end as star_rating,
        source.takes_extreme_poverty_support,
        source.status_zh,
        case when source.status_zh = '正常运营' then true else false end as is_operating,
        cast(source.opening_date as date) as opening_date,
        source._source_file,
        source._row_number
    from source
    left join categories on source.category_zh = categories.category_zh
)

select * from renamed
