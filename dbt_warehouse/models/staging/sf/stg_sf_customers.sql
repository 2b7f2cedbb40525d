-- SF customers, current state. The PW ids stamped on customers we created
-- (core.payloads.CUSTOMER_ID_FIELDS: "PW Portfolio ID", "PW Tenant ID") are lifted into columns:
-- they are the strongest mapping evidence.
with latest as (
    {{ latest_versions(source('raw_sf', 'sf_customers')) }}
),

custom_fields as (
    select
        latest.source_id,
        {{ normalize_text("f->>'name'") }} as field_key,
        f->>'value' as field_value
    from latest
    cross join lateral jsonb_array_elements(
        case when jsonb_typeof(latest.payload->'custom_fields') = 'array' then latest.payload->'custom_fields'
            else '[]'::jsonb end
    ) as f
),

stamps as (
    select
        source_id,
        min({{ safe_bigint("field_value") }}) filter (where field_key = 'pw portfolio id') as pw_portfolio_id,
        min({{ safe_bigint("field_value") }}) filter (where field_key = 'pw tenant id') as pw_tenant_id,
        min({{ safe_bigint("field_value") }}) filter (where field_key = 'pw building id') as pw_building_id
    from custom_fields
    group by source_id
),

renamed as (
    select
        latest.source_id as customer_id,
        {{ clean_text("latest.payload->>'customer_name'") }} as customer_name,
        {{ normalize_name("(latest.payload->>'customer_name')") }} as customer_name_key,
        {{ clean_text("latest.payload->>'parent_customer'") }} as parent_customer_name,
        {{ normalize_name("(latest.payload->>'parent_customer')") }} as parent_customer_key,
        {{ clean_text("latest.payload->>'account_number'") }} as account_number,
        {{ safe_boolean("latest.payload->>'is_vip'") }} as is_vip,
        stamps.pw_portfolio_id,
        stamps.pw_building_id,
        stamps.pw_tenant_id,
        {{ safe_timestamp("latest.payload->>'created_at'") }} as created_at,
        {{ version_metadata() }}
    from latest
    left join stamps on stamps.source_id = latest.source_id
)

select * from renamed
