-- One row per sync run with its flags, duration and what it did to the ledger and error log:
-- the operator's "what happened when" view (views over the ops staging, always current).
with runs as (
    select * from {{ ref('stg_ops_sync_runs') }}
),

ledger as (
    select
        run_id,
        count(*) as ledger_entries,
        count(*) filter (where state = 'planned') as planned,
        count(*) filter (where state = 'done') as done,
        count(*) filter (where state = 'failed') as failed,
        count(*) filter (where state = 'dead') as dead,
        count(*) filter (where state = 'attention') as attention
    from {{ ref('stg_ops_sync_ledger') }}
    group by run_id
),

errors as (
    select
        run_id,
        count(*) filter (where severity = 'error') as errors,
        count(*) filter (where severity = 'warning') as warnings
    from {{ ref('stg_ops_error_log') }}
    group by run_id
)

select
    runs.run_id,
    runs.kind,
    runs.status,
    runs.started_at,
    runs.finished_at,
    extract(epoch from runs.finished_at - runs.started_at) as duration_seconds,
    runs.flags,
    runs.was_dry_run,
    runs.stats,
    coalesce(ledger.ledger_entries, 0) as ledger_entries,
    coalesce(ledger.planned, 0) as ledger_planned,
    coalesce(ledger.done, 0) as ledger_done,
    coalesce(ledger.failed, 0) as ledger_failed,
    coalesce(ledger.dead, 0) as ledger_dead,
    coalesce(ledger.attention, 0) as ledger_attention,
    coalesce(errors.errors, 0) as errors,
    coalesce(errors.warnings, 0) as warnings
from runs
left join ledger on ledger.run_id = runs.run_id
left join errors on errors.run_id = runs.run_id
