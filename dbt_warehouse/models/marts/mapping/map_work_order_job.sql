-- PW work order <-> SF job through our cross-system stamp (core.idempotency, decision 0012:
-- po_number "PW-<id>" and/or the "PW Work Order ID" custom field; a bare number never). One row
-- per work order a job's stamps claim: a job whose stamps disagree claims two.
--   stamp_problem   why this claim cannot be trusted, NULL when it can: the job's stamps name
--                   different work orders (conflicting), or its check_number - where we write
--                   the WO number users see - is another number than this work order's
--                   (foreign: stamped for someone else's work order)
--   is_link         the one job the sync treats as the work order's: a known work order, a
--                   claim without problem, and no other job claiming it
-- The invariant "at most one SF job per PW work order" is tested here (warn): a second job is
-- held for a person in the push (sync_pw_progress_updates), never a failed build.
with jobs as (
    select * from {{ ref('stg_sf_jobs') }} where cardinality(claimed_work_order_ids) > 0
),

claims as (
    select jobs.*, claimed.work_order_id
    from jobs
    cross join lateral unnest(jobs.claimed_work_order_ids) as claimed (work_order_id)
),

-- the live work orders' ids and numbers, which the routing rule (int_pw_work_orders) does not
-- change: read from the indexed table under that view, so the few stamped jobs are looked up by
-- key instead of routing every work order to find them
work_orders as (
    select work_order_id, work_order_number from {{ ref('stg_pw_work_orders_latest') }} where not _is_deleted
),

checked as (
    select
        claims.*,
        work_orders.work_order_id is not null as is_known_work_order,
        work_orders.work_order_number,
        case
            when claims.stamp_problem is not null then 'conflicting stamps: ' || claims.stamp_problem
            when claims.check_number is not null and work_orders.work_order_number is not null
                and claims.check_number <> work_orders.work_order_number::text then
                'foreign stamp: check_number ' || claims.check_number || ' is not work order '
                || claims.work_order_id || '''s number ' || work_orders.work_order_number
        end as claim_problem
    from claims
    left join work_orders on work_orders.work_order_id = claims.work_order_id
)

select
    {{ surrogate_key(['work_order_id', 'job_id']) }} as map_work_order_job_key,
    work_order_id,
    {{ surrogate_key(["'pw-work-order'", 'work_order_id']) }} as work_order_sk,
    job_id,
    {{ surrogate_key(["'sf-job'", 'job_id']) }} as job_sk,
    job_number,
    customer_id as sf_customer_id,
    status as job_status,
    case
        when po_number_work_order_id = work_order_id then 'po_number'
        else 'custom_field'
    end as stamp_source,
    po_number,
    check_number,
    is_known_work_order,
    check_number is null or work_order_number is null
        or check_number = work_order_number::text as check_number_agrees,
    claim_problem as stamp_problem,
    count(*) over (partition by work_order_id) as jobs_for_work_order,
    is_known_work_order and claim_problem is null and count(*) over (partition by work_order_id) = 1 as is_link,
    created_at as job_created_at
from checked
