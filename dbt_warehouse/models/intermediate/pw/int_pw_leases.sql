-- Leases, current state: the live keys of the incremental stg_pw_leases_latest.
-- The legacy SOAP Lease has no portfolio (REST and fixtures name one): a lease without it is in
-- its building's portfolio (decision 0010).
select
    leases.lease_id, leases.unit_id, leases.building_id,
    coalesce(leases.portfolio_id, buildings.portfolio_id) as portfolio_id,
    leases.lease_name, leases.lease_status,
    leases.is_active, leases.start_date, leases.end_date, leases.move_in_date, leases.move_out_date,
    leases.base_rent, leases.primary_tenant_id, leases.tenant_ids, leases.payload, leases.modified_at,
    leases.source_modified_at, leases._version_id, leases._loaded_at, leases._run_id
from {{ ref('stg_pw_leases_latest') }} as leases
left join {{ ref('stg_pw_buildings') }} as buildings on buildings.building_id = leases.building_id
where not leases._is_deleted
