{#- The current state of a raw landing table: one row per source_id, its latest version, with
    keys whose latest row is a tombstone removed (deleted in the source).

    "Latest" orders by the source's last-modified time first and landing order second, so a late
    run that lands an *older* version (clock skew, a replayed window) never regresses staging;
    a tombstone carries the last payload's modified time and wins the tie by landing order.
    ``_last_deleted_at`` is when the key was last tombstoned, for records that came back. -#}
{% macro latest_versions(source_table) -%}
    select *
    from (
        select distinct on (source_id)
            _version_id,
            source_id,
            source_modified_at,
            payload,
            _source_hash,
            _is_deleted,
            _loaded_at,
            _run_id,
            max(_loaded_at) filter (where _is_deleted) over (partition by source_id) as _last_deleted_at
        from {{ source_table }}
        order by source_id, source_modified_at desc nulls last, _version_id desc
    ) as latest
    where not _is_deleted
{%- endmacro %}
