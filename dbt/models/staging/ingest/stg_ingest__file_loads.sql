with source as (
    select * from {{ source('ingest', 'ingest_audit') }}
),

renamed as (
    select
        run_id,
        source_id,
        file_name,
        sha256,
        status,
        cast(rows_read as bigint) as rows_read,
        cast(rows_loaded as bigint) as rows_loaded,
        cast(rows_quarantined as bigint) as rows_quarantined,
        cast(coalesce(rows_superseded, 0) as bigint) as rows_superseded,
        reasons as quarantine_reasons,
        sheets,
        delivery_scope,
        superseded_by,
        duplicate_of,
        file_modified_at,
        loaded_at,
        -- issue 15: field faults, files set aside, the date a delivery covers to
        cast(coalesce(rows_loaded_with_field_faults, 0) as bigint) as rows_loaded_with_field_faults,
        coalesce(field_fault_reasons, '{}') as field_fault_reasons,
        rejected_reason_zh,
        rejected_reason_en,
        cast(delivery_cutoff_date as date) as delivery_cutoff_date,
        delivery_cutoff_source,
        -- issue 20.2: read now, taken as staged at an earlier night, or not needed (audit rows before it: null)
        read_mode
    from source
)

select * from renamed
