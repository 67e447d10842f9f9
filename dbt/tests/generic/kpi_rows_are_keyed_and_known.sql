{% test kpi_rows_are_keyed_and_known(model) %}
{#- The KPI rows of an intermediate model (one row per KPI, year and geography: kpi_id, period_year,
    geo_code, numerator, denominator) are keyed and refer to known things: no key column null, no
    key twice, kpi_id in kpi_catalog, geo_code a geography (a town/street or the district). One test
    (one query) per model instead of five keeps `dbt build` fast. Returns one row per problem.
    Issue 6, staging and intermediate level of the quality gate. -#}
with kpi_rows as (
    select kpi_id, period_year, geo_code from {{ model }}
),

catalog as (
    select kpi_id from {{ ref('kpi_catalog') }}
),

geos as (
    select geo_code from {{ ref('geographies') }}
),

problems as (
    select kpi_id, period_year, geo_code, 'a key column (kpi_id, period_year, geo_code) is null' as problem
    from kpi_rows
    where kpi_id is null or period_year is null or geo_code is null

    union all

    select kpi_id, period_year, geo_code, 'the same kpi_id, period_year and geo_code twice' as problem
    from kpi_rows
    where kpi_id is not null and period_year is not null and geo_code is not null
    group by kpi_id, period_year, geo_code
    having count(*) > 1

    union all

    select kpi_rows.kpi_id, kpi_rows.period_year, kpi_rows.geo_code, 'kpi_id not in kpi_catalog' as problem
    from kpi_rows
    left join catalog on kpi_rows.kpi_id = catalog.kpi_id
    where kpi_rows.kpi_id is not null and catalog.kpi_id is null

    union all

    select kpi_rows.kpi_id, kpi_rows.period_year, kpi_rows.geo_code, 'geo_code not in geographies' as problem
    from kpi_rows
    left join geos on kpi_rows.geo_code = geos.geo_code
    where kpi_rows.geo_code is not null and geos.geo_code is null
)

select * from problems
{% endtest %}
