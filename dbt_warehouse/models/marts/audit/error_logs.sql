-- Every logged error/warning, newest first in use, with the run's kind when known.
select
    errors.error_id,
    errors.occurred_at,
    errors.run_id,
    runs.kind as run_kind,
    errors.source,
    errors.entity,
    errors.source_key,
    errors.severity,
    errors.reason,
    errors.payload
from {{ ref('stg_ops_error_log') }} as errors
left join {{ ref('stg_ops_sync_runs') }} as runs on runs.run_id = errors.run_id
