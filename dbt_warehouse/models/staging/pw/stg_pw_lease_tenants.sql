-- Lease <-> tenant bridge: one row per tenant named on a lease. Fixtures (SaveLease) list
-- tenantIDs; REST serves contacts[] (LeaseContact); a lease may carry either or both.
with leases as (
    select lease_id, primary_tenant_id, payload from {{ ref('stg_pw_leases') }}
),

from_tenant_ids as (
    select leases.lease_id, {{ safe_bigint("t.value") }} as tenant_id
    from leases
    cross join lateral jsonb_array_elements_text(
        case when jsonb_typeof(leases.payload->'tenantIDs') = 'array' then leases.payload->'tenantIDs' else '[]'::jsonb end
    ) as t(value)
),

from_contacts as (
    select leases.lease_id, {{ safe_bigint("c->>'id'") }} as tenant_id
    from leases
    cross join lateral jsonb_array_elements(
        case when jsonb_typeof(leases.payload->'contacts') = 'array' then leases.payload->'contacts' else '[]'::jsonb end
    ) as c
),

unioned as (
    select lease_id, tenant_id from from_tenant_ids
    union
    select lease_id, tenant_id from from_contacts
    union
    select lease_id, primary_tenant_id from leases where primary_tenant_id is not null
)

select
    {{ surrogate_key(['unioned.lease_id', 'unioned.tenant_id']) }} as lease_tenant_key,
    unioned.lease_id,
    unioned.tenant_id,
    coalesce(unioned.tenant_id = leases.primary_tenant_id, false) as is_primary
from unioned
inner join leases on leases.lease_id = unioned.lease_id
where unioned.tenant_id is not null
