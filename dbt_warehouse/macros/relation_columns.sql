{#- Whether an existing relation has a column. Incremental models test the columns their
    incremental filter reads, so a warehouse built by an older version of the model (without
    that column yet) rebuilds from everything once instead of failing its first sync after an
    upgrade; on_schema_change then adds the column. -#}
{% macro relation_has_column(relation, column_name) -%}
    {%- if not execute or relation is none -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set names = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
    {{ return(column_name | lower in names) }}
{%- endmacro %}
