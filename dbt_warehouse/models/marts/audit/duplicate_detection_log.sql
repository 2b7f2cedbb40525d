-- Every dedup decision taken before a create (criterion, score, reason), joined to the work
-- order it was about when the target is SF (source_id is the PW work order id).
select
    decisions.decision_id,
    decisions.checked_at,
    decisions.run_id,
    decisions.target,
    decisions.source_id,
    decisions.candidate_id,
    decisions.criterion,
    decisions.score,
    decisions.decision,
    decisions.decision = 'duplicate' as is_duplicate,
    decisions.reason
from {{ ref('stg_ops_duplicate_detection_log') }} as decisions
