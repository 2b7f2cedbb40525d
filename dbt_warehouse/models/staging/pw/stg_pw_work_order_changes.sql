{#- What the SCD2 snapshot of work orders reads: the work orders whose latest version it has not
    recorded yet, routed like stg_pw_work_orders, deletions included (_is_deleted, valid from
    when the tombstone landed).

    dbt's snapshot compares every row of its source with the snapshot's current rows; fed the
    whole current state, that is four hash joins over every work order on every run, whatever
    changed. Fed only what it has not seen, the snapshot's work follows the change. The price is
    that a deletion can no longer be "absent from the source" (dbt's hard_deletes), so it is a
    version of its own here (the snapshot runs with hard_deletes: ignore).

    "Not seen yet": stg_pw_work_orders_latest keeps each key's latest _version_id, and the
    snapshot keeps the _version_id of every version it recorded, so a key whose latest version is
    above the snapshot's newest is new to it. A late copy older than what PW already told us does
    not become the latest version, so it is never offered. The snapshot is looked up by name, not
    ref(): it reads this model, so a ref would be a cycle. Its first build reads every live key. -#}
{%- set snapshot_node = graph.nodes.get('snapshot.' ~ project_name ~ '.snap_pw_work_orders') if execute else none -%}
{%- set snapshot = adapter.get_relation(snapshot_node.database, snapshot_node.schema, snapshot_node.alias)
    if snapshot_node is not none else none -%}
{%- set latest = ref('stg_pw_work_orders_latest') -%}
{#- A snapshot recorded before versions carried _version_id is offered every live key once. -#}
{%- if snapshot is none or not relation_has_column(snapshot, '_version_id') -%}
{{ route_work_orders("select * from " ~ latest ~ " where not _is_deleted", with_deleted_flag=true) }}
{%- else -%}
{{ route_work_orders(
    "select * from " ~ latest ~ " where _version_id > (select coalesce(max(_version_id), 0) from " ~ snapshot ~ ")"
    ~ " and (not _is_deleted or work_order_id in"
    ~ " (select work_order_id from " ~ snapshot ~ " where dbt_valid_to is null))",
    with_deleted_flag=true) }}
{%- endif %}
