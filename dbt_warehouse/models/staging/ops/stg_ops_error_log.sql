-- Logged errors and warnings (ops.error_log); payload is text because it is kept as received.
select
    id as error_id,
    occurred_at,
    run_id,
    source,
    entity,
    source_key,
    severity,
    reason,
    payload
from {{ source('ops', 'error_log') }}
