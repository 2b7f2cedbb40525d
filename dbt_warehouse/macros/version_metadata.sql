{#- The load metadata every staging model carries from its raw version: when the record last
    changed (the source's time, else when we landed it), and which version and run it came from. -#}
{% macro version_metadata() -%}
coalesce(source_modified_at, _loaded_at) as modified_at,
        source_modified_at,
        _version_id,
        _loaded_at,
        _run_id
{%- endmacro %}
