{#- KPI rows for the district per statistical year: township homes for the aged (乡镇敬老院) operating at
    year end, rated three stars or more (三星级以上, three included) and taking in people under
    extreme-poverty support (集中供养城乡特困人员). A count (denominator 1); new_in_year: homes that entered the count
    during the year (upgraded, 改造: the register has no date of the rating). Plan 一(二)1; contract
    civilstat_institutions. -#}
{%- set min_star_rating = 3 -%}
{{ institution_count_rows(
    'eldercare.three_star_township_homes',
    "category_code = 'township_home' and is_operating and takes_extreme_poverty_support
     and star_rating >= " ~ min_star_rating,
    additions='entered'
) }}
