{#- One row per plan, KPI, geography and as-of date: the progress status of the plan's target on the KPI
    (kpi_scorecard.yml). The method is macros/progress.sql, applied by target kind; the post-hook creates
    the same expressions as DuckDB macros (marts.target_status, marts.progress_status, ...) which the publish
    step copies into the analyst database. -#}
{{ config(post_hook=["{{ create_progress_macros('marts') }}"]) }}

{%- set args = [
    'inputs.target_kind', 'inputs.assessed_baseline_value', 'inputs.baseline_year', 'inputs.assessed_value',
    'inputs.latest_year', 'inputs.target_value', 'inputs.target_year', 'inputs.direction',
    'inputs.target_value_upper', 'inputs.years_not_held',
] %}

with inputs as (
    select * from {{ ref('int_kpi_progress_inputs') }}
),

assessed as (
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
        {{ target_ratio(*args) }} as progress_ratio,
        {{ target_method(*args) }} as method,
        {{ target_status(*args) }} as status,
        {{ target_projection(*args) }} as projected_value,
        inputs.target_kind,
        inputs.target_value_upper,
        inputs.count_basis,
        inputs.assessed_baseline_value,
        inputs.assessed_value,
        inputs.is_milestone_target,
        case when inputs.verdict_year is not null then
            {{ target_verdict('inputs.target_kind', 'inputs.assessed_baseline_value', 'inputs.verdict_value',
                              'inputs.verdict_target_value', 'inputs.direction', 'inputs.target_value_upper',
                              'inputs.years_not_held') }}
        end as verdict,
        -- a geography without a target of its own (a town/street for a district count) has no verdict
        case when inputs.target_source <> 'none' or inputs.target_kind = 'direction_only'
             then inputs.verdict_year end as verdict_year,
        case when inputs.target_source <> 'none' or inputs.target_kind = 'direction_only'
             then inputs.verdict_target_value end as verdict_target_value,
        case when inputs.target_source <> 'none' or inputs.target_kind = 'direction_only'
             then inputs.verdict_value end as verdict_value,
        {{ target_gap('inputs.target_kind', 'inputs.assessed_value', 'inputs.target_value', 'inputs.direction',
                      'inputs.target_value_upper') }} as gap_to_target,
        {{ target_completion_rate('inputs.target_kind', 'inputs.assessed_value', 'inputs.target_value',
                                  'inputs.direction') }} as completion_rate,
        {{ target_progress_share('inputs.target_kind', 'inputs.assessed_baseline_value', 'inputs.assessed_value',
                                 'inputs.target_value', 'inputs.direction') }} as progress_share,
        {{ target_completion_basis('inputs.target_kind', 'inputs.target_value', 'inputs.direction') }} as completion_basis,
        case when inputs.latest_year > inputs.final_target_year then
            {{ target_is_met('inputs.target_kind', 'inputs.assessed_value', 'inputs.final_target_value',
                             'inputs.direction', 'inputs.target_value_upper') }}
        end as is_target_held,
        inputs.years_not_held,
        inputs.contribution_share,
        {{ target_trend('inputs.assessed_baseline_value', 'inputs.baseline_year', 'inputs.assessed_value',
                        'inputs.latest_year', 'inputs.direction') }} as trend
    from inputs
)

select * from assessed
