{#- Mapping coverage per entity type must reach `min_coverage` (docs/architecture.md §6: aim >= 95 %).
    One failing row per entity type below target, with the measured coverage. -#}
{% test mapping_coverage(model, min_coverage=0.95, group_by='pw_entity_type', mapped_column='is_mapped') %}
    select
        {{ group_by }} as entity_type,
        count(*) as total,
        count(*) filter (where {{ mapped_column }}) as mapped,
        round(count(*) filter (where {{ mapped_column }})::numeric / nullif(count(*), 0), 4) as coverage
    from {{ model }}
    group by {{ group_by }}
    having count(*) filter (where {{ mapped_column }})::numeric / nullif(count(*), 0) < {{ min_coverage }}
{% endtest %}
