-- Lease <-> tenant bridge: one row per tenant named on a lease - the tenants its payload lists
-- (stg_pw_leases_latest.tenant_ids: fixtures/SaveLease tenantIDs, REST contacts[]) and its
-- primary tenant.
with leases as (
    select lease_id, primary_tenant_id, tenant_ids from {{ ref('int_pw_leases') }}
),

named as (
    select leases.lease_id, leases.primary_tenant_id, tenants.tenant_id
    from leases
    cross join lateral (
        select t.value::bigint as tenant_id from jsonb_array_elements_text(leases.tenant_ids) as t(value)
        union
        select leases.primary_tenant_id
    ) as tenants
    where tenants.tenant_id is not null
)

select
    {{ surrogate_key(['lease_id', 'tenant_id']) }} as lease_tenant_key,
    lease_id,
    tenant_id,
    coalesce(tenant_id = primary_tenant_id, false) as is_primary
from named
