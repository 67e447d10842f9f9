-- Row accounting of the published ingest audit: every record read from a landing file is loaded,
-- quarantined or superseded by a later delivery, per file. Returns the files where this fails.
select source_id, file_name, rows_read, rows_loaded, rows_quarantined, rows_superseded
from {{ ref('ingest_audit') }}
where rows_read <> rows_loaded + rows_quarantined + rows_superseded
   or rows_loaded < 0 or rows_quarantined < 0 or rows_superseded < 0
