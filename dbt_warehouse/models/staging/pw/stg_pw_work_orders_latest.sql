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
    {{ pw_work_order_fields() }},
    {{ version_metadata() }},
    _is_deleted
from latest
