{#- Personal numbers a planner may have typed into free text (a mobile or landline phone, an ID number),
    replaced by *** before the text is published (review_explanations). The workbook's own 填报人 and
    联系电话 columns are never read by ingestion; this catches numbers written into the explanation.
    Applied twice: two numbers separated by one character share that character as their boundary. -#}
{% macro mask_personal_numbers(column) -%}
    {{ return(adapter.dispatch('mask_personal_numbers', 'daxing_kpi')(column)) }}
{%- endmacro %}

{% macro personal_number_pattern() -%}
'(^|[^0-9])(1[3-9][0-9]{9}|[1-9][0-9]{16}[0-9Xx]|0[0-9]{2,3}-?[0-9]{7,8})([^0-9]|$)'
{%- endmacro %}

{% macro duckdb__mask_personal_numbers(column) -%}
    regexp_replace(regexp_replace({{ column }}, {{ personal_number_pattern() }}, '\1***\3', 'g'), {{ personal_number_pattern() }}, '\1***\3', 'g')
{%- endmacro %}

{% macro default__mask_personal_numbers(column) -%}
    regexp_replace(regexp_replace({{ column }}, {{ personal_number_pattern() }}, '$1***$3'), {{ personal_number_pattern() }}, '$1***$3')
{%- endmacro %}
