{#- Tolerant casts from JSON text: the sources send loosely typed values (ids as numbers or
    numeric strings, dates with or without time). A value that does not parse becomes NULL
    instead of failing the whole build; not_null tests on the typed columns catch real gaps, and
    bad_source_values lists every date that did not parse, by record and field. -#}

{% macro safe_bigint(expr) -%}
    (case when ({{ expr }}) ~ '^\s*[0-9]{1,18}\s*$' then trim({{ expr }})::bigint end)
{%- endmacro %}

{% macro safe_numeric(expr) -%}
    (case when ({{ expr }}) ~ '^\s*-?[0-9]+(\.[0-9]+)?\s*$' then trim({{ expr }})::numeric end)
{%- endmacro %}

{#- A date or timestamp as ISO-8601 text ("2026-01-02", "2026-01-02T10:00:00Z", a space for the
    T, an offset) that names a real calendar day and time between the years date_min_year and
    date_max_year (dbt_project.yml; core.fields.as_timestamp keeps the same range). PostgreSQL's
    own cast raises on "2026-02-30", "0000-01-01" or hour 25, and one such value failed an
    incremental model on every run; "2026-01-01 (approx)" or "9999-12-31" is no date either.
    Anything else is false (NULL for NULL), never an error: the CASE tests the pattern before any
    digit is cast, and a matched pattern holds only digits where it casts. -#}
{% macro is_calendar_text(expr) -%}
    {%- set text = "trim(" ~ expr ~ ")" -%}
    {%- set year = "substr(" ~ text ~ ", 1, 4)::int" -%}
    {%- set month = "substr(" ~ text ~ ", 6, 2)::int" -%}
    (case
        when {{ text }} !~ '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?\s*([Zz]|[+-](0[0-9]|1[0-4])(:?[0-5][0-9])?)?)?$'
            then false
        else {{ year }} between {{ var('date_min_year') }} and {{ var('date_max_year') }}
            and substr({{ text }}, 9, 2)::int <= (case {{ month }}
                when 2 then case when ({{ year }} % 4 = 0 and {{ year }} % 100 <> 0) or {{ year }} % 400 = 0
                    then 29 else 28 end
                when 4 then 30 when 6 then 30 when 9 then 30 when 11 then 30
                else 31
            end)
    end)
{%- endmacro %}

{% macro safe_timestamp(expr) -%}
    (case when {{ is_calendar_text(expr) }} then trim({{ expr }})::timestamptz end)
{%- endmacro %}

{#- The calendar day of a date or timestamp text, as written (a timestamp's offset is not applied). -#}
{% macro safe_date(expr) -%}
    (case when {{ is_calendar_text(expr) }} then left(trim({{ expr }}), 10)::date end)
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
