{{ config(meta={'dagster': {'ref': {'name': 'kpi_quality_rules'}}}) }}
-- Every KPI of the catalog has its quality rules (seeds/kpi_quality_rules.csv): the mart checks of
-- completeness and year-over-year change read them. Returns the catalog KPIs without a row.
select catalog.kpi_id
from {{ ref('kpi_catalog') }} as catalog
left join {{ ref('kpi_quality_rules') }} as rules on catalog.kpi_id = rules.kpi_id
where rules.kpi_id is null
