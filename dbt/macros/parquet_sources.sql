{#- The Parquet raw layer as dbt sources (issue 11). The sources stay defined once (schema raw, one
    `_<source>__sources.yml` per staging folder; audit.ingest_audit): on DuckDB they are the tables
    ingestion writes into the working database. On Spark, and on DuckDB with
    `--vars '{raw_from_parquet: true}'`, this on-run-start hook makes every source of schema raw and
    audit a view `<schema>.<table>` over the Parquet folder ingestion writes beside the table
    (daxing_kpi/raw_parquet.py):
        raw.<source_id>      <- {raw_parquet_dir}/<source_id>/delivery=<sha256>/part-0.parquet
        audit.ingest_audit   <- {raw_parquet_dir}/_audit/ingest_audit/part-0.parquet
    var('raw_parquet_dir') (default $KPI_RAW_PARQUET_DIR, else ../warehouse/raw_parquet) is a local folder
    or any path the engine reads (hdfs://..., s3a://... on a cluster). Views carry the partition column
    `delivery` (the landing file's SHA-256) besides the raw table's columns; staging models name their
    columns, so it is never selected. On a cluster whose metastore already holds external tables
    raw.<source_id>, set var('register_parquet_sources') false. -#}
{% macro parquet_source_location(source_node) -%}
    {%- set root = var('raw_parquet_dir') | trim | replace('\\', '/') -%}
    {%- set root = root[:-1] if root.endswith('/') else root -%}
    {%- if source_node.schema == 'raw' -%}
        {{ root }}/{{ source_node.identifier }}
    {%- else -%}
        {{ root }}/_{{ source_node.schema }}/{{ source_node.identifier }}
    {%- endif -%}
{%- endmacro %}

{#- A relation scanning a Parquet folder written by daxing_kpi.raw_parquet, in the engine's own syntax. -#}
{% macro parquet_scan(location) -%}
    {{ return(adapter.dispatch('parquet_scan', 'daxing_kpi')(location)) }}
{%- endmacro %}

{% macro default__parquet_scan(location) -%}
    parquet.`{{ location }}`
{%- endmacro %}

{% macro duckdb__parquet_scan(location) -%}
    read_parquet('{{ location }}/**/*.parquet', hive_partitioning = true, hive_types_autocast = false, union_by_name = true)
{%- endmacro %}

{#- Which source schemas the hook registers, and whether it runs at all on this target. -#}
{% macro parquet_source_schemas() -%}
    {{ return(['raw', 'audit']) }}
{%- endmacro %}

{% macro register_parquet_sources() -%}
    {%- set wanted = (target.type != 'duckdb' or var('raw_from_parquet', false)) and var('register_parquet_sources', true) -%}
    {%- if execute and wanted -%}
        {%- set schemas = [] -%}
        {%- for node in graph.sources.values() if node.schema in parquet_source_schemas() -%}
            {%- if node.schema not in schemas -%}
                {%- do run_query('create schema if not exists ' ~ node.schema) -%}
                {%- do schemas.append(node.schema) -%}
            {%- endif -%}
            {%- do run_query('create or replace view ' ~ node.schema ~ '.' ~ node.identifier
                             ~ ' as select * from ' ~ parquet_scan(parquet_source_location(node))) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
