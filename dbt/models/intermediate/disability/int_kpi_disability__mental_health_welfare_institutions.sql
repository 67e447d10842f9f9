{#- KPI rows for the district per statistical year: civil-affairs mental-health welfare institutions
    (民政精神卫生福利机构) operating at year end with at least 100 beds (100 included; institutions being
    built do not count). A count (denominator 1). Plan 一(三)3 and 四(三)2; contract civilstat_institutions. -#}
{%- set min_beds = 100 -%}
{{ institution_count_rows(
    'disability.mental_health_welfare_institutions',
    "category_code = 'mental_health' and is_operating and beds_count >= " ~ min_beds
) }}
