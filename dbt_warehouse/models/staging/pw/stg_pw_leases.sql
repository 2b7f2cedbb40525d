-- Leases, current state: the live keys of the incremental stg_pw_leases_latest.
select
    lease_id, unit_id, building_id, portfolio_id, lease_name, lease_status,
    is_active, start_date, end_date, move_in_date, move_out_date, base_rent,
    primary_tenant_id, tenant_ids, payload, modified_at, source_modified_at, _version_id, _loaded_at,
    _run_id
from {{ ref('stg_pw_leases_latest') }}
where not _is_deleted
