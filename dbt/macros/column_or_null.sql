{#- A column of a relation when the relation has it, else a typed NULL (checked when the model runs).
    Transitional (issue 16): kpi_observations gains new_in_year on the counting branch; until it is merged,
    int_kpi_observations_with_additions reads NULL. Remove with that model's use of it once merged. -#}
{% macro column_or_null(relation, column_name, data_type) -%}
    {%- set names = [] -%}
    {%- if execute -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- do names.append(column.name | lower) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if column_name | lower in names -%}
        {{ column_name }}
    {%- else -%}
        cast(null as {{ data_type }})
    {%- endif -%}
{%- endmacro %}
