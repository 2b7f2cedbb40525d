{#- Every status seen in PW work orders, SF jobs and the SF account must map to a canonical status
    and an open/closed category. An unmapped status fails here instead of silently counting as
    "closed" (the old system's bug); fix it by adding a row to seeds/status_mapping.csv. -#}
{% test unmapped_status(model) %}
    select system, source_status, seen_in
    from {{ model }}
    where not is_mapped
{% endtest %}
