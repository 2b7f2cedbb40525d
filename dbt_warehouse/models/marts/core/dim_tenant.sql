-- Tenants (PW contacts of type TENANT), current state, with their current lease and portfolio
-- (a tenant's SF customer is a child of the portfolio's customer).
with tenants as (
    select * from {{ ref('int_pw_tenants') }}
),

current_lease as (
    select distinct on (lease_tenants.tenant_id)
        lease_tenants.tenant_id,
        leases.lease_id,
        leases.portfolio_id,
        leases.building_id,
        leases.unit_id
    from {{ ref('int_pw_lease_tenants') }} as lease_tenants
    inner join {{ ref('int_pw_leases') }} as leases on leases.lease_id = lease_tenants.lease_id
    order by lease_tenants.tenant_id, coalesce(leases.is_active, true) desc, leases.start_date desc nulls last,
        leases.lease_id desc
)

select
    {{ surrogate_key(["'pw-tenant'", 'tenants.tenant_id']) }} as tenant_sk,
    tenants.tenant_id,
    tenants.contact_type,
    tenants.first_name,
    tenants.last_name,
    tenants.company,
    tenants.display_name,
    tenants.name_key,
    tenants.email,
    coalesce(tenants.mobile_phone, tenants.home_phone, tenants.work_phone) as phone,
    current_lease.lease_id as current_lease_id,
    current_lease.portfolio_id,
    current_lease.building_id,
    current_lease.unit_id,
    tenants.modified_at
from tenants
left join current_lease on current_lease.tenant_id = tenants.tenant_id
