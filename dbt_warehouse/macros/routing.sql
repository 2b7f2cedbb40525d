{#- core.routing.is_multi_unit: `multiUnit` (bool in fixtures, "multi family"/"single family" in
    REST), else `countUnit`, else the number of units on record. -#}
{% macro is_multi_unit(multi_unit_text, count_unit, units_on_record) -%}
    coalesce(
        case
            when {{ normalize_text(multi_unit_text) }} in
                ('true', 'yes', 'y', '1', 'multi', 'multi family', 'multifamily', 'multi unit', 'multiunit') then true
            when {{ normalize_text(multi_unit_text) }} in
                ('false', 'no', 'n', '0', 'single', 'single family', 'singlefamily', 'single unit') then false
        end,
        coalesce({{ count_unit }}, {{ units_on_record }}) > 1
    )
{%- endmacro %}

