-- The outbox (ops.sync_ledger), one row per intended write.
select
    id as ledger_entry_id,
    idempotency_key,
    target,
    operation,
    source_id,
    payload,
    payload_hash,
    state,
    attempts,
    next_attempt_at,
    last_error,
    error_class,
    target_id,
    run_id,
    created_at,
    updated_at
from {{ source('ops', 'sync_ledger') }}
