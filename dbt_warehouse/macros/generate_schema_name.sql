{#- Schemas are exactly the layer names (staging, intermediate, snapshots, marts, push_candidates),
    not dbt's default "<target schema>_<custom>", so SQL users and the Python side can name them without knowing the target. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
