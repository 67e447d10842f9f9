{#- The date rules of every model, stated once (issue 16.4). The reading is written out for readers in the doc
    block `end_date_rule` (dbt/models/docs/counting_rules.md), which every end-date column description cites.

    A record is active on day `day` when its start date is on or before that day and its end date is after it:
        start_date <= day < end_date      (no end date: still active)
    The end date (离职日期, 注销日期, 撤销日期, 停用日期, 停止运营日期, 服务终止日期 ...) is the first day the
    record no longer counts: a worker who left on 31 December, a registration cancelled that day, a station
    closed that day or a cemetery service ended that day is not counted in that year's 31-December figure;
    one ending on 1 January of the next year is. A start date (入职日期, 注册日期, 成立日期, 设立日期 ...) is
    the first day it counts.

    `ended_without_date` (optional): a SQL condition true when the record says it ended but gives no date
    (状态 = 已注销 with no 注销日期): such a record is not active. NULL start dates never count (a centre
    still being built). Portable SQL (DuckDB, Spark). -#}
{% macro is_active_on(start_date, end_date, day, ended_without_date=none) -%}
    ({{ start_date }} <= {{ day }} and {{ is_not_ended_on(end_date, day, ended_without_date) }})
{%- endmacro %}

{#- The end-date half of the rule, for records whose start is a year (a facility's 投用年份): not ended on `day`. -#}
{% macro is_not_ended_on(end_date, day, ended_without_date=none) -%}
    ({{ end_date }} > {{ day }}
     or ({{ end_date }} is null{% if ended_without_date %} and not coalesce({{ ended_without_date }}, false){% endif %}))
{%- endmacro %}

{#- A dated event (opening, designation, conversion ...) on or before the year's snapshot date: it is in the stock
    counted on that date. `periods`: the int_periods relation or alias. -#}
{% macro is_on_or_before_snapshot(event_date, periods) -%}
    ({{ event_date }} <= {{ periods }}.period_end_date)
{%- endmacro %}

{#- A dated event within the year up to its snapshot date (1 January <= date <= period_end_date): an addition of
    that year (new_in_year). -#}
{% macro is_within_year(event_date, periods) -%}
    ({{ event_date }} >= {{ periods }}.year_start_date and {{ event_date }} <= {{ periods }}.period_end_date)
{%- endmacro %}
