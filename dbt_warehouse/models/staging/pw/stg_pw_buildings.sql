with latest as (
    {{ latest_versions(source('raw_pw', 'pw_buildings')) }}
),

renamed as (
    select
        source_id as building_id,
        {{ safe_bigint("payload->>'portfolioID'") }} as portfolio_id,
        {{ clean_text("payload->>'name'") }} as building_name,
        {{ clean_text("payload->>'abbreviation'") }} as abbreviation,
        {{ clean_text("payload->>'category'") }} as category,
        {{ clean_text("payload->>'type'") }} as building_type,
        {{ clean_text("payload->>'propertyType'") }} as property_type,
        {{ clean_text("payload->>'status'") }} as occupancy_status,
        {{ safe_boolean("payload->>'active'") }} as is_active,
        -- kept as text: a bool in fixtures, "multi family"/"single family" in REST (macro is_multi_unit)
        payload->>'multiUnit' as multi_unit_declared,
        {{ safe_bigint("payload->>'countUnit'") }} as unit_count_declared,
        {{ clean_text("payload->'address'->>'address'") }} as street,
        {{ clean_text("payload->'address'->>'addressCont'") }} as street_2,
        {{ clean_text("payload->'address'->>'city'") }} as city,
        {{ clean_text("payload->'address'->>'stateRegion'") }} as state_region,
        {{ clean_text("payload->'address'->>'postalCode'") }} as postal_code,
        {{ safe_timestamp("payload->>'createdDateTime'") }} as created_at,
        {{ version_metadata() }}
    from latest
)

select * from renamed
