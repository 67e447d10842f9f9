{#- One row per year and community or village active on the year's snapshot date (period_end_date):
    established on or before it and not abolished on or before it. A village converted on 31 December is
    no longer active that year and its community is (both dates are the conversion date). -#}
with periods as (
    select * from {{ ref('int_periods') }}
),

units as (
    select * from {{ ref('stg_community__units') }}
)

select
    periods.period_year,
    units.unit_code,
    units.unit_type_zh,
    units.is_community,
    units.geo_code,
    units.established_date,
    units.former_village_code
from units
inner join periods
    on {{ is_active_on('units.established_date', 'units.abolished_date', 'periods.period_end_date') }}
