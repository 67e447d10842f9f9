{#- KPI rows for the district per statistical year: social-welfare institutions for people with
    intellectual disabilities (智力残疾人员社会福利机构) operating at year end with at least 50 beds
    (50 included; institutions being built do not count). A count (denominator 1). Plan 一(三)3 and
    四(三)2; contract civilstat_institutions. -#}
{%- set min_beds = 50 -%}
{{ institution_count_rows(
    'disability.intellectual_disability_institutions',
    "category_code = 'intellectual_disability' and is_operating and beds_count >= " ~ min_beds
) }}
