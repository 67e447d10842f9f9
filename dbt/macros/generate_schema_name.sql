{#- Custom schemas are used as written (staging, intermediate, marts, seeds), not prefixed with the
    target schema, so analysts and the publish step find `marts.kpi_observations`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
