-- Candidates for PW updateWorkOrder / closeWorkOrder / attachNoteToWorkOrder: SF jobs stamped
-- with a PW work order that PW has not closed. core.payloads.build_pw_update decides what (if
-- anything) the work order needs from the job's status and its category (from /job-statuses);
-- the ledger key holds the payload hash, so each distinct SF state is written to PW once.
--   sf_job      the SF job payload (status, notes, closing times)
--   work_order  the PW work order payload (current status and category)
{{ config(schema='sync', materialized='view') }}

with links as (
    select distinct on (work_order_id) work_order_id, job_id
    from {{ ref('map_work_order_job') }}
    where is_known_work_order
    order by work_order_id, job_id
),

raw_jobs as (
    {{ latest_versions(source('raw_sf', 'sf_jobs')) }}
),

raw_work_orders as (
    {{ latest_versions(source('raw_pw', 'pw_work_orders')) }}
),

work_orders as (
    select work_order_id, status_key from {{ ref('stg_pw_work_orders') }}
),

pw_statuses as (
    select status_key, category from {{ ref('dim_status') }} where system = 'pw'
),

job_statuses as (
    select distinct on (status_key) status_key, status_category
    from {{ ref('stg_sf_job_statuses') }}
    order by status_key, job_status_id
)

select
    links.work_order_id,
    links.job_id,
    raw_jobs.payload as sf_job,
    raw_work_orders.payload as work_order,
    job_statuses.status_category
from links
inner join raw_jobs on raw_jobs.source_id = links.job_id
inner join raw_work_orders on raw_work_orders.source_id = links.work_order_id
inner join work_orders on work_orders.work_order_id = links.work_order_id
left join pw_statuses on pw_statuses.status_key = work_orders.status_key
left join job_statuses on job_statuses.status_key = {{ normalize_text("(raw_jobs.payload->>'status')") }}
where coalesce(pw_statuses.category, 'open') <> 'closed'
