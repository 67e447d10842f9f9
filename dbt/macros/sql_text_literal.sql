{#- A text value as a portable SQL string literal (quotes doubled, surrounding blanks trimmed), or a
    typed NULL when it is missing or blank. Used by the data_dictionary model. -#}
{% macro sql_text_literal(value) -%}
    {%- if value is none or (value | string | trim) == '' -%}
        cast(null as {{ dbt.type_string() }})
    {%- else -%}
        cast('{{ value | string | trim | replace("'", "''") }}' as {{ dbt.type_string() }})
    {%- endif -%}
{%- endmacro %}
