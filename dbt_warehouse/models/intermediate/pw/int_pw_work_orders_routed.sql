-- The unit routing rule (core/routing.py) over the latest version of every work order, deleted
-- ones included (_is_deleted), with the routed unit, the flag and the reason. The current state
-- (int_pw_work_orders) and what the SCD2 snapshot has not recorded yet
-- (int_pw_work_order_changes) both read it, so history and the present route alike.
--   multi-unit building: unitID must be a unit of that building; no unit, the building id in the
--     unit column, or another building's unit -> unit_id NULL, row flagged, held back;
--   single-family building: no unit or the building id route to the building (or its one unit).
-- source_unit_id keeps what PW sent, so the correction is auditable. A view: a building or unit
-- change re-routes its work orders at once.
with work_orders as (
    select * from {{ ref('stg_pw_work_orders_latest') }}
),

buildings as (
    select building_id, multi_unit_declared, unit_count_declared from {{ ref('stg_pw_buildings') }}
),

units as (
    select unit_id, building_id from {{ ref('int_pw_units') }}
),

units_per_building as (
    select building_id, count(*) as units_on_record, min(unit_id) as only_unit_id
    from units
    group by building_id
),

-- The routing facts of each building, computed once per building rather than once per work
-- order (is_multi_unit normalizes text with regular expressions). A full join: units may name a
-- building that is not on record, and then their count alone decides, as in core.routing.
building_context as (
    select
        coalesce(buildings.building_id, units_per_building.building_id) as building_id,
        buildings.building_id is not null as building_found,
        {{ is_multi_unit('buildings.multi_unit_declared', 'buildings.unit_count_declared',
                         'coalesce(units_per_building.units_on_record, 0)') }} as is_multi_unit_building,
        case when units_per_building.units_on_record = 1 then units_per_building.only_unit_id end
            as only_unit_id
    from buildings
    full join units_per_building on units_per_building.building_id = buildings.building_id
),

context as (
    select
        work_orders.*,
        coalesce(building_context.building_found, false) as building_found,
        coalesce(building_context.is_multi_unit_building, false) as is_multi_unit_building,
        building_context.only_unit_id,
        source_unit.unit_id is not null as unit_belongs_to_building
    from work_orders
    left join building_context on building_context.building_id = work_orders.building_id
    -- a join, not a correlated EXISTS: that re-scanned every unit for each of the work orders
    left join units as source_unit
        on source_unit.unit_id = work_orders.source_unit_id and source_unit.building_id = work_orders.building_id
),

verdict as (
    select
        *,
        case
            when not building_found
                then 'work order ' || work_order_id || ': building ' || coalesce(building_id::text, 'None')
                    || ' not found'
            when is_multi_unit_building and source_unit_id is null
                then 'work order ' || work_order_id || ' on multi-unit building ' || building_id || ' has no unit'
            when is_multi_unit_building and source_unit_id = building_id
                then 'work order ' || work_order_id || ': unit column holds building id ' || building_id
                    || ' (multi-unit building)'
            when source_unit_id is not null and source_unit_id <> building_id and not unit_belongs_to_building
                then 'work order ' || work_order_id || ': unit ' || source_unit_id
                    || ' is not a unit of building ' || building_id
        end as unit_routing_reason
    from context
)

select
    work_order_id,
    work_order_number,
    portfolio_id,
    building_id,
    case
        when unit_routing_reason is not null then null
        when source_unit_id is null or source_unit_id = building_id then only_unit_id
        else source_unit_id
    end as unit_id,
    source_unit_id,
    unit_routing_reason is not null as is_unit_routing_violation,
    unit_routing_reason,
    is_multi_unit_building,
    status,
    status_key,
    priority,
    work_order_type,
    category,
    request_source,
    description,
    lease_name,
    requested_by,
    cost_estimate,
    start_date,
    scheduled_end_date,
    completed_date,
    created_at,
    modified_at,
    source_modified_at,
    _version_id,
    _loaded_at,
    _run_id,
    _is_deleted
from verdict
