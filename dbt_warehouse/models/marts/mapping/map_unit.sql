-- PW unit -> SF customer and SF location. The customer is the building's mapped customer (which
-- falls back to the portfolio's); the location is that customer's location on the unit's street
-- (unit line 2 when both have one), else on the building's street. No location is fine - the job
-- carries its address inline - but the unit is then listed with location_match = 'none'.
with units as (
    select * from {{ ref('dim_unit') }}
),

building_customers as (
    select pw_entity_id as building_id, sf_customer_id, match_method
    from {{ ref('map_customer') }}
    where pw_entity_type = 'building'
),

locations as (
    select * from {{ ref('stg_sf_customer_locations') }} where street_key is not null
),

located_customers as (
    select distinct customer_id from locations
),

-- Normalising a street (a regular expression per abbreviation) is the costly part, so only the
-- units whose customer has a location to compare with get their keys.
keyed as (
    select
        units.*,
        building_customers.sf_customer_id,
        building_customers.match_method as customer_match_method,
        {%- for column in ['street', 'street_2', 'unit_name'] %}
        case when located_customers.customer_id is not null
            then nullif({{ normalize_street('units.' ~ column) }}, '') end as {{ column }}_key{{ ',' if not loop.last }}
        {%- endfor %}
    from units
    left join building_customers on building_customers.building_id = units.building_id
    left join located_customers on located_customers.customer_id = building_customers.sf_customer_id
),

location_hits as (
    select
        keyed.unit_id,
        locations.customer_location_key,
        locations.street_1,
        locations.street_2,
        case
            when locations.street_2_key is not null
                and locations.street_2_key in (keyed.street_2_key, keyed.unit_name_key) then 1
            else 2
        end as rank_order
    from keyed
    inner join locations
        on locations.customer_id = keyed.sf_customer_id
        and locations.street_key = keyed.street_key
),

best_location as (
    select distinct on (unit_id) *
    from location_hits
    order by unit_id, rank_order, customer_location_key
)

select
    {{ surrogate_key(["'pw-unit'", 'keyed.unit_id']) }} as unit_sk,
    keyed.unit_id,
    keyed.building_id,
    keyed.portfolio_id,
    keyed.unit_name,
    keyed.sf_customer_id,
    keyed.customer_match_method,
    best_location.customer_location_key as sf_customer_location_key,
    best_location.street_1 as sf_street_1,
    best_location.street_2 as sf_street_2,
    case best_location.rank_order when 1 then 'unit' when 2 then 'street' else 'none' end as location_match,
    keyed.sf_customer_id is not null as is_mapped
from keyed
left join best_location on best_location.unit_id = keyed.unit_id
