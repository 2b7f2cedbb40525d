with buildings as (
    select * from {{ ref('stg_pw_buildings') }}
),

unit_counts as (
    select building_id, count(*) as units_on_record
    from {{ ref('int_pw_units') }}
    group by building_id
)

select
    {{ surrogate_key(["'pw-building'", 'buildings.building_id']) }} as building_sk,
    buildings.building_id,
    {{ surrogate_key(["'pw-portfolio'", 'buildings.portfolio_id']) }} as portfolio_sk,
    buildings.portfolio_id,
    buildings.building_name,
    buildings.abbreviation,
    buildings.category,
    buildings.building_type,
    buildings.property_type,
    buildings.occupancy_status,
    buildings.is_active,
    {{ is_multi_unit('buildings.multi_unit_declared', 'buildings.unit_count_declared',
                     'coalesce(unit_counts.units_on_record, 0)') }} as is_multi_unit,
    buildings.unit_count_declared,
    coalesce(unit_counts.units_on_record, 0) as units_on_record,
    buildings.street,
    buildings.street_2,
    buildings.city,
    buildings.state_region,
    buildings.postal_code,
    buildings.created_at,
    buildings.modified_at
from buildings
left join unit_counts on unit_counts.building_id = buildings.building_id
