{#- The SQL macros analysts call (marts.target_status, marts.target_verdict, ... and marts.progress_status,
    ... created by the post-hook of kpi_scorecard) give, for every scorecard row, the scorecard's own status,
    ratio, method, projection, verdict, gap, completion and trend. DuckDB macros, or SQL functions of the same
    names on Spark (issue 11); other adapters have neither. Returns the rows that differ. -#}
{% if target.type in ('duckdb', 'spark') %}
{%- set kind_args = 'target_kind, assessed_baseline_value, baseline_year, assessed_value, latest_year, target_value, '
                    ~ 'target_year, direction, target_value_upper, years_not_held' -%}
{%- set args = 'assessed_baseline_value, baseline_year, assessed_value, latest_year, target_value, target_year, direction' -%}
select plan_id, kpi_id, geo_code, as_of_date, status, progress_ratio, verdict
from {{ ref('kpi_scorecard') }}
where status is distinct from marts.target_status({{ kind_args }})
   or progress_ratio is distinct from marts.target_ratio({{ kind_args }})
   or method is distinct from marts.target_method({{ kind_args }})
   or projected_value is distinct from marts.target_projection({{ kind_args }})
   or gap_to_target is distinct from marts.target_gap(target_kind, assessed_value, target_value, direction, target_value_upper)
   or completion_rate is distinct from marts.target_completion_rate(target_kind, assessed_value, target_value, direction)
   or progress_share is distinct from marts.target_progress_share(target_kind, assessed_baseline_value, assessed_value, target_value, direction)
   or completion_basis is distinct from marts.target_completion_basis(target_kind, target_value, direction)
   or trend is distinct from marts.target_trend(assessed_baseline_value, baseline_year, assessed_value, latest_year, direction)
   or verdict is distinct from (case when verdict_year is not null then marts.target_verdict(
        target_kind, assessed_baseline_value, verdict_value, verdict_target_value, direction, target_value_upper,
        years_not_held) end)
   -- the reach-by-year method of the original macros (kept for analysts' existing queries)
   or (target_kind in ('reach_by_year', 'direction_only') and (
        status is distinct from marts.progress_status({{ args }})
        or progress_ratio is distinct from marts.progress_ratio({{ args }})
        or method is distinct from marts.progress_method({{ args }})
        or projected_value is distinct from marts.progress_projection({{ args }})))
{% else %}
select 1 as nothing where 1 = 0
{% endif %}
