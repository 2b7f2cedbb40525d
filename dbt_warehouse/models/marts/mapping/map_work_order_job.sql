-- PW work order <-> SF job through the cross-system stamp (core.idempotency: po_number
-- "PW-<id>", a bare id for older jobs, or the "PW Work Order ID" custom field). One row per
-- stamped job. The invariant "at most one SF job per PW work order" is tested on this model.
with jobs as (
    select * from {{ ref('stg_sf_jobs') }} where pw_work_order_id is not null
),

-- the live work orders' ids and numbers, which the routing rule (stg_pw_work_orders) does not
-- change: read from the indexed table under that view, so the few stamped jobs are looked up by
-- key instead of routing every work order to find them
work_orders as (
    select work_order_id, work_order_number from {{ ref('stg_pw_work_orders_latest') }} where not _is_deleted
)

select
    {{ surrogate_key(['jobs.pw_work_order_id', 'jobs.job_id']) }} as map_work_order_job_key,
    jobs.pw_work_order_id as work_order_id,
    {{ surrogate_key(["'pw-work-order'", 'jobs.pw_work_order_id']) }} as work_order_sk,
    jobs.job_id,
    {{ surrogate_key(["'sf-job'", 'jobs.job_id']) }} as job_sk,
    jobs.job_number,
    jobs.customer_id as sf_customer_id,
    jobs.status as job_status,
    case
        when jobs.po_number_work_order_id is not null then 'po_number'
        else 'custom_field'
    end as stamp_source,
    jobs.po_number,
    jobs.check_number,
    work_orders.work_order_id is not null as is_known_work_order,
    -- check_number carries the WO number users see; a disagreement is worth a look, not a block
    jobs.check_number is null
        or jobs.check_number = work_orders.work_order_number::text as check_number_agrees,
    count(*) over (partition by jobs.pw_work_order_id) as jobs_for_work_order,
    jobs.created_at as job_created_at
from jobs
left join work_orders on work_orders.work_order_id = jobs.pw_work_order_id
