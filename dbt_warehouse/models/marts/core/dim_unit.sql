-- Units, current state (history in snapshots.snap_pw_units). A unit's address falls back to its
-- building's, as the SF job location does (core.payloads.location_fields).
with units as (
    select * from {{ ref('int_pw_units') }}
),

buildings as (
    select building_id, street, street_2, city, state_region, postal_code from {{ ref('stg_pw_buildings') }}
)

select
    {{ surrogate_key(["'pw-unit'", 'units.unit_id']) }} as unit_sk,
    units.unit_id,
    {{ surrogate_key(["'pw-building'", 'units.building_id']) }} as building_sk,
    units.building_id,
    {{ surrogate_key(["'pw-portfolio'", 'units.portfolio_id']) }} as portfolio_sk,
    units.portfolio_id,
    units.lease_id,
    units.unit_name,
    units.abbreviation,
    units.category,
    units.occupancy_status,
    units.is_active,
    units.street is not null as has_own_address,
    coalesce(units.street, buildings.street) as street,
    case when units.street is not null then units.street_2 else buildings.street_2 end as street_2,
    coalesce(units.city, buildings.city) as city,
    coalesce(units.state_region, buildings.state_region) as state_region,
    coalesce(units.postal_code, buildings.postal_code) as postal_code,
    units.modified_at
from units
left join buildings on buildings.building_id = units.building_id
