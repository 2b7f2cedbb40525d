{#- The post-hook every snapshot runs: an index on its key (the change views read each key's
    current row) and one on `_version_id` (they read the newest recorded version, and
    fact_work_orders the versions above its own), then `analyze_once`. -#}
{% macro snapshot_upkeep(relation, key) -%}
    create index if not exists {{ relation.identifier }}__{{ key }} on {{ relation }} ({{ key }});
    create index if not exists {{ relation.identifier }}__version_id on {{ relation }} (_version_id);
    {{ analyze_once(relation) }}
{%- endmacro %}
