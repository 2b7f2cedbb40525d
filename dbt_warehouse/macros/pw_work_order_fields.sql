{#- The typed fields of a PW work order's payload, shared by the staging models of its latest
    version and of all its versions so both speak one vocabulary. -#}
{% macro pw_work_order_fields() -%}
{{ safe_bigint("payload->>'number'") }} as work_order_number,
    {{ safe_bigint("payload->>'portfolioID'") }} as portfolio_id,
    {{ safe_bigint("payload->>'buildingID'") }} as building_id,
    {{ safe_bigint("payload->>'unitID'") }} as source_unit_id,
    {{ clean_text("payload->>'status'") }} as status,
    {{ normalize_text("payload->>'status'") }} as status_key,
    upper({{ clean_text("payload->>'priority'") }}) as priority,
    {{ clean_text("payload->>'type'") }} as work_order_type,
    {{ clean_text("payload->>'category'") }} as category,
    {{ clean_text("payload->>'source'") }} as request_source,
    {{ clean_text("payload->>'description'") }} as description,
    {{ clean_text("payload->>'lease'") }} as lease_name,
    {{ clean_text("payload->>'requestedBy'") }} as requested_by,
    {{ safe_numeric("payload->>'costEstimate'") }} as cost_estimate,
    {{ safe_date("payload->>'startDate'") }} as start_date,
    {{ safe_date("payload->>'scheduledEndDate'") }} as scheduled_end_date,
    {{ safe_date("payload->>'completedDate'") }} as completed_date,
    {{ safe_timestamp("payload->>'createdDateTime'") }} as created_at
{%- endmacro %}
