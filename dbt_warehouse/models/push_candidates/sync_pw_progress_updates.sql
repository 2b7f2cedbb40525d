-- Candidates for PW updateWorkOrder / closeWorkOrder / attachNoteToWorkOrder: SF jobs stamped
-- with a PW work order that PW has not closed. core.payloads.build_pw_update decides what (if
-- anything) the work order needs from the job's status and its category (from /job-statuses);
-- the ledger key holds the SF job's version, so each SF state is written to PW once (decision 0012).
-- A work order more than one job claims, or claimed through a stamp that is not trusted, is
-- listed with link_problem: the push holds its PW writes for a person instead of picking a job.
--   sf_job        the SF job payload (status, notes, closing times); the lowest job id when held
--   sf_version    the raw version of that job payload (part of the PW status write's key)
--   work_order    the PW work order payload (current status and category)
--   link_problem  why no job is followed, or NULL

with links as (
    select
        work_order_id,
        min(job_id) as job_id,
        case
            when count(*) > 1 then 'SF jobs ' || string_agg(job_id::text, ', ' order by job_id)
                || ' all claim work order ' || work_order_id || ': '
                || coalesce(string_agg(stamp_problem, '; ' order by job_id), 'each is stamped with it')
                || '; keep one and remove the stamp from the others'
            when bool_or(stamp_problem is not null) then 'SF job ' || min(job_id) || ': ' || min(stamp_problem)
        end as link_problem
    from {{ ref('map_work_order_job') }}
    where is_known_work_order
    group by work_order_id
),

raw_jobs as (
    {{ latest_versions(source('raw_sf', 'sf_jobs')) }}
),

raw_work_orders as (
    {{ latest_versions(source('raw_pw', 'pw_work_orders')) }}
),

work_orders as (
    select work_order_id, status_key from {{ ref('int_pw_work_orders') }}
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
    raw_jobs._version_id as sf_version,
    raw_work_orders.payload as work_order,
    job_statuses.status_category,
    links.link_problem
from links
inner join raw_jobs on raw_jobs.source_id = links.job_id
inner join raw_work_orders on raw_work_orders.source_id = links.work_order_id
inner join work_orders on work_orders.work_order_id = links.work_order_id
left join pw_statuses on pw_statuses.status_key = work_orders.status_key
left join job_statuses on job_statuses.status_key = {{ normalize_text("(raw_jobs.payload->>'status')") }}
where coalesce(pw_statuses.category, 'open') <> 'closed'
