{#- The state of every work order at `as_of`: the fact_work_orders version valid at that instant,
    deleted work orders excluded. Use in models/analyses: {{ work_orders_as_of("'2026-01-03'") }}.
    Operators get the same from SQL through the marts.work_orders_as_of(timestamptz) function
    that `create_work_orders_as_of_function` installs after each build of fact_work_orders. -#}
{% macro work_orders_as_of(as_of, relation=none) -%}
    select *
    from {{ relation if relation is not none else ref('fact_work_orders') }}
    where valid_from <= ({{ as_of }})::timestamptz
      and (valid_to is null or valid_to > ({{ as_of }})::timestamptz)
      and not is_deleted
{%- endmacro %}

{#- Post-hook of fact_work_orders. Dropped first: the function returns the table's row type, and
    a full refresh replaces the table (the old type goes with the old table). -#}
{% macro create_work_orders_as_of_function() -%}
    drop function if exists {{ this.schema }}.work_orders_as_of(timestamptz);
    create function {{ this.schema }}.work_orders_as_of(as_of timestamptz)
    returns setof {{ this }}
    language sql stable
    as $fn$ {{ work_orders_as_of("as_of", this) }} $fn$;
    comment on function {{ this.schema }}.work_orders_as_of(timestamptz) is
        'State of every work order at a timestamp: one fact_work_orders version per live work order.';
{%- endmacro %}
