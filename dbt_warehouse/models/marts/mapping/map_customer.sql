-- PW portfolio / building / tenant <-> SF customer (DESIGN.md §6, core/matching.py), one row per
-- PW entity, mapped or not. Methods, strongest first (the first that finds a customer wins):
--   stamped_id  1.00  the SF customer carries the PW id in its custom field (we created it)
--   exact       1.00  identical name (trimmed)
--   normalized  0.95  equal core.matching.normalize_name
--   address     0.85  exactly one SF customer has a location on the same normalised street
--                     (postal code / line 2 must agree when both sides have one)
--   portfolio   0.75  buildings only: no customer of its own, so jobs go to its portfolio's customer
-- Same-named SF customers are duplicates in SF already: the lowest id (the oldest) wins. Several
-- different customers at one address are ambiguous and give no match - a wrong match sends jobs
-- to the wrong customer, which is worse than listing the entity as unmapped. Tenants match only
-- among customers whose parent is their portfolio (payloads make tenants children of it), so
-- same-named tenants of different portfolios stay apart. Fuzzy name matching stays in Python
-- (core.matching), which runs over the unmapped rows listed here.
{#- Which SF customers an entity may match: tenants only among their portfolio's children. -#}
{%- set eligible -%}
(keyed.pw_entity_type <> 'tenant' or keyed.parent_key = '' or customers.parent_customer_key = keyed.parent_key)
{%- endset %}

with customers as (
    select * from {{ ref('stg_sf_customers') }}
),

locations as (
    select * from {{ ref('stg_sf_customer_locations') }} where street_key is not null
),

portfolios as (
    select
        'portfolio' as pw_entity_type,
        portfolio_id as pw_entity_id,
        portfolio_id,
        portfolio_name as pw_name,
        cast(null as text) as street,
        cast(null as text) as street_2,
        cast(null as text) as postal_code,
        cast(null as text) as parent_name
    from {{ ref('stg_pw_portfolios') }}
),

buildings as (
    select
        'building',
        buildings.building_id,
        buildings.portfolio_id,
        buildings.building_name,
        buildings.street,
        buildings.street_2,
        buildings.postal_code,
        cast(null as text)
    from {{ ref('stg_pw_buildings') }} as buildings
),

tenants as (
    select
        'tenant',
        dim_tenant.tenant_id,
        dim_tenant.portfolio_id,
        dim_tenant.display_name,
        cast(null as text),
        cast(null as text),
        cast(null as text),
        portfolios.portfolio_name
    from {{ ref('dim_tenant') }} as dim_tenant
    left join {{ ref('stg_pw_portfolios') }} as portfolios on portfolios.portfolio_id = dim_tenant.portfolio_id
),

entities as (
    select * from portfolios
    union all
    select * from buildings
    union all
    select * from tenants
),

keyed as (
    select
        entities.*,
        {{ normalize_name('entities.pw_name') }} as name_key,
        {{ normalize_name('entities.parent_name') }} as parent_key,
        nullif({{ normalize_street('entities.street') }}, '') as street_key,
        nullif({{ normalize_street('entities.street_2') }}, '') as street_2_key,
        nullif(left({{ normalize_text('entities.postal_code') }}, 5), '') as postal_key
    from entities
),

by_stamp as (
    select keyed.pw_entity_type, keyed.pw_entity_id, min(customers.customer_id) as customer_id
    from keyed
    inner join customers
        on (keyed.pw_entity_type = 'portfolio' and customers.pw_portfolio_id = keyed.pw_entity_id)
        or (keyed.pw_entity_type = 'building' and customers.pw_building_id = keyed.pw_entity_id)
        or (keyed.pw_entity_type = 'tenant' and customers.pw_tenant_id = keyed.pw_entity_id)
    group by 1, 2
),

by_exact as (
    select keyed.pw_entity_type, keyed.pw_entity_id, min(customers.customer_id) as customer_id
    from keyed
    inner join customers
        on customers.customer_name = trim(keyed.pw_name)
        and {{ eligible }}
    group by 1, 2
),

by_normalized as (
    select keyed.pw_entity_type, keyed.pw_entity_id, min(customers.customer_id) as customer_id
    from keyed
    inner join customers
        on keyed.name_key <> ''
        and customers.customer_name_key = keyed.name_key
        and {{ eligible }}
    group by 1, 2
),

address_hits as (
    select keyed.pw_entity_type, keyed.pw_entity_id, locations.customer_id
    from keyed
    inner join locations
        on locations.street_key = keyed.street_key
        and (keyed.postal_key is null or locations.postal_key is null or locations.postal_key = keyed.postal_key)
        and (keyed.street_2_key is null or locations.street_2_key is null
            or locations.street_2_key = keyed.street_2_key)
    inner join customers
        on customers.customer_id = locations.customer_id
        and {{ eligible }}
),

by_address as (
    select
        pw_entity_type,
        pw_entity_id,
        case when count(distinct customer_id) = 1 then min(customer_id) end as customer_id,
        count(distinct customer_id) as customers_at_address
    from address_hits
    group by 1, 2
),

direct as (
    select
        keyed.*,
        by_address.customers_at_address,
        case
            when by_stamp.customer_id is not null then by_stamp.customer_id
            when by_exact.customer_id is not null then by_exact.customer_id
            when by_normalized.customer_id is not null then by_normalized.customer_id
            else by_address.customer_id
        end as sf_customer_id,
        case
            when by_stamp.customer_id is not null then 'stamped_id'
            when by_exact.customer_id is not null then 'exact'
            when by_normalized.customer_id is not null then 'normalized'
            when by_address.customer_id is not null then 'address'
        end as match_method
    from keyed
    left join by_stamp using (pw_entity_type, pw_entity_id)
    left join by_exact using (pw_entity_type, pw_entity_id)
    left join by_normalized using (pw_entity_type, pw_entity_id)
    left join by_address using (pw_entity_type, pw_entity_id)
),

resolved as (
    select
        direct.*,
        coalesce(direct.sf_customer_id, case when direct.pw_entity_type = 'building' then portfolio.sf_customer_id end)
            as resolved_customer_id,
        coalesce(direct.match_method,
            case when direct.pw_entity_type = 'building' and portfolio.sf_customer_id is not null then 'portfolio' end)
            as resolved_method
    from direct
    left join direct as portfolio
        on portfolio.pw_entity_type = 'portfolio' and portfolio.pw_entity_id = direct.portfolio_id
)

select
    {{ surrogate_key(['resolved.pw_entity_type', 'resolved.pw_entity_id']) }} as map_customer_key,
    resolved.pw_entity_type,
    resolved.pw_entity_id,
    resolved.pw_name,
    resolved.portfolio_id,
    resolved.resolved_customer_id as sf_customer_id,
    customers.customer_name as sf_customer_name,
    resolved.resolved_method as match_method,
    case resolved.resolved_method
        when 'stamped_id' then 1.0
        when 'exact' then 1.0
        when 'normalized' then 0.95
        when 'address' then 0.85
        when 'portfolio' then 0.75
    end::numeric(4, 2) as confidence,
    resolved.resolved_customer_id is not null as is_mapped,
    case
        when resolved.resolved_customer_id is not null then null
        when resolved.customers_at_address > 1
            then 'ambiguous: ' || resolved.customers_at_address || ' SF customers at this address'
        when coalesce(resolved.name_key, '') = '' and resolved.street_key is null
            then 'no name or address to match on'
        when resolved.pw_entity_type = 'tenant' and resolved.portfolio_id is null
            then 'no SF customer with this stamp or name; tenant has no lease/portfolio'
        when resolved.pw_entity_type = 'tenant'
            then 'no SF customer with this stamp or name under the portfolio''s customer'
        when resolved.pw_entity_type = 'building'
            then 'no SF customer with this stamp, name or address, and the portfolio is unmapped'
        else 'no SF customer with this stamp, name or address'
    end as unmapped_reason
from resolved
left join customers on customers.customer_id = resolved.resolved_customer_id
