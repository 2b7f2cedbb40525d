{#- The load metadata every staging model carries from its raw version: when the record last
    changed (the source's time, else when we landed it), and which version and run it came from.

    A record that comes back after a tombstone (an API that briefly omitted it, a restore in PW)
    often carries its old last-modified time; as a snapshot timestamp that would give the revived
    row the dbt_scd_id of the version before the deletion (a known dbt hard_deletes edge). It is
    therefore valid from when we saw it again. -#}
{% macro version_metadata() -%}
case
            when _last_deleted_at is null then coalesce(source_modified_at, _loaded_at)
            else greatest(source_modified_at, _loaded_at)
        end as modified_at,
        source_modified_at,
        _version_id,
        _loaded_at,
        _run_id
{%- endmacro %}
