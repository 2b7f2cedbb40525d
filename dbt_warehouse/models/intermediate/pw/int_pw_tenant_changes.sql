{#- What the SCD2 snapshot of tenants reads: the tenants whose latest version it has not recorded yet
    (unrecorded_versions: the snapshot's work follows the change, not the table), with the
    columns of stg_pw_tenants_latest, deletions included (_is_deleted, valid from when the
    tombstone landed). -#}
{{ unrecorded_versions('snap_pw_tenants', ref('stg_pw_tenants_latest'), 'tenant_id') }}
