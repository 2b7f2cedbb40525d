{#- The snapshot clock, as a timestamptz. dbt-postgres stamps deletion rows with
    now()::timestamp (no time zone), while every timestamp the staging models hand the snapshots
    (modified_at) is timestamptz in UTC: dbt warned about the mismatch on every snapshot, and the
    naive value means "UTC" only when the session's TimeZone happens to be UTC. Overriding the
    adapter macro keeps every snapshot timestamp one type, the instant itself. -#}
{% macro postgres__snapshot_get_time() -%}
    now()
{%- endmacro %}
