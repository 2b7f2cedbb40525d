-- Duplicate-detection decisions (ops.duplicate_detection_log), one row per decision.
select
    id as decision_id,
    checked_at,
    run_id,
    target,
    source_id,
    candidate_id,
    criterion,
    score,
    decision,
    reason
from {{ source('ops', 'duplicate_detection_log') }}
