{#- The data dictionary (数据字典) of the published database, built from the dbt yml: one row per
    published table (column_name null) and one per column of it. English text from `description`,
    Chinese from `config.meta.label_zh` / `config.meta.description_zh` (tables: `meta.name_zh`).
    Tables: every model of the marts folder (published name = alias) and the tables of the
    `publication` source (written by the publish step). See data_dictionary.yml. -#}
{%- set entries = [] -%}
{%- if execute -%}
    {%- set tables = [] -%}
    {%- for node in graph.nodes.values() | sort(attribute='name') -%}
        {%- if node.resource_type == 'model' and node.fqn | length > 2 and node.fqn[1] == 'marts' -%}
            {%- do tables.append({'name': node.alias or node.name, 'node': node}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for src in graph.sources.values() | sort(attribute='name') -%}
        {%- if src.source_name == 'publication' -%}
            {%- do tables.append({'name': src.identifier or src.name, 'node': src}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for t in tables -%}
        {%- set meta = t.node.config.meta or t.node.meta or {} -%}
        {%- do entries.append({
            'table_name': t.name, 'column_name': none, 'ordinal_position': 0,
            'label_zh': meta.get('name_zh'), 'description_en': t.node.description,
            'description_zh': meta.get('description_zh'), 'defined_in': t.node.unique_id,
        }) -%}
        {%- for column in t.node.columns.values() -%}
            {%- set cmeta = (column.config or {}).get('meta') or column.meta or {} -%}
            {%- do entries.append({
                'table_name': t.name, 'column_name': column.name, 'ordinal_position': loop.index,
                'label_zh': cmeta.get('label_zh'), 'description_en': column.description,
                'description_zh': cmeta.get('description_zh'), 'defined_in': t.node.unique_id,
            }) -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endif -%}

{% if entries %}
{%- for e in entries %}
select
    {{ sql_text_literal(e.table_name) }} as table_name,
    {{ sql_text_literal(e.column_name) }} as column_name,
    cast({{ e.ordinal_position }} as {{ dbt.type_int() }}) as ordinal_position,
    {{ sql_text_literal(e.label_zh) }} as label_zh,
    {{ sql_text_literal(e.description_en) }} as description_en,
    {{ sql_text_literal(e.description_zh) }} as description_zh,
    {{ sql_text_literal(e.defined_in) }} as defined_in
{% if not loop.last %}union all{% endif %}
{%- endfor %}
{% else %}
select
    cast(null as {{ dbt.type_string() }}) as table_name,
    cast(null as {{ dbt.type_string() }}) as column_name,
    cast(null as {{ dbt.type_int() }}) as ordinal_position,
    cast(null as {{ dbt.type_string() }}) as label_zh,
    cast(null as {{ dbt.type_string() }}) as description_en,
    cast(null as {{ dbt.type_string() }}) as description_zh,
    cast(null as {{ dbt.type_string() }}) as defined_in
where 1 = 0
{% endif %}
