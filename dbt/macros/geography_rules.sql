{#- The town/street of a record that counts in the district (issue 15.3, PLAN "Geographies"): its 9-digit code,
    or '110115999' (var unassigned_geo_code, 未落地到镇街) when the field could not be read (ingestion leaves it
    NULL and logs the field fault). Applied once, in staging, to every record that counts in the district; the
    mart publishes the code as the geography `unassigned`. -#}
{% macro town_or_unassigned(geo_code) -%}
    coalesce({{ geo_code }}, '{{ var("unassigned_geo_code") }}')
{%- endmacro %}
