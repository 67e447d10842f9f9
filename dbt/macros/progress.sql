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

{#- ============================================================================================
  Target kinds (issue 18.3, 17.1, 17.2): the method for every kind of plan target, and what the pages and
  reports need to say "by how much". Every macro below takes the kind as its first argument (`target_kind`):

  reach_by_year    reach target_value by target_year (达到): Statistics Canada's method above. A target with
                   milestones (阶段目标) is judged against the next milestone: the caller passes that
                   milestone's value and year (kpi_scorecard takes them from plan_target_milestones); each
                   milestone year and the target year get their own verdict.
  hold_every_year  meet target_value in every year of the plan period (每年不低于 ...). As the German
                   sustainability indicator report does (Destatis, Indikatorenbericht, "Status of indicators -
                   Methodology", https://dns-indikatoren.de/en/status: four weather symbols assigned by the
                   formulation of the target; a target to be met every year is judged on the latest value
                   first and on the development second): before target_year the latest value
                   first (meets it: on_track, method hold_met), the direction of change second (toward the
                   value: needs_acceleration; no change: limited_progress; away: deterioration; method
                   hold_trend, ratio = signed growth a year); from target_year on, target_achieved only when
                   no year of the period missed it (years_not_held = 0, NULL counts as 0) and the latest
                   value meets it (method hold_period).
  range            stay within target_value .. target_value_upper (区间): judged against the nearer bound,
                   i.e. Statistics Canada's method with the lower bound as an at-least target when the latest
                   value is below it (or is inside, nearer the lower bound), the upper bound as an at-most
                   target when above it (or inside, nearer the upper one).
  direction_only   move in the KPI's desired direction, no number (稳步提高): the growth thresholds above
                   (signed growth a year >= 1.5 % on_track, >= 0.5 % needs_acceleration, >= 0
                   limited_progress, < 0 deterioration). The UN's Sustainable Development Goals Progress
                   Chart (UN DESA Statistics Division, "Progress Chart Technical Note", section II a:
                   "measuring the trend for indicators without an explicit numerical target") judges such
                   indicators by their compound annual growth rate against fixed thresholds, as Open SDG's
                   progress methodology does (https://open-sdg.readthedocs.io/en/latest/progress-methodology/,
                   Statistics Canada's method, the source of the thresholds used here).
  A kind whose target value is NULL (a town/street without its own target for a district count) is
  judged as direction_only. Any other kind gives NULL.

  Arguments (SQL expressions): baseline_value y0 (year t0), latest_value yi (year ti), target_value yT (the
  lower bound of a range), target_year T, direction 'increase' | 'decrease', target_value_upper (ranges),
  years_not_held (hold_every_year: years of the period so far whose value missed the target).

  target_status / target_method / target_ratio / target_projection
        (target_kind, baseline_value, baseline_year, latest_value, latest_year, target_value, target_year,
         direction, target_value_upper, years_not_held): as progress_* with the kind's rules.
  target_verdict (target_kind, baseline_value, value, target_value, direction, target_value_upper,
        years_not_held): the verdict once the target year (or a milestone year) has data, on that year's
        value: achieved (met; hold_every_year: met in every year), deterioration (missed, and the value moved
        away from the target since the baseline), not_achieved (missed otherwise). direction_only: achieved
        when the value moved in the desired direction since the baseline, not_achieved when it did not move,
        deterioration when it moved the other way. NULL without a value or without a target of one's own.
  target_is_met (target_kind, value, target_value, direction, target_value_upper): boolean; NULL for
        direction_only or without a target.
  target_gap (target_kind, value, target_value, direction, target_value_upper): the gap to the target in
        the KPI's unit, positive = still to go, zero or negative = met (by how much); a range: the distance to
        the nearer bound outside it, minus the distance to the nearer bound inside it. NULL for direction_only.
  target_completion_rate (target_kind, value, target_value, direction): value / target_value (0.918 =
        91.8 %), for at-least targets (reach_by_year, hold_every_year with direction increase) and a
        positive target only.
  target_progress_share (target_kind, baseline_value, value, target_value, direction): (value - baseline)
        / (target - baseline), the share of the way from the baseline to a reach_by_year target covered.
  target_completion_basis (target_kind, target_value, direction): which of the two the pages show:
        completion_rate (at-least targets), progress_share (reach_by_year at-most targets), NULL otherwise.
  target_trend (baseline_value, baseline_year, latest_value, latest_year, direction): improving / stable /
        worsening: the direction-signed growth a year at least 0.5 %, within +-0.5 %, at most -0.5 %
        (from a baseline of 0: any change in the desired direction improves); the progress indication of a
        geography without a target of its own (status and progress apart, as Eurostat's and Germany's
        indicator reports show them).
-#}

{% macro target__kinds() -%}
    {{ return(['reach_by_year', 'hold_every_year', 'range', 'direction_only']) }}
{%- endmacro %}

{#- The target and direction the reach_by_year method is applied with, per kind (see above). -#}
{% macro target__effective(target_kind, latest_value, target_value, direction, target_value_upper) -%}
    {%- set k = "(" ~ target_kind ~ ")" -%}
    {%- set yi = "cast((" ~ latest_value ~ ") as " ~ type_double() ~ ")" -%}
    {%- set lo = "cast((" ~ target_value ~ ") as " ~ type_double() ~ ")" -%}
    {%- set hi = "cast((" ~ target_value_upper ~ ") as " ~ type_double() ~ ")" -%}
    {%- set lower_nearer = "(" ~ yi ~ " < " ~ lo ~ " or (" ~ yi ~ " <= " ~ hi ~ " and " ~ yi ~ " - " ~ lo ~ " <= " ~ hi ~ " - " ~ yi ~ "))" -%}
    {%- set range_ok = "(" ~ lo ~ " is not null and " ~ hi ~ " is not null and " ~ yi ~ " is not null)" -%}
    {{ return({
        'target_value': "(case when " ~ k ~ " = 'direction_only' then null"
                        ~ " when " ~ k ~ " = 'range' then (case when not " ~ range_ok ~ " then null"
                        ~ " when " ~ lower_nearer ~ " then " ~ lo ~ " else " ~ hi ~ " end)"
                        ~ " else " ~ lo ~ " end)",
        'direction': "(case when " ~ k ~ " = 'range' and " ~ range_ok ~ " then (case when " ~ lower_nearer
                     ~ " then 'increase' else 'decrease' end) else (" ~ direction ~ ") end)",
        'known_kind': "(" ~ k ~ " in ('" ~ target__kinds() | join("', '") ~ "'))",
        'is_hold': "(" ~ k ~ " = 'hold_every_year' and " ~ lo ~ " is not null)",
    }) }}
{%- endmacro %}

{% macro target_method(target_kind, baseline_value, baseline_year, latest_value, latest_year, target_value, target_year, direction, target_value_upper, years_not_held) -%}
    {%- set e = target__effective(target_kind, latest_value, target_value, direction, target_value_upper) -%}
    {%- set x = progress__terms(baseline_value, baseline_year, latest_value, latest_year, target_value, target_year, direction) -%}
    (case
        when not {{ e.known_kind }} then null
        when {{ e.is_hold }} then
            (case
                when not {{ x.valid_direction }} or not {{ x.has_inputs }} then null
                when {{ x.tt }} is not null and {{ x.target_year_reached }} then 'hold_period'
                when {{ x.meets_target }} then 'hold_met'
                else 'hold_trend'
            end)
        else {{ progress_method(baseline_value, baseline_year, latest_value, latest_year, e.target_value, target_year, e.direction) }}
    end)
{%- endmacro %}

{% macro target_ratio(target_kind, baseline_value, baseline_year, latest_value, latest_year, target_value, target_year, direction, target_value_upper, years_not_held) -%}
    {%- set e = target__effective(target_kind, latest_value, target_value, direction, target_value_upper) -%}
    {%- set x = progress__terms(baseline_value, baseline_year, latest_value, latest_year, 'null', 'null', direction) -%}
    (case
        when not {{ e.known_kind }} then null
        when {{ e.is_hold }} then
            (case {{ target_method(target_kind, baseline_value, baseline_year, latest_value, latest_year, target_value, target_year, direction, target_value_upper, years_not_held) }}
                when 'hold_trend' then (case when {{ x.y0 }} <> 0 then {{ x.growth_or_pace }} end)
            end)
        else {{ progress_ratio(baseline_value, baseline_year, latest_value, latest_year, e.target_value, target_year, e.direction) }}
    end)
{%- endmacro %}

{% macro target_status(target_kind, baseline_value, baseline_year, latest_value, latest_year, target_value, target_year, direction, target_value_upper, years_not_held) -%}
    {%- set e = target__effective(target_kind, latest_value, target_value, direction, target_value_upper) -%}
    {%- set x = progress__terms(baseline_value, baseline_year, latest_value, latest_year, target_value, target_year, direction) -%}
    (case
        when not {{ e.known_kind }} then null
        when {{ e.is_hold }} then
            (case
                when not {{ x.valid_direction }} then null
                when not {{ x.has_inputs }} then 'insufficient_data'
                when {{ x.tt }} is not null and {{ x.target_year_reached }} then
                    (case when coalesce({{ years_not_held }}, 0) = 0 and {{ x.meets_target }}
                          then 'target_achieved' else 'target_not_achieved' end)
                when {{ x.meets_target }} then 'on_track'
                when {{ x.moved_away }} then 'deterioration'
                when {{ x.yi }} = {{ x.y0 }} then 'limited_progress'
                else 'needs_acceleration'
            end)
        else {{ progress_status(baseline_value, baseline_year, latest_value, latest_year, e.target_value, target_year, e.direction) }}
    end)
{%- endmacro %}

{% macro target_projection(target_kind, baseline_value, baseline_year, latest_value, latest_year, target_value, target_year, direction, target_value_upper, years_not_held) -%}
    {%- set e = target__effective(target_kind, latest_value, target_value, direction, target_value_upper) -%}
    (case
        when not {{ e.known_kind }} then null
        when {{ e.is_hold }} then {{ progress_projection(baseline_value, baseline_year, latest_value, latest_year, target_value, target_year, direction) }}
        else {{ progress_projection(baseline_value, baseline_year, latest_value, latest_year, e.target_value, target_year, e.direction) }}
    end)
{%- endmacro %}

{% macro target_is_met(target_kind, value, target_value, direction, target_value_upper) -%}
    {%- set k = "(" ~ target_kind ~ ")" -%}
    {%- set v = "cast((" ~ value ~ ") as " ~ type_double() ~ ")" -%}
    {%- set lo = "cast((" ~ target_value ~ ") as " ~ type_double() ~ ")" -%}
    {%- set hi = "cast((" ~ target_value_upper ~ ") as " ~ type_double() ~ ")" -%}
    {%- set d = "(case when (" ~ direction ~ ") = 'increase' then 1.0 when (" ~ direction ~ ") = 'decrease' then -1.0 end)" -%}
    (case
        when {{ v }} is null or {{ lo }} is null then null
        when {{ k }} in ('reach_by_year', 'hold_every_year') then {{ d }} * ({{ v }} - {{ lo }}) >= 0
        when {{ k }} = 'range' then (case when {{ hi }} is not null then {{ v }} >= {{ lo }} and {{ v }} <= {{ hi }} end)
    end)
{%- endmacro %}

{% macro target_verdict(target_kind, baseline_value, value, target_value, direction, target_value_upper, years_not_held) -%}
    {%- set k = "(" ~ target_kind ~ ")" -%}
    {%- set e = target__effective(target_kind, value, target_value, direction, target_value_upper) -%}
    {%- set y0 = "cast((" ~ baseline_value ~ ") as " ~ type_double() ~ ")" -%}
    {%- set v = "cast((" ~ value ~ ") as " ~ type_double() ~ ")" -%}
    {%- set d = "(case when " ~ e.direction ~ " = 'increase' then 1.0 when " ~ e.direction ~ " = 'decrease' then -1.0 end)" -%}
    {%- set d_kpi = "(case when (" ~ direction ~ ") = 'increase' then 1.0 when (" ~ direction ~ ") = 'decrease' then -1.0 end)" -%}
    {%- set met = target_is_met(target_kind, value, target_value, direction, target_value_upper) -%}
    (case
        when {{ v }} is null or not {{ e.known_kind }} then null
        when {{ k }} = 'direction_only' or cast(({{ target_value }}) as {{ type_double() }}) is null then
            (case
                when {{ k }} <> 'direction_only' or {{ y0 }} is null or {{ d_kpi }} is null then null
                when {{ d_kpi }} * ({{ v }} - {{ y0 }}) > 0 then 'achieved'
                when {{ d_kpi }} * ({{ v }} - {{ y0 }}) < 0 then 'deterioration'
                else 'not_achieved'
            end)
        when {{ met }} is null then null
        when {{ met }} and ({{ k }} <> 'hold_every_year' or coalesce({{ years_not_held }}, 0) = 0) then 'achieved'
        when {{ y0 }} is not null and {{ d }} * ({{ v }} - {{ y0 }}) < 0 then 'deterioration'
        else 'not_achieved'
    end)
{%- endmacro %}

{% macro target_gap(target_kind, value, target_value, direction, target_value_upper) -%}
    {%- set k = "(" ~ target_kind ~ ")" -%}
    {%- set v = "cast((" ~ value ~ ") as " ~ type_double() ~ ")" -%}
    {%- set lo = "cast((" ~ target_value ~ ") as " ~ type_double() ~ ")" -%}
    {%- set hi = "cast((" ~ target_value_upper ~ ") as " ~ type_double() ~ ")" -%}
    {%- set d = "(case when (" ~ direction ~ ") = 'increase' then 1.0 when (" ~ direction ~ ") = 'decrease' then -1.0 end)" -%}
    (case
        when {{ k }} in ('reach_by_year', 'hold_every_year') then {{ d }} * ({{ lo }} - {{ v }})
        when {{ k }} = 'range' then
            (case
                when {{ v }} < {{ lo }} then {{ lo }} - {{ v }}
                when {{ v }} > {{ hi }} then {{ v }} - {{ hi }}
                else -1.0 * least({{ v }} - {{ lo }}, {{ hi }} - {{ v }})
            end)
    end)
{%- endmacro %}

{% macro target_completion_rate(target_kind, value, target_value, direction) -%}
    {%- set lo = "cast((" ~ target_value ~ ") as " ~ type_double() ~ ")" -%}
    (case
        when ({{ target_kind }}) in ('reach_by_year', 'hold_every_year') and ({{ direction }}) = 'increase' and {{ lo }} > 0
        then cast(({{ value }}) as {{ type_double() }}) / {{ lo }}
    end)
{%- endmacro %}

{% macro target_progress_share(target_kind, baseline_value, value, target_value, direction) -%}
    {%- set y0 = "cast((" ~ baseline_value ~ ") as " ~ type_double() ~ ")" -%}
    {%- set lo = "cast((" ~ target_value ~ ") as " ~ type_double() ~ ")" -%}
    (case
        when ({{ target_kind }}) = 'reach_by_year' and ({{ direction }}) in ('increase', 'decrease') and {{ lo }} <> {{ y0 }}
        then (cast(({{ value }}) as {{ type_double() }}) - {{ y0 }}) / ({{ lo }} - {{ y0 }})
    end)
{%- endmacro %}

{% macro target_completion_basis(target_kind, target_value, direction) -%}
    {%- set lo = "cast((" ~ target_value ~ ") as " ~ type_double() ~ ")" -%}
    (case
        when ({{ target_kind }}) in ('reach_by_year', 'hold_every_year') and ({{ direction }}) = 'increase' and {{ lo }} > 0
        then 'completion_rate'
        when ({{ target_kind }}) = 'reach_by_year' and ({{ direction }}) = 'decrease' and {{ lo }} is not null
        then 'progress_share'
    end)
{%- endmacro %}

{% macro target_trend(baseline_value, baseline_year, latest_value, latest_year, direction) -%}
    {%- set x = progress__terms(baseline_value, baseline_year, latest_value, latest_year, 'null', 'null', direction) -%}
    {%- set bound = progress__bounds()['growth_needs_acceleration'] -%}
    {%- set eps = progress__bounds()['tolerance'] -%}
    (case
        when not {{ x.valid_direction }} or not {{ x.has_inputs }} then null
        when {{ x.y0 }} = 0 then
            (case when {{ x.yi }} = {{ x.y0 }} then 'stable'
                  when {{ x.d }} * ({{ x.yi }} - {{ x.y0 }}) > 0 then 'improving' else 'worsening' end)
        when {{ x.growth_or_pace }} >= {{ bound }} - {{ eps }} then 'improving'
        when {{ x.growth_or_pace }} <= -1.0 * {{ bound }} + {{ eps }} then 'worsening'
        else 'stable'
    end)
{%- endmacro %}

{#- The published SQL functions of the method, for analysts' SQL: their names, arguments (with the Spark type
    of each) and result types. progress_* are the reach_by_year method (kept for existing queries); target_*
    take the kind (see above). -#}
{% macro progress__published_functions() -%}
    {%- set a7 = [('baseline_value', 'double'), ('baseline_year', 'bigint'), ('latest_value', 'double'), ('latest_year', 'bigint'),
                  ('target_value', 'double'), ('target_year', 'bigint'), ('direction', 'string')] -%}
    {%- set a10 = [('target_kind', 'string')] + a7 + [('target_value_upper', 'double'), ('years_not_held', 'bigint')] -%}
    {%- set n7 = a7 | map(attribute=0) | list -%}
    {%- set n10 = a10 | map(attribute=0) | list -%}
    {{ return([
        ('progress_status', a7, 'string', progress_status(*n7)),
        ('progress_ratio', a7, 'double', progress_ratio(*n7)),
        ('progress_method', a7, 'string', progress_method(*n7)),
        ('progress_projection', a7, 'double', progress_projection(*n7)),
        ('target_status', a10, 'string', target_status(*n10)),
        ('target_ratio', a10, 'double', target_ratio(*n10)),
        ('target_method', a10, 'string', target_method(*n10)),
        ('target_projection', a10, 'double', target_projection(*n10)),
        ('target_verdict', [('target_kind', 'string'), ('baseline_value', 'double'), ('value', 'double'), ('target_value', 'double'),
                            ('direction', 'string'), ('target_value_upper', 'double'), ('years_not_held', 'bigint')], 'string',
         target_verdict('target_kind', 'baseline_value', 'value', 'target_value', 'direction', 'target_value_upper', 'years_not_held')),
        ('target_is_met', [('target_kind', 'string'), ('value', 'double'), ('target_value', 'double'), ('direction', 'string'),
                           ('target_value_upper', 'double')], 'boolean',
         target_is_met('target_kind', 'value', 'target_value', 'direction', 'target_value_upper')),
        ('target_gap', [('target_kind', 'string'), ('value', 'double'), ('target_value', 'double'), ('direction', 'string'),
                        ('target_value_upper', 'double')], 'double',
         target_gap('target_kind', 'value', 'target_value', 'direction', 'target_value_upper')),
        ('target_completion_rate', [('target_kind', 'string'), ('value', 'double'), ('target_value', 'double'), ('direction', 'string')], 'double',
         target_completion_rate('target_kind', 'value', 'target_value', 'direction')),
        ('target_progress_share', [('target_kind', 'string'), ('baseline_value', 'double'), ('value', 'double'), ('target_value', 'double'),
                                   ('direction', 'string')], 'double',
         target_progress_share('target_kind', 'baseline_value', 'value', 'target_value', 'direction')),
        ('target_completion_basis', [('target_kind', 'string'), ('target_value', 'double'), ('direction', 'string')], 'string',
         target_completion_basis('target_kind', 'target_value', 'direction')),
        ('target_trend', [('baseline_value', 'double'), ('baseline_year', 'bigint'), ('latest_value', 'double'), ('latest_year', 'bigint'),
                          ('direction', 'string')], 'string',
         target_trend('baseline_value', 'baseline_year', 'latest_value', 'latest_year', 'direction')),
    ]) }}
{%- endmacro %}

{#- The same method as DuckDB macros in `schema` (default marts), for analysts' SQL: every function of
    progress__published_functions (progress_status, ..., target_status, target_verdict, target_gap, ...).
    Run as a post-hook of kpi_scorecard; the publish step copies them into the analyst database.
    On Spark (issue 11) the same expressions become SQL functions `schema.<name>(...)` with typed
    arguments, created here through run_query since Spark runs one statement at a time; the hook itself is
    then empty. Other adapters get nothing. -#}
{% macro create_progress_macros(schema='marts') -%}
    {%- if target.type == 'duckdb' -%}
        create schema if not exists {{ schema }};
        {%- for name, args, returns, expression in progress__published_functions() %}
        create or replace macro {{ schema }}.{{ name }}({{ args | map(attribute=0) | join(', ') }}) as
            {{ expression }};
        {%- endfor %}
    {%- elif target.type == 'spark' and execute -%}
        {%- do run_query('create schema if not exists ' ~ schema) -%}
        {%- for name, args, returns, expression in progress__published_functions() -%}
            {%- set typed = [] -%}
            {%- for arg_name, arg_type in args -%}{%- do typed.append(arg_name ~ ' ' ~ arg_type) -%}{%- endfor -%}
            {%- do run_query('create or replace function ' ~ schema ~ '.' ~ name ~ '(' ~ typed | join(', ') ~ ') returns '
                             ~ returns ~ ' return ' ~ expression) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
