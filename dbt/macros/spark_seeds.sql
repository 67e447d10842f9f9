{#- Seeds on Spark (issue 11). Two fixes to dbt-spark 1.11's seed loading, so every seed loads on Spark with
    the same values, NULLs and types as on DuckDB:
    * types: the seeds' yml `column_types` are written for DuckDB (`varchar`, `integer`, `double`, `boolean`,
      `date`); Spark refuses `varchar` without a length, so text types become `string` (spark_seed_type);
    * values: the session method binds values with Python's `%` formatting, so a value holding a quote (the
      catalog's English definitions) breaks the INSERT and a missing value is loaded as the text 'None'.
      Here every value is an escaped Spark literal (missing -> null, booleans true/false, anything else a
      quoted string cast to the column's type), whatever the connection method. -#}
{% macro spark_seed_type(type_name) -%}
    {%- set t = (type_name | string | trim | lower) -%}
    {%- if t in ('varchar', 'text', 'char', 'character varying', 'bpchar') -%}
        string
    {%- else -%}
        {{ type_name }}
    {%- endif -%}
{%- endmacro %}

{% macro spark_seed_column_types(model, agate_table) -%}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set types = [] -%}
    {%- for col_name in agate_table.column_names -%}
        {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
        {%- do types.append(spark_seed_type(column_override.get(col_name, inferred_type))) -%}
    {%- endfor -%}
    {{ return(types) }}
{%- endmacro %}

{% macro spark_literal(value) -%}
    {%- if value is none -%}
        null
    {%- elif value is sameas true -%}
        true
    {%- elif value is sameas false -%}
        false
    {%- else -%}
        '{{ (value | string) | replace("\\", "\\\\") | replace("'", "\\'") }}'
    {%- endif -%}
{%- endmacro %}

{% macro spark__create_csv_table(model, agate_table) %}
    {%- set types = spark_seed_column_types(model, agate_table) -%}
    {%- set quote_seed_column = model['config'].get('quote_columns', None) -%}
    {%- set sql -%}
        create table {{ this.render() }} (
            {%- for col_name in agate_table.column_names -%}
                {{ adapter.quote_seed_column(col_name | string, quote_seed_column) }} {{ types[loop.index0] }}
                {%- if not loop.last -%}, {% endif -%}
            {%- endfor -%}
        )
        {{ file_format_clause() }}
        {{ partition_cols(label="partitioned by") }}
        {{ clustered_cols(label="clustered by") }}
        {{ location_clause() }}
        {{ comment_clause() }}
    {%- endset -%}
    {%- call statement('_') -%}
        {{ sql }}
    {%- endcall -%}
    {{ return(sql) }}
{% endmacro %}

{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set batch_size = get_batch_size() -%}
    {%- set types = spark_seed_column_types(model, agate_table) -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(batch_size) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for value in row -%}
                    cast({{ spark_literal(value) }} as {{ types[loop.index0] }}){%- if not loop.last %}, {% endif -%}
                {%- endfor -%}){%- if not loop.last %},{% endif %}
            {% endfor -%}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.index0 == 0 -%}
            {%- do statements.append(sql) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements[0] if statements else '') }}
{% endmacro %}
