{#- What the SCD2 snapshot of work orders reads: the work orders whose latest version it has not
    recorded yet (unrecorded_versions: the snapshot's work follows the change), routed like the
    current state, deletions included (_is_deleted, valid from when the tombstone landed). -#}
{{ unrecorded_versions('snap_pw_work_orders', ref('int_pw_work_orders_routed'), 'work_order_id') }}
