{#- The current state of a raw landing table: one row per source_id, its latest version, with
    keys whose latest row is a tombstone removed (deleted in the source) unless `keep_deleted`.

    "Latest" orders by the source's last-modified time first and landing order second, so a late
    run that lands an *older* version (clock skew, a replayed window) never regresses staging;
    a tombstone carries the last payload's modified time and wins the tie by landing order.
    ``_last_deleted_at`` is when the key was last tombstoned, for records that came back.

    ``keys``: optional SQL returning the source_ids to consider (an incremental model's changed
    keys); every version of those keys is read through the (source_id, _version_id) index, so
    the cost follows the change instead of the table's whole history. -#}
{% macro latest_versions(source_table, keys=none, keep_deleted=false) -%}
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
        {% if keys is not none -%}
        where source_id in ({{ keys }})
        {% endif -%}
        order by source_id, source_modified_at desc nulls last, _version_id desc
    ) as latest
    {% if not keep_deleted -%}
    where not _is_deleted
    {%- endif %}
{%- endmacro %}

{#- The source_ids of `source_table` with a version landed after `relation`'s newest
    `_version_id`: the keys an incremental staging model must re-read. _version_id is the landing
    order (an identity) and the relation keeps each key's latest version id, so every version
    landed since the last build - a change, a late older copy, a tombstone - is above it. A late
    older copy does not become the key's latest, so the mark can lag and re-read a few keys:
    harmless. -#}
{% macro keys_landed_since(source_table, relation) -%}
    select distinct source_id
    from {{ source_table }}
    where _version_id > (select coalesce(max(_version_id), 0) from {{ relation }})
{%- endmacro %}
