{#- Incremental marts rebuild only the keys that changed since their last build, plus - for a
    backfill - the keys whose versions fall in the run's partition window: the dbt vars
    `window_start` / `window_end` (ISO timestamps, half-open [start, end)), which the Dagster
    asset passes from a backfill's partition range (defs/warehouse/assets.py). -#}

{#- Whether a backfill window was passed (both vars set). -#}
{% macro has_partition_window() -%}
    {{ return(var('window_start', none) is not none and var('window_end', none) is not none) }}
{%- endmacro %}

{#- SQL predicate: `column` lies in the partition window. -#}
{% macro in_partition_window(column) -%}
    ({{ column }} >= '{{ var("window_start") }}'::timestamptz and {{ column }} < '{{ var("window_end") }}'::timestamptz)
{%- endmacro %}
