-- Work orders, current state, with the unit routing rule applied: the live keys of
-- int_pw_work_orders_routed.
select
    work_order_id, work_order_number, portfolio_id, building_id, unit_id, source_unit_id,
    is_unit_routing_violation, unit_routing_reason, is_multi_unit_building, status, status_key,
    priority, work_order_type, category, request_source, description, lease_name, requested_by,
    cost_estimate, start_date, scheduled_end_date, completed_date, created_at, modified_at,
    source_modified_at, _version_id, _loaded_at, _run_id
from {{ ref('int_pw_work_orders_routed') }}
where not _is_deleted
