-- SF jobs, current state, keyed to the conformed status dimension and (through the cross-system
-- stamp) to the PW work order they were created for.
with jobs as (
    select * from {{ ref('stg_sf_jobs') }}
),

-- the keyed table under int_pw_work_orders (its live rows are the same work orders): an index
-- lookup per job instead of evaluating the routing rule for every work order
work_orders as (
    select work_order_id from {{ ref('stg_pw_work_orders_latest') }} where not _is_deleted
)

select
    {{ surrogate_key(["'sf-job'", 'jobs.job_id']) }} as job_sk,
    jobs.job_id,
    jobs.job_number,
    jobs.customer_id,
    {{ surrogate_key(["'sf'", 'jobs.status_key']) }} as status_sk,
    case when work_orders.work_order_id is not null
        then {{ surrogate_key(["'pw-work-order'", 'jobs.pw_work_order_id']) }} end as work_order_sk,
    jobs.pw_work_order_id,
    work_orders.work_order_id is not null as is_linked_to_work_order,
    jobs.status,
    jobs.status_key,
    jobs.sub_status,
    jobs.category,
    jobs.priority,
    jobs.po_number,
    jobs.check_number,
    jobs.description,
    jobs.street_1,
    jobs.city,
    jobs.postal_code,
    jobs.total,
    jobs.start_date,
    jobs.end_date,
    to_char(jobs.created_at at time zone 'UTC', 'YYYYMMDD')::int as created_date_key,
    jobs.created_at,
    jobs.closed_at,
    jobs.modified_at
from jobs
left join work_orders on work_orders.work_order_id = jobs.pw_work_order_id
