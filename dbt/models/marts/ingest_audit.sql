-- One row per landing file as the latest ingestion of its source saw it.
with loads as (
    select * from {{ ref('stg_ingest__file_loads') }}
),

latest_run as (
    select source_id, max(loaded_at) as loaded_at
    from loads
    group by source_id
),

first_load as (
    select source_id, sha256, min(loaded_at) as first_loaded_at
    from loads
    where status <> 'skipped_duplicate_file'
    group by source_id, sha256
)

select
    loads.source_id,
    loads.file_name,
    loads.sha256,
    loads.status,
    loads.rows_read,
    loads.rows_loaded,
    loads.rows_quarantined,
    loads.rows_superseded,
    loads.quarantine_reasons,
    loads.sheets,
    loads.delivery_scope,
    loads.superseded_by,
    loads.duplicate_of,
    loads.file_modified_at,
    loads.loaded_at,
    first_load.first_loaded_at,
    loads.run_id,
    loads.rows_loaded_with_field_faults,
    loads.field_fault_reasons,
    loads.rejected_reason_zh,
    loads.rejected_reason_en,
    loads.delivery_cutoff_date,
    loads.delivery_cutoff_source,
    loads.read_mode
from loads
inner join latest_run
    on loads.source_id = latest_run.source_id
    and loads.loaded_at = latest_run.loaded_at
left join first_load
    on loads.source_id = first_load.source_id
    and loads.sha256 = first_load.sha256
