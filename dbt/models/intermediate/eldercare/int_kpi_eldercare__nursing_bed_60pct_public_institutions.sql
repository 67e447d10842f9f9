{#- KPI rows for the district per statistical year: district-level public elderly-care institutions
    (区级公办养老机构: sponsor 区级, ownership 公办公营 or 公建民营) operating at year end whose nursing-care
    beds (护养型床位) are at least 60% of their beds; exactly 60% counts, an unknown nursing-bed number
    does not. A count (denominator 1). Plan 一(二)1; contract civilstat_institutions. -#}
{%- set min_nursing_bed_pct = 60 -%}
{{ institution_count_rows(
    'eldercare.nursing_bed_60pct_public_institutions',
    "category_code = 'elderly_care' and is_district_level and is_public and is_operating
     and beds_count > 0 and nursing_beds_count * 100 >= beds_count * " ~ min_nursing_bed_pct
) }}
