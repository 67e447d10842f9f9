{#- A 64-bit floating-point type in each engine's spelling (issue 11): `double precision` (standard SQL,
    DuckDB, PostgreSQL) or `double` (Spark, which has no `double precision`). dbt.type_float() is no
    substitute: it is a 32-bit `float` on DuckDB. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'daxing_kpi')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}
