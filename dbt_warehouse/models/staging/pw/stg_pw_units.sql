with latest as (
    {{ latest_versions(source('raw_pw', 'pw_units')) }}
),

renamed as (
    select
        source_id as unit_id,
        {{ safe_bigint("payload->>'buildingID'") }} as building_id,
        {{ safe_bigint("payload->>'portfolioID'") }} as portfolio_id,
        {{ safe_bigint("payload->>'leaseID'") }} as lease_id,
        {{ clean_text("payload->>'name'") }} as unit_name,
        {{ clean_text("payload->>'abbreviation'") }} as abbreviation,
        {{ clean_text("payload->>'category'") }} as category,
        {{ clean_text("payload->>'status'") }} as occupancy_status,
        {{ safe_boolean("payload->>'active'") }} as is_active,
        {{ clean_text("payload->'address'->>'address'") }} as street,
        {{ clean_text("payload->'address'->>'addressCont'") }} as street_2,
        {{ clean_text("payload->'address'->>'city'") }} as city,
        {{ clean_text("payload->'address'->>'stateRegion'") }} as state_region,
        {{ clean_text("payload->'address'->>'postalCode'") }} as postal_code,
        {{ version_metadata() }}
    from latest
)

select * from renamed
