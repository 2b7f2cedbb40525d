-- Leases, current state (history in snapshots.snap_pw_leases), keyed to the conformed dims.
-- A lease's unitID may be a building id on a single-family building (docs/apis/propertyware.md §4.5).
with leases as (
    select * from {{ ref('int_pw_leases') }}
),

units as (
    select unit_id from {{ ref('int_pw_units') }}
),

tenant_counts as (
    select lease_id, count(*) as tenant_count from {{ ref('int_pw_lease_tenants') }} group by lease_id
)

select
    {{ surrogate_key(["'pw-lease'", 'leases.lease_id']) }} as lease_sk,
    leases.lease_id,
    {{ surrogate_key(["'pw-portfolio'", 'leases.portfolio_id']) }} as portfolio_sk,
    {{ surrogate_key(["'pw-building'", 'leases.building_id']) }} as building_sk,
    case when units.unit_id is not null then {{ surrogate_key(["'pw-unit'", 'leases.unit_id']) }} end as unit_sk,
    case when leases.primary_tenant_id is not null
        then {{ surrogate_key(["'pw-tenant'", 'leases.primary_tenant_id']) }} end as primary_tenant_sk,
    leases.portfolio_id,
    leases.building_id,
    leases.unit_id,
    units.unit_id is null and leases.unit_id = leases.building_id as is_building_lease,
    leases.primary_tenant_id,
    coalesce(tenant_counts.tenant_count, 0) as tenant_count,
    leases.lease_name,
    leases.lease_status,
    leases.is_active,
    leases.start_date,
    leases.end_date,
    leases.move_in_date,
    leases.move_out_date,
    to_char(leases.start_date, 'YYYYMMDD')::int as start_date_key,
    to_char(leases.end_date, 'YYYYMMDD')::int as end_date_key,
    leases.base_rent,
    leases.modified_at
from leases
left join units on units.unit_id = leases.unit_id
left join tenant_counts on tenant_counts.lease_id = leases.lease_id
