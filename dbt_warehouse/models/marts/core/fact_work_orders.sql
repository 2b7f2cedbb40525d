{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='work_order_id',
    on_schema_change='sync_all_columns',
    indexes=[{'columns': ['work_order_id']}, {'columns': ['work_order_version_sk'], 'unique': true},
             {'columns': ['raw_version_id']}],
    post_hook="{{ create_work_orders_as_of_function() }}",
) }}

-- One row per work-order version (SCD Type 2) from the snapshot, with surrogate keys to the
-- conformed dimensions. valid_from is the source's last-modified time of the version (for a
-- deletion row, when the deletion was observed, never before the version it ends); valid_to is
-- the next version's valid_from, so versions are contiguous and never overlap by construction.
-- As of any instant: marts.work_orders_as_of(timestamptz) or the work_orders_as_of macro.
--
-- Incremental (delete+insert per work order): a run rebuilds every version of the work orders
-- whose snapshot history changed since the last build, and only those. The snapshot only adds
-- rows, each carrying the raw _version_id it was made from, and it only records versions newer
-- than any it holds, so the rows added since the last build are those above the newest
-- raw_version_id built (an index range scan). Versions are numbered and chained per key, so
-- rebuilding whole keys keeps validity contiguous and exactly one row current.
{%- set snapshot_columns = adapter.get_columns_in_relation(ref('snap_pw_work_orders')) | map(attribute='name') | list
    if execute else [] %}
{#- A table built before raw_version_id existed is rebuilt whole once (see relation_has_column). -#}
{%- set keyed_increment = is_incremental() and relation_has_column(this, 'raw_version_id') %}
with
{% if keyed_increment %}
changed_keys as (
    select work_order_id
    from {{ ref('snap_pw_work_orders') }}
    where _version_id > (select coalesce(max(raw_version_id), 0) from {{ this }})
    {% if has_partition_window() %}
    union
    select work_order_id from {{ ref('snap_pw_work_orders') }} where {{ in_partition_window('dbt_valid_from') }}
    {% endif %}
),
{% endif %}

snapshot as (
    select * from {{ ref('snap_pw_work_orders') }}
    {% if keyed_increment %}
    where work_order_id in (select work_order_id from changed_keys)
    {% endif %}
),

ordered as (
    select
        snapshot.*,
        -- a deletion is a version of its own (int_pw_work_order_changes); snapshots built before that
        -- recorded deletions with dbt's hard_deletes: new_record (dbt_is_deleted)
        (coalesce(_is_deleted, false)
            {%- if 'dbt_is_deleted' in snapshot_columns %} or coalesce(dbt_is_deleted = 'True', false){% endif %})
            as is_deleted,
        greatest(
            dbt_valid_from,
            max(dbt_valid_from) over (
                partition by work_order_id order by dbt_valid_from, dbt_scd_id
                rows between unbounded preceding and current row
            )
        ) as version_valid_from
    from snapshot
),

versioned as (
    select
        ordered.*,
        lead(version_valid_from) over (partition by work_order_id order by dbt_valid_from, dbt_scd_id)
            as version_valid_to,
        row_number() over (partition by work_order_id order by dbt_valid_from, dbt_scd_id) as version_number
    from ordered
)

select
    dbt_scd_id as work_order_version_sk,
    {{ surrogate_key(["'pw-work-order'", 'work_order_id']) }} as work_order_sk,
    work_order_id,
    version_number,
    version_valid_from as valid_from,
    version_valid_to as valid_to,
    version_valid_to is null as is_current,
    is_deleted,
    {{ surrogate_key(["'pw-portfolio'", 'portfolio_id']) }} as portfolio_sk,
    {{ surrogate_key(["'pw-building'", 'building_id']) }} as building_sk,
    case when unit_id is not null then {{ surrogate_key(["'pw-unit'", 'unit_id']) }} end as unit_sk,
    {{ surrogate_key(["'pw'", 'status_key']) }} as status_sk,
    to_char(created_at at time zone 'UTC', 'YYYYMMDD')::int as created_date_key,
    to_char(version_valid_from at time zone 'UTC', 'YYYYMMDD')::int as valid_from_date_key,
    work_order_number,
    portfolio_id,
    building_id,
    unit_id,
    source_unit_id,
    is_unit_routing_violation,
    unit_routing_reason,
    status,
    status_key,
    priority,
    work_order_type,
    category,
    description,
    cost_estimate,
    created_at,
    modified_at,
    completed_date,
    _loaded_at as landed_at,
    _run_id as landed_by_run_id,
    _version_id as raw_version_id
from versioned
