{#- Tolerant casts from JSON text: the sources send loosely typed values (ids as numbers or
    numeric strings, dates with or without time). A value that does not parse becomes NULL
    instead of failing the whole build; not_null tests on the typed columns catch real gaps. -#}

{% macro safe_bigint(expr) -%}
    (case when ({{ expr }}) ~ '^\s*[0-9]{1,18}\s*$' then trim({{ expr }})::bigint end)
{%- endmacro %}

{% macro safe_numeric(expr) -%}
    (case when ({{ expr }}) ~ '^\s*-?[0-9]+(\.[0-9]+)?\s*$' then trim({{ expr }})::numeric end)
{%- endmacro %}

{% macro safe_timestamp(expr) -%}
    (case when ({{ expr }}) ~ '^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}' then ({{ expr }})::timestamptz end)
{%- endmacro %}

{% macro safe_date(expr) -%}
    (case when ({{ expr }}) ~ '^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}' then left(trim({{ expr }}), 10)::date end)
{%- endmacro %}

{% macro safe_boolean(expr) -%}
    (case lower(trim({{ expr }}))
        when 'true' then true when 't' then true when 'yes' then true when '1' then true
        when 'false' then false when 'f' then false when 'no' then false when '0' then false
    end)
{%- endmacro %}

{#- Blank text is "missing": trimmed, '' -> NULL. -#}
{% macro clean_text(expr) -%}
    nullif(trim({{ expr }}), '')
{%- endmacro %}
