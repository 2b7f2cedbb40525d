with latest as (
    {{ latest_versions(source('raw_pw', 'pw_leases')) }}
),

renamed as (
    select
        source_id as lease_id,
        {{ safe_bigint("payload->>'unitID'") }} as unit_id,
        {{ safe_bigint("payload->>'buildingID'") }} as building_id,
        {{ safe_bigint("payload->>'portfolioID'") }} as portfolio_id,
        {{ clean_text("payload->>'leaseName'") }} as lease_name,
        {{ clean_text("payload->>'status'") }} as lease_status,
        {{ safe_boolean("payload->>'active'") }} as is_active,
        {{ safe_date("payload->>'startDate'") }} as start_date,
        {{ safe_date("payload->>'endDate'") }} as end_date,
        {{ safe_date("payload->>'moveInDate'") }} as move_in_date,
        {{ safe_date("payload->>'moveOutDate'") }} as move_out_date,
        {{ safe_numeric("payload->>'baseRent'") }} as base_rent,
        -- fixtures/SaveLease give primaryContactID; REST gives contacts[] with primary=true
        coalesce(
            {{ safe_bigint("payload->>'primaryContactID'") }},
            (
                select {{ safe_bigint("c->>'id'") }}
                from jsonb_array_elements(
                    case when jsonb_typeof(payload->'contacts') = 'array' then payload->'contacts' else '[]'::jsonb end
                ) as c
                where {{ safe_boolean("c->>'primary'") }}
                limit 1
            )
        ) as primary_tenant_id,
        payload,
        {{ version_metadata() }}
    from latest
)

select * from renamed
