-- One row per SF customer location (customers expanded with locations[]), with the
-- normalised street key used for address matching (core.matching.address_key).
with customers as (
    {{ latest_versions(source('raw_sf', 'sf_customers')) }}
),

locations as (
    select
        customers.source_id as customer_id,
        l.ordinality::int as location_index,
        l.value as location
    from customers
    cross join lateral jsonb_array_elements(
        case when jsonb_typeof(customers.payload->'locations') = 'array' then customers.payload->'locations'
            else '[]'::jsonb end
    ) with ordinality as l(value, ordinality)
)

select
    {{ surrogate_key(['customer_id', 'location_index']) }} as customer_location_key,
    customer_id,
    location_index,
    {{ clean_text("location->>'street_1'") }} as street_1,
    {{ clean_text("location->>'street_2'") }} as street_2,
    {{ clean_text("location->>'city'") }} as city,
    {{ clean_text("location->>'state_prov'") }} as state_prov,
    {{ clean_text("location->>'postal_code'") }} as postal_code,
    coalesce({{ safe_boolean("location->>'is_primary'") }}, false) as is_primary,
    nullif({{ normalize_street("(location->>'street_1')") }}, '') as street_key,
    nullif({{ normalize_street("(location->>'street_2')") }}, '') as street_2_key,
    nullif(left({{ normalize_text("(location->>'postal_code')") }}, 5), '') as postal_key
from locations
