{#- Which units a record registered under a unit code stands for: every unit stands for itself, and a
    village converted into a community (撤村建居) also for that community. A station or facility registered
    under a village code thus serves the community the village became, without re-registration. -#}
with units as (
    select * from {{ ref('stg_community__units') }}
)

select
    unit_code as registered_unit_code,
    unit_code as served_unit_code
from units

union all

select
    former_village_code as registered_unit_code,
    unit_code as served_unit_code
from units
where former_village_code is not null
