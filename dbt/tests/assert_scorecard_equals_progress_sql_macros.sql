{#- The SQL macros analysts call (marts.progress_status, marts.progress_ratio, created by the post-hook
    of kpi_scorecard) give, for every scorecard row, the scorecard's own status and ratio. DuckDB macros,
    or SQL functions of the same names on Spark (issue 11); other adapters have neither. -#}
{% if target.type in ('duckdb', 'spark') %}
select kpi_id, geo_code, as_of_date, status, progress_ratio
from {{ ref('kpi_scorecard') }}
where status is distinct from marts.progress_status(
        baseline_value, baseline_year, latest_value, latest_year, target_value, target_year, direction)
   or progress_ratio is distinct from marts.progress_ratio(
        baseline_value, baseline_year, latest_value, latest_year, target_value, target_year, direction)
   or method is distinct from marts.progress_method(
        baseline_value, baseline_year, latest_value, latest_year, target_value, target_year, direction)
   or projected_value is distinct from marts.progress_projection(
        baseline_value, baseline_year, latest_value, latest_year, target_value, target_year, direction)
{% else %}
select 1 as nothing where 1 = 0
{% endif %}
