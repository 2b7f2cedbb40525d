{#- What the SCD2 snapshot of units reads: the units whose latest version it has not recorded yet
    (unrecorded_versions: the snapshot's work follows the change, not the table), with the
    columns of stg_pw_units_latest, deletions included (_is_deleted, valid from when the
    tombstone landed). -#}
{{ unrecorded_versions('snap_pw_units', ref('stg_pw_units_latest'), 'unit_id') }}
