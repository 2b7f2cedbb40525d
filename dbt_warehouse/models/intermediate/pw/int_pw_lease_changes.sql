{#- What the SCD2 snapshot of leases reads: the leases whose latest version it has not recorded yet
    (unrecorded_versions: the snapshot's work follows the change, not the table), with the
    columns of stg_pw_leases_latest, deletions included (_is_deleted, valid from when the
    tombstone landed). -#}
{{ unrecorded_versions('snap_pw_leases', ref('stg_pw_leases_latest'), 'lease_id') }}
