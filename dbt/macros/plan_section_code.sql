{#- The section (规划章节) a plan_section belongs to: its leading part numeral, the text before the first
    '(' or ';' ("一(二)1" -> "一", "三(二)" -> "三", "一(三)3; 四(三)2" -> "一"), as in plan_sections.section_code.
    Portable SQL (instr, substring, trim on DuckDB and Spark). -#}
{% macro plan_section_code(expr) -%}
    {%- set s = "(" ~ expr ~ ")" -%}
    (case
        when {{ s }} is null then null
        when instr({{ s }}, ';') > 0 and (instr({{ s }}, '(') = 0 or instr({{ s }}, ';') < instr({{ s }}, '('))
            then trim(substring({{ s }}, 1, instr({{ s }}, ';') - 1))
        when instr({{ s }}, '(') > 0 then trim(substring({{ s }}, 1, instr({{ s }}, '(') - 1))
        else trim({{ s }})
    end)
{%- endmacro %}
