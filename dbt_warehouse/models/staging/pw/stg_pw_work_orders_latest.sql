{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='work_order_id',
    on_schema_change='sync_all_columns',
    indexes=[{'columns': ['work_order_id'], 'unique': true}, {'columns': ['_version_id']}],
) }}

-- Work orders, latest version per key, typed (before the unit routing rule: int_pw_work_orders_routed),
-- deleted keys included (_is_deleted: the latest version is a tombstone, so the snapshot can
-- record the deletion as a version). The largest raw table, so it is kept as a table and
-- maintained incrementally: a run re-reads only the work orders with a version landed since the
-- last build (every version of those keys, for the ordering rule of latest_versions) and
-- replaces their rows (delete+insert).
{%- set raw_work_orders = source('raw_pw', 'pw_work_orders') %}
with latest as (
    {{ latest_versions(raw_work_orders, keep_deleted=true,
                       keys=keys_landed_since(raw_work_orders, this) if is_incremental() else none) }}
)

select
    source_id as work_order_id,
    {{ safe_bigint("payload->>'number'") }} as work_order_number,
    {{ safe_bigint("payload->>'portfolioID'") }} as portfolio_id,
    {{ safe_bigint("payload->>'buildingID'") }} as building_id,
    {{ safe_bigint("payload->>'unitID'") }} as source_unit_id,
    {{ clean_text("payload->>'status'") }} as status,
    {{ normalize_text("payload->>'status'") }} as status_key,
    upper({{ clean_text("payload->>'priority'") }}) as priority,
    {{ clean_text("payload->>'type'") }} as work_order_type,
    {{ clean_text("payload->>'category'") }} as category,
    {{ clean_text("payload->>'source'") }} as request_source,
    {{ clean_text("payload->>'description'") }} as description,
    {{ clean_text("payload->>'lease'") }} as lease_name,
    {{ clean_text("payload->>'requestedBy'") }} as requested_by,
    {{ safe_numeric("payload->>'costEstimate'") }} as cost_estimate,
    {{ safe_date("payload->>'startDate'") }} as start_date,
    {{ safe_date("payload->>'scheduledEndDate'") }} as scheduled_end_date,
    {{ safe_date("payload->>'completedDate'") }} as completed_date,
    {{ safe_timestamp("payload->>'createdDateTime'") }} as created_at,
    {{ version_metadata() }},
    _is_deleted
from latest
