{#- Unit routing rule (docs/architecture.md §5): every work order staging flagged - a multi-unit building's
    work order whose unit column is empty, holds the building id, or names another building's
    unit. Each failing row is one work order held back from ServiceFusion. -#}
{% test unit_routing_rule(model) %}
    select work_order_id, building_id, source_unit_id, unit_routing_reason
    from {{ model }}
    where is_unit_routing_violation
{% endtest %}
