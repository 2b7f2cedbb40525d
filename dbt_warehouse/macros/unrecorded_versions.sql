{#- What an SCD2 snapshot reads: the latest versions it has not recorded yet, deletions included
    (_is_deleted, valid from when the tombstone landed: version_metadata). One definition for
    the change set of every snapshot (int_pw_work_order_changes, int_pw_unit_changes,
    int_pw_lease_changes, int_pw_tenant_changes).

    dbt's snapshot compares every row of its source with the snapshot's current rows; fed the
    whole current state, that is hash joins over every record on every run, whatever changed.
    Fed only what it has not seen, the snapshot's work follows the change. The price is that a
    deletion can no longer be "absent from the source" (dbt's hard_deletes), so it is a version
    of its own here (the snapshots run with hard_deletes: ignore).

    "Not recorded yet": `latest_relation` keeps each key's latest _version_id (tombstones
    included) and the snapshot keeps the _version_id of every version it recorded, so a key whose
    latest version is above the snapshot's newest is new to it. A late copy older than what PW
    already told us does not become the latest version, so it is never offered. A tombstone is
    offered only for a key whose current row is live: a key never recorded, or already recorded
    as deleted (by a deletion version, or by dbt's hard_deletes: new_record in a snapshot built
    before deletions were versions: dbt_is_deleted), has nothing to close.

    The snapshot is looked up by name, not ref(): it reads the calling model, so a ref would be a
    cycle. Its first build (or a snapshot recorded before versions carried _version_id) is
    offered every live key once. The calling model is a view, rebuilt on every build before its
    snapshot, so the columns tested here are those of the snapshot the same build then runs.
    (Postgres plans the deletion branch as a semi-join, by the snapshot's index on `key`, only
    when it is not OR-ed with the live rows, hence the union.) -#}
{% macro unrecorded_versions(snapshot_name, latest_relation, key) -%}
    {%- set snapshot = none -%}
    {%- if execute -%}
        {%- set snapshot_node = graph.nodes.get('snapshot.' ~ project_name ~ '.' ~ snapshot_name) -%}
        {%- if snapshot_node is none -%}
            {{ exceptions.raise_compiler_error("unrecorded_versions: no snapshot named " ~ snapshot_name) }}
        {%- endif -%}
        {%- set snapshot = adapter.get_relation(snapshot_node.database, snapshot_node.schema, snapshot_node.alias) -%}
    {%- endif -%}
    {%- set snapshot_columns = adapter.get_columns_in_relation(snapshot) | map(attribute='name') | map('lower') | list
        if snapshot is not none else [] -%}
    {%- if '_version_id' not in snapshot_columns -%}
    select * from {{ latest_relation }} where not _is_deleted
    {%- else -%}
    with unrecorded as (
        select *
        from {{ latest_relation }}
        where _version_id > (select coalesce(max(_version_id), 0) from {{ snapshot }})
    )

    select * from unrecorded where not _is_deleted
    union all
    select * from unrecorded
    where _is_deleted
        and exists (
            select 1
            from {{ snapshot }} as recorded
            where recorded.{{ key }} = unrecorded.{{ key }}
                and recorded.dbt_valid_to is null
                {%- if '_is_deleted' in snapshot_columns %}
                and not coalesce(recorded._is_deleted, false)
                {%- endif %}
                {%- if 'dbt_is_deleted' in snapshot_columns %}
                and coalesce(recorded.dbt_is_deleted, 'False') <> 'True'
                {%- endif %}
        )
    {%- endif -%}
{%- endmacro %}
