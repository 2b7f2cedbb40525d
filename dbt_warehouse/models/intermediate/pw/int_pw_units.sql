-- Units, current state: the live keys of the incremental stg_pw_units_latest.
select
    unit_id, building_id, portfolio_id, lease_id, unit_name, abbreviation,
    category, occupancy_status, is_active, street, street_2, city,
    state_region, postal_code, modified_at, source_modified_at, _version_id, _loaded_at,
    _run_id
from {{ ref('stg_pw_units_latest') }}
where not _is_deleted
