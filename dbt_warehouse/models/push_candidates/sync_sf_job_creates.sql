-- Candidates for POST /jobs: current PW work orders with no SF job stamped with their id (a job
-- claiming one through conflicting or foreign stamps is named in stamp_problem: held), in a
-- status that is not closed (dim_status). Whether each is actually pushed is decided in Python
-- (core.plan: open-status flag, unit rule, status mapping, dedup, safe mode), so a flag change
-- takes effect without rebuilding this model and every held-back work order gets a reason.
-- Records are the source payloads (PW/SF field names), which is what core.payloads reads:
--   work_order  the PW payload as served (unitID as PW has it: strict verification compares it)
--   unit        the unit after the routing correction (int_pw_work_orders.unit_id), or NULL
--   customer    {id, customer_name}: the unit's mapped SF customer, else the building's
--               (map_unit / map_customer; a building falls back to its portfolio's customer)
--   portfolio_id  the building's portfolio: while customer is NULL, the planner falls back to
--               the customer our own create of that portfolio got (ledger, same sync)
--   sf_jobs     that customer's unstamped-or-other SF jobs created within 7 days of the work
--               order, for the fuzzy duplicate check (stamped jobs are excluded upstream)

with work_orders as (
    select * from {{ ref('int_pw_work_orders') }}
),

raw_work_orders as (
    {{ latest_versions(source('raw_pw', 'pw_work_orders')) }}
),

raw_units as (
    {{ latest_versions(source('raw_pw', 'pw_units')) }}
),

raw_buildings as (
    {{ latest_versions(source('raw_pw', 'pw_buildings')) }}
),

pw_statuses as (
    select status_key, category from {{ ref('dim_status') }} where system = 'pw'
),

-- a work order with a job stamped for it is not a candidate; one claimed only through stamps
-- that are not trusted (conflicting or foreign) is, with the reason, and the push holds it
with_job as (
    select
        work_order_id,
        bool_or(stamp_problem is null) as has_trusted_job,
        string_agg('SF job ' || job_id || ': ' || stamp_problem, '; ' order by job_id) as stamp_problem
    from {{ ref('map_work_order_job') }}
    group by work_order_id
),

building_customers as (
    select pw_entity_id as building_id, sf_customer_id
    from {{ ref('map_customer') }}
    where pw_entity_type = 'building'
),

customers as (
    select customer_id, customer_name from {{ ref('stg_sf_customers') }}
),

sf_jobs as (
    select
        job_id,
        customer_id,
        created_at,
        jsonb_strip_nulls(jsonb_build_object(
            'id', job_id,
            'customer_id', customer_id,
            'po_number', po_number,
            'check_number', check_number,
            'custom_fields', case when custom_field_work_order_id is not null then jsonb_build_array(
                jsonb_build_object('name', 'PW Work Order ID', 'value', custom_field_work_order_id::text)) end,
            'description', description,
            'street_1', street_1,
            'street_2', street_2,
            'city', city,
            'postal_code', postal_code,
            'created_at', created_at
        )) as job
    from {{ ref('stg_sf_jobs') }}
),

candidates as (
    select
        work_orders.work_order_id,
        work_orders.created_at,
        raw_work_orders.payload as work_order,
        raw_units.payload as unit,
        raw_buildings.payload as building,
        customers.customer_id,
        case when customers.customer_id is not null then
            jsonb_build_object('id', customers.customer_id, 'customer_name', customers.customer_name)
        end as customer,
        buildings.portfolio_id,
        not work_orders.is_unit_routing_violation as routing_ok,
        with_job.stamp_problem,
        work_orders.unit_routing_reason as routing_reason,
        work_orders.category as pw_category
    from work_orders
    inner join raw_work_orders on raw_work_orders.source_id = work_orders.work_order_id
    left join raw_units on raw_units.source_id = work_orders.unit_id
    left join raw_buildings on raw_buildings.source_id = work_orders.building_id
    left join {{ ref('stg_pw_buildings') }} as buildings on buildings.building_id = work_orders.building_id
    left join {{ ref('map_unit') }} as map_unit on map_unit.unit_id = work_orders.unit_id
    left join building_customers on building_customers.building_id = work_orders.building_id
    left join customers
        on customers.customer_id = coalesce(map_unit.sf_customer_id, building_customers.sf_customer_id)
    left join pw_statuses on pw_statuses.status_key = work_orders.status_key
    left join with_job on with_job.work_order_id = work_orders.work_order_id
    where not coalesce(with_job.has_trusted_job, false)
        and coalesce(pw_statuses.category, 'open') <> 'closed'
),

-- One hash join of candidates to their customers' jobs, not a subquery per candidate: a
-- correlated subquery re-read the whole SF jobs view for every row (6 minutes on medium).
nearby_jobs as (
    select
        candidates.work_order_id,
        jsonb_agg(sf_jobs.job order by sf_jobs.job_id) as sf_jobs
    from candidates
    inner join sf_jobs
        on sf_jobs.customer_id = candidates.customer_id
        and sf_jobs.created_at between candidates.created_at - interval '7 days'
            and candidates.created_at + interval '7 days'
    group by candidates.work_order_id
)

select
    candidates.work_order_id,
    candidates.work_order,
    candidates.unit,
    candidates.building,
    candidates.customer,
    candidates.portfolio_id,
    candidates.routing_ok,
    candidates.routing_reason,
    candidates.pw_category,
    candidates.stamp_problem,
    coalesce(nearby_jobs.sf_jobs, '[]'::jsonb) as sf_jobs
from candidates
left join nearby_jobs on nearby_jobs.work_order_id = candidates.work_order_id
