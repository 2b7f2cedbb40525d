{#- What the SCD2 snapshot of work orders reads: the work orders whose latest version it has not
    recorded yet (unrecorded_versions: the snapshot's work follows the change), routed like
    stg_pw_work_orders, deletions included (_is_deleted, valid from when the tombstone landed). -#}
{{ route_work_orders(
    unrecorded_versions('snap_pw_work_orders', ref('stg_pw_work_orders_latest'), 'work_order_id'),
    with_deleted_flag=true) }}
