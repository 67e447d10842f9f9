with townships as (
    select * from {{ ref('townships') }}
)

select
    '{{ var("district_code") }}' as geo_code,
    'district' as geo_level,
    '大兴区' as geo_name_zh,
    'Daxing District' as geo_name_en,
    'district' as kind,
    false as is_in_town_street_denominator,
    cast(null as varchar(12)) as parent_geo_code

union all

select
    code as geo_code,
    'town_street' as geo_level,
    name_zh as geo_name_zh,
    cast(null as varchar(64)) as geo_name_en,
    kind,
    case when in_town_street_denominator = 'yes' then true else false end as is_in_town_street_denominator,
    '{{ var("district_code") }}' as parent_geo_code
from townships
