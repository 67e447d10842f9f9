{#- One row per KPI, geography and as-of date: the progress status of the target (kpi_scorecard.yml).
    The method is macros/progress.sql; the post-hook creates the same expressions as DuckDB macros
    (marts.progress_status, ...) which the publish step copies into the analyst database. -#}
{{ config(post_hook=["{{ create_progress_macros('marts') }}"]) }}

{%- set args = [
    'inputs.baseline_value', 'inputs.baseline_year', 'inputs.latest_value', 'inputs.latest_year',
    'inputs.target_value', 'inputs.target_year', 'inputs.direction',
] %}

with inputs as (
    select * from {{ ref('int_kpi_progress_inputs') }}
)

select
    inputs.plan_id,
    inputs.kpi_id,
    inputs.geo_level,
    inputs.geo_code,
    inputs.geo_name_zh,
    inputs.as_of_date,
    inputs.review,
    inputs.is_data_cutoff,
    inputs.unit,
    inputs.direction,
    inputs.baseline_year,
    inputs.baseline_value,
    inputs.latest_year,
    inputs.latest_value,
    inputs.is_latest_partial_year,
    inputs.latest_period_end_date,
    inputs.target_year,
    inputs.target_value,
    inputs.target_source,
    inputs.latest_year - inputs.baseline_year as years_elapsed,
    inputs.target_year - inputs.baseline_year as years_planned,
    {{ progress_ratio(*args) }} as progress_ratio,
    {{ progress_method(*args) }} as method,
    {{ progress_status(*args) }} as status,
    {{ progress_projection(*args) }} as projected_value
from inputs
