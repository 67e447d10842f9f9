{#-
  Progress assessment of a plan target (规划目标进展评估): the method, written once.

  Statistics Canada's progress method as used by Open SDG, with two corrections (issue 4):
  * Correction 1: where a compound annual growth rate (CAGR) is undefined (baseline, latest or target
    value <= 0, typically a count or coverage starting from 0), the linear pace is used instead.
  * Correction 2: a value that moved away from the target since the baseline, d * (yi - y0) < 0, is
    `deterioration`, also when the baseline had already met the target.

  Inputs (all SQL expressions): baseline value y0 in year t0, latest value yi in year ti, target value yT
  in year T, direction 'increase' (d = +1) or 'decrease' (d = -1). Values are in the KPI's unit (%,
  per 10,000, count); years are calendar years (integers).

  status (text), in this order:
    NULL                 direction is neither 'increase' nor 'decrease'
    insufficient_data    a baseline or latest value is missing, or ti - t0 < 1
    target_achieved      ti >= T and yi meets the target (d * (yi - yT) >= 0)
    target_not_achieved  ti >= T and yi does not meet it
    target_achieved      ti < T and yi already meets the target
    deterioration        d * (yi - y0) < 0 (correction 2)
    on_track             R >= 0.95
    needs_acceleration   0.60 <= R < 0.95
    limited_progress     0 <= R < 0.60
  where R = CAGR(y0 -> yi over ti - t0) / CAGR(y0 -> yT over T - t0), CAGR(a -> b over n) = (b/a)^(1/n) - 1,
  or with correction 1 R = ((yi - y0) / (ti - t0)) / ((yT - y0) / (T - t0)).
  Without a numeric target (yT or T NULL) the same four categories follow the direction-signed growth
  g = d * CAGR(y0 -> yi) per year: g >= 1.5% on_track, 0.5% <= g < 1.5% needs_acceleration,
  0 <= g < 0.5% limited_progress, g < 0 deterioration. When the CAGR is undefined: g = d * (yi - y0) / |y0|
  / (ti - t0); from a baseline of exactly 0, no change is limited_progress and any change in the desired
  direction on_track (g has no finite value, NULL).
  Bounds are inclusive as written, with a tolerance of 1e-9, so floating-point noise never moves a value
  lying exactly on a bound (R = 0.95 computed as 0.9499999999999988 is on_track).

  method (text): how the status was decided.
    NULL (insufficient data), target_year (the target year has data: yi compared with yT),
    target_met (yi meets the target before the target year), moved_away (correction 2 on a baseline that
    already met the target: no ratio), cagr, linear, no_target_growth (g from the CAGR),
    no_target_linear (g from the linear pace), no_target_from_zero.

  ratio: R for the methods cagr and linear, g (a fraction per year: 0.015 = 1.5 %) for no_target_growth
  and no_target_linear, NULL otherwise.

  projection: the value expected in the target year T if the observed pace continues, before the target
  year only (ti < T, NULL otherwise): y0 * (1 + CAGR(y0 -> yi))^(T - t0) where the CAGR is defined, else
  the straight line through (t0, y0) and (ti, yi).

  The expressions are portable SQL (CASE, power, abs, nullif, cast as type_double(): double
  precision, or double on Spark). The
  scorecard model applies them to columns; `create_progress_macros` turns the same text into DuckDB macros
  (SQL functions on Spark).
-#}

{#- Bounds of the categories: ratio R (with a target) and signed growth g per year (without one). -#}
{% macro progress__bounds() -%}
    {{ return({
        'ratio_on_track': '0.95',
        'ratio_needs_acceleration': '0.60',
        'growth_on_track': '0.015',
        'growth_needs_acceleration': '0.005',
        'tolerance': '0.000000001',
    }) }}
{%- endmacro %}

{#- The shared sub-expressions of the method, as a dict of SQL strings. -#}
{% macro progress__terms(baseline_value, baseline_year, latest_value, latest_year, target_value, target_year, direction) -%}
    {%- set y0 = "cast((" ~ baseline_value ~ ") as " ~ type_double() ~ ")" -%}
    {%- set yi = "cast((" ~ latest_value ~ ") as " ~ type_double() ~ ")" -%}
    {%- set yt = "cast((" ~ target_value ~ ") as " ~ type_double() ~ ")" -%}
    {%- set t0 = "(" ~ baseline_year ~ ")" -%}
    {%- set ti = "(" ~ latest_year ~ ")" -%}
    {%- set tt = "(" ~ target_year ~ ")" -%}
    {%- set d = "(case when (" ~ direction ~ ") = 'increase' then 1.0 when (" ~ direction ~ ") = 'decrease' then -1.0 end)" -%}
    {%- set n_obs = "cast(" ~ ti ~ " - " ~ t0 ~ " as " ~ type_double() ~ ")" -%}
    {%- set n_req = "cast(" ~ tt ~ " - " ~ t0 ~ " as " ~ type_double() ~ ")" -%}
    {%- set has_target = "(" ~ yt ~ " is not null and " ~ tt ~ " is not null)" -%}
    {%- set cagr_obs = "(power(" ~ yi ~ " / " ~ y0 ~ ", 1.0 / " ~ n_obs ~ ") - 1.0)" -%}
    {%- set cagr_req = "(power(" ~ yt ~ " / " ~ y0 ~ ", 1.0 / " ~ n_req ~ ") - 1.0)" -%}
    {%- set cagr_defined = "(" ~ y0 ~ " > 0 and " ~ yi ~ " > 0 and (not " ~ has_target ~ " or " ~ yt ~ " > 0))" -%}
    {%- set ratio_cagr = "(" ~ cagr_obs ~ " / nullif(" ~ cagr_req ~ ", 0))" -%}
    {%- set ratio_linear = "(((" ~ yi ~ " - " ~ y0 ~ ") / " ~ n_obs ~ ") / nullif((" ~ yt ~ " - " ~ y0 ~ ") / " ~ n_req ~ ", 0))" -%}
    {%- set growth_cagr = "(" ~ d ~ " * " ~ cagr_obs ~ ")" -%}
    {%- set growth_linear = "(" ~ d ~ " * (" ~ yi ~ " - " ~ y0 ~ ") / abs(" ~ y0 ~ ") / " ~ n_obs ~ ")" -%}
    {{ return({
        'y0': y0, 'yi': yi, 'yt': yt, 't0': t0, 'ti': ti, 'tt': tt, 'd': d, 'n_obs': n_obs, 'n_req': n_req,
        'valid_direction': "(" ~ d ~ " is not null)",
        'has_inputs': "(" ~ y0 ~ " is not null and " ~ yi ~ " is not null and " ~ t0 ~ " is not null and "
                      ~ ti ~ " is not null and " ~ ti ~ " - " ~ t0 ~ " >= 1)",
        'has_target': has_target,
        'target_year_reached': "(" ~ ti ~ " >= " ~ tt ~ ")",
        'meets_target': "(" ~ d ~ " * (" ~ yi ~ " - " ~ yt ~ ") >= 0)",
        'baseline_meets_target': "(" ~ d ~ " * (" ~ y0 ~ " - " ~ yt ~ ") >= 0)",
        'moved_away': "(" ~ d ~ " * (" ~ yi ~ " - " ~ y0 ~ ") < 0)",
        'cagr_defined': cagr_defined,
        'ratio_cagr': ratio_cagr,
        'ratio_linear': ratio_linear,
        'growth_cagr': growth_cagr,
        'growth_linear': growth_linear,
        'ratio_or_pace': "(case when " ~ cagr_defined ~ " then " ~ ratio_cagr ~ " else " ~ ratio_linear ~ " end)",
        'growth_or_pace': "(case when " ~ cagr_defined ~ " then " ~ growth_cagr ~ " else " ~ growth_linear ~ " end)",
    }) }}
{%- endmacro %}

{#- The category of a ratio or growth against its two bounds (inclusive, within the tolerance). -#}
{% macro progress__category(value, on_track_bound, needs_acceleration_bound) -%}
    {%- set eps = progress__bounds()['tolerance'] -%}
    (case
        when {{ value }} >= {{ on_track_bound }} - {{ eps }} then 'on_track'
        when {{ value }} >= {{ needs_acceleration_bound }} - {{ eps }} then 'needs_acceleration'
        when {{ value }} >= 0 - {{ eps }} then 'limited_progress'
        when {{ value }} < 0 - {{ eps }} then 'deterioration'
    end)
{%- endmacro %}

{#- method: how the status is decided (see the header). -#}
{% macro progress_method(baseline_value, baseline_year, latest_value, latest_year, target_value, target_year, direction) -%}
    {%- set x = progress__terms(baseline_value, baseline_year, latest_value, latest_year, target_value, target_year, direction) -%}
    (case
        when not {{ x.valid_direction }} or not {{ x.has_inputs }} then null
        when {{ x.has_target }} and {{ x.target_year_reached }} then 'target_year'
        when {{ x.has_target }} and {{ x.meets_target }} then 'target_met'
        when {{ x.has_target }} and {{ x.moved_away }} and {{ x.baseline_meets_target }} then 'moved_away'
        when {{ x.has_target }} and {{ x.cagr_defined }} then 'cagr'
        when {{ x.has_target }} then 'linear'
        when {{ x.cagr_defined }} then 'no_target_growth'
        when {{ x.y0 }} <> 0 then 'no_target_linear'
        else 'no_target_from_zero'
    end)
{%- endmacro %}

{#- progress ratio R (with a target) or signed growth per year g (without one); NULL where none applies. -#}
{% macro progress_ratio(baseline_value, baseline_year, latest_value, latest_year, target_value, target_year, direction) -%}
    {%- set x = progress__terms(baseline_value, baseline_year, latest_value, latest_year, target_value, target_year, direction) -%}
    (case {{ progress_method(baseline_value, baseline_year, latest_value, latest_year, target_value, target_year, direction) }}
        when 'cagr' then {{ x.ratio_cagr }}
        when 'linear' then {{ x.ratio_linear }}
        when 'no_target_growth' then {{ x.growth_cagr }}
        when 'no_target_linear' then {{ x.growth_linear }}
    end)
{%- endmacro %}

{#- status: one of target_achieved, target_not_achieved, on_track, needs_acceleration, limited_progress,
    deterioration, insufficient_data (see the header). -#}
{% macro progress_status(baseline_value, baseline_year, latest_value, latest_year, target_value, target_year, direction) -%}
    {%- set x = progress__terms(baseline_value, baseline_year, latest_value, latest_year, target_value, target_year, direction) -%}
    {%- set b = progress__bounds() -%}
    {#- where the two categorising branches below are reached, ratio_or_pace and growth_or_pace equal
        progress_ratio (methods cagr, linear, no_target_growth, no_target_linear), in shorter SQL -#}
    (case
        when not {{ x.valid_direction }} then null
        when not {{ x.has_inputs }} then 'insufficient_data'
        when {{ x.has_target }} and {{ x.target_year_reached }} then
            (case when {{ x.meets_target }} then 'target_achieved' else 'target_not_achieved' end)
        when {{ x.has_target }} and {{ x.meets_target }} then 'target_achieved'
        when {{ x.moved_away }} then 'deterioration'
        when {{ x.has_target }} then {{ progress__category(x.ratio_or_pace, b.ratio_on_track, b.ratio_needs_acceleration) }}
        when {{ x.y0 }} = 0 then (case when {{ x.yi }} = {{ x.y0 }} then 'limited_progress' else 'on_track' end)
        else {{ progress__category(x.growth_or_pace, b.growth_on_track, b.growth_needs_acceleration) }}
    end)
{%- endmacro %}

{#- projected value in the target year if the observed pace continues; before the target year only. -#}
{% macro progress_projection(baseline_value, baseline_year, latest_value, latest_year, target_value, target_year, direction) -%}
    {%- set x = progress__terms(baseline_value, baseline_year, latest_value, latest_year, target_value, target_year, direction) -%}
    (case
        when {{ x.valid_direction }} and {{ x.has_inputs }} and {{ x.tt }} is not null and {{ x.ti }} < {{ x.tt }} then
            (case
                when {{ x.cagr_defined }} then {{ x.y0 }} * power({{ x.yi }} / {{ x.y0 }}, {{ x.n_req }} / {{ x.n_obs }})
                else {{ x.y0 }} + ({{ x.yi }} - {{ x.y0 }}) * {{ x.n_req }} / {{ x.n_obs }}
            end)
    end)
{%- endmacro %}

{#- The same method as DuckDB macros in `schema` (default marts), for analysts' SQL:
    progress_status, progress_ratio, progress_method, progress_projection, each taking
    (baseline_value, baseline_year, latest_value, latest_year, target_value, target_year, direction).
    Run as a post-hook of kpi_scorecard; the publish step copies them into the analyst database.
    On Spark (issue 11) the same expressions become SQL functions `schema.progress_status(...)` with typed
    arguments (values double, years bigint, direction string), created here through run_query since
    Spark runs one statement at a time; the hook itself is then empty. Other adapters get nothing. -#}
{% macro create_progress_macros(schema='marts') -%}
    {%- if target.type == 'duckdb' -%}
        {%- set args = ['baseline_value', 'baseline_year', 'latest_value', 'latest_year', 'target_value', 'target_year', 'direction'] -%}
        {%- set expressions = {
            'progress_status': progress_status(*args),
            'progress_ratio': progress_ratio(*args),
            'progress_method': progress_method(*args),
            'progress_projection': progress_projection(*args),
        } -%}
        create schema if not exists {{ schema }};
        {%- for name, expression in expressions.items() %}
        create or replace macro {{ schema }}.{{ name }}({{ args | join(', ') }}) as
            {{ expression }};
        {%- endfor %}
    {%- elif target.type == 'spark' and execute -%}
        {%- set args = ['baseline_value', 'baseline_year', 'latest_value', 'latest_year', 'target_value', 'target_year', 'direction'] -%}
        {%- set typed = 'baseline_value double, baseline_year bigint, latest_value double, latest_year bigint, '
                        ~ 'target_value double, target_year bigint, direction string' -%}
        {%- set functions = [
            ('progress_status', 'string', progress_status(*args)),
            ('progress_ratio', 'double', progress_ratio(*args)),
            ('progress_method', 'string', progress_method(*args)),
            ('progress_projection', 'double', progress_projection(*args)),
        ] -%}
        {%- do run_query('create schema if not exists ' ~ schema) -%}
        {%- for name, returns, expression in functions -%}
            {%- do run_query('create or replace function ' ~ schema ~ '.' ~ name ~ '(' ~ typed ~ ') returns '
                             ~ returns ~ ' return ' ~ expression) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
