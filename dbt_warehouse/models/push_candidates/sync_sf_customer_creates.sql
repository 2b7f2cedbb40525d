-- Candidates for POST /customers: PW portfolios (parents) and lease tenants (children of their
-- portfolio's customer) that map_customer could not match to an SF customer. core.plan runs the
-- fuzzy name match over them (sf_customers) before planning a create. A tenant whose portfolio
-- has no SF customer here yet takes the one our create of the portfolio got (the ledger, within
-- the same sync) through portfolio_id.
--   record         the PW payload (portfolio, or the tenant's contact)
--   parent_customer_id  tenants: the SF customer of their portfolio, if mapped
--   portfolio_id   tenants: their portfolio (NULL for portfolios)
--   unit, building the tenant's current lease's unit and building payloads (its SF location)
--   sf_customers   unstamped SF customers it could be: top-level ones for a portfolio, the
--                  portfolio customer's children for a tenant ({id, customer_name})

with unmapped as (
    select pw_entity_type, pw_entity_id, portfolio_id
    from {{ ref('map_customer') }}
    where not is_mapped and pw_entity_type in ('portfolio', 'tenant')
),

-- tenants with a current lease (the lease gives the unit and building their SF location)
unmapped_tenants as (
    select unmapped.pw_entity_id as tenant_id, unmapped.portfolio_id, dim_tenant.unit_id, dim_tenant.building_id
    from unmapped
    inner join {{ ref('dim_tenant') }} as dim_tenant on dim_tenant.tenant_id = unmapped.pw_entity_id
    where unmapped.pw_entity_type = 'tenant' and dim_tenant.current_lease_id is not null
),

-- the payloads of those entities only, read through raw's (source_id, _version_id) index
raw_portfolios as (
    {{ latest_versions(source('raw_pw', 'pw_portfolios'),
                       keys="select pw_entity_id from unmapped where pw_entity_type = 'portfolio'") }}
),

raw_tenants as (
    {{ latest_versions(source('raw_pw', 'pw_tenants'), keys='select tenant_id from unmapped_tenants') }}
),

raw_units as (
    {{ latest_versions(source('raw_pw', 'pw_units'), keys='select unit_id from unmapped_tenants') }}
),

raw_buildings as (
    {{ latest_versions(source('raw_pw', 'pw_buildings'), keys='select building_id from unmapped_tenants') }}
),

portfolio_customers as (
    select
        pw_entity_id as portfolio_id,
        sf_customer_id,
        {{ normalize_name('sf_customer_name') }} as customer_name_key
    from {{ ref('map_customer') }}
    where pw_entity_type = 'portfolio' and is_mapped
),

-- unstamped SF customers only: one stamped with a PW id belongs to that entity (map_customer),
-- and offered to a tenant of the same name it made the planner skip that tenant's create
sf_customers as (
    select
        customer_id,
        parent_customer_key,
        jsonb_build_object('id', customer_id, 'customer_name', customer_name) as customer
    from {{ ref('stg_sf_customers') }}
    where coalesce(pw_portfolio_id, pw_tenant_id, pw_building_id) is null
),

-- each candidate list built once and joined, not aggregated again for every tenant (at large
-- that was ~45,000 scans of every SF customer)
top_level as (
    select jsonb_agg(customer order by customer_id) as customers
    from sf_customers
    where coalesce(parent_customer_key, '') = ''
),

children as (
    select parent_customer_key, jsonb_agg(customer order by customer_id) as customers
    from sf_customers
    where parent_customer_key is not null
    group by parent_customer_key
)

select
    'portfolio' as kind,
    unmapped.pw_entity_id as entity_id,
    raw_portfolios.payload as record,
    cast(null as bigint) as parent_customer_id,
    cast(null as bigint) as portfolio_id,
    cast(null as jsonb) as unit,
    cast(null as jsonb) as building,
    coalesce(top_level.customers, '[]'::jsonb) as sf_customers
from unmapped
inner join raw_portfolios on raw_portfolios.source_id = unmapped.pw_entity_id
cross join top_level
where unmapped.pw_entity_type = 'portfolio'

union all

select
    'tenant',
    unmapped_tenants.tenant_id,
    raw_tenants.payload,
    portfolio_customers.sf_customer_id,
    unmapped_tenants.portfolio_id,
    raw_units.payload,
    raw_buildings.payload,
    coalesce(children.customers, '[]'::jsonb)
from unmapped_tenants
inner join raw_tenants on raw_tenants.source_id = unmapped_tenants.tenant_id
left join raw_units on raw_units.source_id = unmapped_tenants.unit_id
left join raw_buildings on raw_buildings.source_id = unmapped_tenants.building_id
left join portfolio_customers on portfolio_customers.portfolio_id = unmapped_tenants.portfolio_id
left join children
    on portfolio_customers.sf_customer_id is not null
    and children.parent_customer_key = portfolio_customers.customer_name_key
