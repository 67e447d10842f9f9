{#- One row per geography (grain: geo_code). Levels (doc geography_levels): the district; the 22 towns/streets of
    the plan's 镇(街) targets (town_street); the special zones (special_zone), counted in the district only; and the
    unassigned geography (110115999, 未落地到镇街) of records whose town/street could not be read. Source: seed
    townships (2023 statistical division codes). -#}
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
    case when kind = 'special_zone' then 'special_zone' else 'town_street' end as geo_level,
    name_zh as geo_name_zh,
    cast(null as varchar(64)) as geo_name_en,
    kind,
    case when in_town_street_denominator = 'yes' then true else false end as is_in_town_street_denominator,
    '{{ var("district_code") }}' as parent_geo_code
from townships

union all

select
    '{{ var("unassigned_geo_code") }}' as geo_code,
    'unassigned' as geo_level,
    '未落地到镇街' as geo_name_zh,
    'Not assigned to a town/street' as geo_name_en,
    'unassigned' as kind,
    false as is_in_town_street_denominator,
    '{{ var("district_code") }}' as parent_geo_code
