-- Sync runs as ops.sync_runs records them, one row per run.
select
    run_id,
    kind,
    status,
    started_at,
    finished_at,
    flags,
    (flags->>'dry_run')::boolean as was_dry_run,
    stats
from {{ source('ops', 'sync_runs') }}
