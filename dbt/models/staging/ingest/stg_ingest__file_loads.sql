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
        loaded_at
    from source
)

select * from renamed
